"""Ray backend: `parallel` long-lived Ray actors, each training trial after trial.

Each actor is one worker process (`worker.run_job` in a loop, a trial or a pack at a time,
as the local backend's worker processes): it asks Ray for `threads_per_trial` CPUs and, when
the cluster has accelerators, `devices_per_trial` GPUs (Ray sets CUDA_VISIBLE_DEVICES) or TPU
chips (resources={"TPU": k}). It claims every trial through the study directory's claim files,
exactly as a local worker does, so Ray sweeps and local sweeps on one directory never run a
trial twice. An actor that dies (its process killed, its node lost) is replaced at its slot's
next trial. Without `address`, a local Ray instance is started with parallel ·
threads_per_trial CPUs and node IP 127.0.0.1, and shut down at the end; its servers listen on
every interface, so `optcompare sweep` starts it in a private network namespace
(private_network.py). With a cluster, the study directory must be on a file system every node
mounts at the same path, and optcompare must be installed on every node. Ray is imported only here (`pip install 'optcompare[ray]'`).

Tested here: a local Ray instance on CPU. Clusters, GPUs and TPUs through Ray: untested recipes
(launch/README.md).
"""
from __future__ import annotations

import os
import sys
from typing import Any

from absl import logging

from optcompare import packs
from optcompare import studydir
from optcompare.backends import local
from optcompare.backends import private_network
from optcompare.errors import BadInputError, EnvironmentFailure


class TrialWorker:
  """The actor: a process that runs trials of one study until it is killed."""

  def __init__(self, study_dir: str, lease_seconds: float, owner: str):
    from optcompare.backends import worker  # pylint: disable=g-import-not-at-top  (JAX)
    self._worker = worker
    self.study_dir, self.lease_seconds, self.owner = study_dir, lease_seconds, owner
    self.manifest = studydir.StudyManifest.read(study_dir)
    worker.install_signal_handlers()

  def run(self, job: str, retry: bool) -> tuple[int, Any]:
    """A trial, or a pack of trials (a job key: optcompare.packs)."""
    if not set(packs.members(job)) <= set(self.manifest.trial_ids):
      self.manifest = studydir.StudyManifest.read(self.study_dir)  # the study grew
    return self._worker.run_job(self.study_dir, self.manifest, job, retry=retry,
                                lease_seconds=self.lease_seconds, owner=self.owner)


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
    if self._owns_ray:
      self._init_ray(address, parallel * threads_per_trial)
    resources = ray.cluster_resources()
    env = local.cache_env(local.thread_env(threads_per_trial))
    options = {"num_cpus": threads_per_trial, "max_restarts": 0,
               "runtime_env": {"env_vars": env}}
    if devices_per_trial and resources.get("GPU"):
      options["num_gpus"] = devices_per_trial
    elif devices_per_trial and resources.get("TPU"):
      options["resources"] = {"TPU": devices_per_trial}
    self._actor_class = ray.remote(TrialWorker).options(**options)
    self.sweep_id = os.urandom(6).hex()
    self._actors: list = [None] * parallel
    self._compiled: list[set[str]] = [set() for _ in range(parallel)]
    self._refs: dict = {}  # ObjectRef -> (slot, trial_id)

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
    busy = {slot for slot, _ in self._refs.values()}
    return [s for s in range(self.parallel) if s not in busy]

  def compiled(self, slot: int) -> set[str]:
    return set(self._compiled[slot])

  def start(self, slot: int, trial_id: str, *, retry: bool) -> None:
    if self._actors[slot] is None:
      self._actors[slot] = self._actor_class.remote(self.study_dir, self.lease_seconds,
                                                    f"{self.sweep_id}-{slot}")
      self._compiled[slot] = set()
    self._compiled[slot].add(packs.optimizer(trial_id))
    self._refs[self._actors[slot].run.remote(trial_id, retry)] = (slot, trial_id)

  def poll(self, timeout: float = 0.0) -> list[tuple[str, int, str | None]]:
    if not self._refs:
      return []
    self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
    ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
    out = []
    for ref in ready:
      slot, trial_id = self._refs.pop(ref)
      try:
        code, detail = self._ray.get(ref)
        out.append((trial_id, int(code), detail))
      except self._ray.exceptions.RayError as e:  # the actor's process or node died
        print(f"sweep: {trial_id}: Ray actor failed: {str(e).splitlines()[0]}",
              file=sys.stderr)
        self._kill(slot)
        out.append((trial_id, -1, None))
    return out

  def _kill(self, slot: int) -> None:
    if self._actors[slot] is not None:
      try:
        self._ray.kill(self._actors[slot])
      except Exception:  # pylint: disable=broad-except  (already gone)
        pass
      self._actors[slot] = None

  def close(self) -> None:
    for slot in range(self.parallel):
      self._kill(slot)
    self._refs.clear()
    if self._owns_ray:
      self._ray.shutdown()
