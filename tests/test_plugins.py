"""The plug-in contract (optcompare.plugins) and `check-optimizer` (optcompare.plugin_check):
each bad plug-in is one line naming its problem; a good one trains like a built-in."""
import os
import shlex
import shutil
import subprocess
import textwrap

import jax
import numpy as np
import pytest

from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi
from optcompare import optimizers, plugins, study, update
from optcompare.errors import BadInputError
from tests.conftest import REPO, optcompare_cmd, optcompare_env, run_cli

GOOD = """
import optax
HYPERPARAMETERS = {"learning_rate": 0.1, "beta": 0.5}
def make(learning_rate, beta):
  return optax.chain(optax.trace(decay=beta), optax.scale(-learning_rate))
"""
# name -> (file text, what the one line must say)
BAD = {
    "no_hyperparameters": ("import optax\ndef make(learning_rate): return optax.sgd(1.0)\n",
                           "defines no HYPERPARAMETERS"),
    "no_learning_rate": ("import optax\nHYPERPARAMETERS = {'beta': 0.5}\n"
                         "def make(beta): return optax.sgd(1.0)\n", "has no 'learning_rate'"),
    "string_default": ("HYPERPARAMETERS = {'learning_rate': '0.1'}\ndef make(learning_rate): "
                       "pass\n", "HYPERPARAMETERS['learning_rate'] must be a finite number"),
    "no_make": ("HYPERPARAMETERS = {'learning_rate': 0.1}\n", "defines no function `make"),
    "narrow_make": ("HYPERPARAMETERS = {'learning_rate': 0.1, 'beta': 0.5}\n"
                    "def make(learning_rate): pass\n", "does not take the hyperparameter 'beta'"),
    "import_error": ("import not_a_module_anywhere\n", "does not import (ModuleNotFoundError"),
    "not_a_transformation": ("HYPERPARAMETERS = {'learning_rate': 0.1}\n"
                             "def make(learning_rate): return learning_rate\n",
                             "not an optax.GradientTransformation"),
    "control_flow": (GOOD.replace("  return optax.chain", "  if beta > 0.5:\n"
                                  "    beta = 0.5\n  return optax.chain"),
                     "hyperparameter 'beta' cannot be traced"),
    "python_state": ("import optax, jax\nHYPERPARAMETERS = {'learning_rate': 0.1}\n"
                     "def make(learning_rate):\n  return optax.GradientTransformation(\n"
                     "      lambda p: {'calls': 'none yet'},\n"
                     "      lambda g, s, p=None: (jax.tree.map(lambda x: -learning_rate * x,"
                     " g), s))\n", "holds a str"),
    "diverges": (GOOD.replace('"learning_rate": 0.1', '"learning_rate": 1e30'),
                 "not finite within 10 steps on a small quadratic"),
    "adam": (GOOD, "clashes with the built-in optimizer"),
}


def _write(tmp_path, name, text):
  path = tmp_path / f"{name}.py"
  path.write_text(textwrap.dedent(text))
  return str(path)


@pytest.mark.parametrize("name", sorted(BAD))
def test_check_optimizer_refuses_a_bad_plugin_with_one_line(name, tmp_path, monkeypatch, capsys):
  text, says = BAD[name]
  path = _write(tmp_path, name, text)
  assert run_cli(["optcompare", "check-optimizer", path], monkeypatch) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and says in err[0] and err[0].startswith("optcompare: error: "), err


def test_a_plugin_is_traced_like_a_builtin(tmp_path):
  """Two settings, one compiled update; states of two settings stack and vmap (packs)."""
  plugin = plugins.load("mine", _write(tmp_path, "mine", GOOD))
  params = {"w": np.ones((3,), np.float32)}
  states = [update.init_optimizer(plugin, params, update.traced_values(
      {"learning_rate": lr, "beta": b})) for lr, b in ((0.1, 0.5), (0.2, 0.9))]
  stacked = jax.tree.map(lambda *xs: np.stack(xs), *states)
  grads = {"w": np.full((2, 3), 1.0, np.float32)}
  traces = []

  def step(g, s):
    traces.append(1)
    return optimizers.update_fn(plugin)(g, s, None)

  compiled = jax.jit(jax.vmap(step))
  updates, _ = compiled(grads, stacked)
  np.testing.assert_allclose(updates["w"], [[-0.1] * 3, [-0.2] * 3], rtol=1e-6)
  swapped = jax.tree.map(lambda x: x[::-1], stacked)
  np.testing.assert_allclose(compiled(grads, swapped)[0]["w"], [[-0.2] * 3, [-0.1] * 3],
                             rtol=1e-6)
  assert len(traces) == 1


def _plugin_study(path):
  from tests.test_study import smoke_study  # pylint: disable=g-import-not-at-top
  c = smoke_study(("adam",), num_trials=2)
  with c.unlocked():
    c.optimizers = ["adam", "mine"]
    c.search_spaces["mine"] = {"learning_rate": {"scale": "log", "min": 1e-3, "max": 1.0},
                               "beta": {"scale": "linear", "min": 0.0, "max": 0.9},
                               **choi.SCHEDULE}
    c.optimizer_files = {"mine": path}
  return c


def test_a_study_records_the_plugin_and_builds_its_trial_configs(tmp_path):
  path = _write(tmp_path, "mine", GOOD)
  manifest = study.manifest_of(_plugin_study(path))
  record = manifest.plugin("mine")
  assert record == {"path": path, "sha256": plugins.file_sha256(path),
                    "hyperparameters": {"beta": 0.5, "learning_rate": 0.1}}
  assert manifest.plugin("adam") is None
  t = next(t for t in manifest.trials if t.optimizer == "mine")
  config = study.trial_config(manifest, t.id)
  assert config.optimizer.file == path and config.optimizer.sha256 == record["sha256"]
  assert config.optimizer.hparams.beta == pytest.approx(t.hparams["beta"])
  assert config.optimizer.hparams.get("epsilon") is None  # the base's Adam ε does not leak


@pytest.mark.parametrize("change, says", [
    ({"optimizer_files": {"adam": "PATH"}}, "optimizer_files.adam: clashes with the built-in"),
    ({"optimizer_files": {"other": "PATH"}}, "optimizer_files.other: not in optimizers"),
    ({"optimizer_files": {"mine": "/no/such/file.py"}}, "optimizer_files.mine: no such file"),
    ({"search_spaces.mine.gamma": {"scale": "linear", "min": 0.0, "max": 1.0}},
     "search_spaces.mine.gamma: unknown hyperparameter for mine (takes beta, "),
])
def test_bad_plugin_fields_of_a_study_are_one_line(change, says, tmp_path):
  path = _write(tmp_path, "mine", GOOD)
  c = _plugin_study(path)
  with c.unlocked():
    for field, value in change.items():
      if field == "optimizer_files":
        c.optimizer_files = {k: v.replace("PATH", path) for k, v in value.items()}
      else:
        c.search_spaces.mine.gamma = value
  with pytest.raises(BadInputError, match=says.replace("(", r"\(")):
    study.manifest_of(c)


def test_a_changed_plugin_file_is_refused_on_resume(tmp_path):
  path = _write(tmp_path, "mine", GOOD)
  workdir = str(tmp_path / "study")
  study.write_manifest(workdir, study.manifest_of(_plugin_study(path)))
  with open(path, "a", encoding="utf-8") as f:
    f.write("# changed\n")
  with pytest.raises(BadInputError, match=r"optimizer_files.mine: .* has changed since this "
                     r"study began \(SHA-256 .* then, .* now\)"):
    study.write_manifest(workdir, study.manifest_of(_plugin_study(path)))
  config = study.trial_config(study.load_manifest(workdir), "mine/0")
  with pytest.raises(BadInputError, match="optimizer.file: .* has changed since the study"):
    plugins.of_config(config.optimizer)  # what a worker does before it trains


def _readme_commands() -> list[str]:
  """The command block of README.md's "Compare your own optimizer"."""
  with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    text = f.read().split("## Compare your own optimizer", 1)[1]
  block = text.split("```sh\n", 1)[1].split("```", 1)[0]
  return [line for line in block.splitlines() if line.strip()]


def test_the_readme_plugin_walkthrough_runs_outside_the_repository(tmp_path):
  """README's lines, run in a temporary directory: the check, a smoke sweep and the report,
  which shows the plug-in beside the built-ins; then a changed file is refused, one line."""
  copy, *commands = _readme_commands()
  assert copy.startswith("cp examples/adabelief.py examples/adabelief_study.py ")
  for name in ("adabelief.py", "adabelief_study.py"):
    shutil.copy(os.path.join(REPO, "examples", name), tmp_path / name)
  env = {**optcompare_env(), "PYTHONPATH": ""}  # (the installed package, not the checkout)
  for line in commands:
    args = shlex.split(line)
    assert args[0] == "optcompare", line
    proc = subprocess.run(optcompare_cmd(*args[1:]), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (line, proc.stderr[-3000:])
    if args[1] == "check-optimizer":  # the example passes every check
      assert proc.stdout.splitlines()[-1].startswith("usable: list 'adabelief'"), proc.stdout
      for check in ("two settings, one compilation", "quadratic: 10 steps finite",
                    "smoke trial: 20 steps, twice: finite and identical"):
        assert check in proc.stdout, proc.stdout
  report = (tmp_path / "report_smoke" / "report.md").read_text()
  rows = [r for r in report.splitlines() if r.startswith(("| adabelief |", "| adam |"))]
  assert any(r.startswith("| adabelief | 4 ") for r in rows), rows
  against = report.split("## Against tuned Adam and Nesterov")[1].split("\n## ")[0]
  assert "| adabelief | adam | 4 |" in against and "| adabelief | nesterov | 4 |" in against
  assert against.count("⬜ too few trials") == 2  # 4 trials each: the study cannot say
  with open(tmp_path / "adabelief.py", "a", encoding="utf-8") as f:
    f.write("# changed\n")
  proc = subprocess.run(optcompare_cmd(*shlex.split(commands[1])[1:]), cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
  assert "optimizer_files.adabelief: " in proc.stderr and "has changed" in proc.stderr


def test_a_pack_of_plugin_trials_equals_them_unpacked(smoke_config, tmp_path):
  """Packing stacks and vmaps the plug-in's own optax state (TracedState around it) and its
  checkpoints restore it: two settings packed give what each gives alone."""
  from optcompare import packed, train  # pylint: disable=g-import-not-at-top
  from optcompare.search import spaces  # pylint: disable=g-import-not-at-top
  record = plugins.record(plugins.load("mine", _write(tmp_path, "mine", GOOD)))
  base = smoke_config.to_dict()
  base.update(num_train_steps=10, eval_every_steps=5, log_every_steps=5,
              checkpoint_every_steps=5)
  base["optimizer"]["schedule"]["name"] = "constant"
  configs = [spaces.build_trial_config(base, "mine", {"learning_rate": lr, "beta": b}, record)
             for lr, b in ((0.05, 0.5), (0.02, 0.9))]
  got = packed.train_pack(configs, [str(tmp_path / "p0"), str(tmp_path / "p1")],
                          str(tmp_path / "pack"))
  want = [train.train_and_evaluate(c, str(tmp_path / f"u{i}")) for i, c in enumerate(configs)]
  assert [r["status"] for r in got] == [r["status"] for r in want] == ["completed"] * 2
  for g, w in zip(got, want):
    assert g["final"]["validation"]["loss"] == pytest.approx(w["final"]["validation"]["loss"],
                                                             rel=1e-4)
  assert got[0]["final"]["validation"]["loss"] != got[1]["final"]["validation"]["loss"]


STUDY_WITH_A_BAD_SPACE = """
from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi
def get_config(arg=None):
  c = choi.get_config(arg)
  with c.unlocked():
    c.optimizers = ["mine"]
    c.search_spaces = {"mine": {"learning_rate": choi.log(1e-3, 1.0),
                                "gamma": choi.linear(0.0, 1.0), **choi.SCHEDULE}}
    c.optimizer_files = {"mine": "mine.py"}
  return c
"""


def test_check_optimizer_with_a_study_names_a_space_the_file_does_not_declare(
    tmp_path, monkeypatch, capsys):
  path = _write(tmp_path, "mine", GOOD)
  study_file = _write(tmp_path, "study", STUDY_WITH_A_BAD_SPACE)
  argv = ["optcompare", "check-optimizer", path, f"--config={study_file}:smoke"]
  assert run_cli(argv, monkeypatch) == 2
  err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
  assert err == [f"optcompare: error: search_spaces.mine.gamma: unknown hyperparameter for mine "
                 f"(takes beta, decay_factor, decay_steps, decay_steps_fraction, learning_rate, "
                 f"warmup_steps; {path} does not declare it; other names must feed a derived "
                 "value)"], err
