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

from optcompare import studydir
from optcompare.backends import private_network
from optcompare.backends import ray_backend
from tests.conftest import REPO

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
  deadline = time.time() + timeout
  while time.time() < deadline and any(os.path.exists(f"/proc/{p}") and
                                       _ppid(p) is not None for p in pids):
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


def _events(workdir, trial_id):
  path = os.path.join(studydir.trial_dir(str(workdir), trial_id), studydir.ATTEMPTS)
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def _metrics(workdir, trial_id):
  path = os.path.join(studydir.trial_dir(str(workdir), trial_id), studydir.METRICS)
  with open(path, encoding="utf-8") as f:
    lines = [json.loads(line) for line in f]
  for line in lines:
    line.pop("wall_time_s")
  return lines


def _final(workdir, trial_id):
  result = studydir.read_result(studydir.trial_dir(str(workdir), trial_id))
  return result.status, result.steps, result.final, result.steps_to_target


def _assert_equal_studies(workdir, reference):
  for tid in TRIALS:
    assert _final(workdir, tid) == _final(reference, tid), tid
    assert _metrics(workdir, tid) == _metrics(reference, tid), tid


def _nodes_of(workdir) -> dict[str, str]:
  """Trial -> the Ray node id its finishing attempt ran on."""
  return {tid: ray_backend.node_of([e for e in _events(workdir, tid)
                                    if e["event"] == "end"][-1]["owner"]) for tid in TRIALS}


def _error_lines(stderr: str) -> list[str]:
  return [line for line in stderr.splitlines() if line.startswith("optcompare: error:")]


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
    assert [e["event"] for e in _events(workdir, tid)] == ["start", "end"], tid
  _assert_equal_studies(workdir, local_reference(10))
  assert "8 completed" in out
