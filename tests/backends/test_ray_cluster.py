"""`optcompare sweep --backend=ray --ray_address=...` on a Ray cluster of several nodes.

The nodes are `ray start` processes on this machine (a head and worker nodes of 1 CPU each,
token authentication), all in one private network namespace of their own
(optcompare/backends/private_network.py: only a loopback interface, so no port of theirs
exists outside it); the sweep runs in it too (`nsenter`). Every process in the namespace is
killed when a test ends, passed or failed (Cluster.close: the namespace holds only what the
test started). Nodes are told apart by their node-manager ports, and the Ray node id each
attempt ran on is read from attempts.jsonl (ray_backend.node_of).

`make test` runs the two-node sweep and the bad addresses; the lost node, the restarted head
and the node without the study directory are @pytest.mark.slow (`make test-all`).
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from optcompare import study_manifest
from optcompare import studydir
from optcompare.backends import ledger
from optcompare.backends import private_network
from optcompare.backends import ray_backend
from tests.conftest import REPO, attempt_events, trial_metrics, trial_outcome

HEAD_PORT, HEAD_NM = 6390, 6391  # GCS and head raylet (ports of the private namespace)
NODE_B, NODE_C = 6392, 6393      # worker nodes' raylet ports
TRIALS = [f"{o}/{i}" for o in ("adam", "sgd") for i in range(4)]
STUDY = """from tests.test_study import smoke_study


def get_config(arg=None):
  return smoke_study(steps=int(arg or 10))
"""


def _skip_without_namespaces():
  pytest.importorskip("ray")
  if not shutil.which("nsenter"):
    pytest.skip("needs nsenter (util-linux)")
  try:
    private_network.check_available()
  except private_network.Unavailable as e:
    pytest.skip(f"no private network namespace here: {e}")


class Cluster:
  """Ray nodes in a private network namespace of their own (see the module docstring)."""

  def __init__(self):
    self.anchor = subprocess.Popen(  # holds the namespace; everything else joins it
        private_network.command(["-c", "import sys; print('up', flush=True); sys.stdin.read()"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert self.anchor.stdout.readline().strip() == "up"
    self.netns = os.readlink(f"/proc/{self.anchor.pid}/ns/net")
    self.temp = tempfile.mkdtemp(prefix="ocray-", dir="/tmp")  # short: Ray's socket paths
    self.env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
                    RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    self.address = f"127.0.0.1:{HEAD_PORT}"

  def inside(self, args: list[str]) -> list[str]:
    """`args` run in the namespace (a user namespace's too where it was made in one)."""
    user = [] if os.geteuid() == 0 else ["--user", "--preserve-credentials"]
    return ["nsenter", f"--target={self.anchor.pid}", "--net", *user, "--", *args]

  def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(self.inside(args), cwd=REPO, env=self.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)

  def _ray_start(self, args: list[str], prefix: list[str] = ()) -> str:
    """`ray start` with its own temporary directory (returned)."""
    temp = tempfile.mkdtemp(prefix="n-", dir=self.temp)
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    command = [*prefix, ray, "start", "--num-cpus=1", "--node-ip-address=127.0.0.1",
               "--disable-usage-stats", f"--temp-dir={temp}", *args]
    proc = self.popen(command)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, (out + err)[-3000:]
    return temp

  def start_head(self) -> None:
    """A head (again, after kill_head: a new cluster at the same address)."""
    self.head_temp = self._ray_start(["--head", f"--port={HEAD_PORT}", f"--node-manager-port={HEAD_NM}",
                     "--include-dashboard=false"])

  def add_node(self, port: int, hide: str | None = None) -> None:
    """A worker node; with `hide`, one that sees an empty file system at that path (its
    processes run in a mount namespace with a tmpfs there: a node without the mount)."""
    args = [f"--address={self.address}", f"--node-manager-port={port}"]
    if hide is None:
      self._ray_start(args)
      return
    mount = f"mount -t tmpfs tmpfs {hide} && exec \"$@\""
    self._ray_start(args, prefix=["unshare", "--mount", "--propagation=private", "--",
                                  "sh", "-c", mount, "sh"])

  def pids(self) -> list[int]:
    """Every process in the namespace but the anchor."""
    out = []
    for name in os.listdir("/proc"):
      if name.isdigit() and int(name) != self.anchor.pid:
        try:
          if os.readlink(f"/proc/{name}/ns/net") == self.netns:
            out.append(int(name))
        except OSError:
          pass
    return out

  def node_ids(self) -> dict[int, str]:
    """Node-manager port -> Ray node id, of the alive nodes (a driver of its own)."""
    code = ("import json, ray; ray.init(address='%s', log_to_driver=False); print(json.dumps("
            "{n['NodeManagerPort']: n['NodeID'] for n in ray.nodes() if n['Alive']}))"
            % self.address)
    proc = self.popen([sys.executable, "-c", code])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}

  def kill_node(self, port: int) -> list[int]:
    """SIGKILL to the raylet with this node-manager port and to its children (its workers,
    its agents) at once: a lost machine."""
    raylet = [p for p in self.pids() if f"--node_manager_port={port}" in _cmdline(p)]
    assert len(raylet) == 1, raylet
    victims = raylet + [p for p in self.pids() if _ppid(p) == raylet[0]]
    for pid in victims:
      os.kill(pid, signal.SIGKILL)
    return victims

  def kill_head(self) -> None:
    """SIGKILL to the head's processes (GCS, its raylet and children, its helpers)."""
    marks = (self.head_temp, "gcs_server", f"--node_manager_port={HEAD_NM}",
             "autoscaler/_private/monitor.py", "ray.util.client.server", "dashboard.py")
    head = [p for p in self.pids() if any(m in _cmdline(p) for m in marks)]
    raylets = [p for p in head if "raylet" in _cmdline(p)]
    victims = head + [p for p in self.pids() if _ppid(p) in raylets]
    for pid in victims:
      os.kill(pid, signal.SIGKILL)
    _wait_gone(victims)

  def close(self) -> None:
    for pid in self.pids():
      try:
        os.kill(pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
    self.anchor.kill()
    self.anchor.wait()
    shutil.rmtree(self.temp, ignore_errors=True)


def _cmdline(pid: int) -> str:
  try:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
      return f.read().replace(b"\0", b" ").decode(errors="replace")
  except OSError:
    return ""


def _ppid(pid: int) -> int | None:
  try:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
      return int(f.read().rsplit(")", 1)[1].split()[1])
  except (OSError, IndexError, ValueError):
    return None


def _wait_gone(pids: list[int], timeout: float = 30.0) -> None:
  """Until the processes are gone (or zombies: killed, not yet reaped)."""
  deadline = time.time() + timeout
  while time.time() < deadline and any(ledger.process_start(p) is not None for p in pids):
    time.sleep(0.1)


@pytest.fixture
def cluster():
  """A head of 1 CPU (more nodes: add_node); every process of it killed at the end."""
  _skip_without_namespaces()
  c = Cluster()
  try:
    c.start_head()
    yield c
  finally:
    c.close()


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("config") / "smoke.py"
  path.write_text(STUDY)
  return str(path)


def _sweep_args(study_file: str, steps: int, workdir, *more) -> list[str]:
  return [sys.executable, "-m", "optcompare.cli", "sweep", f"--config={study_file}:{steps}",
          f"--workdir={workdir}", "--parallel=2", *more]


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, study_file):
  """steps -> the smoke study (2 optimizers x 4 trials) swept by the local backend."""
  done = {}

  def get(steps: int):
    if steps not in done:
      workdir = tmp_path_factory.mktemp(f"local{steps}") / "study"
      proc = subprocess.run(_sweep_args(study_file, steps, workdir), cwd=REPO,
                            capture_output=True, text=True, timeout=900)
      assert proc.returncode == 0, proc.stderr[-3000:]
      done[steps] = workdir
    return done[steps]
  return get


def _assert_equal_studies(workdir, reference):
  for tid in TRIALS:
    assert trial_outcome(workdir, tid) == trial_outcome(reference, tid), tid
    assert trial_metrics(workdir, tid) == trial_metrics(reference, tid), tid


def _nodes_of(workdir) -> dict[str, str]:
  """Trial -> the Ray node id its finishing attempt ran on."""
  return {tid: ray_backend.node_of([e for e in attempt_events(workdir, tid)
                                    if e["event"] == "end"][-1]["owner"]) for tid in TRIALS}


def _error_lines(stderr: str) -> list[str]:
  return [line for line in stderr.splitlines() if line.startswith("optcompare: error:")]


# ---- the decisions, without Ray: the head's watch, a lost node's job ----

class _Node:
  ALIVE, DEAD = 0, 1

  def __init__(self, alive):
    self.state = self.ALIVE if alive else self.DEAD


class _Head:
  """A GCS client whose answers the test sets: {node id: alive}, or an exception."""

  def __init__(self):
    self.answer = {}

  def get_all_node_info(self, timeout):
    del timeout
    if isinstance(self.answer, Exception):
      raise self.answer
    return {bytes.fromhex(k): _Node(v) for k, v in self.answer.items()}  # (ids: .hex())


def test_cluster_watch_knows_lost_nodes_and_ends_on_a_silent_or_restarted_head(monkeypatch):
  head = _Head()
  watch = ray_backend.ClusterWatch(head, "10.0.0.2:6379")
  head.answer = {"aa" * 28: True, "bb" * 28: False}
  watch.refresh(100.0)
  assert watch.alive == {"aa" * 28: True, "bb" * 28: False} and watch.healthy
  head.answer = RuntimeError("Timed out while waiting for GCS to become available.")
  watch.refresh(101.0)  # (not yet WATCH_EVERY_S later: not asked)
  assert watch.healthy
  now = [time.time()]
  monkeypatch.setattr(ray_backend.time, "time", lambda: now[0])
  watch.refresh(now[0], force=True)  # silent, not yet for LOST_AFTER_S
  assert not watch.healthy and not watch.lost
  now[0] += ray_backend.LOST_AFTER_S + 1
  with pytest.raises(ray_backend.EnvironmentFailure, match=(
      r"^--backend=ray: lost the Ray cluster at 10\.0\.0\.2:6379: its head has not answered "
      r"for 30 s; every trial keeps its checkpoints: once the cluster is back, rerun the "
      r"same sweep to resume$")):
    watch.refresh(now[0], force=True)
  assert watch.lost
  restarted = ray_backend.ClusterWatch(head, "10.0.0.2:6379")
  head.answer = RuntimeError("RPC error: WrongClusterID: Perhaps the client is accessing GCS "
                             "after it has restarted.")
  with pytest.raises(ray_backend.EnvironmentFailure, match="its head restarted"):
    restarted.refresh(now[0])


def test_a_lost_nodes_job_goes_back_to_the_queue_without_a_result_within_its_retries(
    tmp_path):
  """scheduler.NODE_LOST: no failed result written, the job queued again (first), one retry
  of each of its trials used; once they are used up it is left unfinished, said in a line."""
  from optcompare.backends import scheduler  # pylint: disable=g-import-not-at-top
  manifest = study_manifest.StudyManifest.from_json(
      {"config": {"optimizers": ["sgd"], "pack_size": 1, "base": {}},
       "trials": [{"id": f"sgd/{i}", "optimizer": "sgd", "index": i, "hparams": {}}
                  for i in range(2)]})
  events = []
  show = scheduler.Progress(manifest, enabled=False)
  show.event = events.append
  sweep = scheduler.Sweep(str(tmp_path), scheduler.sweep_order(manifest), pack_size=1,
                          retries=1, show=show)
  for _ in range(2):
    sweep.queue.remove("sgd/0")
    sweep.running.add("sgd/0")
    sweep.launched["sgd/0"] = ["sgd/0"]
    sweep.ended("sgd/0", scheduler.NODE_LOST, "aa" * 28)
    assert sweep.queue[0] == "sgd/0" and sweep.state("sgd/0") == (studydir.PENDING, None)
  assert sweep.retries_used["sgd/0"] == 2 and sweep.final == {"sgd/0": "node lost"}
  assert events == ["sgd/0: not rescheduled: its machine was lost and its retries "
                    "(--retries=1) are used up; rerun the sweep to resume it"]
  assert sweep.worker_errors == 0


def test_a_sweep_without_room_for_a_worker_says_it_waits():
  assert ray_backend.waiting_line(0.0, ray_backend.PLACE_WAIT_S, "2 CPUs") is None
  assert ray_backend.waiting_line(0.0, ray_backend.PLACE_WAIT_S + 1, "2 CPUs, 1 GPUs") == (
      "sweep: no Ray node has taken a trial worker (2 CPUs, 1 GPUs) for 120 s; waiting for "
      "one (`ray status` shows what the cluster has)")


# ---- a sweep on two nodes ----

def test_sweep_on_two_nodes_lands_on_both_and_equals_the_local_backend(cluster, study_file,
                                                                       local_reference,
                                                                       tmp_path):
  """Head and one worker node, 1 CPU each, --parallel=2: trials run on both nodes (the node
  of each attempt is in attempts.jsonl), and every trial's metrics and final result equal
  the local backend's, bit for bit."""
  cluster.add_node(NODE_B)
  ids = cluster.node_ids()
  workdir = tmp_path / "study"
  t0 = time.time()
  proc = cluster.popen(_sweep_args(study_file, 10, workdir, "--backend=ray",
                                   f"--ray_address={cluster.address}"))
  out, err = proc.communicate(timeout=900)
  assert proc.returncode == 0, err[-3000:]
  nodes = _nodes_of(workdir)
  per_node = {n: sorted(t for t, m in nodes.items() if m == n) for n in set(nodes.values())}
  print(f"two-node sweep: {time.time() - t0:.1f} s; trials per node: "
        f"{ {n[:8]: len(t) for n, t in per_node.items()} }")
  assert set(per_node) == {ids[HEAD_NM], ids[NODE_B]}, per_node
  for tid in TRIALS:
    assert [e["event"] for e in attempt_events(workdir, tid)] == ["start", "end"], tid
  _assert_equal_studies(workdir, local_reference(10))
  assert "8 completed" in out


# ---- clusters that cannot be used: one line, nothing written ----

def _sweep_at(study_file, workdir, address, env=None):
  proc = subprocess.run(_sweep_args(study_file, 10, workdir, "--backend=ray",
                                    f"--ray_address={address}"), cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600)
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  return proc.returncode, _error_lines(proc.stderr)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_wrong_or_malformed_address_is_one_line_and_nothing_written(study_file, tmp_path):
  """Nothing listens at the address: exit 1 (the cluster may be down); not HOST:PORT at all:
  bad input, exit 2. Each says what to do."""
  pytest.importorskip("ray")
  workdir = tmp_path / "study"
  port = _free_port()
  code, errors = _sweep_at(study_file, workdir, f"127.0.0.1:{port}")
  assert code == 1 and errors == [
      f"optcompare: error: --ray_address=127.0.0.1:{port}: nothing listens there (a wrong "
      f"address, or the cluster is down): start the cluster (`ray start --head --port={port}`)"
      " or pass its head's HOST:PORT"], errors
  code, errors = _sweep_at(study_file, workdir, "headnode")
  assert code == 2 and errors == [
      "optcompare: error: --ray_address=headnode: expected HOST:PORT of the cluster's head "
      "(e.g. 10.0.0.2:6379) or auto"], errors
  assert not workdir.exists()


@pytest.mark.slow
def test_cluster_that_does_not_answer_is_one_line_and_nothing_written(study_file, tmp_path):
  """A head that accepts the connection and never replies (a frozen GCS; here a socket that
  is never accepted): one line after ADDRESS_TIMEOUT_S, exit 1, rather than Ray's minutes."""
  pytest.importorskip("ray")
  workdir = tmp_path / "study"
  with socket.socket() as silent:
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    t0 = time.time()
    code, errors = _sweep_at(study_file, workdir, address)
  assert code == 1 and errors == [
      f"optcompare: error: --ray_address={address}: the Ray cluster does not answer (no reply "
      f"from its head within {ray_backend.ADDRESS_TIMEOUT_S:.0f} s): check that the head runs "
      f"(`ray status --address={address}`), then rerun"], errors
  assert time.time() - t0 < 120 and not workdir.exists()


def test_node_without_the_study_directory_or_a_wrong_token_is_one_line(cluster, study_file,
                                                                        tmp_path):
  """A worker node that sees another file system where the study directory is (its
  processes see an empty tmpfs there) is named before anything is written, exit 1; so is a
  cluster that refuses the sweep's authentication token."""
  workdir = tmp_path / "study"
  env = dict(cluster.env, RAY_AUTH_TOKEN=secrets.token_hex(32))
  proc = subprocess.run(cluster.inside(_sweep_args(
      study_file, 10, workdir, "--backend=ray", f"--ray_address={cluster.address}")),
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 1 and _error_lines(proc.stderr) == [
      f"optcompare: error: --ray_address={cluster.address}: the Ray cluster refuses this "
      "process's authentication token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
      "~/.ray/auth_token) to the cluster's token, as on its nodes"], proc.stderr[-3000:]
  cluster.add_node(NODE_B, hide=str(tmp_path))
  hidden = cluster.node_ids()[NODE_B]
  proc = cluster.popen(_sweep_args(study_file, 10, workdir, "--backend=ray",
                                   f"--ray_address={cluster.address}"))
  _, err = proc.communicate(timeout=600)
  assert proc.returncode == 1 and _error_lines(err) == [
      f"optcompare: error: --ray_address={cluster.address}: Ray node 127.0.0.1 "
      f"({hidden[:12]}) does not see the study directory: {tmp_path} is another directory "
      "there; mount the shared file system at the same path on every node (or stop that "
      "node), then rerun"], err[-3000:]
  assert "Traceback" not in err and not workdir.exists()


# ---- a lost node, a restarted head ----

LONG = 40  # steps per trial where a node is killed mid-trial (checkpoints every 5)


def _mid_trial(workdir, node_id=None):
  """A trial running (last attempt started, on `node_id` if given) with a checkpoint and no
  result yet, or None."""
  for tid in TRIALS:
    tdir = studydir.trial_dir(str(workdir), tid)
    try:
      events = attempt_events(workdir, tid)
      steps = [int(n) for n in os.listdir(os.path.join(tdir, studydir.CHECKPOINTS))
               if n.isdigit()]
    except (OSError, ValueError):  # (a line being written reads next time)
      continue
    if (steps and events and events[-1]["event"] == "start"
        and not os.path.exists(os.path.join(tdir, studydir.RESULT))
        and node_id in (None, ray_backend.node_of(events[-1]["owner"]))):
      return tid
  return None


def _finished_on(workdir, node_id) -> int:
  """How many trials have ended (an "end" event) on the node `node_id`."""
  count = 0
  for tid in TRIALS:
    try:
      events = attempt_events(workdir, tid)
    except (OSError, ValueError):
      continue
    count += any(e["event"] == "end" and ray_backend.node_of(e["owner"]) == node_id
                 for e in events)
  return count


def _results(workdir) -> set[str]:
  """The trials with a result.json."""
  return {t for t in TRIALS if os.path.exists(
      os.path.join(studydir.trial_dir(str(workdir), t), studydir.RESULT))}


def _wait_for(condition, proc, timeout=600.0):
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    found = condition()
    if found:
      return found
    time.sleep(0.05)
  raise AssertionError(f"not seen (sweep exit status {proc.poll()})")


@pytest.mark.slow
def test_lost_node_trials_resume_on_the_other_node_and_equal_the_uninterrupted_study(
    cluster, study_file, local_reference, tmp_path):
  """SIGKILL to a worker node's raylet and workers while one of its trials is mid-way: the
  sweep names the node in one line, the trial resumes on the head from its newest checkpoint
  (never two attempts at once: the new one starts after the kill), and the study equals the
  uninterrupted local one trial by trial."""
  cluster.add_node(NODE_B)
  ids = cluster.node_ids()
  workdir = tmp_path / "study"
  proc = cluster.popen(_sweep_args(study_file, LONG, workdir, "--backend=ray",
                                   f"--ray_address={cluster.address}"))
  victim = _wait_for(lambda: _finished_on(workdir, ids[NODE_B]) and
                     _mid_trial(workdir, ids[NODE_B]), proc)
  done_on_b = _finished_on(workdir, ids[NODE_B])
  killed_at = time.time()
  cluster.kill_node(NODE_B)
  _, err = proc.communicate(timeout=900)
  assert proc.returncode == 0, err[-3000:]
  lost = [line for line in err.splitlines() if line.startswith("sweep: lost Ray node")]
  assert lost == [f"sweep: lost Ray node 127.0.0.1 (id {ids[NODE_B][:12]}, host "
                  f"{socket.gethostname()}): its trials go back to the queue and resume from "
                  f"their newest checkpoints on the other nodes: {victim}"], err[-3000:]
  events = attempt_events(workdir, victim)
  assert [e["event"] for e in events] == ["start", "start", "end"], events
  first, again, end = events
  assert ray_backend.node_of(first["owner"]) == ids[NODE_B]
  assert ray_backend.node_of(again["owner"]) == ray_backend.node_of(end["owner"]) == ids[HEAD_NM]
  assert again["checkpoint"] and again["time"] >= killed_at  # resumed, after the kill
  for tid in set(TRIALS) - {victim}:
    assert [e["event"] for e in attempt_events(workdir, tid)] == ["start", "end"], tid
  _assert_equal_studies(workdir, local_reference(LONG))
  nodes = _nodes_of(workdir)
  assert sum(n == ids[NODE_B] for n in nodes.values()) == done_on_b >= 1
  print(f"lost node: {victim} resumed from step {again['checkpoint']} "
        f"{again['time'] - killed_at:.1f} s after the kill; trials finished per node: "
        f"head {sum(n == ids[HEAD_NM] for n in nodes.values())}, "
        f"lost node {sum(n == ids[NODE_B] for n in nodes.values())}")


@pytest.mark.slow
def test_restarted_head_ends_the_sweep_in_one_line_and_a_relaunch_completes_it(
    cluster, study_file, local_reference, tmp_path):
  """The head (GCS and its raylet) killed mid-sweep and started again at its address, a new
  cluster: the sweep ends with one line, exit 1; with a worker node joined to the new head,
  the same command completes the study, equal to the uninterrupted local one."""
  cluster.add_node(NODE_B)
  workdir = tmp_path / "study"
  sweep = _sweep_args(study_file, LONG, workdir, "--backend=ray",
                      f"--ray_address={cluster.address}")
  proc = cluster.popen(sweep)
  _wait_for(lambda: _results(workdir) and _mid_trial(workdir), proc)
  killed_at = time.time()
  cluster.kill_head()
  cluster.start_head()
  _, err = proc.communicate(timeout=600)
  ended_after = time.time() - killed_at
  assert proc.returncode == 1 and _error_lines(err) == [
      f"optcompare: error: --backend=ray: lost the Ray cluster at {cluster.address}: its head "
      "restarted (another Ray cluster answers at its address); every trial keeps its "
      "checkpoints: once the cluster is back, rerun the same sweep to resume"], err[-3000:]
  assert "Traceback" not in err
  finished = _results(workdir)
  assert 0 < len(finished) < len(TRIALS)  # (the sweep did stop mid-study)
  for pid in [p for p in cluster.pids() if f"--node_manager_port={NODE_B}" in _cmdline(p)]:
    cluster.kill_node(NODE_B)  # the old cluster's node (its raylet ends on its own later)
    _wait_gone([pid])
  cluster.add_node(NODE_B)
  proc = cluster.popen(sweep)
  _, err = proc.communicate(timeout=900)
  assert proc.returncode == 0, err[-3000:]
  _assert_equal_studies(workdir, local_reference(LONG))
  for tid in TRIALS:  # finished ones were not run again; none ran to two ends
    events = [e["event"] for e in attempt_events(workdir, tid)]  # (["start"] alone: killed after
    assert events.count("end") <= 1, (tid, events)        # its result, before its "end")
    assert tid not in finished or events.count("start") == 1, (tid, events)
  print(f"restarted head: the sweep ended {ended_after:.1f} s after the kill, "
        f"{len(TRIALS) - len(finished)} trials left; the relaunch completed them")
