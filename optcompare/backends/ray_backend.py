"""Ray backend: `parallel` long-lived Ray actors, each training trial after trial.

Each actor is one worker process (`worker.run_job` in a loop, a trial or a pack at a time,
as the local backend's worker processes): it asks Ray for `threads_per_trial` CPUs and, when
the cluster has accelerators, `devices_per_trial` GPUs (Ray sets CUDA_VISIBLE_DEVICES) or TPU
chips (resources={"TPU": k}). It claims every trial through the study directory's claim files,
exactly as a local worker does, so Ray sweeps and local sweeps on one directory never run a
trial twice. Without `address`, a local Ray instance is started with parallel ·
threads_per_trial CPUs and node IP 127.0.0.1, and shut down at the end; its servers listen on
every interface, so `optcompare sweep` starts it in a private network namespace
(private_network.py). Ray is imported only here (`pip install 'optcompare[ray]'`).

A cluster (`address`, HOST:PORT of its head or "auto"):
- Before anything is written: a head that refuses, does not answer within ADDRESS_TIMEOUT_S
  or refuses our authentication token is one line (errors.EnvironmentFailure, exit 1; a
  malformed address is bad input, exit 2); then every node that could hold a worker runs a
  task that looks at the study directory (or, for a new study, its nearest existing parent)
  and must find the driver's very directory (same inode number: a node that mounts nothing
  there, or another file system, is named in one line, with the fix).
- Slots: every slot gets an actor at once; a slot takes jobs once its actor has answered
  where it runs (node id, IP, host name), so a job never waits on an actor that Ray cannot
  place (after a lost node the sweep goes on with the slots the remaining nodes hold). The
  actor's claim owner (ledger.py; attempts.jsonl "owner") ends with NODE_TAG + its node id:
  the record of the node each attempt ran on (`node_of`).
- A lost node: Ray reports its actors unavailable, and about 15-30 s later (its health
  checks) dead. The sweep prints one line naming the node and its jobs, and hands them back
  to the scheduler as scheduler.NODE_LOST: no result is written, the trials go back to the
  queue and resume from their newest checkpoints on the other nodes (their claims show
  whether the lost node's workers still run: ledger.py). An actor that dies on a live node
  (killed, out of memory) is a worker death as on the local backend: a `failed` result.
- A lost head: ClusterWatch asks the head which nodes are alive every WATCH_EVERY_S through a
  GCS client of its own, with a timeout; a head silent for LOST_AFTER_S, or a new cluster at
  its address (a restarted head), ends the sweep with one line (exit 1). Rerunning the sweep
  once the cluster is back resumes every trial from its checkpoints.
With a cluster, the study directory must be on a file system every node mounts at the same
path, and optcompare installed on every node (a node that cannot start the worker ends the
sweep with one line naming it).

Tested here: a local Ray instance, and clusters of `ray start` nodes on one machine in a
private network namespace (tests/backends/test_ray_cluster.py). GPUs and TPUs through Ray:
untested recipes (launch/README.md).
"""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import sys
import threading
import time
from typing import Any

from absl import logging

from optcompare import packs
from optcompare import study_manifest
from optcompare.backends import local
from optcompare.backends import private_network
from optcompare.backends.scheduler import NODE_LOST
from optcompare.backends.worker import EXIT_CLAIMED
from optcompare.errors import BadInputError, EnvironmentFailure

ADDRESS_TIMEOUT_S = 15.0  # a head that has not answered in this long is not there
WATCH_EVERY_S = 5.0       # how often the head is asked which nodes are alive
LOST_AFTER_S = 30.0       # a head silent this long is lost (Ray ends its driver at 60 s)
NODE_CHECK_S = 120.0      # how long each node has to look at the study directory
PROBE_S = 1.0             # how often an unreachable actor is asked where it is
PLACE_WAIT_S = 120.0      # no actor placed for this long: the sweep says it waits for a node
NODE_TAG = "@node-"       # a Ray worker's claim owner: <sweep>-<slot>@node-<node id>-<job>


def node_of(owner: str) -> str | None:
  """The Ray node id recorded in a claim owner (an attempts.jsonl "owner"), or None."""
  found = re.search(re.escape(NODE_TAG) + "([0-9a-f]+)", owner or "")
  return found.group(1) if found else None


class TrialWorker:
  """The actor: a process that runs trials of one study until it is killed."""

  def __init__(self, study_dir: str, lease_seconds: float, owner: str):
    import ray  # pylint: disable=g-import-not-at-top
    from optcompare.backends import worker  # pylint: disable=g-import-not-at-top  (JAX)
    self.where = (ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(),
                  socket.gethostname())
    self._worker = worker
    self.study_dir, self.lease_seconds = study_dir, lease_seconds
    self.owner = f"{owner}{NODE_TAG}{self.where[0]}"
    self.manifest = study_manifest.StudyManifest.read(study_dir)  # (a node without the directory)
    worker.install_signal_handlers()

  def node(self) -> tuple[str, str, str]:
    """(node id, IP, host name) of the node this actor runs on."""
    return self.where

  def run(self, job: str, retry: bool) -> tuple[int, Any]:
    """A trial, or a pack of trials (a job key: optcompare.packs)."""
    if not set(packs.members(job)) <= set(self.manifest.trial_ids):
      self.manifest = study_manifest.StudyManifest.read(self.study_dir)  # the study grew
    return self._worker.run_job(self.study_dir, self.manifest, job, retry=retry,
                                lease_seconds=self.lease_seconds, owner=self.owner)


# ---- reaching a cluster (before anything is written) ----

def parse_address(address: str) -> tuple[str, int] | None:
  """(host, port) of --ray_address HOST:PORT; None for "auto" (Ray finds the cluster this
  machine runs). BadInputError (exit 2) for anything else."""
  if address == "auto":
    return None
  if address.startswith("ray://"):
    raise BadInputError(f"--ray_address={address}: Ray Client addresses (ray://) are not "
                        "supported: run the sweep on a node of the cluster with "
                        "--ray_address=HEAD_HOST:PORT (or auto)")
  host, sep, port = address.rpartition(":")
  if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise BadInputError(f"--ray_address={address}: expected HOST:PORT of the cluster's head "
                        "(e.g. 10.0.0.2:6379) or auto")
  return host.strip("[]"), int(port)


def _unreachable(address: str | None, why: str) -> EnvironmentFailure:
  where = f"--ray_address={address}" if address else "--backend=ray (a local Ray instance)"
  return EnvironmentFailure(f"{where}: {why}")


def reach(address: str, host: str, port: int) -> None:
  """A TCP connection to the head, or EnvironmentFailure naming why not and what to do (Ray
  itself retries a refused or silent address for a minute or more)."""
  try:
    with socket.create_connection((host, port), timeout=ADDRESS_TIMEOUT_S):
      pass
  except socket.gaierror as e:
    raise _unreachable(address, f"cannot resolve host {host!r} ({e.strerror}): pass the "
                       "head node's HOST:PORT") from None
  except ConnectionRefusedError:
    raise _unreachable(address, "nothing listens there (a wrong address, or the cluster is "
                       f"down): start the cluster (`ray start --head --port={port}`) or pass "
                       "its head's HOST:PORT") from None
  except OSError as e:  # a timeout, no route
    raise _unreachable(address, f"the Ray cluster does not answer ({e.strerror or e}): check "
                       "that its head runs and is reachable from here, then rerun") from None


def within(fn, seconds: float, what: str):
  """fn() run in a daemon thread: its value or exception, or EnvironmentFailure(what) when it
  has not returned after `seconds` (a Ray call that would wait on a silent head for minutes;
  the thread is abandoned)."""
  box: list = []

  def call():
    try:
      box.append((True, fn()))
    except Exception as e:  # pylint: disable=broad-exception-caught  (re-raised below)
      box.append((False, e))

  thread = threading.Thread(target=call, name="ray-call", daemon=True)
  thread.start()
  thread.join(seconds)
  if not box:
    raise EnvironmentFailure(what)
  ok, value = box[0]
  if not ok:
    raise value
  return value


def gcs_client(address: str | None, gcs_address: str):
  """A GCS client of our own for the head at `gcs_address` (ray._raylet.GcsClient: Ray 2.60
  has no public call with a timeout that survives a restarted head; ray.nodes() aborts the
  process on one). EnvironmentFailure when the head does not answer or refuses our token."""
  from ray._raylet import GcsClient  # pylint: disable=g-import-not-at-top
  try:
    return within(lambda: GcsClient(address=gcs_address), ADDRESS_TIMEOUT_S, str(
        _unreachable(address, f"the Ray cluster does not answer (no reply from its head "
                     f"within {ADDRESS_TIMEOUT_S:.0f} s): check that the head runs (`ray "
                     f"status --address={gcs_address}`), then rerun")))
  except EnvironmentFailure:
    raise
  except Exception as e:  # pylint: disable=broad-exception-caught  (Ray raises bare errors)
    raise _ray_refused(address, e) from e


def _ray_refused(address: str | None, e: Exception) -> EnvironmentFailure:
  """The one line for a head that answered but refused us."""
  text = " ".join(str(e).split()) or type(e).__name__
  if "InvalidAuthToken" in text or "Authentication token" in text:
    return _unreachable(address, "the Ray cluster refuses this process's authentication "
                        "token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
                        "~/.ray/auth_token) to the cluster's token, as on its nodes")
  return _unreachable(address, f"could not reach the Ray cluster: {text[:300]}")


class ClusterWatch:
  """Which nodes of the cluster are alive, asked of its head every WATCH_EVERY_S.

  Through a GCS client of our own, with a timeout: Ray 2.60's own calls (ray.nodes) wait
  forever on a head that is down and abort the process on a restarted one, and Ray ends a
  driver whose head has been silent for 60 s; so the sweep notices first. `refresh` raises
  EnvironmentFailure (one line) for a head silent LOST_AFTER_S or restarted (a new cluster at
  its address: "WrongClusterID"); `alive` maps node id -> alive from the last answer.
  """

  def __init__(self, client, address: str):
    self.client, self.address = client, address
    self.alive: dict[str, bool] = {}
    self.asked, self.answered, self.healthy = 0.0, time.time(), True
    self.lost = False

  def refresh(self, now: float, force: bool = False) -> None:
    if not force and now - self.asked < WATCH_EVERY_S:
      return
    self.asked = now
    try:
      info = self.client.get_all_node_info(timeout=WATCH_EVERY_S)
    except Exception as e:  # pylint: disable=broad-exception-caught  (RpcError and others)
      self.healthy = False
      if "WrongClusterID" in str(e):
        self._lose("restarted (another Ray cluster answers at its address)")
      if time.time() - self.answered > LOST_AFTER_S:
        self._lose(f"has not answered for {LOST_AFTER_S:.0f} s")
      return
    self.answered, self.healthy = time.time(), True
    self.alive = {node_id.hex(): node.state == node.ALIVE for node_id, node in info.items()}

  def _lose(self, why: str) -> None:
    self.lost = True
    raise EnvironmentFailure(
        f"--backend=ray: lost the Ray cluster at {self.address}: its head {why}; every trial "
        "keeps its checkpoints: once the cluster is back, rerun the same sweep to resume")


def _looks_at(path: str) -> tuple[str, str, int | None]:
  """On a node: (node id, IP, the inode number of `path` there, or None if missing)."""
  import ray  # pylint: disable=g-import-not-at-top
  try:
    inode = os.stat(path).st_ino
  except OSError:
    inode = None
  return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), inode


def nearest_existing(path: str) -> str:
  """`path`, or its nearest parent that exists (a new study's directory is made there)."""
  while not os.path.exists(path) and os.path.dirname(path) != path:
    path = os.path.dirname(path)
  return path


def check_study_dir(ray, address: str, study_dir: str, threads: int) -> None:
  """Every alive node with `threads` CPUs sees the study directory this process sees (for a
  new study: its nearest existing parent), by inode number; EnvironmentFailure naming the
  first node that does not (nothing is written before this check)."""
  from ray.util import scheduling_strategies  # pylint: disable=g-import-not-at-top
  path = nearest_existing(study_dir)
  inode = os.stat(path).st_ino
  nodes = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) >= threads]
  look = ray.remote(num_cpus=0, max_retries=0)(_looks_at)
  refs = [look.options(scheduling_strategy=scheduling_strategies.NodeAffinitySchedulingStrategy(
      n["NodeID"], soft=False)).remote(path) for n in nodes]
  ready, late = ray.wait(refs, num_returns=len(refs), timeout=NODE_CHECK_S)
  for n, ref in zip(nodes, refs):
    where = f"Ray node {n['NodeManagerAddress']} ({n['NodeID'][:12]})"
    if ref in late:
      raise _unreachable(address, f"{where} did not look at the study directory within "
                         f"{NODE_CHECK_S:.0f} s: check that node (`ray status`), then rerun")
    try:
      seen = ray.get(ref)[2]
    except ray.exceptions.RayError as e:
      raise _unreachable(address, f"{where} cannot run optcompare: {_last_line(e)}: install "
                         "it on every node") from None
    if seen != inode:
      what = "does not exist there" if seen is None else "is another directory there"
      raise _unreachable(address, f"{where} does not see the study directory: {path} {what}; "
                         "mount the shared file system at the same path on every node (or "
                         "stop that node), then rerun")
  del ready


def _node_named(e: BaseException) -> str:
  """The "ip=..." a Ray error names (its task's node), or "node unknown"."""
  found = re.search(r"\bip=([^,)\s]+)", str(e))
  return f"ip {found.group(1)}" if found else "node unknown"


def _last_line(e: BaseException) -> str:
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  return lines[-1] if lines else type(e).__name__


# ---- the launcher ----

def waiting_line(placed_at: float, now: float, asks: str) -> str | None:
  """The line a sweep says when no worker has been placed since `placed_at` for over
  PLACE_WAIT_S: the cluster has no room for one (all its nodes lost, or too small) and the
  sweep waits for a node (None before that)."""
  if now - placed_at <= PLACE_WAIT_S:
    return None
  return (f"sweep: no Ray node has taken a trial worker ({asks}) for {PLACE_WAIT_S:.0f} s; "
          "waiting for one (`ray status` shows what the cluster has)")


def _request(options: dict) -> str:
  """What one worker asks Ray for (its actor options), in words."""
  parts = [f"{options['num_cpus']} CPUs"]
  if options.get("num_gpus"):
    parts.append(f"{options['num_gpus']} GPUs")
  return ", ".join(parts + [f"{n} {k}" for k, n in options.get("resources", {}).items()])


@dataclasses.dataclass
class _Slot:
  """A worker slot: its actor, the node it runs on once it answered, the job it runs."""
  actor: Any = None
  node: tuple[str, str, str] | None = None  # (node id, IP, host name)
  job: str | None = None                    # while its run() (or a probe after it) is out
  probe_at: float | None = None             # when to ask an unreachable actor again
  compiled: set = dataclasses.field(default_factory=set)


class RayLauncher:
  """`parallel` actor slots; see the module docstring and scheduler.py for the interface."""

  def __init__(self, study_dir: str, *, parallel: int, threads_per_trial: int,
               devices_per_trial: int, lease_seconds: float, address: str | None = None):
    try:
      import ray  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise BadInputError("--backend=ray: Ray is not installed "
                          "(pip install 'optcompare[ray]')") from e
    self._ray = ray
    self.study_dir, self.lease_seconds = study_dir, lease_seconds
    self.parallel, self.threads = parallel, threads_per_trial
    self._owns_ray = not ray.is_initialized()
    self._watch = self._connect(address, parallel * threads_per_trial)
    if address:
      check_study_dir(ray, address, study_dir, threads_per_trial)
    options = self._actor_options(ray.cluster_resources(), threads_per_trial,
                                  devices_per_trial)
    self._actor_class = ray.remote(TrialWorker).options(**options)
    self._asks = _request(options)
    self._placed_at, self._said_waiting = time.time(), False
    self.sweep_id = os.urandom(6).hex()
    self._slots = [_Slot() for _ in range(parallel)]
    self._refs: dict = {}  # ObjectRef -> (slot, "ready" | "run" | "probe")

  @staticmethod
  def _actor_options(resources: dict, threads: int, devices: int) -> dict:
    env = local.cache_env(local.thread_env(threads))
    options = {"num_cpus": threads, "max_restarts": 0, "runtime_env": {"env_vars": env}}
    if devices and resources.get("GPU"):
      options["num_gpus"] = devices
    elif devices and resources.get("TPU"):
      options["resources"] = {"TPU": devices}
    return options

  def _connect(self, address: str | None, num_cpus: int) -> ClusterWatch:
    """Reaches the cluster (parse_address, reach, gcs_client) or starts a local instance,
    then watches its head."""
    target = parse_address(address) if address else None
    if target:
      reach(address, *target)
      client = gcs_client(address, f"{target[0]}:{target[1]}")
    if self._owns_ray:
      self._init_ray(address, num_cpus)
    if not target:  # (a local instance, or "auto": the head Ray found)
      found = self._ray.get_runtime_context().gcs_address
      client = gcs_client(address, found)
      return ClusterWatch(client, found if address else "a local Ray instance")
    return ClusterWatch(client, address)

  def _init_ray(self, address: str | None, num_cpus: int) -> None:
    """Connects to the cluster at `address`, or starts a local instance; EnvironmentFailure
    (one line, exit 1) when Ray will not start or answer (Ray raises bare Exceptions)."""
    if not address:
      if private_network.active():
        logging.info("ray: a local instance in a private network (loopback only)")
      else:
        logging.warning("ray: a local instance outside a private network: its servers listen "
                        "on every interface (`optcompare sweep --backend=ray` starts it in "
                        "one: optcompare/backends/private_network.py)")
    try:
      if address:
        self._ray.init(address=address, log_to_driver=False)
      else:
        self._ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                       _node_ip_address="127.0.0.1")
    except Exception as e:  # pylint: disable=broad-exception-caught
      where = f"the Ray cluster at {address}" if address else "a local Ray instance"
      message = " ".join(str(e).split()) or type(e).__name__
      raise EnvironmentFailure(f"--backend=ray: could not start or reach {where}: "
                               f"{message}") from e

  def idle_slots(self) -> list[int]:
    return [i for i, s in enumerate(self._slots) if s.node and s.job is None]

  def compiled(self, slot: int) -> set[str]:
    return set(self._slots[slot].compiled)

  def start(self, slot: int, trial_id: str, *, retry: bool) -> None:
    s = self._slots[slot]
    s.job = trial_id
    s.compiled.add(packs.optimizer(trial_id))
    self._refs[s.actor.run.remote(trial_id, retry)] = (slot, "run")

  def poll(self, timeout: float = 0.0) -> list[tuple[str, int, Any]]:
    """The jobs that ended: (job, code, detail); scheduler.NODE_LOST for a lost node's.
    EnvironmentFailure when the cluster is lost (ClusterWatch)."""
    self._watch.refresh(time.time())
    out = self._lost_nodes()
    self._fill()
    self._probe(time.time())
    if self._refs:
      self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
      ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
      for ref in ready:
        if ref in self._refs:  # (not dropped with its node above)
          out += self._settle(ref)
    else:  # (only probes to come, later): wait as asked, not spin
      time.sleep(timeout)
    self._say_if_waiting(time.time())
    return out

  def _say_if_waiting(self, now: float) -> None:
    """waiting_line, once per wait, while no slot has a placed actor."""
    if any(s.node for s in self._slots):
      self._placed_at, self._said_waiting = now, False
      return
    line = None if self._said_waiting else waiting_line(self._placed_at, now, self._asks)
    if line:
      self._said_waiting = True
      print(line, file=sys.stderr)

  def _fill(self) -> None:
    """An actor for every slot without one, while the head answers; each first says where
    it runs (its "ready" reply) before it is given a job."""
    empty = [i for i, s in enumerate(self._slots) if s.actor is None]
    if not empty or not self._watch.healthy:
      return
    for i in empty:
      s = self._slots[i]
      s.actor = self._actor_class.remote(self.study_dir, self.lease_seconds,
                                         f"{self.sweep_id}-{i}")
      self._refs[s.actor.node.remote()] = (i, "ready")

  def _settle(self, ref) -> list:
    """A reply that arrived: a slot became ready, a job ended, or a probe answered."""
    slot, kind = self._refs.pop(ref)
    s = self._slots[slot]
    try:
      value = self._ray.get(ref)
    except self._ray.exceptions.RayError as e:
      return self._failed(slot, kind, e)
    if kind == "ready":
      s.node = tuple(value)
      return []
    job, s.job = s.job, None
    if kind == "run":
      code, detail = value
      return [(job, int(code), detail)]
    return [(job, EXIT_CLAIMED, None)]  # alive after all, its reply lost: the claims decide

  def _failed(self, slot: int, kind: str, e: Exception) -> list:
    """A Ray error instead of a reply. An actor that could not start: its node cannot run
    the worker (one line). A run's, or a probe's while the actor is unreachable
    (ActorUnavailableError): the actor is asked where it is again (PROBE_S later) until Ray
    knows its fate; a lost node is declared after its health checks (the watch then hands
    its jobs back). A known death: its node lost, or the worker died on a live node (a
    failed result, as a local worker's death)."""
    s = self._slots[slot]
    errors = self._ray.exceptions
    if kind == "ready" and (getattr(e, "actor_init_failed", False) or
                            not isinstance(e, errors.RayActorError)):
      raise EnvironmentFailure(f"--backend=ray: a Ray node cannot start the trial worker "
                               f"({_node_named(e)}): {_last_line(e)}; install optcompare and "
                               "mount the study directory at the same path on every node")
    if ((kind == "run" and isinstance(e, errors.RayActorError)) or
        (kind == "probe" and isinstance(e, errors.ActorUnavailableError))):
      s.probe_at = time.time() + (0.0 if kind == "run" else PROBE_S)
      return []
    if kind != "ready" and s.node:
      self._watch.refresh(time.time(), force=True)
      if self._watch.alive.get(s.node[0]) is False:
        return self._node_lost(s.node[0])
    job = s.job
    self._drop(slot)
    if kind == "ready":  # (its node went before it started: a new actor is placed)
      return []
    print(f"sweep: {job}: Ray actor failed: {_last_line(e)}", file=sys.stderr)
    return [(job, -1, None)]

  def _probe(self, now: float) -> None:
    """Asks the actors whose slots wait for a probe where they are (see _failed)."""
    for i, s in enumerate(self._slots):
      if s.probe_at is not None and s.probe_at <= now:
        s.probe_at = None
        self._refs[s.actor.node.remote()] = (i, "probe")

  def _lost_nodes(self) -> list:
    """The jobs of slots whose node the head has declared dead (ClusterWatch)."""
    dead = {s.node[0] for s in self._slots
            if s.node and self._watch.alive.get(s.node[0]) is False}
    return [reply for node_id in sorted(dead) for reply in self._node_lost(node_id)]

  def _node_lost(self, node_id: str) -> list:
    """Drops the slots on a lost node, says so (one line), and hands their jobs back."""
    slots = [i for i, s in enumerate(self._slots) if s.node and s.node[0] == node_id]
    _, ip, host = self._slots[slots[0]].node
    jobs = [self._slots[i].job for i in slots if self._slots[i].job]
    for i in slots:
      self._drop(i)
    labels = ", ".join(packs.label(j) for j in jobs)
    print(f"sweep: lost Ray node {ip} (id {node_id[:12]}, host {host}): "
          + (f"its trials go back to the queue and resume from their newest checkpoints on "
             f"the other nodes: {labels}" if jobs else "no trial was running there"),
          file=sys.stderr)
    return [(job, NODE_LOST, node_id) for job in jobs]

  def _drop(self, slot: int, kill: bool = True) -> None:
    """Forgets the slot's actor (killed, unless the cluster is gone) and its replies."""
    s = self._slots[slot]
    if s.actor is not None and kill:
      try:
        self._ray.kill(s.actor)
      except Exception:  # pylint: disable=broad-except  (already gone)
        pass
    for ref in [r for r, (i, _) in self._refs.items() if i == slot]:
      del self._refs[ref]
    self._slots[slot] = _Slot()

  def close(self) -> None:
    for slot in range(self.parallel):
      self._drop(slot, kill=not self._watch.lost)  # (a lost head: nothing to ask it)
    if self._owns_ray:
      self._ray.shutdown()
