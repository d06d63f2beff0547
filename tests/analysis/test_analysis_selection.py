"""Choosing trials by any split and metric (`--select`), the train_eval split of synthetic
studies, and the report's "Selection by training loss" section."""
import json
import re
import sys

from absl import flags
import numpy as np
import pytest

from optcompare import cli
from optcompare.analysis import analyze
from optcompare.analysis import bootstrap_best
from optcompare.analysis import load_study
from optcompare.analysis import selection
from optcompare.errors import BadInputError

OPTS = ("sgd", "momentum", "adam")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
  """12 trials per optimizer with train_eval, the test split every 3rd evaluation."""
  from optcompare.analysis import synthetic  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("selection")
  d = synthetic.write_synthetic_study(root / "study", optimizers=OPTS, num_trials=12,
                                      train_eval=True, test_every=3)
  return d, load_study(d)


def _best(df, opt, col):
  rows = df[(df["optimizer"] == opt) & (df["status"] == "completed")]
  return rows.loc[rows[col].idxmin()]


def test_synthetic_train_eval_files(study, tmp_path):
  """train_eval at every evaluation step and in final; the other numbers as without it."""
  from optcompare.analysis import synthetic  # pylint: disable=g-import-not-at-top
  d, df = study
  lines = [json.loads(x) for x in (d / "trials/sgd/0/metrics.jsonl").read_text().splitlines()]
  def steps(split):
    return [x["step"] for x in lines if x["split"] == split]
  assert steps("train_eval") == steps("validation") == list(range(10, 101, 10))
  assert steps("test") == [10, 40, 70, 100]  # every 3rd evaluation and the last
  assert set(lines[1]) == {"step", "split", "loss", "error", "wall_time_s"}
  assert "final.train_eval.loss" in df.columns and "final.train_eval.error" in df.columns
  plain = load_study(synthetic.write_synthetic_study(tmp_path / "plain", optimizers=OPTS,
                                                     num_trials=12))
  assert "final.train_eval.loss" not in plain.columns
  for col in ("final.validation.error", "final.test.error", "steps_to_target"):
    np.testing.assert_array_equal(df[col].to_numpy(float), plain[col].to_numpy(float))


def test_training_and_validation_selection_disagree(study):
  _, df = study
  for opt in OPTS:
    by_val = _best(df, opt, "final.validation.error")
    by_train = _best(df, opt, "final.train_eval.loss")
    assert by_val["trial_id"] != by_train["trial_id"], opt


def test_bootstrap_follows_the_selection(study):
  """K = 256 of 12 trials: every resample holds each optimizer's best, so the chosen trial
  is exactly the best by the selection column."""
  _, df = study
  default = bootstrap_best(df, "error", [256]).set_index("optimizer")
  by_train = bootstrap_best(df, "error", [256], select="train_eval.loss").set_index("optimizer")
  same = bootstrap_best(df, "error", [256], select="final.train_eval.loss")
  assert same["validation_median"].tolist() == by_train["validation_median"].tolist()
  for opt in OPTS:
    v, t = _best(df, opt, "final.validation.error"), _best(df, opt, "final.train_eval.loss")
    assert default.at[opt, "validation_median"] == v["final.validation.error"]
    assert default.at[opt, "selected_median"] == v["final.validation.error"]
    assert default.at[opt, "test_median"] == v["final.test.error"]
    assert by_train.at[opt, "selected_median"] == t["final.train_eval.loss"]
    assert by_train.at[opt, "validation_median"] == t["final.validation.error"]
    assert by_train.at[opt, "test_median"] == t["final.test.error"]
    assert by_train.at[opt, "validation_median"] > default.at[opt, "validation_median"]


def test_analyze_select_changes_the_chosen_trials(study, tmp_path):
  d, df = study
  default = analyze(d, out=tmp_path / "default")
  chosen = analyze(d, out=tmp_path / "train", select="train_eval.loss")
  assert default.split("\n")[0].endswith("; trials chosen by lowest validation error")
  assert chosen.split("\n")[0].endswith("; trials chosen by lowest train_eval loss")
  assert "| its train_eval loss |" in chosen and "its train_eval loss" not in default
  for opt in OPTS:
    v, t = _best(df, opt, "final.validation.error"), _best(df, opt, "final.train_eval.loss")
    assert f" | {v['trial_id']} | " in default and f" | {t['trial_id']} | " not in default
    assert f" | {t['trial_id']} | " in chosen and f" | {v['trial_id']} | " not in chosen
  report = (tmp_path / "train" / "report.md").read_text()
  assert "- Trials chosen by lowest train_eval loss (`--select=train_eval.loss`)" in report
  assert "| optimizer | K | best-of-K train_eval loss | its validation error |" in report
  assert "## Selection by training loss" not in report  # the whole report is that
  # Explicitly asking for the default rule gives the default report.
  analyze(d, out=tmp_path / "explicit", select="validation.error")
  assert ((tmp_path / "explicit" / "report.md").read_text()
          == (tmp_path / "default" / "report.md").read_text())


def test_selection_by_training_loss_section(study, tmp_path):
  d, df = study
  analyze(d, out=tmp_path / "a")
  report = (tmp_path / "a" / "report.md").read_text()
  section = report.split("\n## Selection by training loss\n")[1].split("\n## ")[0]
  for opt in OPTS:
    t = _best(df, opt, "final.train_eval.loss")
    assert f"| {t['trial_id']} | " in section
  # Both verdicts of a pair written alike: the coloured square and the word.
  cell = "(🟩 held|⬜ inconclusive|🟥 violated)"
  assert re.search(rf"^\| sgd ⊆ momentum \| 8 \| {cell} \|.* \| {cell} \|$", section, re.M)
  assert "| verdict by lowest validation error |" in section


def test_no_training_loss_section_without_train_eval(make_study):
  d = make_study("plain", optimizers=("sgd", "momentum"), num_trials=4)
  analyze(d)
  assert "Selection by training loss" not in (d / "analysis" / "report.md").read_text()


@pytest.mark.parametrize("select,message", [
    ("bogus", "--select=bogus: expected SPLIT.METRIC"),
    ("train.error", "--select=train.error: study .* has no final train error; it has "
                    "validation.error, validation.loss, test.error, test.loss, "
                    "train_eval.error, train_eval.loss"),
    ("validation.accuracy", "no final validation accuracy"),
    ("validation.error.x", "expected SPLIT.METRIC"),
])
def test_bad_select(study, tmp_path, select, message):
  d, _ = study
  with pytest.raises(BadInputError, match=message):
    analyze(d, out=tmp_path / "out", select=select)
  assert not (tmp_path / "out").exists()  # nothing written


def test_select_absent_from_a_study(make_study, tmp_path):
  d = make_study("plain", optimizers=("sgd",), num_trials=3)
  with pytest.raises(BadInputError, match="has no final train_eval loss; it has "
                     "validation.error, validation.loss, test.error, test.loss$"):
    analyze(d, out=tmp_path / "out", select="train_eval.loss")
  assert not (tmp_path / "out").exists()


def test_parse_default_and_available(study):
  _, df = study
  assert selection.parse(None, df, "error") == selection.Selection("validation", "error")
  assert selection.parse("validation.error", df, "error").default
  s = selection.parse("train_eval.loss", df, "error")
  assert (s.column, s.default) == ("final.train_eval.loss", False)
  assert selection.available(df[df["status"] == "pending"]) == []


def _cli(argv, monkeypatch):
  monkeypatch.setattr(sys, "argv", argv)
  try:
    return cli.main(argv)
  finally:
    flags.FLAGS.unparse_flags()


def test_cli_select(study, tmp_path, monkeypatch, capsys):
  d, _ = study
  out = tmp_path / "cli"
  assert _cli(["optcompare", "analyze", f"--workdir={d}", f"--out={out}",
               "--select=train_eval.loss"], monkeypatch) == 0
  assert "trials chosen by lowest train_eval loss" in capsys.readouterr().out
  assert _cli(["optcompare", "analyze", f"--workdir={d}", f"--out={tmp_path / 'bad'}",
               "--select=validation.nope"], monkeypatch) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("optcompare: error: --select=validation.nope: ")
  assert "validation.error" in err[0]
  assert not (tmp_path / "bad").exists()
