"""Bad input, command by command: exit status 2, one stderr line naming the culprit, and
nothing written (DESIGN.md §4).

Every case runs `optcompare.cli.main(argv)` in this process (absl flags reset between cases,
as tests/test_cli.py does), with the working directory inside the case's tmp_path, and
compares a snapshot of tmp_path (every path, size and mtime) before and after: a write
anywhere in it, the working directory included, fails the case.
"""
import dataclasses
import json
import os
import shutil
import subprocess
from typing import Callable

import pytest

from tests.conftest import REPO, SHARED_DATA, run_cli

C = os.path.join(REPO, "configs", "workloads", "fashion_mnist_simple_cnn.py") + ":smoke"
W = os.path.join(REPO, "configs", "workloads", "war_and_peace_lstm.py") + ":smoke"
S = os.path.join(REPO, "configs", "studies", "choi2019", "fashion_mnist_simple_cnn.py") + ":smoke"
SW = os.path.join(REPO, "configs", "studies", "choi2019", "war_and_peace_lstm.py") + ":smoke"
FASHION = os.path.join(SHARED_DATA, "fashion_mnist")
LABELS = "t10k-labels-idx1-ubyte.gz"  # the smallest Fashion-MNIST file (5,148 bytes)


# ---- the shared material: built once, copied into each case's tmp_path ----

@pytest.fixture(scope="module")
def material(tmp_path_factory):
  """A synthetic study (2 optimizers x 2 trials), its committed table (study.json +
  trials.csv) and the manifest of the choi2019 smoke study (what `sweep --config=S` makes)."""
  # pylint: disable=g-import-not-at-top
  from configs.studies.choi2019 import fashion_mnist_simple_cnn
  from optcompare import studydir, study
  from optcompare.analysis import load, synthetic
  root = tmp_path_factory.mktemp("material")
  synthetic.write_synthetic_study(root / "study", optimizers=("sgd", "adam"), num_trials=2,
                                  curves=False)
  os.makedirs(root / "table")
  shutil.copy(root / "study" / "study.json", root / "table")
  load.save_table(load.load_study(root / "study"), root / "table" / "trials.csv")
  study.manifest_of(fashion_mnist_simple_cnn.get_config("smoke")).write(str(root / "sweep"))
  return root


@dataclasses.dataclass
class Env:
  """Paths of one case, all under its tmp_path; what to undo after it."""
  tmp: str
  monkeypatch: pytest.MonkeyPatch
  read_only: list = dataclasses.field(default_factory=list)

  def path(self, *parts) -> str:
    return os.path.join(self.tmp, *parts)

  def make_read_only(self, *parts) -> str:
    """A directory this process cannot write to (chmod; as root, `chattr +i`)."""
    path = self.path(*parts)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o555)
    if os.access(path, os.W_OK) and subprocess.run(["chattr", "+i", path],
                                                   capture_output=True).returncode:
      os.chmod(path, 0o755)
      pytest.skip("cannot make a directory read-only here (root without chattr)")
    self.read_only.append(path)
    return path


def _edit_json(path: str, edit: Callable[[dict], object]) -> None:
  with open(path, encoding="utf-8") as f:
    obj = json.load(f)
  edit(obj)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(obj, f)


def _manifest(where: str, edit: Callable[[dict], object]):
  return lambda env: _edit_json(env.path(where, "study.json"), edit)


def _raw_manifest(where: str, data: bytes):
  return lambda env: open(env.path(where, "study.json"), "wb").write(data)


def _table(edit: Callable[[list], list]):
  """Rewrites table/trials.csv, a line list -> a line list (line 0: the header)."""
  def setup(env):
    path = env.path("table", "trials.csv")
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
    with open(path, "w", encoding="utf-8") as f:
      f.write("\n".join(edit(lines)) + "\n")
  return setup


def _cell(column: str, value: str, line: int = 2):
  def edit(lines):
    header = lines[0].split(",")
    cells = lines[line].split(",")
    cells[header.index(column)] = value
    lines[line] = ",".join(cells)
    return lines
  return _table(edit)


def _config_file(text: str | bytes, name: str = "bad.py"):
  def setup(env):
    data = text.encode() if isinstance(text, str) else text
    with open(env.path(name), "wb") as f:
      f.write(data)
  return setup


def _file(name: str = "afile"):
  return lambda env: open(env.path(name), "w").write("not a directory\n")


def _read_only(*parts):
  return lambda env: env.make_read_only(*parts)


def _manual(edit: Callable[[str], object] | None = None):
  """manual/: a writable copy of Fashion-MNIST's four files; `edit(path of LABELS)`."""
  def setup(env):
    if not os.path.isdir(FASHION):
      pytest.skip("../shared/data/fashion_mnist is not here")
    shutil.copytree(FASHION, env.path("manual"))
    os.chmod(env.path("manual"), 0o755)
    for name in os.listdir(env.path("manual")):
      os.chmod(env.path("manual", name), 0o644)
    if edit:
      edit(env.path("manual", LABELS))
  return setup


def _truncate(size: int):
  return lambda path: os.truncate(path, size)


def _corrupt(path: str) -> None:
  with open(path, "r+b") as f:
    f.seek(100)
    f.write(b"x" * 100)  # same size, other content: only the checksum tells


def _unreadable(*parts):
  """chmod 000; as root (who reads it anyway) os.access is made to say so, for that path."""
  def setup(env):
    path = env.path(*parts)
    os.chmod(path, 0)
    env.read_only.append(path)
    real = os.access
    if real(path, os.R_OK):
      env.monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: (
          False if os.path.abspath(p) == path and mode & os.R_OK else real(p, mode, *a, **k)))
  return setup


def _all(*setups):
  def setup(env):
    for s in setups:
      s(env)
  return setup


# A config file that leaves a file next to itself when executed (the snapshot would show it).
GOOD_CONFIG_THAT_WRITES = (
    "import os\nimport ml_collections\n"
    "open(os.path.join(os.path.dirname(__file__), 'EXECUTED'), 'w').close()\n"
    "def get_config(arg=None):\n  return ml_collections.ConfigDict({'x': 1})\n")


def train(*args, workdir="{t}/w"):
  return ["train", *args, f"--workdir={workdir}"]


def smoke(*overrides, config=C):
  """train the smoke workload with --config.FIELD=VALUE overrides."""
  return train(f"--config={config}", *(f"--config.{o}" for o in overrides))


def sweep(*overrides, workdir="{t}/s"):
  return ["sweep", f"--config={S}", *(f"--config.{o}" for o in overrides),
          f"--workdir={workdir}"]


def status(workdir="{t}/study"):
  return ["status", f"--workdir={workdir}"]


def analyze(*args, workdir="{t}/study"):
  return ["analyze", f"--workdir={workdir}", *args]


def prepare(manual="{t}/manual", data="{t}/tfds", name="fashion_mnist"):
  return ["data", "prepare", name, f"--manual_dir={manual}", f"--data_dir={data}"]


BAD_PY = "--config={t}/bad.py"
CONFIG_PY = "--config={t}/c.py"
TABLE = "{t}/table"  # a committed table (study.json + trials.csv), a good analysis/ in it
writes_when_run = _config_file(GOOD_CONFIG_THAT_WRITES, "c.py")


def hparams(i: int, value):
  return lambda m: m["trials"][i].update(hparams=value)


def config_field(**kw):
  return lambda m: m["config"].update(**kw)


Case = tuple  # (id, args (with {t}: the case's tmp_path), setup or None, culprit in the line)
CASES: list[Case] = [
    # -- config files (train, sweep) --
    ("syntax", train(BAD_PY), _config_file("def get_config(:\n"), "bad.py:1"),
    ("keyerror", train(BAD_PY), _config_file("def get_config():\n  return {}['x']\n"),
     "bad.py: get_config() raised KeyError"),
    ("no-get-config", train(BAD_PY), _config_file("x = 1\n"), "bad.py: defines no get_config"),
    ("get-config-none", train(BAD_PY), _config_file("def get_config():\n  pass\n"),
     "bad.py: get_config() returned NoneType"),
    ("import-error", train(BAD_PY), _config_file("import no_such_module_x\n"),
     "no_such_module_x"),
    ("not-utf8", train(BAD_PY), _config_file(b"x = '\xff\xfe'\n"), "bad.py:1"),
    ("config-dir", train("--config={t}"), None, "{t}: not a file"),
    ("config-empty", train("--config="), None, "--config: empty"),
    ("config-missing", train("--config={t}/none.py"), None, "none.py: no such file"),
    ("bad-arg", train(f"--config={C.replace(':smoke', ':bogus')}"), None, "get_config('bogus')"),
    ("sweep-syntax", ["sweep", BAD_PY, "--workdir={t}/s"], _config_file("def get_config(:\n"),
     "bad.py:1"),
    ("sweep-keyerror", ["sweep", "--config={t}/bad.py:x", "--workdir={t}/s"],
     _config_file("def get_config(a):\n  return {}[a]\n"), "get_config('x') raised KeyError"),
    # -- commands that take no config refuse it, and never execute the file --
    ("status-config", status() + [CONFIG_PY], writes_when_run, "--config: status takes no"),
    ("analyze-config", analyze(CONFIG_PY), writes_when_run, "--config: analyze takes no"),
    ("data-config", prepare() + [CONFIG_PY], writes_when_run, "--config: data takes no"),
    ("status-override", status() + ["--config.num_trials=3"], None, "--config.num_trials"),
    ("status-config-spaced", ["--workdir", "{t}/study", "status", "--config", "{t}/c.py"],
     writes_when_run, "--config: status takes no"),
    # -- a flag of another verb is refused, not ignored --
    ("status-parallel", status() + ["--parallel=3"], None, "--parallel: status does not take"),
    ("train-out", train(f"--config={C}", "--out={t}/o"), None, "--out: train does not take"),
    ("data-workdir", prepare() + ["--workdir={t}/w"], None, "--workdir: data does not take"),
    # -- directories to write --
    ("train-workdir-empty", train(f"--config={C}", workdir=""), None, "--workdir: empty"),
    ("train-workdir-file", train(f"--config={C}", workdir="{t}/afile"), _file(),
     "afile: not a directory"),
    ("train-workdir-under-file", train(f"--config={C}", workdir="{t}/afile/trial"), _file(),
     "afile is a file"),
    ("train-workdir-ro-new", train(f"--config={C}", workdir="{t}/ro/trial"), _read_only("ro"),
     "ro/trial: not writable"),
    ("train-workdir-ro", train(f"--config={C}", workdir="{t}/ro"), _read_only("ro"),
     "{t}/ro: not writable"),
    ("sweep-workdir-empty", sweep(workdir=""), None, "--workdir: empty"),
    ("sweep-workdir-file", sweep(workdir="{t}/afile"), _file(), "afile: not a directory"),
    ("sweep-workdir-ro", sweep(workdir="{t}/ro/study"), _read_only("ro"), "ro/study: not writ"),
    ("status-workdir-empty", status(""), None, "--workdir: empty"),
    ("analyze-workdir-empty", analyze(workdir=""), None, "--workdir: empty"),
    ("out-file", analyze("--out={t}/afile"), _file(), "--out: {t}/afile: not a directory"),
    ("out-under-file", analyze("--out={t}/afile/x"), _file(), "afile is a file"),
    ("out-ro", analyze("--out={t}/ro"), _read_only("ro"), "--out: {t}/ro: not writable"),
    ("out-ro-new", analyze("--out={t}/ro/new"), _read_only("ro"), "ro/new: not writable"),
    ("out-empty", analyze("--out="), None, "--out: empty"),
    ("out-default-ro", analyze(), _read_only("study"), "study/analysis: not writable"),
    ("data-dir-file", prepare(data="{t}/afile"), _all(_manual(), _file()), "--data_dir: {t}/af"),
    ("data-dir-ro", prepare(data="{t}/ro/tfds"), _all(_manual(), _read_only("ro")),
     "--data_dir: {t}/ro/tfds: not writable"),
    # -- trial config values (train) --
    ("synthetic-0", smoke("dataset.num_synthetic_examples=0"), None,
     "dataset.num_synthetic_examples: must be a positive integer"),
    ("synthetic-neg", smoke("dataset.num_synthetic_examples=-5"), None,
     "dataset.num_synthetic_examples: must be a positive integer"),
    ("synthetic-lt-batch", smoke("dataset.num_synthetic_examples=16"), None,
     "dataset.num_synthetic_examples: 16 are fewer than one batch"),
    ("char-windows-lt-batch", smoke("dataset.num_synthetic_examples=100", config=W), None,
     "dataset.num_synthetic_examples: 100 make 6 training examples"),
    ("validation-0", smoke("dataset.num_validation_examples=0"), None,
     "dataset.num_validation_examples"),
    ("validation-neg", smoke("dataset.num_validation_examples=-1"), None,
     "dataset.num_validation_examples"),
    ("lr-0", smoke("optimizer.hparams.learning_rate=0"), None,
     "optimizer.hparams.learning_rate: must lie in (0.0, inf)"),
    ("adam-eps-0", smoke("optimizer.hparams.epsilon=0"), None,
     "optimizer.hparams.epsilon: must lie in (0.0, inf)"),
    ("nadam-eps-0", smoke("optimizer.name=nadam", "optimizer.hparams.epsilon=0"), None,
     "optimizer.hparams.epsilon: must lie in (0.0, inf)"),
    ("rmsprop-eps-0", smoke("optimizer.name=rmsprop", "optimizer.hparams.rho=0.9",
                            "optimizer.hparams.momentum=0", "optimizer.hparams.epsilon=0"),
     None, "optimizer.hparams.epsilon: must lie in (0.0, inf), got 0.0 (rmsprop: ε = 0 only"),
    ("train-eval-gt-train", smoke("dataset.num_train_eval_examples=1000"), None,
     "dataset.num_train_eval_examples: 1000 exceeds the 512 training examples"),
    ("not-prepared", smoke("dataset.synthetic=False", "dataset.data_dir={t}/tfds"), None,
     "dataset.data_dir: fashion_mnist is not prepared in {t}/tfds"),
    ("target-nan", smoke("target.value=nan"), None, "target.value: must be a finite number"),
    ("l2-inf", smoke("loss.l2=inf"), None, "loss.l2: must be a finite number"),
    # -- study config values (sweep) --
    ("bound-nan", sweep("search_spaces.adam.beta1.min=nan"), None,
     "search_spaces.adam.beta1.min: must be a finite number"),
    ("bound-inf", sweep("search_spaces.adam.beta1.max=inf"), None,
     "search_spaces.adam.beta1.max"),
    ("bound-neg-inf", sweep("search_spaces.sgd.learning_rate.min=-inf"), None,
     "search_spaces.sgd.learning_rate.min"),
    ("sweep-synthetic-0", sweep("base.dataset.num_synthetic_examples=0"), None,
     "base.dataset.num_synthetic_examples"),
    ("sweep-validation-neg", sweep("base.dataset.num_validation_examples=-3"), None,
     "base.dataset.num_validation_examples"),
    ("sweep-pack-size-0", sweep("pack_size=0"), None, "pack_size: must be an integer >= 1"),
    ("sweep-pack-size-float", sweep("pack_size=1.5"), None, "pack_size"),
    ("train-multihost-partial", smoke() + ["--num_processes=2"], None,
     "--coordinator_address, --num_processes and --process_id go together"),
    ("sweep-processes-0", sweep("processes_per_trial=0"), None,
     "processes_per_trial: must be an integer >= 1"),
    ("sweep-processes-with-packs", sweep("processes_per_trial=2", "pack_size=2"), None,
     "processes_per_trial: 2 processes per trial cannot train packs (pack_size=2)"),
    ("sweep-processes-on-ray", sweep("processes_per_trial=2") +
     ["--backend=ray", "--ray_address=127.0.0.1:1"], None,
     "processes_per_trial: 2 processes per trial run on the local backend only"),
    ("sweep-processes-batch", sweep("processes_per_trial=3"), None,
     "base.batch_size: 32 is not divisible by the 3 devices"),
    ("sweep-reruns-top-neg", sweep("reruns.top=-1"), None, "reruns.top: must be an integer"),
    ("sweep-reruns-seeds-neg", sweep("reruns.seeds=-2"), None,
     "reruns.seeds: must be an integer >= 0"),
    ("sweep-reruns-top-gt-trials", sweep("reruns.top=5", "reruns.seeds=1"), None,
     "reruns.top: 5 is more than the 4 trials per optimizer"),
    # -- what the trials need, checked as train checks it, before the sweep writes --
    ("sweep-train-eval-gt-train", sweep("base.dataset.num_train_eval_examples=1000"), None,
     "base.dataset.num_train_eval_examples: 1000 exceeds the 512 training examples"),
    ("sweep-train-eval-neg", sweep("base.dataset.num_train_eval_examples=-1"), None,
     "base.dataset.num_train_eval_examples: must be an integer >= 0"),
    ("sweep-test-every", sweep("base.test_every_steps=3"), None,
     "base.test_every_steps: must be a positive multiple of eval_every_steps"),
    ("sweep-not-prepared", sweep("base.dataset.synthetic=False",
                                 "base.dataset.data_dir={t}/tfds"), None,
     "base.dataset.data_dir: fashion_mnist is not prepared in {t}/tfds"),
    ("sweep-npz-missing", sweep("base.dataset.synthetic=False",
                                "base.dataset.data_dir={t}/none.npz"), None,
     "base.dataset.data_dir: {t}/none.npz: cannot read split arrays"),
    ("sweep-npz-not-splits", sweep("base.dataset.synthetic=False",
                                   "base.dataset.data_dir={t}/x.npz"),
     _config_file(b"not a zip file", "x.npz"), "base.dataset.data_dir: {t}/x.npz"),
    ("sweep-char-lt-batch", ["sweep", f"--config={SW}", "--workdir={t}/s",
                             "--config.base.dataset.num_synthetic_examples=100"], None,
     "base.dataset.num_synthetic_examples: 100 make 6 training examples"),
    # -- study.json (status, analyze, sweep) --
    ("status-utf8", status(), _raw_manifest("study", b'{"trials": ["\xff"]}'), "study.json"),
    ("analyze-utf8", analyze(), _raw_manifest("study", b'{"trials": ["\xff"]}'), "study.json"),
    ("sweep-utf8", sweep(workdir="{t}/sweep"), _raw_manifest("sweep", b'{"trials": ["\xff"]}'),
     "sweep/study.json"),
    ("status-empty-json", status(), _raw_manifest("study", b""), "study.json: corrupt"),
    ("status-num-trials", status(), _manifest("study", config_field(num_trials="x")),
     "config.num_trials"),
    ("analyze-num-trials", analyze(), _manifest("study", config_field(num_trials="x")),
     "config.num_trials"),
    ("sweep-num-trials", sweep(workdir="{t}/sweep"),
     _manifest("sweep", config_field(num_trials="x")), "config.num_trials"),
    ("status-trials-3", status(), _manifest("study", lambda m: m.update(trials=3)), "'trials'"),
    ("analyze-trials-3", analyze(), _manifest("study", lambda m: m.update(trials=3)),
     "'trials'"),
    ("sweep-trials-3", sweep(workdir="{t}/sweep"),
     _manifest("sweep", lambda m: m.update(trials=3)), "'trials'"),
    ("status-hparams-list", status(), _manifest("study", hparams(0, [1])), "trials[0].hparams"),
    ("analyze-hparams-list", analyze(), _manifest("study", hparams(0, [1])),
     "trials[0].hparams"),
    ("sweep-hparams-list", sweep(workdir="{t}/sweep"), _manifest("sweep", hparams(1, [1])),
     "trials[1].hparams"),
    ("status-hparam-str", status(), _manifest("study", hparams(0, {"learning_rate": "x"})),
     "trials[0].hparams.learning_rate"),
    ("status-base-int", status(), _manifest("study", config_field(base=3)), "config.base"),
    ("analyze-base-int", analyze(), _manifest("study", config_field(base=3)), "config.base"),
    ("status-index-str", status(), _manifest("study", lambda m: m["trials"][0].update(index="0")),
     "trials[0].index"),
    ("status-metric-int", status(),
     _manifest("study", lambda m: m["config"]["base"]["target"].update(metric=5)),
     "config.base.target.metric"),
    ("analyze-space-list", analyze(),
     _manifest("study", lambda m: m["config"]["search_spaces"].update(adam=[])),
     "config.search_spaces.adam"),
    ("analyze-bound-nan", analyze(), _manifest("study", lambda m: m["config"]["search_spaces"][
        "adam"]["beta1"].update(min=float("nan"))), "search_spaces.adam.beta1.min"),
    # -- trials.csv (analyze of a committed table): refused, its good analysis/ kept --
    ("csv-final-text", analyze(workdir=TABLE), _cell("final.validation.error", "abc"),
     "trials.csv: column final.validation.error, line 3"),
    ("csv-index-text", analyze(workdir=TABLE), _cell("index", "abc"), "column index, line 3"),
    ("csv-index-empty", analyze(workdir=TABLE), _cell("index", ""), "column index, line 3"),
    ("csv-steps-text", analyze(workdir=TABLE), _cell("steps_to_target", "soon"),
     "column steps_to_target"),
    ("csv-hp-text", analyze(workdir=TABLE), _cell("hp.learning_rate", "big"),
     "column hp.learning_rate"),
    ("csv-wall-text", analyze(workdir=TABLE), _cell("wall_time_s", "1s"), "column wall_time_s"),
    ("csv-status", analyze(workdir=TABLE), _cell("status", "great"), "column status"),
    ("csv-trial-id", analyze(workdir=TABLE), _cell("trial_id", "../x"), "column trial_id"),
    ("csv-fewer-rows", analyze(workdir=TABLE), _table(lambda l: l[:3]),
     "trials.csv: lacks 2 of the 4 trials of study.json (adam/0, adam/1)"),
    ("csv-no-adam", analyze(workdir=TABLE),
     _table(lambda l: [x for x in l if not x.startswith("adam/")]), "(adam/0, adam/1)"),
    ("csv-cut-mid-row", analyze(workdir=TABLE), _table(lambda l: l[:4] + [l[4][:8]]),
     "trials.csv: column index, line 5"),
    ("csv-row-twice", analyze(workdir=TABLE), _table(lambda l: l + [l[1]]), "twice: sgd/0"),
    ("csv-extra-trial", analyze(workdir=TABLE),
     _table(lambda l: l + [l[1].replace("sgd/0,sgd,0", "sgd/7,sgd,7")]), "(sgd/7)"),
    ("csv-empty", analyze(workdir=TABLE), _table(lambda l: []), "trials.csv: corrupt"),
    ("csv-no-status-column", analyze(workdir=TABLE),
     _table(lambda l: [l[0].replace(",status,", ",state,")] + l[1:]), "lacks columns"),
    # -- data prepare --
    ("gz-truncated", prepare(), _manual(_truncate(1000)), f"{LABELS}: 1000 bytes"),
    ("gz-empty", prepare(), _manual(_truncate(0)), f"{LABELS}: 0 bytes"),
    ("text-empty", prepare(manual="{t}", name="war_and_peace"),
     _config_file("", "warpeace_input.txt"), "warpeace_input.txt: empty file"),
    ("text-not-utf8", prepare(manual="{t}", name="war_and_peace"),
     _config_file(b"War and \xff\xfe Peace\n", "warpeace_input.txt"),
     "warpeace_input.txt: damaged (UnicodeDecodeError"),
    ("gz-corrupt", prepare(), _manual(_corrupt), f"{LABELS}: wrong checksum (TFDS expects "
     "sha256 67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ("gz-dir", prepare(), _manual(lambda p: (os.remove(p), os.mkdir(p))), f"{LABELS}: not a"),
    ("gz-missing", prepare(), _manual(os.remove), f"manual lacks {LABELS}"),
    ("manual-dir-file", prepare(manual="{t}/afile"), _file(), "afile is not a directory"),
    ("manual-dir-empty", prepare(manual=""), None, "--manual_dir: empty"),
    ("manual-dir-unreadable", prepare(), _all(_manual(), _unreadable("manual")),
     "manual: cannot be read"),
    ("manual-file-unreadable", prepare(), _all(_manual(), _unreadable("manual", LABELS)),
     f"{LABELS}: cannot be read"),
]


def _snapshot(root: str) -> dict:
  out = {}
  for d, dirs, files in os.walk(root):
    for name in dirs + files:
      path = os.path.join(d, name)
      st = os.lstat(path)
      out[os.path.relpath(path, root)] = (st.st_size if name in files else -1, st.st_mtime_ns)
  return out




def test_the_suite_is_large_and_its_ids_distinct():
  assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case_id,args,setup,culprit", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case_id, args, setup, culprit, material, tmp_path, monkeypatch, capsys):
  env = Env(str(tmp_path), monkeypatch)
  for name in ("study", "table", "sweep"):
    shutil.copytree(material / name, tmp_path / name)
  os.makedirs(tmp_path / "table" / "analysis")
  (tmp_path / "table" / "analysis" / "report.md").write_text("a good report\n")
  os.makedirs(tmp_path / "cwd")
  monkeypatch.chdir(tmp_path / "cwd")  # a write relative to the working directory shows too
  try:
    if setup:
      setup(env)
    before = _snapshot(env.tmp)
    argv = ["optcompare"] + [a.replace("{t}", env.tmp) for a in args]
    rc = run_cli(argv, monkeypatch)
    after = _snapshot(env.tmp)
  finally:
    for path in env.read_only:
      subprocess.run(["chattr", "-i", path], capture_output=True)
      os.chmod(path, 0o755)
  err = capsys.readouterr().err.strip().splitlines()
  assert rc == 2, err
  assert len(err) == 1 and err[0].startswith("optcompare: error: "), err
  assert culprit.replace("{t}", env.tmp) in err[0], err
  assert "defined twice" not in err[0], err
  assert before == after, {k: (before.get(k), after.get(k))
                           for k in set(before) | set(after) if before.get(k) != after.get(k)}


# ---- damaged files that are not bad input: reported, and the command goes on ----

def _this_machine() -> str:
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  return ledger.machine_id()


@pytest.mark.parametrize("record", [
    {"machine": "HERE", "heartbeat_at": 0.0, "lease_seconds": 60.0},  # no pid
    {"machine": "HERE", "pid": True, "heartbeat_at": 0.0, "lease_seconds": 60.0},
    {"machine": "HERE", "pid": 0, "heartbeat_at": 0.0, "lease_seconds": 60.0},
    {"machine": "HERE", "pid": "123", "heartbeat_at": 0.0, "lease_seconds": 60.0},
    {"machine": "elsewhere", "lease_seconds": 60.0},  # no heartbeat
    {"machine": "elsewhere", "heartbeat_at": "now", "lease_seconds": 60.0},
    [1, 2],  # not an object
], ids=["no-pid", "pid-bool", "pid-0", "pid-str", "no-heartbeat", "heartbeat-str", "list"])
def test_damaged_claim_holds_its_trial_only_for_the_grace(record, material, tmp_path,
                                                          monkeypatch, capsys):
  """A claim file with a field missing or of the wrong type is damaged: live while younger
  than the ledger's grace (as a claim being written), then not; status never crashes."""
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  shutil.copytree(material / "study", tmp_path / "study")
  tdir = tmp_path / "study" / "trials" / "sgd" / "1"
  os.remove(tdir / "result.json")
  os.makedirs(tdir / "claims")
  claim = tdir / "claims" / "000001.json"
  if isinstance(record, dict) and record.get("machine") == "HERE":
    record = dict(record, machine=_this_machine())
  claim.write_text(json.dumps(record))
  assert ledger.is_live(str(tdir), *ledger.current(str(tdir)))
  assert ledger.Claim.acquire(str(tdir), lease_seconds=60) is None
  old = claim.stat().st_mtime - ledger._UNWRITTEN_GRACE_S - 1  # pylint: disable=protected-access
  os.utime(claim, (old, old))
  assert not ledger.is_live(str(tdir), *ledger.current(str(tdir)))
  assert ledger.trial_state(str(tdir))[0] == "pending"
  assert run_cli(["optcompare", "status", f"--workdir={tmp_path / 'study'}"], monkeypatch) == 0
  out = capsys.readouterr().out
  assert "sgd" in out and "adam" in out


@pytest.mark.parametrize("final", [{"validation": {"error": "abc"}}, {"validation": [0.1]},
                                   {"validation": {"error": {"x": 1}}}, "0.1"])
def test_result_with_a_non_numeric_final_value_is_a_corrupt_row(final, material, tmp_path,
                                                                  monkeypatch, capsys):
  """A result.json whose final values are not numbers is a damaged file: the analysis
  reports it (naming it) and shows the trial as corrupt; status counts it as not done."""
  from optcompare.analysis import load  # pylint: disable=g-import-not-at-top
  shutil.copytree(material / "study", tmp_path / "study")
  _edit_json(str(tmp_path / "study" / "trials" / "sgd" / "0" / "result.json"),
             lambda r: r.update(final=final))
  with pytest.warns(load.StudyFileWarning, match="trials/sgd/0/result.json"):
    df = load.load_study(tmp_path / "study")
  assert df.set_index("trial_id").loc["sgd/0", "status"] == "corrupt"
  assert run_cli(["optcompare", "status", f"--workdir={tmp_path / 'study'}"], monkeypatch) == 0
  assert "sgd" in capsys.readouterr().out

