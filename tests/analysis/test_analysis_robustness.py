"""Budget and target robustness (analysis/robustness.py) on a hand-made study with exact
answers, settling K, and the curves table that lets a committed study reproduce them."""
import json
import math
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from optcompare.analysis import analyze
from optcompare.analysis import bootstrap
from optcompare.analysis import load_curves
from optcompare.analysis import load_table
from optcompare.analysis import robustness

# Validation error at steps 10, 20, 30, 40 (None: not evaluated: the trial diverged at 30).
# The test split is evaluated at steps 20 and 40 only (test = validation + 0.01); train_eval
# loss at every step.
HAND = {
    "sgd/0": ("completed", [0.5, 0.4, 0.3, 0.25]),
    "sgd/1": ("completed", [0.6, 0.35, 0.32, 0.3]),
    "momentum/0": ("diverged", [0.45, 0.3, None, None]),
    "momentum/1": ("completed", [0.7, 0.5, 0.35, 0.28]),
}
STEPS = [10, 20, 30, 40]


def _write_hand_made(root):
  """study.json, trials/*/*/{metrics.jsonl, result.json}, written out by hand."""
  trials = [{"id": t, "optimizer": t.split("/")[0], "index": int(t.split("/")[1]),
             "hparams": {"learning_rate": 0.1 * (i + 1)}} for i, t in enumerate(HAND)]
  config = {"base": {"workload": "hand_made", "num_train_steps": 40,
                     "optimizer": {"name": "sgd", "schedule": {"name": "linear_decay"}},
                     "target": {"split": "validation", "metric": "error", "value": 0.3}},
            "num_trials": 2, "seed": 0, "search_spaces": {}}
  os.makedirs(root)
  with open(os.path.join(root, "study.json"), "w") as f:
    json.dump({"config": config, "seed": 0, "trials": trials}, f)
  for tid, (status, vals) in HAND.items():
    tdir = os.path.join(root, "trials", tid)
    os.makedirs(tdir)
    lines = []
    for step, v in zip(STEPS, vals):
      if v is None:
        lines.append({"step": step, "split": "train", "loss": None, "wall_time_s": 1.0})
        break
      lines.append({"step": step, "split": "train", "loss": 2 * v, "wall_time_s": 1.0})
      lines.append({"step": step, "split": "validation", "loss": 3 * v, "error": v,
                    "wall_time_s": 1.0})
      lines.append({"step": step, "split": "train_eval", "loss": v / 2, "error": v / 3,
                    "wall_time_s": 1.0})
      if step in (20, 40):
        lines.append({"step": step, "split": "test", "loss": 3 * v, "error": v + 0.01,
                      "wall_time_s": 1.0})
    with open(os.path.join(tdir, "metrics.jsonl"), "w") as f:
      f.writelines(json.dumps(line) + "\n" for line in lines)
    last = vals[-1]
    final = ({} if status == "diverged" else
             {"validation": {"loss": 3 * last, "error": last},
              "test": {"loss": 3 * last, "error": last + 0.01},
              "train_eval": {"loss": last / 2, "error": last / 3}})
    reached = next((s for s, v in zip(STEPS, vals) if v is not None and v <= 0.3), None)
    with open(os.path.join(tdir, "result.json"), "w") as f:
      json.dump({"status": status, "steps": 30 if status == "diverged" else 40,
                 "final": final, "steps_to_target": reached, "wall_time_s": 1.0,
                 "error": "loss is NaN" if status == "diverged" else None}, f)
  return root


@pytest.fixture
def hand_made(tmp_path):
  root = _write_hand_made(str(tmp_path / "hand"))
  return root, load_table(root), load_curves(root)


def _row(table, key, value, opt, k):
  r = table[(table[key] == value) & (table["optimizer"] == opt) & (table["K"] == k)]
  assert len(r) == 1
  return r.iloc[0]


def test_values_at_steps_and_steps_to_reach(hand_made):
  _, df, curves = hand_made
  assert robustness.eval_steps(curves, df, "validation") == STEPS
  assert robustness.eval_steps(curves, df, "test") == [20, 40]
  v = robustness.values_at_steps(curves, df, ["sgd", "momentum"], "validation", "error", STEPS)
  np.testing.assert_array_equal(v["sgd"], [[0.5, 0.4, 0.3, 0.25], [0.6, 0.35, 0.32, 0.3]])
  np.testing.assert_array_equal(v["momentum"],
                                [[0.45, 0.3, np.nan, np.nan], [0.7, 0.5, 0.35, 0.28]])
  reach = robustness.steps_to_reach(curves, df, "error", [0.26, 0.3, 0.4],
                                    ["sgd", "momentum"])
  inf = math.inf
  np.testing.assert_array_equal(reach["sgd"], [[40, 30, 20], [inf, 40, 20]])
  # momentum/0 reached 0.3 at step 20 before it diverged: it counts.
  np.testing.assert_array_equal(reach["momentum"], [[inf, 20, 20], [inf, 40, 30]])


def test_budget_bootstrap_and_verdicts_exact(hand_made):
  _, df, curves = hand_made
  table = robustness.budget_bootstrap(curves, df, "error", [1, 2, 64], num_resamples=1000)
  assert sorted(table["step"].unique()) == STEPS
  # K = 64 of 2 trials: every resample holds both, so the bands are the best value.
  expect = {10: (0.5, 0.45), 20: (0.35, 0.3), 30: (0.3, 0.35), 40: (0.25, 0.28)}
  for step, (sgd, mom) in expect.items():
    for opt, value in (("sgd", sgd), ("momentum", mom)):
      r = _row(table, "step", step, opt, 64)
      assert r["validation_median"] == r["validation_p5"] == r["validation_p95"] == value
      assert r["selected_median"] == value  # chosen by validation error (the default)
  # The chosen trial's test value where the test split was evaluated, NaN elsewhere.
  assert _row(table, "step", 20, "momentum", 64)["test_median"] == 0.3 + 0.01
  assert _row(table, "step", 40, "sgd", 64)["test_median"] == 0.25 + 0.01
  assert math.isnan(_row(table, "step", 30, "sgd", 64)["test_median"])
  # momentum/0 diverged between steps 20 and 30: lost from step 30 on, not before.
  assert _row(table, "step", 20, "momentum", 1)["n_lost"] == 0
  assert _row(table, "step", 30, "momentum", 1)["n_lost"] == 1
  k1 = _row(table, "step", 30, "momentum", 1)
  assert k1["validation_p5"] == 0.35 and math.isinf(k1["validation_p95"])
  assert 0.4 < k1["frac_all_lost"] < 0.6
  k1 = _row(table, "step", 30, "sgd", 1)
  assert (k1["validation_p5"], k1["validation_p95"]) == (0.3, 0.32)
  # The bands' own verdicts (the size rule waived: two trials per optimizer)...
  verdicts = robustness.verdicts(table, "step", 64, min_trials=1)
  assert [[r.verdict for r in verdicts[s]] for s in STEPS] == [
      ["held"], ["held"], ["violated"], ["violated"]]
  assert all(r.general == "momentum" and r.special == "sgd" for r in verdicts[10])
  # K = 2: momentum loses both draws a quarter of the time at step 40 (p95 inf) and its
  # median 0.28 lies within sgd's band [0.25, 0.3]: held there.
  at2 = robustness.verdicts(table, "step", 2, min_trials=1)
  assert [at2[s][0].verdict for s in STEPS] == ["held", "held", "violated", "held"]
  # ... and the report's: two trials of each tell nothing, at any K.
  for k in (2, 64):
    judged = robustness.verdicts(table, "step", k)
    assert {r.verdict for s in STEPS for r in judged[s]} == {"inconclusive"}
    assert all(r.too_few and r.trials == (2, 2) for s in STEPS for r in judged[s])


def test_budget_selection_by_another_split(hand_made):
  """Chosen by train_eval loss at each step (here v / 2: the same order), reported on
  validation; a selection split never evaluated loses every trial."""
  _, df, curves = hand_made
  table = robustness.budget_bootstrap(curves, df, "error", [64], select_split="train_eval",
                                      select_metric="loss")
  r = _row(table, "step", 30, "sgd", 64)
  assert r["validation_median"] == 0.3 and r["selected_median"] == 0.15
  by_test = robustness.budget_bootstrap(curves, df, "error", [64], select_split="test")
  assert sorted(by_test["step"].unique()) == [20, 40]


def test_target_bootstrap_and_verdicts_exact(hand_made):
  _, df, curves = hand_made
  targets = [0.26, 0.3, 0.4]
  table = robustness.target_bootstrap(curves, df, "error", [64], targets)
  expect = {0.26: (40, math.inf), 0.3: (30, 20), 0.4: (20, 20)}
  for t, (sgd, mom) in expect.items():
    for opt, value in (("sgd", sgd), ("momentum", mom)):
      r = _row(table, "target", t, opt, 64)
      assert r["steps_median"] == r["steps_p5"] == r["steps_p95"] == value
  assert _row(table, "target", 0.26, "momentum", 64)["frac_never"] == 1.0
  assert _row(table, "target", 0.26, "momentum", 64)["n_reached"] == 0
  assert _row(table, "target", 0.26, "sgd", 64)["n_reached"] == 1
  verdicts = robustness.verdicts(table, "target", min_trials=1)
  assert {t: verdicts[t][0].verdict for t in targets} == {
      0.26: "violated", 0.3: "held", 0.4: "held"}
  judged = robustness.verdicts(table, "target")  # the report's rule: two trials are too few
  assert {t: judged[t][0].verdict for t in targets} == dict.fromkeys(targets, "inconclusive")


def test_default_targets(hand_made):
  _, df, _ = hand_made
  # Completed finals 0.25, 0.3, 0.28: best 0.25, median 0.28.
  assert robustness.default_targets(df, "error", 4) == pytest.approx([0.25, 0.26, 0.27, 0.28])
  assert robustness.default_targets(df, "error", 1) == [0.25]
  assert robustness.default_targets(df[df["status"] != "completed"], "error") == []


def test_report_sections_on_the_hand_made_study(hand_made, tmp_path):
  root, _, _ = hand_made
  analyze(root, targets=[0.3, 0.26])
  report = open(os.path.join(root, "analysis", "report.md")).read()
  budget = report.split("\n## Budget robustness\n")[1].split("\n## ")[0]
  assert "linear-decay schedule is tied to the full budget" in budget
  # K = 2 (two trials per optimizer): bands over the 1000 resamples.
  assert "| 30 | 0.3 [0.3, 0.32] | 0.35 [0.35, inf] |" in budget
  # Two trials per optimizer: every verdict inconclusive (the bands alone would say held,
  # held, violated, held: test_budget_bootstrap_and_verdicts_exact).
  assert ("| sgd ⊆ momentum | ⬜ inconclusive | ⬜ inconclusive | ⬜ inconclusive | "
          "⬜ inconclusive | 0 / 4 / 0 |") in budget
  target = report.split("\n## Target robustness\n")[1].split("\n## ")[0]
  assert "for targets 0.26, 0.3 (as given)" in target
  assert "| 0.3 | 30 [30, 40] | 20 [20, 40] |" in target
  # At 0.26 only sgd/0 gets there: sgd's best-of-2 misses it a quarter of the time, so its
  # 95th percentile is inf and momentum's (never) lies within its band, which the bands
  # alone would call held; with two trials each the report says inconclusive.
  assert "| 0.26 | 40 [40, inf] | inf [inf, inf] |" in target
  assert "| sgd ⊆ momentum | ⬜ inconclusive | ⬜ inconclusive | 0 / 2 / 0 |" in target
  assert "\n## Selection by training loss\n" in report
  for name in ("robustness_verdicts.png", "steps_to_targets.png", "curves.csv"):
    assert os.path.exists(os.path.join(root, "analysis", name)), name
  # No search spaces (no hparams figure) and no comparison: the curves are (d), and the
  # robustness figures follow them as e and f, the text naming them so.
  assert "(d) validation error versus step" in report
  assert "(e) inclusion verdicts" in report and "(f) best-of-2 steps" in report
  assert "figures e and f):" in target


def test_committed_curves_table_reproduces_the_report(hand_made, tmp_path):
  """study.json + trials.csv + curves.csv (what analyze writes) give the same report."""
  root, _, curves = hand_made
  analyze(root)
  committed = tmp_path / "committed"
  committed.mkdir()
  for name in ("study.json", "trials.csv", "curves.csv"):
    shutil.copy(os.path.join(root, "analysis", name), committed / name)
  table = robustness.read_curves_table(committed / "curves.csv")
  pd.testing.assert_frame_equal(
      table, robustness.curves_table(curves), check_dtype=False)
  analyze(committed)
  assert ((committed / "analysis" / "report.md").read_text()
          == open(os.path.join(root, "analysis", "report.md")).read())
  # Without curves.csv the sections are left out (the committed studies of results/).
  (committed / "curves.csv").unlink()
  analyze(committed)
  again = (committed / "analysis" / "report.md").read_text()
  assert "## Budget robustness" not in again and "## Target robustness" not in again


def test_corrupt_curves_table(tmp_path):
  from optcompare.errors import BadInputError
  path = tmp_path / "curves.csv"
  path.write_text("trial_id,step,split,error\nsgd/0,ten,validation,0.1\n")
  with pytest.raises(BadInputError, match="curves.csv: corrupt curves table"):
    robustness.read_curves_table(path)


def _boot(medians, ks=None):
  ks = ks or [2 ** i for i in range(len(medians))]
  return pd.DataFrame({"optimizer": "adam", "K": ks, "validation_median": medians})


def test_settling_k_on_a_synthetic_curve():
  # Changes 0.1, 0.05, 0.001, 0.0005, 0.0004: unchanged from K = 4 on, three doublings.
  boot = _boot([0.3, 0.2, 0.15, 0.149, 0.1485, 0.1481])
  assert bootstrap.settling_k(boot, 0.002) == {"adam": 4}
  # Unchanged from K = 8 on is two doublings (8 -> 16 -> 32): just enough.
  assert bootstrap.settling_k(boot, 0.0008) == {"adam": 8}
  # Two further doublings are needed: unchanged over the last one only is no claim...
  assert bootstrap.settling_k(boot, 0.00045) == {"adam": None}
  # ... and so is any claim at K = 1, where the median is every trial's median.
  assert bootstrap.settling_k(boot, 0.2) == {"adam": 2}
  assert bootstrap.settling_k(_boot([0.2, 0.2, 0.2]), 0.002) == {"adam": None}
  assert bootstrap.settling_k(_boot([0.2, 0.2, 0.2, 0.2]), 0.002) == {"adam": 2}
  assert bootstrap.settling_k(boot, 0.0008, further=1) == {"adam": 8}
  assert bootstrap.settling_k(boot, 0.00045, further=1) == {"adam": 16}
  # A late jump unsettles it; a non-finite median never counts as settled.
  assert bootstrap.settling_k(_boot([0.3, 0.2, 0.2, 0.2, 0.19]), 0.002) == {"adam": None}
  assert bootstrap.settling_k(_boot([math.inf, 0.2, 0.2, 0.2]), 0.002) == {"adam": 2}
  assert bootstrap.settling_k(_boot([math.inf, math.inf, 0.2]), 0.002) == {"adam": None}
  assert bootstrap.settling_k(_boot([0.2]), 0.002) == {"adam": None}
  # A smooth best-of-K curve, median(K) = 0.1 + 0.2 / K: the change from K to 2K is 0.1 / K,
  # below 0.002 from K = 64 on (32 -> 64 changes it by 0.1 / 32 = 0.0031).
  ks = [2 ** i for i in range(10)]
  smooth = _boot([0.1 + 0.2 / k for k in ks], ks)
  assert bootstrap.settling_k(smooth, 0.002) == {"adam": 64}
  assert bootstrap.settling_k(_boot(smooth["validation_median"][:8].to_list()), 0.002) == {
      "adam": None}  # up to K = 128: one doubling past 64


def test_report_states_settling_k(make_study):
  d = make_study("settle", optimizers=("sgd", "momentum"), num_trials=8)
  analyze(d, settle_tolerance=1.0)
  report = (d / "analysis" / "report.md").read_text()
  section = report.split("\n## Bootstrap: best-of-K\n")[1].split("\n## ")[0]
  assert ("changes by less than 1 (absolute) from each K to the next, for at least 2 further "
          "doublings of K: sgd K = 2; momentum K = 2.") in section  # never K = 1
  analyze(d, settle_tolerance=0.0)
  report = (d / "analysis" / "report.md").read_text()
  assert "sgd not settled by K = 8 (last change " in report


def test_settling_text_of_each_case():
  """Settled; still changing at the end; unchanged over the last doubling only (said so, not
  called settled); no finite median to judge."""
  from optcompare.analysis import report
  def part(med):
    ks = [1, 2, 4, 8][:len(med)]
    settled = bootstrap.settling_k(_boot(med, ks), 0.002)["adam"]
    return report._settling_part("sgd", settled, np.array(med), ks, 0.002)

  assert part([0.3, 0.2, 0.2, 0.2]) == "sgd K = 2"
  assert part([0.3, 0.2, 0.15, 0.14]) == "sgd not settled by K = 8 (last change 0.01)"
  assert part([0.3, 0.2, 0.15, 0.1499]) == (
      "sgd unchanged from K = 4 to 8, too few doublings to call it settled")
  assert part([0.2, 0.2]) == (
      "sgd unchanged from K = 1 to 2, too few doublings to call it settled")
  assert part([0.3, 0.2, math.inf, math.inf]) == "sgd —"
