"""The local launcher's groups of processes (processes_per_trial > 1), with stand-in workers.

No JAX: each worker process is a few lines of Python that speaks the worker protocol (a JSON
request per line in, a reply per line out) and, per job and process index, replies, exits
with status 3, or hangs; it logs its start so the tests see which processes were (re)started.
The real workers' part (one JAX job, process 0 claiming) is tests/test_multihost.py's.
"""
import json
import os
import time

import pytest

from optcompare.backends import local

# What the stand-in does with job J as process i: ACTIONS[J][i] ("reply" if absent).
STAND_IN = """
import json, os, sys, time
args = sys.argv[1:]
study = args[args.index("--study_dir") + 1]
index = int(args[args.index("--process_id") + 1]) if "--process_id" in args else 0
with open(os.path.join(study, "starts.jsonl"), "a") as f:
  f.write(json.dumps({"pid": os.getpid(), "args": args}) + "\\n")
actions = json.loads(os.environ["STAND_IN_ACTIONS"])
for line in sys.stdin:
  job = json.loads(line)["trial"]
  action = actions.get(job, {}).get(str(index), "reply")
  if action == "exit":
    sys.exit(3)
  if action == "hang":
    time.sleep(600)
  status = "completed" if index == 0 else None
  print(json.dumps({"trial": job, "code": 0, "status": status}), flush=True)
"""


@pytest.fixture
def launcher(tmp_path, monkeypatch):
  """A launcher of one slot of 2 stand-in processes (grace 1 s); its `starts()`."""
  monkeypatch.setattr(local, "WORKER", ("-c", STAND_IN))
  monkeypatch.setattr(local, "MEMBER_GRACE_S", 1.0)
  monkeypatch.setenv("OPTCOMPARE_PLATFORM", "cpu")
  monkeypatch.setenv("STAND_IN_ACTIONS", json.dumps({
      # sgd/1: process 1 fails; process 0 waits for it in a collective, as a real one would
      "sgd/1": {"0": "hang", "1": "exit"}, "sgd/2": {"1": "hang"}, "sgd/3": {"0": "hang"}}))
  launch = local.LocalLauncher(str(tmp_path), parallel=1, threads_per_trial=1,
                               devices_per_trial=0, lease_seconds=5.0, processes_per_trial=2)

  def starts():
    with open(tmp_path / "starts.jsonl", encoding="utf-8") as f:
      return [json.loads(line) for line in f]

  launch.starts = starts
  yield launch
  launch.close(timeout=2.0)


def _run(launcher, job, timeout=20.0):
  """Starts `job` on slot 0 and waits for its end: (its report, seconds it took)."""
  t0 = time.time()
  launcher.start(0, job, retry=False)
  while time.time() - t0 < timeout:
    done = launcher.poll(timeout=0.2)
    if done:
      return done, time.time() - t0
  raise AssertionError(f"{job} did not end in {timeout} s")


def _alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
    return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_group_args_make_one_job_of_the_processes():
  one = local.group_args("/s", lease_seconds=5.0, owner="o", processes=1, port=None)
  assert one == [["--study_dir", "/s", "--lease_seconds", "5.0", "--owner", "o"]]
  two = local.group_args("/s", lease_seconds=5.0, owner="o", processes=2, port=1234)
  assert [a[6:] for a in two] == [
      ["--coordinator_address", "localhost:1234", "--num_processes", "2", "--process_id",
       str(i)] for i in range(2)]


def test_a_job_ends_with_process_0s_reply_and_the_group_lives_on(launcher):
  assert launcher.idle_slots() == [0]
  done, _ = _run(launcher, "sgd/0")
  assert done == [("sgd/0", 0, "completed")]
  assert launcher.idle_slots() == [0] and launcher.compiled(0) == {"sgd"}
  assert _run(launcher, "sgd/4")[0] == [("sgd/4", 0, "completed")]
  starts = launcher.starts()
  assert len(starts) == 2  # the same two processes served both jobs
  assert sorted(s["args"][-1] for s in starts) == ["0", "1"]  # their --process_id
  assert len({s["args"][s["args"].index("--coordinator_address") + 1] for s in starts}) == 1


def test_a_process_that_exits_ends_the_attempt_and_stops_the_others(launcher):
  _run(launcher, "sgd/0")
  first = [s["pid"] for s in launcher.starts()]
  done, _ = _run(launcher, "sgd/1")
  assert done == [("sgd/1", 3, None)]  # as a dead worker's: the sweep records a failure
  assert not any(_alive(pid) for pid in first)
  assert launcher.idle_slots() == [0] and launcher.compiled(0) == set()
  assert _run(launcher, "sgd/0")[0] == [("sgd/0", 0, "completed")]  # a new group
  assert len(launcher.starts()) == 4


def test_a_stuck_process_is_stopped_after_the_grace_and_process_0s_result_stands(launcher):
  done, seconds = _run(launcher, "sgd/2")
  assert done == [("sgd/2", 0, "completed")]
  assert 1.0 <= seconds < 15.0
  assert not any(_alive(s["pid"]) for s in launcher.starts())


def test_a_stuck_process_0_ends_the_attempt_as_a_dead_worker(launcher):
  done, _ = _run(launcher, "sgd/3")
  assert done == [("sgd/3", -15, None)]  # SIGTERM: the stand-in has no handler
  assert not any(_alive(s["pid"]) for s in launcher.starts())


def test_an_idle_group_that_loses_a_process_is_replaced(launcher):
  _run(launcher, "sgd/0")
  os.kill(launcher.starts()[1]["pid"], 9)
  time.sleep(0.5)
  assert launcher.poll(timeout=0.5) == []  # no job was running: nothing to report
  assert _run(launcher, "sgd/0")[0] == [("sgd/0", 0, "completed")]
  assert len(launcher.starts()) == 4
