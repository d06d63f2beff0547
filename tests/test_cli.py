"""The command line: bad input gives one line on stderr, exit status 2, and writes nothing."""
import json
import sys

from absl import flags
import pytest

from optcompare import cli
from tests.conftest import REPO, SMOKE, run_cli

C = f"--config={SMOKE}"
STUDY = f"--config={REPO}/configs/studies/choi2019/fashion_mnist_simple_cnn.py:smoke"
BAD = [
    ["train", C, "--config.foo=1"],
    ["train", C, "--config.optimizer.hparamz.x=1"],
    ["train", C, "--config.batch_size=abc"],
    ["train", C, "--config.batch_size=0"],
    ["train", C, "--config.batch_size=-4"],
    ["train", C, "--config.num_train_steps=0"],
    ["train", C, "--config.optimizer.name=adamx"],
    ["train", C, "--config.optimizer.hparams.learning_rate=-1"],
    ["train", C, "--config.optimizer.hparams.momentum=0.9"],
    ["train", C, "--config.optimizer.hparams.beta1=1.0"],
    ["train", C, "--config.optimizer.schedule.name=lin"],
    ["train", C, "--config.workload=imagenet_mlp"],
    ["train", C, "--config.target.metric=accuracy"],
    ["train", C, "--config.target.split=train"],
    ["train", C, "--config.dataset.name=svhn", "--config.dataset.synthetic=False"],
    ["train", C, "--config.dataset.synthetic=False", "--config.dataset.data_dir=/nonexistent"],
    ["train", "--config=nonexistent.py"],
    ["train", f"{C[:-len(':smoke')]}:bad"],
    ["train", C, "--bogus=1"],
    ["train", C],  # no --workdir
    ["frobnicate", C],
    [],
    ["data", "prepare", "nope", "--manual_dir=/tmp"],
    ["data", "fetch", "mnist"],
    ["status"],  # no study.json in the workdir
    ["analyze"],
    ["sweep", STUDY, "--config.num_trials=0"],
    ["sweep", STUDY, "--config.search_spaces.adam.beta1.min=0.9999"],
    ["sweep", STUDY, "--parallel=0"],
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a)[-60:] or "no command")
def test_bad_input_exits_2_with_one_line(args, tmp_path, monkeypatch, capsys):
  workdir = tmp_path / "trial"
  argv = ["optcompare", *args] + ([f"--workdir={workdir}"] if args and args[-1] != C else [])
  monkeypatch.setattr(sys, "argv", argv)  # config_flags reads overrides from sys.argv
  try:
    assert cli.main(argv) == 2
  finally:
    flags.FLAGS.unparse_flags()
    # config_flags defines a flag per --config.FIELD override at parse time; drop them so the
    # next case in this process may override the same field.
    for name in [n for n in flags.FLAGS if n.startswith("config.")]:
      delattr(flags.FLAGS, name)
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("optcompare: error: "), err
  assert "defined twice" not in err[0], err  # an artefact of parsing in one process, not the case
  assert not workdir.exists()


@pytest.mark.parametrize("name,extra,taken", [
    ("momentum", ["--config.optimizer.hparams.momentum=0.9"], {"learning_rate", "momentum"}),
    ("sgd", [], {"learning_rate"}),
])
def test_optimizer_switched_on_the_command_line(name, extra, taken, tmp_path, monkeypatch):
  """The workload config carries Adam's β and ε; naming another optimizer on the command line
  unsets the ones it does not take (a float field cannot be set to None from a flag)."""
  workdir = tmp_path / name
  assert run_cli(["optcompare", "train", C, f"--config.optimizer.name={name}",
                  "--config.optimizer.hparams.learning_rate=0.05", "--config.num_train_steps=2",
                  "--config.eval_every_steps=2", "--config.checkpoint_every_steps=2", *extra,
                  f"--workdir={workdir}"], monkeypatch) == 0
  config = json.loads((workdir / "config.json").read_text())
  hparams = {k: v for k, v in config["optimizer"]["hparams"].items() if v is not None}
  assert config["optimizer"]["name"] == name and set(hparams) == taken
  assert hparams["learning_rate"] == 0.05


def test_config_optimizers_sweeps_a_subset_of_the_study(tmp_path, monkeypatch, capsys):
  """--config.optimizers=momentum,adam: those two, with the whole study's trials for them."""
  workdir = tmp_path / "study"
  argv = ["optcompare", "sweep", STUDY, "--config.optimizers=momentum,adam",
          "--config.num_trials=1", "--config.base.num_train_steps=2", f"--workdir={workdir}"]
  assert run_cli(argv, monkeypatch) == 0
  manifest = json.loads((workdir / "study.json").read_text())
  assert manifest["config"]["optimizers"] == ["momentum", "adam"]
  assert sorted(manifest["config"]["search_spaces"]) == ["adam", "momentum"]
  assert [t["id"] for t in manifest["trials"]] == ["momentum/0", "adam/0"]
  capsys.readouterr()
  bad = ["optcompare", "sweep", STUDY, "--config.optimizers=momentum,lion",
         f"--workdir={tmp_path / 'other'}"]
  assert run_cli(bad, monkeypatch) == 2
  errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
  assert errors == [  # (pytest shows a DeprecationWarning of config_flags' import as a line)
      "optcompare: error: --config.optimizers: 'lion' is not one of the study's optimizers "
      "(sgd, momentum, nesterov, rmsprop, adam, nadam)"]
  assert not (tmp_path / "other").exists()
  train = ["optcompare", "train", f"--config={SMOKE}", "--config.optimizers=adam",
           f"--workdir={tmp_path / 'trial'}"]
  assert run_cli(train, monkeypatch) == 2
  assert "train runs one optimizer" in capsys.readouterr().err


@pytest.mark.parametrize("verb, says", [
    ("train", ["optimizers: sgd, momentum, nesterov, rmsprop, adam, nadam,",
               "--config.optimizer.hparams.<name>"]),
    ("sweep", ["optimizers: sgd, momentum,", "--config.optimizers=a,b sweeps a subset"]),
    ("data", ["datasets (NAME): fashion_mnist, mnist, war_and_peace, cifar10, cifar100,"]),
])
def test_verb_help_lists_the_names_its_fields_take(verb, says, monkeypatch, capsys):
  assert run_cli(["optcompare", verb, "--help"], monkeypatch) == 0
  out = " ".join(capsys.readouterr().out.split())
  for text in says:
    assert text in out, out
