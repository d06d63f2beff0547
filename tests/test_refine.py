"""`optcompare refine`: final search spaces from an initial study (issue 13, item 1).

The studies here are real manifests (`study.manifest_of` of the protocol configs' smoke
arg, trimmed) with results written through `studydir.write_result`, whose validation error is
a known function of the hyperparameters, so where the optimum lies is known.
"""
import re
import math
import os

import pytest

from optcompare import inputs
from optcompare import refine
from optcompare import study
from optcompare import study_manifest
from optcompare import studydir
from optcompare.analysis import containment
from optcompare.analysis import load
from optcompare.analysis import synthetic
from optcompare.search.spaces import Spec
from tests.conftest import run_cli

OPTIMIZERS = ("sgd", "momentum", "adam")
OPT_U = 0.4  # the optimum of every searched coordinate, as a point of the unit cube
DATE = "2000-01-01"


def _config(protocol: str, optimizers=OPTIMIZERS, num_trials: int = 48, seed: int = 0):
  """The protocol's Fashion-MNIST study config, arg smoke, trimmed to `optimizers`."""
  config = synthetic.trimmed_smoke_config(protocol, optimizers, num_trials, seed)
  config.lock()
  return config


def _write_study(root, config, error) -> study_manifest.StudyManifest:
  """study.json of `config` and a completed result per trial with validation error
  error(trial, space); returns the manifest."""
  manifest = study.manifest_of(config)
  manifest.write(str(root))
  for t in manifest.trials:
    tdir = studydir.trial_dir(str(root), t.id)
    os.makedirs(tdir)
    e = error(t, manifest.search_spaces[t.optimizer])
    final = {"validation": {"error": e, "loss": 2 * e}, "test": {"error": e, "loss": 2 * e}}
    studydir.write_result(tdir, studydir.Result(studydir.COMPLETED, 20, final, None, 1.0))
  return manifest


def _sampled(space):
  return {n: Spec.from_dict(n, s) for n, s in space.items()
          if s["scale"] in ("log", "linear", "one_minus_log")}


LR_LIKE = ("learning_rate", "learning_rate_over_epsilon")


def _bowl(trial, space):
  """Lowest at OPT_U in every searched coordinate (distance in the search's own measure),
  steepest in the learning rate, as on real workloads; between 0.1 and 0.8, below the
  untrained error of 10 classes (0.9), as a trial that trained at all scores."""
  d = sum((10.0 if n in LR_LIKE else 1.0) * (s.to_unit(trial.hparams[n]) - OPT_U) ** 2
          for n, s in _sampled(space).items())
  return 0.1 + 0.7 * (1.0 - math.exp(-d))


def _near_lr(target):
  """Lowest where the learning rate is `target` (a narrow protocol's known best trial)."""
  return lambda trial, space: 0.1 + abs(math.log10(trial.hparams["learning_rate"] / target))


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
  root = tmp_path_factory.mktemp("studies")
  paths = {name: str(root / name) for name in ("choi", "wilson", "schneider")}
  _write_study(paths["choi"], _config("choi2019"), _bowl)
  _write_study(paths["wilson"], _config("wilson2017", num_trials=8), _near_lr(3e-3))
  _write_study(paths["schneider"], _config("schneider2019", num_trials=8), _near_lr(1e-2))
  paths["small"] = str(root / "small")  # 3 trials per optimizer: too few to refine from
  _write_study(paths["small"], _config("choi2019", num_trials=3), _bowl)
  paths["lost"] = str(root / "lost")  # every trial diverged: nothing to refine from
  manifest = study.manifest_of(_config("choi2019", ("sgd",), num_trials=2))
  manifest.write(paths["lost"])
  for t in manifest.trials:
    os.makedirs(studydir.trial_dir(paths["lost"], t.id))
    studydir.write_result(studydir.trial_dir(paths["lost"], t.id),
                          studydir.Result(studydir.DIVERGED, 5, {}))
  return paths


def _module(path):
  with open(path, encoding="utf-8") as f:
    return refine.load_config_module(f.read(), str(path))


def _width(spec: Spec) -> float:
  lo, hi = spec.search_coordinate([spec.low, spec.high])
  return abs(hi - lo)


def test_refined_space_holds_the_optimum_and_is_smaller(studies, tmp_path):
  out = tmp_path / "refined.py"
  refine.refine(studies["choi"], str(out), date=DATE)
  config = _module(out).get_config()
  initial = study_manifest.StudyManifest.read(studies["choi"]).search_spaces
  for opt in OPTIMIZERS:
    old, new = _sampled(initial[opt]), _sampled(config.search_spaces[opt].to_dict())
    assert set(old) == set(new), opt
    volume = 1.0
    for name, spec in new.items():
      optimum = old[name].from_unit(OPT_U)
      assert spec.low <= optimum <= spec.high, (opt, name, spec, optimum)
      ratio = _width(spec) / _width(old[name])
      assert ratio <= 1.0, (opt, name, spec, old[name])  # no top trial at a bound: no growth
      if name in LR_LIKE:
        assert ratio < 0.6, (opt, name, spec, old[name])
      volume *= ratio
    assert volume < 0.5, (opt, volume)
    # derived, fixed and choice specs are copied unchanged (derived stays derived)
    for name, raw in initial[opt].items():
      if raw["scale"] not in ("log", "linear", "one_minus_log"):
        assert config.search_spaces[opt][name].to_dict() == raw


def test_a_range_grows_past_a_flagged_bound_but_never_past_a_natural_limit(tmp_path):
  """SGD's best learning rates lie below the initial min, where the boundary check flags
  them: the range grows there. Its best decay factors lie at λ = 1, the natural limit: the
  range ends there. Momentum's trials all diverged: its space is kept as it was."""
  def error(trial, space):
    if trial.optimizer == "momentum":
      return None
    u = {n: s.to_unit(trial.hparams[n]) for n, s in _sampled(space).items()}
    return 0.1 + 10 * (u["learning_rate"] + 0.2) ** 2 + (u["decay_factor"] - 1.0) ** 2

  root = tmp_path / "edge"
  manifest = study.manifest_of(_config("choi2019", ("sgd", "momentum"), num_trials=32))
  manifest.write(str(root))
  for t in manifest.trials:
    tdir = studydir.trial_dir(str(root), t.id)
    os.makedirs(tdir)
    e = error(t, manifest.search_spaces[t.optimizer])
    result = (studydir.Result(studydir.DIVERGED, 5, {}) if e is None else studydir.Result(
        studydir.COMPLETED, 20, {"validation": {"error": e}, "test": {"error": e}}))
    studydir.write_result(tdir, result)
  out = tmp_path / "refined.py"
  # Forced: momentum has no completed trial (the case under test), which refine refuses.
  refine.refine(str(root), str(out), date=DATE, force=True)
  module = _module(out)
  spaces = module.get_config().search_spaces.to_dict()
  initial = manifest.search_spaces
  assert spaces["sgd"]["learning_rate"]["min"] < initial["sgd"]["learning_rate"]["min"]
  assert spaces["sgd"]["learning_rate"]["max"] < initial["sgd"]["learning_rate"]["max"]
  assert spaces["sgd"]["decay_factor"]["max"] == 1.0
  assert spaces["momentum"] == initial["momentum"]
  doc = " ".join(module.__doc__.split())
  assert "grown past the initial min" in doc and "no completed trials" in doc


def test_learning_rate_of_the_synthetic_study_narrows_around_its_optimum(tmp_path):
  root = synthetic.write_synthetic_study(tmp_path / "s", optimizers=("sgd", "momentum"),
                                         num_trials=16, curves=False)
  out = tmp_path / "refined.py"
  # Forced: 16 trials, of which the ones with far too large a learning rate diverge.
  refine.refine(str(root), str(out), top=0.25, margin=0.25, date=DATE, force=True)
  spaces = _module(out).get_config("smoke").search_spaces
  initial = study_manifest.StudyManifest.read(str(root)).search_spaces
  for opt in ("sgd", "momentum"):
    new = Spec.from_dict("learning_rate", spaces[opt]["learning_rate"].to_dict())
    old = Spec.from_dict("learning_rate", initial[opt]["learning_rate"])
    assert new.low <= 10 ** synthetic.OPTIMA[opt][0] <= new.high, (opt, new)
    assert _width(new) < 0.6 * _width(old), (opt, new, old)


def test_contain_puts_the_narrow_protocols_best_trials_inside(studies, tmp_path):
  out = tmp_path / "refined.py"
  text = refine.refine(studies["choi"], str(out), contain=[studies["wilson"],
                                                           studies["schneider"]], date=DATE)
  config = _module(out).get_config()
  spaces = config.search_spaces.to_dict()
  schedule = config.base.optimizer.schedule.name
  initial = study_manifest.StudyManifest.read(studies["choi"]).search_spaces
  outside_before = 0
  for name in ("wilson", "schneider"):
    other = study_manifest.StudyManifest.read(studies[name])
    df = load.load_table(studies[name])
    other_schedule = other.schedule
    after = containment.best_trial_containment(df, other_schedule, "error", spaces, schedule)
    assert set(after) == set(OPTIMIZERS)
    assert all(c.inside is True for c in after.values()), [c.text() for c in after.values()]
    before = containment.best_trial_containment(df, other_schedule, "error", initial,
                                                schedule)
    outside_before += sum(c.inside is False for c in before.values())
  # Adam at ε = 1e-8 is α0/ε ≈ 3e5, outside the initial [1e-3, 1e2]: the space had to grow.
  assert outside_before >= 2
  assert spaces["adam"]["learning_rate_over_epsilon"]["max"] > 1e5
  assert spaces["sgd"]["decay_factor"]["max"] == 1.0  # a constant schedule is λ = 1
  assert "OUTSIDE" not in text and text.count(": inside") == 6
  doc = " ".join(_module(out).__doc__.split())
  for c in ("wilson", "schneider"):
    assert f"--contain={studies[c]}" in doc


def test_a_point_that_a_fixed_spec_excludes_is_reported_not_hidden(studies, tmp_path):
  """Refining the narrow study to hold the broad study's best: its fixed β1, β2, ε cannot
  grow, so Adam's best point stays outside, and the file and the summary say so."""
  out = tmp_path / "refined.py"
  text = refine.refine(studies["wilson"], str(out), contain=[studies["choi"]], date=DATE,
                       force=True)  # wilson2017 has 8 trials per optimizer
  assert f"{studies['choi']} adam/" in text and "OUTSIDE" in text and "warning" in text
  assert "OUTSIDE" in _module(out).__doc__
  spaces = _module(out).get_config().search_spaces
  assert spaces.adam.beta1.to_dict() == {"scale": "fixed", "value": 0.9}


def test_generated_file_is_a_study_config_for_every_arg(studies, tmp_path):
  out = tmp_path / "refined.py"
  refine.refine(studies["choi"], str(out), contain=[studies["wilson"]], date=DATE)
  for arg in ("smoke", "reduced", "demo", ""):
    inputs.check_config_file(f"{out}:{arg}")  # as `--config=FILE.py:arg` loads it
  module = _module(out)
  manifest = study.manifest_of(module.get_config("smoke"))
  assert manifest.optimizers == list(OPTIMIZERS)
  assert manifest.num_trials == 4
  initial = study_manifest.StudyManifest.read(studies["choi"])
  # the base is the workload's smoke config with the initial study's schedule
  assert manifest.base == initial.base
  assert module.get_config("reduced").num_trials == initial.num_trials
  doc = module.__doc__
  assert f"initial study {studies['choi']}" in doc and f"date          {DATE}" in doc
  assert "learning_rate (log) [0.001, 3] → [" in doc  # sgd's initial → refined range
  assert refine.MARKER in out.read_text().splitlines()


def test_same_inputs_give_the_same_file(studies, tmp_path):
  out = tmp_path / "refined.py"
  refine.refine(studies["choi"], str(out), top=0.5, margin=0.1, date=DATE)
  first = out.read_text()
  os.remove(out)
  refine.refine(studies["choi"], str(out), top=0.5, margin=0.1, date=DATE)
  assert out.read_text() == first
  # a rerun on another day that would change only the date leaves the file alone
  text = refine.refine(studies["choi"], str(out), top=0.5, margin=0.1, date="2001-02-03")
  assert "unchanged" in text and out.read_text() == first
  # other options: the same file is rewritten (it is refine's own)
  refine.refine(studies["choi"], str(out), top=1.0, margin=0.1, date=DATE)
  assert out.read_text() != first
  assert re.search(r"--top=1\s", out.read_text())  # (the command line may wrap after it)




def test_cli_writes_the_file(studies, tmp_path, monkeypatch, capsys):
  out = tmp_path / "sub" / "refined.py"
  argv = ["optcompare", "refine", f"--workdir={studies['choi']}", f"--out={out}",
          "--top=0.3", f"--contain={studies['wilson']}", f"--contain={studies['schneider']}"]
  assert run_cli(argv, monkeypatch) == 0
  printed = capsys.readouterr().out
  assert f"{out}: written" in printed and printed.count(": inside") == 6
  doc = " ".join(_module(out).__doc__.split())
  assert "--top=0.3 --margin=0.25" in doc


@pytest.fixture
def not_refine_output(tmp_path):
  path = tmp_path / "mine.py"
  path.write_text("def get_config(arg=None):\n  return None\n")
  return path


BAD = {
    "no study": lambda s, t: [f"--workdir={t / 'nothing'}", f"--out={t / 'o.py'}"],
    "no completed trial": lambda s, t: [f"--workdir={s['lost']}", f"--out={t / 'o.py'}"],
    "3 trials": lambda s, t: [f"--workdir={s['small']}", f"--out={t / 'o.py'}"],
    "unknown contain": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'o.py'}",
                                     f"--contain={t / 'nothing'}"],
    "top 0": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'o.py'}", "--top=0"],
    "top 1.5": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'o.py'}", "--top=1.5"],
    "top nan": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'o.py'}", "--top=nan"],
    "margin -1": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'o.py'}",
                               "--margin=-1"],
    "no out": lambda s, t: [f"--workdir={s['choi']}"],
    "out not .py": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'o.txt'}"],
    "out is a dir": lambda s, t: [f"--workdir={s['choi']}", f"--out={t}"],
    "out exists": lambda s, t: [f"--workdir={s['choi']}", f"--out={t / 'mine.py'}"],
    "out under a file": lambda s, t: [f"--workdir={s['choi']}",
                                      f"--out={t / 'mine.py' / 'o.py'}"],
    "extra argument": lambda s, t: ["extra", f"--workdir={s['choi']}", f"--out={t / 'o.py'}"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_exits_2_and_writes_nothing(case, studies, tmp_path, not_refine_output,
                                                  monkeypatch, capsys):
  before = {p: os.stat(p).st_mtime_ns for p in tmp_path.rglob("*")}
  content = not_refine_output.read_text()
  assert run_cli(["optcompare", "refine", *BAD[case](studies, tmp_path)], monkeypatch) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("optcompare: error: "), err
  assert {p: os.stat(p).st_mtime_ns for p in tmp_path.rglob("*")} == before
  assert not_refine_output.read_text() == content


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_cli_out_in_a_read_only_directory(studies, tmp_path, monkeypatch, capsys):
  locked = tmp_path / "locked"
  locked.mkdir()
  locked.chmod(0o500)
  try:
    argv = ["optcompare", "refine", f"--workdir={studies['choi']}", f"--out={locked / 'o.py'}"]
    assert run_cli(argv, monkeypatch) == 2
    assert "not writable" in capsys.readouterr().err
    assert not list(locked.iterdir())
  finally:
    locked.chmod(0o700)


# ---- a study too small to refine from (issue 26) ----

def test_cli_refuses_a_3_trial_study_in_one_line(studies, tmp_path, monkeypatch, capsys):
  """Exit 2, one line naming every optimizer and its count, nothing written."""
  out = tmp_path / "refined.py"
  argv = ["optcompare", "refine", f"--workdir={studies['small']}", f"--out={out}"]
  assert run_cli(argv, monkeypatch) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  assert err[0].startswith(f"optcompare: error: --workdir: {studies['small']}: too few "
                           "completed trials to refine from (16 per optimizer needed): sgd 3, "
                           "momentum 3, adam 3")
  assert err[0].endswith("; --force writes anyway")
  assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_force_writes_and_the_file_says_so(studies, tmp_path, monkeypatch, capsys):
  out = tmp_path / "refined.py"
  argv = ["optcompare", "refine", f"--workdir={studies['small']}", f"--out={out}", "--force"]
  assert run_cli(argv, monkeypatch) == 0
  printed = capsys.readouterr().out
  assert f"{out}: written" in printed
  assert ("optcompare refine: warning: written with --force from a study too small to refine "
          "from (too few completed trials to refine from (16 per optimizer needed): sgd 3, "
          "momentum 3, adam 3)") in printed
  module = _module(out)
  doc = " ".join(module.__doc__.split())
  first, rest = doc.split("`optcompare refine`. ", 1)
  assert rest.startswith("Written with --force: refine would have refused this initial study "
                         "(too few completed trials to refine from (16 per optimizer needed): "
                         "sgd 3, momentum 3, adam 3). ")
  assert "treat them as provisional" in rest
  assert re.search(r"--margin=0\.25 --force\b", doc)  # the command line records it
  study.manifest_of(module.get_config("smoke"))  # still a study config
  # Without --force, a study with enough trials writes no such note.
  plain = tmp_path / "plain.py"
  refine.refine(studies["choi"], str(plain), date=DATE)
  assert "--force" not in plain.read_text()


def _untrained_adam(trial, space):
  """Adam never trains (error at chance, 0.9, as a constant prediction scores); the others
  are the bowl."""
  return 0.9 if trial.optimizer == "adam" else _bowl(trial, space)


def test_top_trials_that_did_not_train_are_refused(tmp_path, monkeypatch, capsys):
  root = tmp_path / "untrained"
  _write_study(root, _config("choi2019", num_trials=16), _untrained_adam)
  out = tmp_path / "refined.py"
  argv = ["optcompare", "refine", f"--workdir={root}", f"--out={out}"]
  assert run_cli(argv, monkeypatch) == 2
  [line] = capsys.readouterr().err.strip().splitlines()
  # 16 completed trials each: only the untrained top trials are short.
  assert line == (f"optcompare: error: --workdir: {root}: top trials that did not train "
                  "(validation error ≥ 0.855, within 5% of the untrained 0.9): adam 4 of its "
                  "top 4; --force writes anyway")
  assert not out.exists()
  refine.refine(str(root), str(out), date=DATE, force=True)
  assert "adam 4 of its top 4" in " ".join(_module(out).__doc__.split())


def test_counts_at_the_threshold_and_trials_just_below_chance(tmp_path):
  """16 completed trials are enough and 15 are not; top trials 4% below chance (0.9) did not
  train, 6% below it they did."""
  from optcompare.refine import evidence
  root = tmp_path / "sixteen"
  manifest = _write_study(root, _config("choi2019", ("sgd",), num_trials=16), _bowl)
  df = load.load_table(str(root))
  assert evidence.shortfalls(manifest, df, 0.25) == ([], [])
  assert evidence.shortfalls(manifest, df[df["index"] != 3], 0.25) == (["sgd 15"], [])
  for below, untrained in ((0.04, ["sgd 4 of its top 4"]), (0.06, [])):
    flat = df.assign(**{"final.validation.error": 0.9 * (1 - below)})
    assert evidence.shortfalls(manifest, flat, 0.25) == ([], untrained), below


@pytest.mark.parametrize("base,metric,chance", [
    ({"dataset": {"name": "fashion_mnist"}}, "error", 0.9),
    ({"dataset": {"name": "fashion_mnist"}}, "loss", math.log(10)),
    ({"dataset": {"name": "cifar100"}}, "error", 0.99),
    ({"dataset": {"name": "imagenet2012"}}, "error", 0.999),
    ({"dataset": {"name": "war_and_peace"}, "model": {"vocab_size": 84}}, "loss", math.log(84)),
    ({"dataset": {"name": "lm1b"}, "model": {"vocab_size": 32_000}}, "loss", math.log(32_000)),
    ({"dataset": {"name": "my_dataset"}}, "error", None),  # class count unknown: no check
    ({"dataset": {"name": "fashion_mnist"}}, "accuracy", None),  # not a floor we know
])
def test_chance_level_of_each_workload(base, metric, chance):
  from optcompare.refine import evidence
  got = evidence.chance_level(base, metric)
  assert got == pytest.approx(chance) if chance is not None else got is None


def test_chance_level_of_every_workload_config_is_known():
  """Every workload that ships has an untrained level refine can check against."""
  import importlib
  from optcompare.refine import evidence
  for name in ("fashion_mnist_simple_cnn", "cifar10_resnet32", "cifar10_vgg16", "cifar100_cnn",
               "imagenet_resnet50", "war_and_peace_lstm", "lm1b_transformer"):
    config = importlib.import_module(f"configs.workloads.{name}").get_config()
    assert evidence.chance_level(config.to_dict(), config.target.metric) is not None, name
