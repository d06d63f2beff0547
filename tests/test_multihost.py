"""Two processes on localhost (CPU collectives) train like one process on the same global batch:
a trial of `optcompare train`, and the trials of a sweep with processes_per_trial = 2."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from optcompare import study, studydir, train
from tests.conftest import REPO, SMOKE, optcompare_cmd, optcompare_env
from tests.test_study import smoke_study


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [((r["step"], r["split"]), r["loss"]) for r in map(json.loads, f)]


# The smallest run that still compares training lines and evaluations at two steps: process
# start-up and compiles, not steps, are most of this test's time.
SHORT = {"num_train_steps": 4, "eval_every_steps": 2, "log_every_steps": 2,
         "checkpoint_every_steps": 4}


def test_two_processes_match_one(tmp_path, smoke_config):
  port = _free_port()
  multi = tmp_path / "two_processes"
  procs = [subprocess.Popen(
      optcompare_cmd("train", f"--config={SMOKE}", f"--workdir={multi}",
                     *(f"--config.{k}={v}" for k, v in SHORT.items()),
                     f"--coordinator_address=localhost:{port}", "--num_processes=2",
                     f"--process_id={i}"),
      cwd=REPO, env=optcompare_env(num_devices=2), stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True) for i in range(2)]
  # The one-process reference trains here, on this process's device(s), while they run.
  with smoke_config.unlocked():
    smoke_config.update(SHORT)
  train.train_and_evaluate(smoke_config, str(tmp_path / "one"))
  for p in procs:
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
  two, one = _losses(multi), _losses(tmp_path / "one")
  assert [k for k, _ in two] == [k for k, _ in one]
  assert {k for k, _ in one} == {(s, split) for s in (2, 4)
                                 for split in ("train", "validation", "train_eval", "test")}
  for (_, a), (_, b) in zip(two, one):
    assert a == pytest.approx(b, rel=1e-4)


def test_processes_per_trial_may_change_and_an_older_study_reads_it_as_1(tmp_path):
  workdir = tmp_path / "study"
  c = smoke_study()
  old = study.manifest_of(c).to_json()
  del old["config"]["processes_per_trial"]  # study.json written before the field existed
  workdir.mkdir()
  (workdir / studydir.MANIFEST).write_text(json.dumps(old))
  assert study.load_manifest(str(workdir)).processes_per_trial == 1
  c.processes_per_trial = 2  # an execution field: the same study, run another way
  study.write_manifest(str(workdir), study.manifest_of(c))
  assert study.load_manifest(str(workdir)).processes_per_trial == 2


def _sweep(workdir, processes: int) -> dict:
  """The sgd smoke study, 2 trials of SHORT's steps, each trial over `processes` processes of
  one CPU device each (the 2-process trial splits each batch over 2 devices)."""
  c = smoke_study(optimizers=("sgd",), num_trials=2)
  c.base.update(SHORT)
  c.processes_per_trial = processes
  return study.sweep(c, str(workdir), retries=0, progress=False)


def _trial(workdir, tid):
  tdir = studydir.trial_dir(str(workdir), tid)
  result = studydir.read_result(tdir)
  with open(os.path.join(tdir, studydir.ATTEMPTS), encoding="utf-8") as f:
    events = [json.loads(line)["event"] for line in f]
  return result, _losses(tdir), events, os.listdir(os.path.join(tdir, studydir.CLAIMS))


def test_a_sweep_of_two_process_trials_matches_one_process_trials(tmp_path, monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
  monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax_cache"))
  for processes in (2, 1):
    summary = _sweep(tmp_path / f"p{processes}", processes)
    assert (summary["completed"], summary["ran_here"], summary["worker_errors"]) == (2, 2, 0)
  # The 2-process sweep ran a group of two worker processes (logs/worker-<0|1>.log).
  assert os.path.exists(studydir.worker_log(str(tmp_path / "p2"), 1))
  for tid in ("sgd/0", "sgd/1"):
    result, losses, events, claims = _trial(tmp_path / "p2", tid)
    ref, ref_losses, _, _ = _trial(tmp_path / "p1", tid)
    # Process 0 alone claimed and wrote: one claim, one attempt, one line per (step, split).
    assert (events, len(claims)) == (["start", "end"], 1)
    assert [k for k, _ in losses] == [k for k, _ in ref_losses]
    for (_, a), (_, b) in zip(losses, ref_losses):
      assert a == pytest.approx(b, rel=1e-4)
    assert (result.status, result.steps) == (ref.status, ref.steps) == ("completed", 4)
    for split, metrics in ref.final.items():
      assert result.final[split] == pytest.approx(metrics, rel=1e-4), (tid, split)


KILL_SWEEP = """
import json, sys
from optcompare import study
from tests.test_study import smoke_study
c = smoke_study(optimizers=("sgd",), num_trials=2, steps=20)
c.base.checkpoint_every_steps = c.base.eval_every_steps = 10
c.processes_per_trial = int(sys.argv[2])
print(json.dumps(study.sweep(c, sys.argv[1], retries=int(sys.argv[3]), progress=False)))
"""


def _kill_sweep(workdir, processes: int, retries: int) -> subprocess.Popen:
  return subprocess.Popen(optcompare_cmd()[:1] + ["-c", KILL_SWEEP, str(workdir),
                                                  str(processes), str(retries)],
                          cwd=REPO, env=optcompare_env(num_devices=1), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _worker_process(workdir, index: int) -> int | None:
  """The pid of the worker process with --process_id `index` of the sweep of `workdir`."""
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().decode().split("\0")
    except OSError:
      continue
    if str(workdir) in args and "--process_id" in args and \
        args[args.index("--process_id") + 1] == str(index):
      return int(pid)
  return None


@pytest.mark.slow
def test_a_killed_process_of_a_trial_fails_the_attempt_and_the_retry_resumes(tmp_path):
  """SIGKILL of process 1 of a 2-process trial after its first checkpoint: process 0 is
  stopped (or fails the trial itself), the attempt is `failed`, and the retry resumes from
  the checkpoint to the 1-process study's results."""
  workdir, ref_dir = tmp_path / "p2", tmp_path / "p1"
  reference = _kill_sweep(ref_dir, 1, 0)
  proc = _kill_sweep(workdir, 2, 1)
  tdir = studydir.trial_dir(str(workdir), "sgd/0")
  victim = None
  while victim is None and proc.poll() is None:
    if os.path.isdir(os.path.join(tdir, studydir.CHECKPOINTS, "10")) and \
        not os.path.exists(os.path.join(tdir, studydir.RESULT)):
      victim = _worker_process(workdir, 1)
    time.sleep(0.02)
  assert victim, "the trial was not caught between its checkpoint and its end"
  os.kill(victim, signal.SIGKILL)
  out, err = proc.communicate(timeout=600)
  assert proc.returncode == 0, err[-3000:]
  summary = json.loads(out.strip().splitlines()[-1])
  assert (summary["completed"], summary["failed"], summary["retried"]) == (2, 0, 1), summary
  failed = studydir.read_json(os.path.join(tdir, "result.failed.0.json"))
  assert failed["status"] == "failed" and failed["steps"] >= 10
  with open(os.path.join(tdir, studydir.ATTEMPTS), encoding="utf-8") as f:
    starts = [e for e in map(json.loads, f) if e["event"] == "start"]
  assert [e["checkpoint"] for e in starts] == [None, 10]  # the retry resumed
  _, ref_err = reference.communicate(timeout=600)
  assert reference.returncode == 0, ref_err[-3000:]
  for tid in ("sgd/0", "sgd/1"):
    result, ref = (studydir.read_result(studydir.trial_dir(str(d), tid))
                   for d in (workdir, ref_dir))
    assert result.status == ref.status == "completed"
    for split, metrics in ref.final.items():
      assert result.final[split] == pytest.approx(metrics, rel=1e-4), (tid, split)
