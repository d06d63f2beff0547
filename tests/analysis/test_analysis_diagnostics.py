"""Boundary warnings and the inclusion check on constructed cases."""
import numpy as np
import pandas as pd
import pytest

from optcompare.analysis import bootstrap_best
from optcompare.analysis import boundary_warnings
from optcompare.analysis import diagnostics
from optcompare.analysis import inclusion_check

SPACE = {
    "adam": {
        "learning_rate": {"scale": "log", "min": 1e-5, "max": 1e-1},
        "beta1": {"scale": "one_minus_log", "min": 0.9, "max": 0.999},
        "decay_factor": {"scale": "linear", "min": 0.0, "max": 1.0},
        "rho": {"scale": "choice", "values": [0.9, 0.99]},
        "beta2": {"scale": "fixed", "value": 0.999},
        "scaled": {"scale": "derived", "of": "learning_rate", "times": "beta1", "power": 1.0},
    }
}


def _trials(points, errors, statuses=None):
  """points: list of dicts (hparams); errors: validation error of each."""
  rows = []
  for i, (hp, err) in enumerate(zip(points, errors)):
    row = {"trial_id": f"adam/{i}", "optimizer": "adam", "index": i,
           "status": statuses[i] if statuses else "completed",
           "final.validation.error": err, "final.test.error": err}
    row.update({f"hp.{k}": v for k, v in hp.items()})
    rows.append(row)
  return pd.DataFrame(rows)


def _middle(n, rng):
  """n points well inside every bound (10%..90% on the search scale)."""
  out = []
  for _ in range(n):
    u = rng.uniform(0.1, 0.9, size=3)
    out.append({"learning_rate": 10 ** (-5 + 4 * u[0]),
                "beta1": 1 - 10 ** (np.log10(0.001) + 2 * u[1]),
                "decay_factor": u[2], "rho": 0.9, "beta2": 0.999, "scaled": 0.0})
  return out


def test_search_scale_and_bounds():
  spec = SPACE["adam"]["beta1"]
  assert diagnostics.search_bounds(spec) == pytest.approx((-3.0, -1.0))
  assert diagnostics.to_search_scale([0.99], spec) == pytest.approx([-2.0])
  assert diagnostics.search_bounds(SPACE["adam"]["learning_rate"]) == pytest.approx((-5, -1))
  assert list(diagnostics.tuned_hparams(SPACE["adam"])) == [
      "learning_rate", "beta1", "decay_factor", "rho"]


def test_no_warning_when_top_trials_are_inside():
  rng = np.random.default_rng(0)
  pts = _middle(40, rng)
  errs = list(rng.uniform(0.1, 0.2, 40))
  # A poor trial (not in the top 10%) on a bound does not warn; nor do diverged ones.
  pts.append(dict(pts[0], learning_rate=0.1))
  errs.append(0.5)
  pts.append(dict(pts[0], learning_rate=0.0999))
  errs.append(np.nan)
  df = _trials(pts, errs, ["completed"] * 41 + ["diverged"])
  assert boundary_warnings(df, SPACE, "error") == []


@pytest.mark.parametrize("name,value,bound,bound_value,natural", [
    ("learning_rate", 0.095, "max", 0.1, False),  # log scale, 0.022 decades below the max
    ("learning_rate", 1.3e-5, "min", 1e-5, False),
    ("beta1", 0.9005, "min", 0.9, False),         # 1-x = 0.0995: near the top of [1e-3, 1e-1]
    ("beta1", 0.99895, "max", 0.999, False),      # 1-x = 1.05e-3: near the bottom
    ("decay_factor", 0.97, "max", 1.0, True),     # λ = 1 (no decay) is λ's natural limit
    ("decay_factor", 0.02, "min", 0.0, True),     # λ = 0 (decay to zero) is too
])
def test_warning_when_a_top_trial_is_near_a_bound(name, value, bound, bound_value, natural):
  rng = np.random.default_rng(1)
  pts = _middle(40, rng)
  errs = list(rng.uniform(0.1, 0.2, 40))
  pts[7] = dict(pts[7], **{name: value})
  errs[7] = 0.01  # the best trial
  warns = boundary_warnings(_trials(pts, errs), SPACE, "error")
  assert len(warns) == 1, warns
  w = warns[0]
  assert (w.optimizer, w.hparam, w.bound, w.trial_id, w.rank) == (
      "adam", name, bound, "adam/7", 1)
  assert w.bound_value == bound_value and w.num_top == 4
  assert "within 5%" in w.message()
  assert w.natural == natural
  assert ("widen the search space" in w.message()) != natural
  assert ("natural limit" in w.message()) == natural
  if name == "beta1" and bound == "max":  # 0.99895 and 0.999 would both print as "0.999"
    assert "beta1 = 1 − 0.00105 " in w.message() and "max = 1 − 0.001;" in w.message()
  # The message says on which scale the 5% is measured (the search scale of the spec).
  coordinate = {"learning_rate": "log10(learning_rate)", "beta1": "log10(1 − beta1)",
                "decay_factor": "decay_factor"}[name]
  assert f"within 5% of the search range's width, measured on {coordinate}, " in w.message()


@pytest.mark.parametrize("name,bound,value,natural", [
    ("decay_factor", "max", 1.0, True), ("decay_factor", "max", 0.9, False),
    ("decay_steps_fraction", "max", 1.0, True), ("momentum", "min", 0.0, True),
    ("momentum", "max", 0.999, False), ("beta2", "min", 0.0, True),
    ("learning_rate", "min", 0.0, True), ("learning_rate", "min", 1e-5, False),
    ("epsilon", "max", 1e2, False), ("unknown_hparam", "max", 1.0, False),
])
def test_natural_limits(name, bound, value, natural):
  assert diagnostics.is_natural_limit(name, bound, value) == natural


def test_tolerance_is_five_percent_of_the_search_scale():
  rng = np.random.default_rng(2)
  pts = _middle(10, rng)
  errs = list(rng.uniform(0.1, 0.2, 10))
  errs[0] = 0.01
  # log10 range is 4 decades; 5% = 0.2 decades below log10(0.1) = -1.
  for lr, expected in ((10 ** -1.19, 1), (10 ** -1.21, 0)):
    pts[0] = dict(pts[0], learning_rate=lr)
    assert len(boundary_warnings(_trials(pts, errs), SPACE, "error")) == expected, lr


def _boot_rows(bands, n=16, k=16):
  """bands: {optimizer: (p5, median, p95)} -> a one-K bootstrap table, n finished trials
  of each optimizer."""
  return pd.DataFrame([{"optimizer": o, "K": k, "n_finished": n, "validation_p5": b[0],
                        "validation_median": b[1], "validation_p95": b[2]}
                       for o, b in bands.items()])


def test_inclusion_verdicts_on_constructed_bands():
  boot = _boot_rows({
      "sgd": (0.10, 0.11, 0.12),
      "momentum": (0.09, 0.10, 0.11),    # better than sgd: held
      "adam": (0.13, 0.14, 0.15),        # whole band above momentum's: violated
      "rmsprop": (0.10, 0.115, 0.13),    # median above momentum's band, overlapping: inconc.
      "nesterov": (0.105, 0.118, 0.125),  # median inside sgd's band: held
      "lion": (0.01, 0.01, 0.01),        # in no inclusion pair
  })
  res = {(r.special, r.general): r for r in inclusion_check(boot)}
  assert set(res) == {("sgd", "momentum"), ("momentum", "adam"), ("momentum", "rmsprop"),
                      ("sgd", "nesterov")}  # nadam absent: its pair is skipped
  assert res[("sgd", "momentum")].verdict == "held"
  assert res[("momentum", "adam")].verdict == "violated"
  assert res[("momentum", "rmsprop")].verdict == "inconclusive"
  assert res[("sgd", "nesterov")].verdict == "held"
  assert res[("momentum", "adam")].K == 16
  assert "0.14 [0.13, 0.15]" in res[("momentum", "adam")].message()
  assert not any(r.too_few for r in res.values())


BANDS = {"sgd": (0.10, 0.11, 0.12), "momentum": (0.09, 0.10, 0.11),
         "adam": (0.13, 0.14, 0.15)}  # held and violated with trials enough (above)


@pytest.mark.parametrize("n,k,why", [
    (7, 16, "too few trials to tell: momentum 7, sgd 7 finished (a verdict needs 8 of each)"),
    (2, 2, "too few trials to tell: momentum 2, sgd 2 finished (a verdict needs 8 of each)"),
    (64, 4, "too few trials to tell: K = 4 < 8"),
])
def test_too_few_trials_or_too_small_k_is_inconclusive(n, k, why):
  """The bands of BANDS give held and violated; the same bands from fewer than 8 trials of
  an optimizer, or at K < 8, cannot be told from chance: inconclusive, saying why."""
  res = {(r.special, r.general): r for r in inclusion_check(_boot_rows(BANDS, n=n, k=k))}
  assert [r.verdict for r in res.values()] == ["inconclusive", "inconclusive"]
  assert all(r.too_few for r in res.values())
  assert res[("sgd", "momentum")].reason == why
  assert res[("sgd", "momentum")].trials == (n, n)
  # One optimizer short is enough; at the threshold both verdicts stand.
  uneven = _boot_rows(BANDS, n=8, k=8)
  uneven.loc[uneven["optimizer"] == "sgd", "n_finished"] = 3
  res = {(r.special, r.general): r.verdict for r in inclusion_check(uneven)}
  assert res == {("sgd", "momentum"): "inconclusive", ("momentum", "adam"): "violated"}
  at_8 = {(r.special, r.general): r.verdict for r in inclusion_check(_boot_rows(BANDS, 8, 8))}
  assert at_8 == {("sgd", "momentum"): "held", ("momentum", "adam"): "violated"}


def test_a_table_without_trial_counts_claims_nothing():
  """A hand-made band table that does not say how many trials it rests on gets no verdict."""
  boot = _boot_rows(BANDS).drop(columns="n_finished")
  for min_trials in (8, 0):  # an unknown count is never enough
    res = inclusion_check(boot, min_trials=min_trials)
    assert {r.verdict for r in res} == {"inconclusive"}
    assert res[0].reason.startswith("too few trials to tell: momentum ?, sgd ? finished")


def test_inclusion_uses_largest_k_and_handles_lost_runs():
  rng = np.random.default_rng(0)
  rows = []
  for opt, lo, hi, n_lost in (("sgd", 0.20, 0.30, 0), ("momentum", 0.10, 0.15, 0),
                              ("nesterov", 0.30, 0.40, 0), ("nadam", 0, 0, 10)):
    for i in range(10):
      lost = i < n_lost
      v = np.nan if lost else rng.uniform(lo, hi)
      rows.append({"trial_id": f"{opt}/{i}", "optimizer": opt, "index": i,
                   "status": "diverged" if lost else "completed",
                   "final.validation.error": v, "final.test.error": v})
  boot = bootstrap_best(pd.DataFrame(rows), "error", 8)
  res = {(r.special, r.general): r for r in inclusion_check(boot)}
  assert all(r.K == 8 and r.trials == (10, 10) for r in res.values())
  assert res[("sgd", "momentum")].verdict == "held"
  assert res[("sgd", "nesterov")].verdict == "violated"
  assert res[("nesterov", "nadam")].verdict == "violated"  # nadam diverged every time
  both_lost = boot.copy()
  both_lost.loc[both_lost["optimizer"] == "nesterov",
                ["validation_p5", "validation_median", "validation_p95"]] = np.inf
  res2 = {(r.special, r.general): r for r in inclusion_check(both_lost)}
  assert res2[("nesterov", "nadam")].verdict == "inconclusive"


def test_format_value_writes_values_near_one_as_one_minus():
  from optcompare.analysis import markdown
  assert diagnostics.format_value(0.99995) == "1 − 5e-05"
  assert markdown.hparam_value(0.99995, ".3g") == "1 − 5e-05"
  assert markdown.hparam_value(0.999, ".3g") == "1 − 0.001"
  assert markdown.hparam_value(0.9, ".3g") == "0.9"
  assert markdown.hparam_value(3300.0, ".3g") == "3.3e+03"
  assert markdown.hparam_value(float("nan")) == "—"
  assert markdown.hparam_value(None) == "—"


def _verdict(k, general_band, special_band, verdict="held", n=16):
  return diagnostics.InclusionResult("momentum", "sgd", k, verdict, general_band,
                                     special_band, "", (n, n), n < 8)


def test_weak_inclusions_small_k_or_wide_bands():
  rows = [{"optimizer": o, "status": "completed", "final.validation.error": v}
          for o, v in (("sgd", 0.1), ("sgd", 0.9), ("momentum", 0.12), ("momentum", 0.5))]
  df = pd.DataFrame(rows)
  narrow = _verdict(16, (0.1, 0.11, 0.12), (0.1, 0.1, 0.13))
  wide = _verdict(16, (0.12, 0.12, 0.5), (0.1, 0.1, 0.9))  # together 100% of [0.1, 0.9]
  # Judged with fewer trials than the rule's (inclusion_check(min_trials=2)): flagged.
  few = _verdict(2, (0.1, 0.11, 0.12), (0.1, 0.1, 0.13), n=2)
  # Inconclusive verdicts claim nothing: never flagged, however wide their bands.
  no_trials = _verdict(2, (np.nan,) * 3, (0.1, 0.1, 0.13), "inconclusive")
  wide_open = _verdict(16, (0.12, 0.12, 0.5), (0.1, 0.1, 0.9), "inconclusive")
  weak = diagnostics.weak_inclusions([narrow, wide, few, no_trials, wide_open], df, "error")
  assert [(r.K, why) for r, why in weak] == [
      (16, "the bands span 100% of the outcomes"), (2, "K = 2 < 8")]


def test_inclusion_caveat_text():
  from optcompare.analysis import markdown
  ok = _verdict(16, (0.1, 0.11, 0.12), (0.1, 0.1, 0.13))
  assert markdown.inclusion_caveat([], [ok]) == ""
  few = _verdict(2, (0.1, 0.11, 0.12), (0.1, 0.1, 0.13), "inconclusive", n=2)
  text = markdown.inclusion_caveat([], [few, few])
  assert text.startswith("⚠ With 2 trials per optimizer and K = 2, the study cannot tell the "
                         "optimizers apart: every verdict below is inconclusive.")
  assert markdown.inclusion_caveat([], [few], short=True) == (
      "⚠ With 2 trials per optimizer and K = 2, every inclusion verdict of this report is "
      "inconclusive: too few trials to tell (see Inclusion check).")
  assert markdown.inclusion_caveat([], [few, ok]) == (
      "⚠ Some inclusion verdicts are inconclusive only because the study is too small to "
      "tell: sgd ⊆ momentum.")
  wide = _verdict(16, (0.12, 0.12, 0.5), (0.1, 0.1, 0.9))
  text = markdown.inclusion_caveat([(wide, "the bands span 100% of the outcomes")], [ok, wide])
  assert text.startswith("⚠ Not evidence: sgd ⊆ momentum (the bands span 100% of the outcomes)")


def _boot(rows):
  return pd.DataFrame([{"optimizer": o, "K": k, "n_finished": 64, "validation_p5": m,
                        "validation_median": m, "validation_p95": p95}
                       for o, k, m, p95 in rows])


def test_closing_budget_extrapolates_the_last_doubling():
  """RMSProp 0.150 → 0.146 from K = 32 to 64 (0.004 per doubling), Momentum's p95 0.138: a
  gap of 0.008 is two more doublings, K ≥ 256."""
  boot = _boot([("rmsprop", 32, 0.150, 0.16), ("rmsprop", 64, 0.146, 0.15),
                ("momentum", 32, 0.140, 0.139), ("momentum", 64, 0.137, 0.138)])
  [pair] = diagnostics.inclusion_check(boot, pairs=[("rmsprop", "momentum")])
  assert pair.verdict == "violated"
  assert diagnostics.closing_budget(boot, pair) == (
      "momentum ⊆ rmsprop: the gap of 0.008 at 0.004 per doubling of K (the last one) needs "
      "K ≥ 256 trials of rmsprop")


def test_closing_budget_of_a_flat_curve_and_of_a_held_pair():
  flat = _boot([("rmsprop", 32, 0.146, 0.16), ("rmsprop", 64, 0.146, 0.15),
                ("momentum", 32, 0.140, 0.139), ("momentum", 64, 0.137, 0.138)])
  [pair] = diagnostics.inclusion_check(flat, pairs=[("rmsprop", "momentum")])
  assert "did not fall from K = 32 to 64" in diagnostics.closing_budget(flat, pair)
  held = _boot([("adam", 32, 0.13, 0.14), ("adam", 64, 0.12, 0.13),
                ("momentum", 32, 0.140, 0.139), ("momentum", 64, 0.137, 0.138)])
  [pair] = diagnostics.inclusion_check(held, pairs=[("adam", "momentum")])
  assert pair.verdict == "held" and diagnostics.closing_budget(held, pair) is None


def test_no_closing_budget_for_a_pair_too_small_to_judge():
  """Its gap is not measured: extrapolating it would make a number of noise."""
  boot = _boot([("rmsprop", 2, 0.150, 0.16), ("rmsprop", 4, 0.146, 0.15),
                ("momentum", 2, 0.140, 0.139), ("momentum", 4, 0.137, 0.138)])
  [pair] = diagnostics.inclusion_check(boot, pairs=[("rmsprop", "momentum")])
  assert pair.too_few and diagnostics.closing_budget(boot, pair) is None
  [judged] = diagnostics.inclusion_check(boot, pairs=[("rmsprop", "momentum")], min_trials=4)
  assert judged.verdict == "violated" and diagnostics.closing_budget(boot, judged) is not None
