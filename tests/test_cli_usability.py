"""What a new user meets first (issue 14): help, `~` in paths, quiet start-up, the sweep's ETA."""
import io
import json
import logging as std_logging
import os
import signal
import subprocess
import sys
import warnings

from absl import flags
import pytest

from optcompare import cli
from optcompare import quiet
from optcompare.backends import scheduler
from tests.conftest import REPO, SHARED_DATA, SMOKE, optcompare_cmd, optcompare_env, run_cli

STUDY_SMOKE = os.path.join(REPO, "configs", "studies", "choi2019",
                           "fashion_mnist_simple_cnn.py") + ":smoke"




# ---- help ----

@pytest.mark.parametrize("arg", ["--help", "-h", "--helpshort"])
def test_help_lists_every_verb_with_a_line(arg, monkeypatch, capsys):
  assert run_cli(["optcompare", arg], monkeypatch) == 0
  out = capsys.readouterr().out.splitlines()
  for verb in cli.COMMANDS:
    assert any(line.startswith(f"  {verb} ") and len(line.split()) > 2 for line in out), verb


@pytest.mark.parametrize("verb", list(cli.COMMANDS))
def test_verb_help_lists_its_flags_and_no_other(verb, monkeypatch, capsys):
  assert run_cli(["optcompare", verb, "--help"], monkeypatch) == 0
  out = capsys.readouterr().out
  listed = {line.split()[0] for line in out.splitlines() if line.startswith("  --")}
  taken = {f"--{name}" for name in cli.VERBS[verb][1]}
  assert taken <= listed, out
  assert not {f"--{name}" for name in cli._own_flags()} - taken & listed, out
  assert out.startswith(f"usage: optcompare {verb}"), out


def test_help_wins_over_a_config_that_does_not_load(monkeypatch, capsys):
  """--help never executes the config file (it may be the thing the user is unsure of)."""
  argv = ["optcompare", "train", "--config=/nonexistent/c.py", "--config.x=1", "-h"]
  assert run_cli(argv, monkeypatch) == 0
  assert "--workdir" in capsys.readouterr().out


def test_helpfull_is_absl_full_help(monkeypatch, capsys):
  assert run_cli(["optcompare", "--helpfull"], monkeypatch) == 0
  out = capsys.readouterr().out
  assert "--verbosity" in out and "--workdir" in out and "--data_dir" in out


def test_bare_command_prints_the_whole_usage_and_exits_2(monkeypatch, capsys):
  assert run_cli(["optcompare"], monkeypatch) == 2
  captured = capsys.readouterr()
  for line in cli.USAGE.splitlines():
    if line.strip().startswith("optcompare "):
      assert " ".join(line.split()) in captured.out, line
  err = captured.err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("optcompare: error: expected a command"), err


def test_help_through_the_installed_entry_point_exits_0():
  for args in (["--help"], ["sweep", "--help"], ["--helpfull"]):
    proc = subprocess.run(optcompare_cmd(*args), cwd=REPO, env=optcompare_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), (args, proc.stderr)


def test_a_flag_the_verb_does_not_take_is_refused(monkeypatch, capsys, tmp_path):
  argv = ["optcompare", "status", f"--workdir={tmp_path}", "--parallel=3"]
  assert run_cli(argv, monkeypatch) == 2
  assert "--parallel: status does not take it" in capsys.readouterr().err


# ---- paths ----

@pytest.fixture
def home(tmp_path, monkeypatch):
  """A temporary HOME, and a working directory beside it where a literal `~` would land."""
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  monkeypatch.setenv("OC_TEST_DIR", str(tmp_path / "elsewhere"))
  os.makedirs(tmp_path / "home")
  os.makedirs(tmp_path / "cwd")
  monkeypatch.chdir(tmp_path / "cwd")
  return tmp_path / "home"


def test_expand_path(home):
  assert cli.expand_path("~/x") == f"{home}/x"
  assert cli.expand_path("$HOME/y") == f"{home}/y"
  assert cli.expand_path("${OC_TEST_DIR}/z").endswith("/elsewhere/z")
  assert cli.expand_path("/abs/~") == "/abs/~"
  assert cli.expand_path(None) is None


def test_every_path_flag_is_expanded(home):
  argv = ["optcompare", "analyze", "--workdir=~/a", "--out=$HOME/b", "--compare=${HOME}/c",
          "--manual_dir=~/m", "--data_dir=~/d", "--contain=~/e", "--contain=$OC_TEST_DIR"]
  try:
    flags.FLAGS(argv)
    cli._expand_path_flags()
    values = {n: flags.FLAGS[n].value for n in cli.PATH_FLAGS}
  finally:
    flags.FLAGS.unparse_flags()
  assert values == {"workdir": f"{home}/a", "out": f"{home}/b", "compare": f"{home}/c",
                    "manual_dir": f"{home}/m", "data_dir": f"{home}/d",
                    "contain": [f"{home}/e", os.environ["OC_TEST_DIR"]]}


def test_config_data_dir_is_expanded_in_train_and_study_configs(home):
  # pylint: disable=g-import-not-at-top
  from configs.studies.choi2019 import fashion_mnist_simple_cnn as study_config
  from configs.workloads import fashion_mnist_simple_cnn as workload_config
  trial = workload_config.get_config("smoke")
  trial.dataset.data_dir = "~/tfds"
  trial.lock()
  cli._expand_config_path(trial, "dataset.data_dir")
  assert trial.dataset.data_dir == f"{home}/tfds"
  study = study_config.get_config("smoke")
  study.base.dataset.data_dir = "$HOME/tfds"
  cli._expand_config_path(study, "base.dataset.data_dir")
  assert study.base.dataset.data_dir == f"{home}/tfds"
  cli._expand_config_path(study, "no.such.field")  # a custom config without it: untouched


def test_status_reads_a_study_under_tilde(home, monkeypatch, capsys):
  from optcompare.analysis import synthetic  # pylint: disable=g-import-not-at-top
  synthetic.write_synthetic_study(home / "study", optimizers=("sgd", "adam"), num_trials=2,
                                  curves=False)
  assert run_cli(["optcompare", "status", "--workdir=~/study"], monkeypatch) == 0
  assert f"study {home}/study" in capsys.readouterr().out
  assert not os.path.exists("~")


# ---- quiet start-up ----

def test_verbosity_is_read_before_absl_parses():
  assert quiet.verbosity(["x", "--verbosity=1"]) == 1
  assert quiet.verbosity(["x", "-v", "2", "train"]) == 2
  assert quiet.verbosity(["x", "--v=0"]) == 0
  assert quiet.verbosity(["x", "--verbosity=debug"]) is None
  assert quiet.verbosity(["x", "train"]) is None


def test_silence_sets_log_thresholds_only_and_verbosity_skips_it(monkeypatch):
  monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
  for name in ("TF_CPP_MIN_LOG_LEVEL", quiet.VERBOSE_ENV, "TF_ENABLE_ONEDNN_OPTS"):
    # setenv first: monkeypatch then restores the variable's original state (absent or
    # not), also after silence() below sets it behind monkeypatch's back.
    monkeypatch.setenv(name, "")
    monkeypatch.delenv(name)
  assert quiet.silence(["x", "--verbosity=1"]) is False
  assert os.environ[quiet.VERBOSE_ENV] == "1" and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
  monkeypatch.delenv(quiet.VERBOSE_ENV)
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's own choice wins
  assert quiet.silence(["x"]) is True
  assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
  assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ  # (it changes numerics: never touched)


def test_filtered_stderr_drops_noise_and_keeps_the_rest(capfd):
  with pytest.raises(RuntimeError):
    with quiet.filtered_stderr():
      os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                  b"written to STDERR\nI0000 port.cc:153] oneDNN custom operations are on.\n"
                  b"E0000 something real\n")
      raise RuntimeError("the import failed")
  assert capfd.readouterr().err == "E0000 something real\n"


def _import_tensorflow(*argv) -> str:
  code = "import sys; from optcompare import quiet; quiet.silence(sys.argv); import tensorflow"
  env = {k: v for k, v in optcompare_env().items()
         if k not in ("TF_CPP_MIN_LOG_LEVEL", quiet.VERBOSE_ENV)}
  proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  return proc.stderr


def test_tensorflow_imports_quietly_unless_verbosity_asks():
  assert not list(filter(quiet.is_noise, _import_tensorflow().splitlines()))
  assert list(filter(quiet.is_noise, _import_tensorflow("--verbosity=1").splitlines()))


NOISE_OR_BARS = quiet.NOISE + ("Dl Completed", "Extraction completed", "%|")


# Slow: two fresh processes and a real Fashion-MNIST preparation. In `make test`,
# test_every_path_flag_is_expanded and test_config_data_dir_is_expanded_in_train_and_study_configs
# check the expansion, test_tensorflow_imports_quietly_unless_verbosity_asks the quiet start.
@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "fashion_mnist")),
                    reason="../shared/data/fashion_mnist is not here")
def test_readme_commands_with_tilde_work_and_are_quiet(tmp_path):
  """The README's `--data_dir=~/tensorflow_datasets`, with a temporary HOME: data lands under
  HOME (no `./~` in the working directory), and neither preparing the data nor a short smoke
  trial on it prints TensorFlow's start-up lines or TFDS progress bars."""
  home, cwd = tmp_path / "home", tmp_path / "cwd"
  os.makedirs(home)
  os.makedirs(cwd)
  os.symlink(os.path.join(SHARED_DATA, "fashion_mnist"), home / "manual")
  env = {k: v for k, v in optcompare_env().items()
         if k not in ("TF_CPP_MIN_LOG_LEVEL", quiet.VERBOSE_ENV)}
  env.update(HOME=str(home), PYTHONPATH=REPO)

  def run(*args):
    proc = subprocess.run(optcompare_cmd(*args), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    noise = [line for line in proc.stderr.splitlines()
             if any(pattern in line for pattern in NOISE_OR_BARS)]
    assert not noise, noise
    return proc

  run("data", "prepare", "fashion_mnist", "--manual_dir=~/manual",
      "--data_dir=~/tensorflow_datasets")
  assert os.path.isdir(home / "tensorflow_datasets" / "fashion_mnist")
  run("train", f"--config={SMOKE}", "--config.dataset.synthetic=False",
      "--config.dataset.data_dir=~/tensorflow_datasets", "--config.num_train_steps=2",
      "--config.eval_every_steps=2", "--config.checkpoint_every_steps=2", "--workdir=~/trial")
  config = json.loads((home / "trial" / "config.json").read_text())
  assert config["dataset"]["data_dir"] == str(home / "tensorflow_datasets")
  assert os.listdir(cwd) == []  # no `./~`, nothing else


# ---- the sweep's ETA ----

def test_eta_is_mean_duration_times_remaining_over_slots():
  eta = scheduler.Progress.eta_seconds
  assert eta([], 5, 1) is None and eta([10.0], 0, 1) is None
  assert eta([10.0, 20.0], 4, 2) == 30.0
  assert eta([10.0], 1, 4) == 10.0  # a trial takes a trial's time, however many slots
  fmt = scheduler.Progress.format_duration
  assert (fmt(0.2), fmt(40), fmt(180), fmt(9000)) == ("1 s", "40 s", "3 min", "2.5 h")


def test_progress_line_gives_an_eta_from_this_sweeps_trials(monkeypatch):
  from optcompare import study_manifest
  from optcompare import studydir  # pylint: disable=g-import-not-at-top
  manifest = study_manifest.StudyManifest.from_json(
      {"config": {"optimizers": ["sgd", "adam"], "base": {}},
       "trials": [{"id": f"{o}/{i}", "optimizer": o, "index": i, "hparams": {}}
                  for o in ("sgd", "adam") for i in range(6)]})
  stream = io.StringIO()
  show = scheduler.Progress(manifest, enabled=True, stream=stream)
  clock = iter([1000.0, 1000.0, 1120.0, 1120.0, 1120.0])
  monkeypatch.setattr(scheduler.time, "time", lambda: next(clock))
  counts = {s: 0 for s in studydir.STATUSES}

  def update(running, **done):
    show.update({**counts, **done}, len(running), running=running, parallel=2)

  update({"sgd/0", "adam/0"}, pending=10)
  show.record("sgd/5", studydir.Result("completed", 20, {"validation": {"error": 0.5}}))
  show.record("sgd/0", studydir.Result("completed", 20, {"validation": {"error": 0.4}}))
  update({"adam/0", "sgd/1"}, pending=9, completed=2)
  lines = stream.getvalue().splitlines()
  assert "ETA" not in lines[0]
  # sgd/0 ran 120 s here (sgd/5 finished in an earlier sweep: not counted); 2 running + 9
  # pending over 2 slots: 120 * 11 / 2 = 660 s.
  assert "pending 9 | ETA 11 min | best" in lines[-1], lines


# ---- warnings ----

@pytest.fixture
def absl_formatter_restored(monkeypatch):
  from absl import logging  # pylint: disable=g-import-not-at-top
  handler = logging.get_absl_handler().python_handler
  monkeypatch.setattr(handler, "formatter", handler.formatter)  # restored after the test
  return handler


@pytest.mark.parametrize("verbose", [False, True])
def test_a_python_warning_is_one_line_of_the_command(verbose, capsys, absl_formatter_restored):
  """No path of the package, no source line; -v adds the class and the place."""
  del absl_formatter_restored
  with warnings.catch_warnings():
    warnings.simplefilter("always")
    quiet.cli_warning_lines(verbose)
    warnings.warn("3 failed trial(s) left out\nsecond line", UserWarning)
  err = capsys.readouterr().err.splitlines()
  assert len(err) == 1, err
  assert err[0].startswith("optcompare: warning: 3 failed trial(s) left out"), err
  assert ("UserWarning" in err[0] and "test_cli_usability.py" in err[0]) == verbose, err
  assert "warnings.warn(" not in err[0]


def test_a_logged_warning_is_one_line_of_the_command(absl_formatter_restored):
  handler = absl_formatter_restored
  quiet.cli_warning_lines(False)
  record = std_logging.LogRecord("absl", std_logging.WARNING, "/x/optcompare/metrics.py", 3,
                                 "%s: set aside", ("metrics.jsonl",), None)
  assert handler.format(record) == "optcompare: warning: metrics.jsonl: set aside"
  record.levelno, record.levelname = std_logging.INFO, "INFO"
  assert handler.format(record).startswith("I")  # other lines keep absl's format



# ---- Ctrl-C ----

def _interrupted(ready: str, *args) -> subprocess.CompletedProcess:
  """Runs `optcompare *args` in a session of its own and, once a line holding `ready` is on
  its stderr, sends SIGINT to the whole session, as Ctrl-C in a terminal does."""
  proc = subprocess.Popen(optcompare_cmd(*args), cwd=REPO, env=optcompare_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
  seen = []
  for line in proc.stderr:
    seen.append(line)
    if ready in line:
      break
  os.killpg(proc.pid, signal.SIGINT)
  out, err = proc.communicate(timeout=120)
  return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + err)


@pytest.mark.parametrize("verb", ["train", "sweep"])
def test_ctrl_c_is_exit_130_with_its_message_and_no_traceback(verb, tmp_path):
  if verb == "train":
    proc = _interrupted("step 10 ", "train", f"--config={SMOKE}",
                        "--config.num_train_steps=3000", f"--workdir={tmp_path / 'trial'}")
  else:
    proc = _interrupted("running 1 here", "sweep", f"--config={STUDY_SMOKE}",
                        "--config.base.num_train_steps=3000", f"--workdir={tmp_path / 'study'}")
    assert "sweep: interrupted; stopping workers" in proc.stderr, proc.stderr[-2000:]
  assert proc.returncode == 130, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, \
      proc.stderr[-3000:]
  assert proc.stderr.strip().splitlines()[-1] == (
      "optcompare: interrupted; run the same command again to resume"), proc.stderr[-2000:]


# ---- the notebook ----

def test_notebook_on_a_wrong_study_path_is_one_clear_cell_error(tmp_path, monkeypatch):
  """One line naming the path (it was the end of a 124-line traceback)."""
  from nbclient.exceptions import CellExecutionError  # pylint: disable=g-import-not-at-top
  from tests.analysis import test_notebook  # pylint: disable=g-import-not-at-top
  with pytest.raises(CellExecutionError) as raised:
    test_notebook.execute("no_such_study", monkeypatch, start_dir=tmp_path)
  error = raised.value
  assert error.ename == "NoStudyError", error.ename
  # nbclient's message: a header, the cell's source between two rules, then what the cell
  # showed (the traceback, once 124 lines).
  shown = [line for line in error.traceback.split("-" * 18)[-1].splitlines() if line.strip()]
  assert len(shown) == 1, error.traceback
  assert shown[0].startswith(f"FileNotFoundError: No study at {tmp_path / 'no_such_study'}: ")
