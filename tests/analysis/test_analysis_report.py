"""analyze / summary end to end on synthetic studies (the notebook: test_notebook.py)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from optcompare import studydir
from optcompare.analysis import analyze
from optcompare.analysis import load_study
from optcompare.analysis import summary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PNG = b"\x89PNG\r\n\x1a\n"


def _section(text, title):
  """The text of one '## ' section of a Markdown report."""
  part = text.split(f"\n## {title}\n", 1)[1]
  return part.split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
  """One full analysis (figures are the slow part): a 3-optimizer study, a second study
  for the protocol comparison, analyzed twice."""
  from optcompare.analysis import synthetic
  root = tmp_path_factory.mktemp("report")
  a = synthetic.write_synthetic_study(root / "full", optimizers=("sgd", "momentum", "adam"),
                                      num_trials=10)
  b = synthetic.write_synthetic_study(root / "lr_only", optimizers=("sgd", "momentum", "adam"),
                                      num_trials=6, seed=5)
  (a / "trials" / "adam" / "9" / "result.json").unlink()  # still running
  headline = analyze(a, compare=b)
  first = (a / "analysis" / "report.md").read_text()
  headline2 = analyze(a, compare=b)
  return a, b, headline, headline2, first


def test_analyze_writes_every_output(analyzed):
  a, _, headline, _, _ = analyzed
  out = a / "analysis"
  names = {p.name for p in out.iterdir()}
  figures = {"best_trials.png", "best_of_k.png", "steps_to_target.png", "hparams_sgd.png",
             "hparams_momentum.png", "hparams_adam.png", "curves.png",
             "protocol_comparison.png"}
  assert figures | {"report.md", "trials.csv", "study.json"} <= names
  for name in figures:
    data = (out / name).read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000, name
  report = (out / "report.md").read_text()
  for title in ("Headline", "Trial status", "Best trial per optimizer", "Bootstrap: best-of-K",
                "Inclusion check", "Search-space boundaries", "Protocol comparison",
                "Figures"):
    assert f"\n## {title}\n" in report, title
  assert "| sgd ⊆ momentum | 8 |" in report and "momentum ⊆ adam" in report
  for name in figures:
    assert f"]({name})" in report
  assert "| adam | 9 (" in headline and "| sgd | 10 (0 lost)" in headline  # adam/9 unfinished
  assert headline.startswith("fashion_mnist_simple_cnn: best-of-8 error")
  assert "unfinished" in _section(report, "Trial status")  # metrics, no result.json
  assert str(a) not in report  # no absolute paths
  assert "| rank in full | " in report and "rank in lr_only" in report
  # Figures lettered in order, the comparison's before the robustness ones, and referred to
  # by those letters.
  listed = report.split("\n## Figures\n")[1]
  assert "(e) validation error versus step" in listed
  assert "](protocol_comparison.png): (f) rankings under full and lr_only" in listed
  assert "](robustness_verdicts.png): (g) " in listed
  assert "](steps_to_targets.png): (h) " in listed
  assert "; figures g and h):" in _section(report, "Target robustness")
  assert "Settling (figure b):" in report and "⟦" not in report
  contained = _section(report, "Protocol comparison").split("### Search-space containment")[1]
  assert "| full's best in lr_only's space | lr_only's best in full's space |" in contained
  assert all(f"| {o} | {o}/" in contained for o in ("sgd", "momentum", "adam"))


def test_analyze_is_reproducible(analyzed):
  a, _, headline, headline2, first = analyzed
  assert headline == headline2
  assert (a / "analysis" / "report.md").read_text() == first


def test_bootstrap_table_holds_k_powers_of_two(analyzed):
  report = analyzed[4]
  table = _section(report, "Bootstrap: best-of-K")
  assert [line.split(" | ")[1] for line in table.splitlines() if line.startswith("| sgd |")] \
      == ["1", "2", "4", "8"]


def test_analyze_from_committed_table_reproduces_tables(analyzed, tmp_path):
  a, _, headline, _, first = analyzed
  committed = tmp_path / "committed"
  committed.mkdir()
  for name in ("study.json", "trials.csv"):  # what analyze wrote into <workdir>/analysis
    (committed / name).write_bytes((a / "analysis" / name).read_bytes())
  assert analyze(committed) == headline
  again = (committed / "analysis" / "report.md").read_text()
  # Everything up to the figure list is the same text (the first run also compared).
  assert again.split("\n## Figures\n")[0] == first.split("\n## Protocol comparison\n")[0]
  assert "- Training curves skipped: " in again
  assert not (committed / "analysis" / "curves.png").exists()
  assert (committed / "analysis" / "hparams_adam.png").exists()


def test_analyze_reports_damaged_files(make_study, recwarn):
  d = make_study("damaged", optimizers=("sgd",), num_trials=4)
  (d / "trials" / "sgd" / "1" / "result.json").write_text("{")
  analyze(d, out=d / "out")
  report = (d / "out" / "report.md").read_text()
  assert "## Data issues" in report and "trials/sgd/1/result.json" in report
  assert "| sgd | 3 | 1 | 4 |" in _section(report, "Trial status")  # completed, corrupt
  assert any("trials/sgd/1/result.json" in str(w.message) for w in recwarn)


def test_analyze_before_any_trial_finished_and_all_diverged(make_study):
  d = make_study("fresh", optimizers=("sgd", "momentum"), num_trials=3)
  for p in d.glob("trials/*/*/result.json"):
    p.unlink()
  for p in d.glob("trials/*/*/metrics.jsonl"):
    p.unlink()
  assert "| sgd | 0 (3 unfinished) | — [—, —] |" in analyze(d)
  assert summary(d).startswith("6 trials: 6 pending")
  for p in d.glob("trials/*/*"):
    studydir.write_result(str(p), studydir.Result(studydir.DIVERGED, 3, {}, None, 1.0,
                                                  "loss is NaN"))
  assert "| momentum | 3 (3 lost) | inf [inf, inf] |" in analyze(d)
  report = (d / "analysis" / "report.md").read_text()
  assert "| sgd ⊆ momentum | 2 | ⬜ inconclusive |" in report


def test_headline_says_what_became_of_trials_that_did_not_finish(make_study):
  """An optimizer whose every trial failed is "0 (4 failed)", not "0 (0 lost)" as if it had
  no trials; lost (diverged), failed and unfinished trials are counted apart."""
  d = make_study("failures", optimizers=("sgd", "adam"), num_trials=4)
  for i in range(4):
    studydir.write_result(str(d / "trials" / "sgd" / str(i)),
                          studydir.failed_result("worker process ended with signal 9"))
  studydir.write_result(str(d / "trials" / "adam" / "0"), studydir.failed_result("x"))
  (d / "trials" / "adam" / "1" / "result.json").unlink()  # (its metrics remain: running)
  studydir.write_result(str(d / "trials" / "adam" / "2"), studydir.Result(
      studydir.DIVERGED, 3, {}, None, 1.0, "loss is NaN"))
  with pytest.warns(UserWarning, match="failed trial"):  # (left out of best-of-K)
    headline = analyze(d)
  assert "| sgd | 0 (4 failed) | — [—, —] |" in headline, headline
  assert "| adam | 2 (1 lost, 1 failed, 1 unfinished) |" in headline, headline


def test_summary(study_dir):
  text = summary(study_dir)
  assert text.startswith("24 trials: ")
  for opt in ("sgd", "momentum", "adam"):
    assert f"  {opt}" in text
  df = load_study(study_dir)
  best = df[df["optimizer"] == "sgd"].sort_values("final.validation.error").iloc[0]
  assert f"best {best['trial_id']}:" in text


def test_analysis_does_not_import_training_code():
  code = ("import sys, optcompare.analysis; "
          "bad = [m for m in sys.modules if m.split('.')[:2] in (['optcompare', 'train'], "
          "['optcompare', 'models'], ['optcompare', 'data'], ['optcompare', 'workloads']) "
          "or m in ('jax', 'flax', 'tensorflow')]; print(bad); assert not bad")
  subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_boundary_section_separates_natural_limits():
  """A bound that is the hyperparameter's natural limit (λ = 1) is listed apart and never
  asks for a wider space; an ordinary bound does."""
  import types
  from optcompare.analysis import diagnostics
  from optcompare.analysis import report

  def warning(hparam, bound, bound_value, natural):
    return diagnostics.BoundaryWarning(
        optimizer="adam", hparam=hparam, bound=bound, bound_value=bound_value,
        trial_id="adam/3", value=bound_value, metric_value=0.1, rank=1, num_top=2,
        natural=natural)

  lam = warning("decay_factor", "max", 1.0, True)
  eps = warning("epsilon", "min", 1e-6, False)
  both = report._boundary_text(types.SimpleNamespace(spaces={"adam": {}},
                                                        warnings=[lam, eps]))
  widen_part, natural_part = both.split("natural limit (λ = 1 is no decay", 1)
  assert "⚠ adam: epsilon" in widen_part and "decay_factor" not in widen_part
  assert "adam: decay_factor" in natural_part and "⚠" not in natural_part
  only_natural = report._boundary_text(types.SimpleNamespace(spaces={"adam": {}},
                                                                warnings=[lam]))
  assert only_natural.startswith("No top-10% trial lies within 5% (on the search scale) of a "
                                 "search bound that could be widened.")
  assert "⚠" not in only_natural and "widen the search space" not in only_natural


def test_report_says_which_workload_variant_ran(analyzed):
  report = analyzed[4]
  top = report.split("\n## ")[0]
  assert ("- Workload: fashion_mnist_simple_cnn; model simple_cnn (conv_features (8, 16), "
          "dense_features 32); synthetic random data (a smoke run); batch 32; 100 steps, "
          "evaluated every 10; target validation error ≤ ") in top
  assert "not evidence" not in report  # K = 8, narrow bands: no caveat
  # The seed line reads only what the manifest holds (it has no protocol field).
  assert "\n- Study seed " in top and "Protocol:" not in top


def test_workload_text_of_a_real_study():
  from optcompare.analysis import report
  config = {"base": {"workload": "fashion_mnist_simple_cnn", "batch_size": 64,
                     "num_train_steps": 400, "eval_every_steps": 200,
                     "model": {"name": "simple_cnn", "conv_features": [8, 16],
                               "dense_features": 64},
                     "dataset": {"synthetic": False},
                     "target": {"metric": "error", "split": "validation", "value": 0.2}}}
  assert report.workload_text(config) == (
      "fashion_mnist_simple_cnn; model simple_cnn (conv_features (8, 16), dense_features 64); "
      "batch 64; 400 steps, evaluated every 200; target validation error ≤ 0.2")
  assert report.workload_text({}) == "unknown workload; target none given"


ALL_SIX = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")


@pytest.fixture(scope="module")
def demo_size_report(tmp_path_factory):
  """The demo's size (2 trials per optimizer, every inclusion pair present), analysed."""
  from optcompare.analysis import synthetic
  d = synthetic.write_synthetic_study(tmp_path_factory.mktemp("demo") / "two",
                                      optimizers=ALL_SIX, num_trials=2)
  analyze(d, num_resamples=200)
  return d, (d / "analysis" / "report.md").read_text()


def test_demo_size_verdicts_are_inconclusive_and_say_why(demo_size_report):
  _, report = demo_size_report
  top = report.split("\n## ")[0]
  assert ("- ⚠ With 2 trials per optimizer and K = 2, every inclusion verdict of this report "
          "is inconclusive: too few trials to tell (see Inclusion check).") in top
  inclusion = _section(report, "Inclusion check").strip()
  assert inclusion.startswith("⚠ With 2 trials per optimizer and K = 2, the study cannot tell")
  rows = [line for line in inclusion.splitlines() if " ⊆ " in line]
  assert len(rows) == 5  # every pair of DESIGN.md §1
  for row in rows:
    assert "| 2 | ⬜ inconclusive |" in row and "too few trials to tell" in row, row
  assert "held" not in inclusion.replace("🟩 held if", "") and "🟥 violated if" in inclusion
  assert "Budget to close" not in inclusion  # no gap is measured at this size
  # The rule is stated where the verdicts are.
  assert "always when either optimizer has fewer than 8 finished trials or K < 8" in inclusion
  for title in ("Budget robustness", "Target robustness"):
    grid = [line for line in _section(report, title).splitlines() if " ⊆ " in line]
    assert len(grid) == 5 and all("🟩" not in g and "🟥" not in g for g in grid), title
    assert all(g.endswith(" / 0 |") and "| 0 / " in g for g in grid), grid


def test_demo_size_report_claims_no_settling(demo_size_report):
  _, report = demo_size_report
  settling = [line for line in _section(report, "Bootstrap: best-of-K").splitlines()
              if line.startswith("Settling")]
  assert len(settling) == 1
  claims = settling[0].split("doublings of K: ", 1)[1]
  for opt in ALL_SIX:
    assert f"{opt} K = " not in claims, claims


def test_demo_size_verdict_figure_is_all_inconclusive(demo_size_report):
  """The robustness grid draws every cell in the inconclusive colour, with its mark."""
  import matplotlib.colors as mcolors
  from optcompare.analysis import loaded
  from optcompare.analysis import report as report_lib
  from optcompare.analysis import verdicts
  d, _ = demo_size_report
  study = loaded.LoadedStudy(d, 200, 0)
  fig = robustness_report_figure(report_lib, study)
  grey = mcolors.to_rgba(verdicts.COLORS["inconclusive"])
  for ax in fig.axes:
    [image] = ax.get_images()
    cells = image.to_rgba(image.get_array())
    painted = cells[~np.ma.getmaskarray(image.get_array())]
    assert len(painted) and all(tuple(c) == grey for c in painted)
    assert {t.get_text() for t in ax.texts} == {verdicts.MARKS["inconclusive"]}


def robustness_report_figure(report_lib, study):
  from optcompare.analysis import robustness_report
  r = report_lib._robustness(study, None, 8)
  return robustness_report.verdict_figure(r)


def test_best_table_writes_values_near_one_as_one_minus(make_study):
  """β2 = 0.99995 is "1 − 5e-05" in the report's table, not "beta2=1" (.3g rounds it)."""
  import types
  import pandas as pd
  from optcompare.analysis import report
  row = pd.Series({"trial_id": "adam/0", "hp.beta2": 0.99995, "hp.beta1": 0.9,
                   "hp.learning_rate": 3.3e3, "final.validation.error": 0.1,
                   "final.test.error": 0.2, "steps_to_target": 5.0})
  sel = types.SimpleNamespace(default=True, column="final.validation.error")
  study = types.SimpleNamespace(
      metric="error", selection=sel, spaces={"adam": {"beta1": {}, "beta2": {},
                                                       "learning_rate": {}}},
      best_rows=lambda: {"adam": row})
  table = report._best_table(study)
  assert "beta1=0.9, beta2=1 − 5e-05, learning_rate=3.3e+03" in table
