"""Sweeps that really train (the smoke workload, 10 steps on synthetic data), in processes.

One uninterrupted study (two sweeps started at once on one directory) is the reference; the same study killed with SIGKILL mid-way and relaunched must end with identical
results and every trial trained once: one line per (step, split) in metrics.jsonl and one
"end" line in attempts.jsonl (an interrupted attempt logs only its "start").
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from optcompare import reruns as reruns_mod
from optcompare import study, study_manifest, studydir
from optcompare.backends import local
from optcompare.backends import private_network
from tests.conftest import (REPO, attempt_events, run_cli, run_optcompare, trial_metrics,
                            trial_outcome)
from tests.test_study import smoke_study

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWEEP = ("import json, sys; from optcompare import study; from tests.test_study import "
         "smoke_study; s = study.sweep(smoke_study(), sys.argv[1], parallel=int(sys.argv[2]), "
         "retries=int(sys.argv[3])); print(json.dumps(s))")
TRIALS = [f"{o}/{i}" for o in ("adam", "sgd") for i in range(4)]


@pytest.fixture(scope="module", autouse=True)
def compilation_cache(tmp_path_factory):
  """One JAX compilation cache for this module's trials (not the user's ~/.cache)."""
  old = os.environ.get("JAX_COMPILATION_CACHE_DIR")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax_cache"))
  yield
  if old is None:
    del os.environ["JAX_COMPILATION_CACHE_DIR"]
  else:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = old


def _sweep_process(workdir, parallel, retries=0):
  return subprocess.Popen([sys.executable, "-c", SWEEP, str(workdir), str(parallel),
                           str(retries)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The 2-optimizer x 4-trial smoke study, run by two sweeps (parallel=1) started together."""
  workdir = tmp_path_factory.mktemp("reference") / "study"
  t0 = time.time()
  procs = [_sweep_process(workdir, 1) for _ in range(2)]
  outs = [p.communicate(timeout=600) for p in procs]
  for p, (out, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
  print(f"reference study: {time.time() - t0:.1f} s")
  return workdir, summaries


def test_parallel_sweeps_complete_and_never_duplicate_a_trial(reference):
  workdir, summaries = reference
  for s in summaries:
    assert s["trials"] == 8 and s["completed"] + s["diverged"] == 8 and s["failed"] == 0
  assert sum(s["ran_here"] for s in summaries) == 8
  for tid in TRIALS:
    events = [e["event"] for e in attempt_events(workdir, tid)]
    assert events == ["start", "end"], (tid, events)
    lines = trial_metrics(workdir, tid)
    keys = [(m["step"], m["split"]) for m in lines]
    assert len(keys) == len(set(keys)) and (10, "validation") in keys
  rows = {line.split()[0]: line.split() for line in study.status_table(str(workdir)).splitlines()}
  for opt in ("adam", "sgd"):  # trials, done, running, pending, diverged, failed
    _, total, done, running, pending, diverged, failed, *_ = rows[opt]
    assert (total, running, pending, failed) == ("4", "0", "0", "0")
    assert int(done) + int(diverged) == 4


def test_killed_sweep_resumes_with_identical_results(reference, tmp_path):
  ref_dir, _ = reference
  workdir = tmp_path / "study"
  proc = _sweep_process(workdir, 2)
  deadline = time.time() + 300
  mid_trial = False
  while time.time() < deadline and proc.poll() is None:
    done = sum(os.path.exists(os.path.join(studydir.trial_dir(str(workdir), t), studydir.RESULT))
               for t in TRIALS)
    mid_trial = _mid_trial(workdir) is not None
    if done >= 2 and mid_trial:
      break
    time.sleep(0.05)
  assert proc.poll() is None, "the sweep ended before it could be killed"
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  summary = study.sweep(smoke_study(), str(workdir), parallel=2, progress=False)
  assert summary["completed"] + summary["diverged"] == 8 and summary["failed"] == 0
  assert summary["ran_here"] < 8  # the finished trials were not run again
  resumed = []
  for tid in TRIALS:
    events = attempt_events(workdir, tid)
    names = [e["event"] for e in events]
    # ["start"] alone: killed after train wrote result.json, before the worker logged "end".
    assert names in (["start", "end"], ["start", "start", "end"], ["start"]), (tid, names)
    assert trial_metrics(workdir, tid) == trial_metrics(ref_dir, tid), tid
    assert trial_outcome(workdir, tid) == trial_outcome(ref_dir, tid), tid
    if names[:2] == ["start", "start"] and events[1]["checkpoint"]:
      resumed.append(tid)  # killed after a checkpoint, resumed from it
  assert resumed or not mid_trial


def _mid_trial(workdir):
  """A trial with a checkpoint and no result yet, or None."""
  for t in TRIALS:
    d = studydir.trial_dir(str(workdir), t)
    if os.path.isdir(os.path.join(d, studydir.CHECKPOINTS, "5")) and not os.path.exists(
        os.path.join(d, studydir.RESULT)):
      return t
  return None


def _worker_pid(trial_dir):
  """The pid of the process that holds the trial's newest claim."""
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  _, record = ledger.current(trial_dir)
  return record.get("pid") if record else None


def test_killed_worker_is_recorded_replaced_and_its_trial_retried(reference, tmp_path):
  """SIGKILL of one worker mid-trial: the trial is `failed` (naming the signal), a new worker
  takes the slot, and the retry resumes it to the uninterrupted study's results."""
  ref_dir, _ = reference
  workdir = tmp_path / "study"
  proc = _sweep_process(workdir, 1, retries=1)
  deadline, victim = time.time() + 300, None
  while time.time() < deadline and proc.poll() is None and victim is None:
    tid = _mid_trial(workdir)
    pid = tid and _worker_pid(studydir.trial_dir(str(workdir), tid))
    if pid and pid != proc.pid:
      os.kill(pid, signal.SIGKILL)
      victim = tid
    time.sleep(0.02)
  out, err = proc.communicate(timeout=600)
  assert victim, "no trial was caught mid-way"
  assert proc.returncode == 0, err[-3000:]
  summary = json.loads(out.strip().splitlines()[-1])
  assert summary["worker_errors"] == 1 and summary["retried"] == 1, summary
  assert summary["completed"] + summary["diverged"] == 8 and summary["failed"] == 0
  tdir = studydir.trial_dir(str(workdir), victim)
  failed = json.loads(open(os.path.join(tdir, "result.failed.0.json")).read())
  assert "signal 9" in failed["error"]
  pids = {e["pid"] for t in TRIALS for e in attempt_events(workdir, t) if "pid" in e}
  assert len(pids) == 2  # the first worker and its replacement: one process per slot
  for tid in TRIALS:
    assert trial_metrics(workdir, tid) == trial_metrics(ref_dir, tid), tid
    assert trial_outcome(workdir, tid) == trial_outcome(ref_dir, tid), tid


def test_failed_trial_is_recorded_and_retried(tmp_path):
  c = smoke_study(optimizers=("sgd",), num_trials=2)
  c.base.model.dense_features = -1  # passes train's checks; the model cannot be built
  workdir = str(tmp_path / "study")
  summary = study.sweep(c, workdir, retries=0, progress=False)
  assert summary["failed"] == 2 and summary["ran_here"] == 2
  assert summary["failed_trials"] == ["sgd/0", "sgd/1"]
  # One worker raised twice and went on: both attempts ran in the same process.
  assert len({e["pid"] for t in ("sgd/0", "sgd/1") for e in attempt_events(workdir, t)}) == 1
  tdir = studydir.trial_dir(workdir, "sgd/0")
  result = studydir.read_result(tdir)
  assert result.status == "failed" and "(784, -1)" in result.error
  assert "Traceback" in result.error
  assert study.sweep(c, workdir, retries=0, progress=False)["ran_here"] == 0
  summary = study.sweep(c, workdir, retries=1, progress=False)
  assert summary["retried"] == 2 and summary["failed"] == 2
  assert os.path.exists(os.path.join(tdir, "result.failed.0.json"))
  assert [e["event"] for e in attempt_events(workdir, "sgd/0")] == ["start", "end"] * 2
  assert "failed" in study.status_table(workdir)
  # By default a sweep retries a failed trial twice, and no more.
  summary = study.sweep(c, workdir, progress=False)
  assert summary["retried"] == 4 and summary["failed_trials"] == ["sgd/0", "sgd/1"]
  assert [e["event"] for e in attempt_events(workdir, "sgd/0")] == ["start", "end"] * 4


# The choi2019 character-model smoke study cut to one optimizer, two trials of 4 steps.
LSTM_STUDY = """
from configs.studies.choi2019 import war_and_peace_lstm


def get_config(arg=None):
  c = war_and_peace_lstm.get_config("smoke")
  with c.unlocked():
    c.optimizers = ["sgd"]
    for o in list(c.search_spaces):
      if o != "sgd":
        del c.search_spaces[o]
  c.num_trials = 2
  b = c.base
  b.num_train_steps, b.eval_every_steps, b.checkpoint_every_steps, b.log_every_steps = (
      4, 2, 2, 2)
  return c
"""


def test_bad_input_in_a_trial_is_one_line_never_retried_and_a_corrected_sweep_replaces_it(
    tmp_path, monkeypatch, capsys):
  """The character model's synthetic text is made in the trial, not by the sweep's
  preflight, so a train_eval subset larger than its training split is refused only there:
  the trial fails with that one line, is not retried, no other trial starts, and the sweep
  ends with the line (exit 2). The same command with the corrected config then replaces the
  study, in which nothing trained, and runs it."""
  (tmp_path / "lstm_study.py").write_text(LSTM_STUDY)
  workdir = str(tmp_path / "study")
  argv = ["optcompare", "sweep", f"--config={tmp_path / 'lstm_study.py'}",
          f"--workdir={workdir}", "--retries=2"]
  assert run_cli(argv + ["--config.base.dataset.num_train_eval_examples=100000"],
                 monkeypatch) == 2
  err = capsys.readouterr().err
  errors = [line for line in err.splitlines() if line.startswith("optcompare: error:")]
  assert "Traceback" not in err and len(errors) == 1, err
  assert errors[0].startswith("optcompare: error: base.dataset.num_train_eval_examples: "
                              "100000 exceeds the "), errors
  assert "(trial sgd/0)" in errors[0] and "corrected config replaces this study" in errors[0]
  result = studydir.read_result(studydir.trial_dir(workdir, "sgd/0"))
  assert result.status == "failed" and "\n" not in result.error.strip()
  assert result.error.startswith("BadInputError: dataset.num_train_eval_examples: 100000")
  assert [e["event"] for e in attempt_events(workdir, "sgd/0")] == ["start", "end"]  # no retry
  assert not os.path.exists(studydir.trial_dir(workdir, "sgd/1"))  # not started
  assert run_cli(argv, monkeypatch) == 0, capsys.readouterr().err
  manifest = study.load_manifest(workdir)
  assert manifest.base["dataset"]["num_train_eval_examples"] is None
  for tid in ("sgd/0", "sgd/1"):
    assert studydir.read_result(studydir.trial_dir(workdir, tid)).status in (
        "completed", "diverged")
    assert [e["event"] for e in attempt_events(workdir, tid)] == ["start", "end"]


def _private_network_or_skip():
  try:
    private_network.check_available()
  except private_network.Unavailable as e:
    pytest.skip(f"no private network namespace here: {e}")


def test_private_network_has_only_a_loopback_interface_that_works():
  """What `optcompare sweep --backend=ray` runs Ray in: `lo` alone, up, and usable."""
  _private_network_or_skip()
  code = ("import socket; s = socket.create_server(('0.0.0.0', 0)); "
          "c = socket.create_connection(('127.0.0.1', s.getsockname()[1])); "
          "print(sorted(n for _, n in socket.if_nameindex()))")
  out = subprocess.run(private_network.command(["-c", code]), capture_output=True, text=True,
                       check=True).stdout
  assert out.strip() == "['lo']"


def test_cli_ray_sweep_runs_in_a_private_network(tmp_path):
  """A sweep that starts its own Ray instance runs it in a private network (no Ray port
  exists outside it; the test above shows what that network is), and its trials finish."""
  pytest.importorskip("ray")
  _private_network_or_skip()
  config = tmp_path / "study.py"
  config.write_text("from optcompare.analysis import synthetic\n\n\ndef get_config(arg=None):\n"
                    "  return synthetic.trimmed_smoke_config('choi2019', ['adam'], 2, 0)\n")
  workdir = str(tmp_path / "study")
  proc = run_optcompare("sweep", f"--config={config}", f"--workdir={workdir}",
                        "--backend=ray", "--parallel=2", "--config.base.num_train_steps=4",
                        "--config.base.eval_every_steps=2", timeout=600)
  assert "in a private network (loopback only)" in proc.stderr, proc.stderr[-3000:]
  assert "every interface" not in proc.stderr
  for tid in ("adam/0", "adam/1"):
    assert [e["event"] for e in attempt_events(workdir, tid)] == ["start", "end"]


def test_cli_ray_sweep_without_a_private_network_stops_before_writing(tmp_path, monkeypatch,
                                                                     capsys):
  """Where no network namespace can be made, a sweep that would start its own Ray instance
  says so and exits 1, writing nothing, rather than listen on every interface."""
  def unavailable():
    raise private_network.Unavailable("cannot create a network namespace: Operation not "
                                      "permitted")
  monkeypatch.setattr(private_network, "check_available", unavailable)
  monkeypatch.delenv(private_network.ENV_MARK, raising=False)
  workdir = tmp_path / "study"
  code = run_cli(["optcompare", "sweep", f"--config={REPO}/configs/studies/choi2019/"
                  "fashion_mnist_simple_cnn.py:smoke", f"--workdir={workdir}",
                  "--backend=ray"], monkeypatch)
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 1 and len(err) == 1 and "Operation not permitted" in err[0]
  assert "--ray_address" in err[0] and not workdir.exists()


def test_ray_that_will_not_start_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
  """Ray raising (here: the start-up timeout seen on an overloaded machine) ends the sweep
  with one line naming it, exit 1, nothing written; not a traceback."""
  ray = pytest.importorskip("ray")
  def timeout(*args, **kwargs):
    del args, kwargs
    raise Exception("The current node timed out during startup.")  # pylint: disable=broad-exception-raised
  monkeypatch.setattr(ray, "init", timeout)
  monkeypatch.setenv(private_network.ENV_MARK, "1")  # as if re-executed already
  workdir = tmp_path / "study"
  code = run_cli(["optcompare", "sweep", f"--config={REPO}/configs/studies/choi2019/"
                  "fashion_mnist_simple_cnn.py:smoke", f"--workdir={workdir}",
                  "--backend=ray"], monkeypatch)
  err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("optcompare")]
  assert code == 1 and err == ["optcompare: error: --backend=ray: could not start or reach a "
                               "local Ray instance: The current node timed out during startup."]
  assert not workdir.exists()


def test_worker_env_gives_each_slot_its_share():
  env = local.worker_env(1, parallel=2, threads_per_trial=2, devices_per_trial=0,
                         platform=("cpu", 0), cpus=[0, 1, 2, 3])
  assert env["OMP_NUM_THREADS"] == "2" and env["OPTCOMPARE_CPUS"] == "2,3"
  assert "intra_op_parallelism_threads=2" in env["XLA_FLAGS"]
  gpu = local.worker_env(1, parallel=2, threads_per_trial=1, devices_per_trial=2,
                         platform=("gpu", 4))
  assert gpu["CUDA_VISIBLE_DEVICES"] == "2,3"
  tpu = local.worker_env(3, parallel=4, threads_per_trial=1, devices_per_trial=1,
                         platform=("tpu", 4))
  assert tpu["TPU_VISIBLE_CHIPS"] == "3" and tpu["TPU_CHIPS_PER_PROCESS_BOUNDS"] == "1,1,1"
  assert local.max_parallel(8, 2, ("gpu", 4)) == 2
  assert local.max_parallel(8, 0, ("cpu", 0)) == 8


def test_seed_reruns_of_the_best_trials_follow_the_search(tmp_path):
  """reruns.top=1, seeds=2: after the search, each optimizer's best trial trains again with
  base seeds 1 and 2, as trials of their own; a second sweep runs nothing."""
  c = smoke_study(optimizers=("adam", "sgd"), num_trials=2)
  c.reruns.top, c.reruns.seeds = 1, 2
  workdir = str(tmp_path / "study")
  summary = study.sweep(c, workdir, progress=False)
  assert summary["reruns"]["trials"] == 4 and summary["reruns"]["ran_here"] == 4
  manifest = study_manifest.StudyManifest.read(workdir)
  assert [r.seed for r in manifest.reruns] == [1, 2, 1, 2]
  for r in manifest.reruns:
    opt = studydir.optimizer_of(r.of)
    best = reruns_mod.best_trials(workdir, manifest, opt, 1)
    assert r.of == best[0] and r.id == f"{r.of}s{r.seed}"
    tdir = studydir.trial_dir(workdir, r.id)
    config = json.loads(open(os.path.join(tdir, studydir.CONFIG)).read())
    original = json.loads(open(os.path.join(studydir.trial_dir(workdir, r.of),
                                            studydir.CONFIG)).read())
    assert config["seed"] == r.seed and original["seed"] == 0
    assert {k: v for k, v in config.items() if k != "seed"} == \
        {k: v for k, v in original.items() if k != "seed"}
    assert trial_metrics(workdir, r.id) != trial_metrics(workdir, r.of)  # another seed
  again = study.sweep(c, workdir, progress=False)
  assert again["ran_here"] == 0 and again["reruns"]["ran_here"] == 0


def test_report_shows_seed_noise_of_the_reruns(tmp_path):
  """The report's "Seed noise" section: per optimizer, the re-runs' spread, and each
  inclusion pair's difference against it."""
  from optcompare import analysis  # pylint: disable=g-import-not-at-top
  c = smoke_study(optimizers=("momentum", "sgd"), num_trials=2)
  c.reruns.top, c.reruns.seeds = 1, 2
  workdir = str(tmp_path / "study")
  study.sweep(c, workdir, progress=False)
  analysis.analyze(workdir, out=str(tmp_path / "out"), num_resamples=50)
  report = (tmp_path / "out" / "report.md").read_text()
  section = report.split("## Seed noise", 1)[1].split("\n## ", 1)[0]
  assert "| momentum |" in section and "| sgd |" in section and "| 3 |" in section
  assert "sgd ⊆ momentum" in section and "seed noise" in section
  assert (tmp_path / "out" / "reruns.csv").exists()
  # Beside the headline's values and each inclusion verdict: the seed noise.
  headline = report.split("## Headline", 1)[1].split("\n## ", 1)[0]
  assert "seed std of validation error" in headline
  inclusion = report.split("## Inclusion check", 1)[1].split("\n## ", 1)[0]
  assert "difference of medians vs seed noise" in inclusion and "(Δ " in inclusion
