"""bootstrap_best and prob_a_beats_b against direct loops and closed forms."""
import math

import numpy as np
import pandas as pd
import pytest

from optcompare.analysis import bootstrap
from optcompare.analysis import bootstrap_best
from optcompare.analysis import k_values
from optcompare.analysis import prob_a_beats_b


def _table(spec, seed=0):
  """spec: {optimizer: (n_completed, n_diverged)} -> a trial table with distinct values."""
  rng = np.random.default_rng(seed)
  rows = []
  for opt, (n_ok, n_lost) in spec.items():
    statuses = ["completed"] * n_ok + ["diverged"] * n_lost
    rng.shuffle(statuses)
    for i, status in enumerate(statuses):
      v = rng.uniform(0.05, 0.5) if status == "completed" else np.nan
      rows.append({"trial_id": f"{opt}/{i}", "optimizer": opt, "index": i, "status": status,
                   "final.validation.error": v,
                   "final.test.error": v + rng.normal(0, 0.01) if status == "completed"
                   else np.nan})
  return pd.DataFrame(rows)


def _loop_best(df, opt, idx_rows):
  """Direct implementation: per resample, scan the drawn trials, keep the best completed."""
  rows = df[(df["optimizer"] == opt) & df["status"].isin(["completed", "diverged"])]
  rows = rows.sort_values("index").to_dict("records")
  vals, tests = [], []
  for draw in idx_rows:
    best = None
    for j in draw:
      r = rows[j]
      v = r["final.validation.error"]
      if r["status"] != "completed" or not math.isfinite(v):
        continue
      if best is None or v < best["final.validation.error"]:
        best = r
    vals.append(math.inf if best is None else best["final.validation.error"])
    tests.append(math.inf if best is None else best["final.test.error"])
  return vals, tests


def _loop_percentile(values, q):
  """Linear interpolation between order statistics, written out (inf sorts last)."""
  xs = sorted(values)
  pos = q / 100 * (len(xs) - 1)
  lo, hi = math.floor(pos), math.ceil(pos)
  if lo == hi or xs[lo] == xs[hi]:
    return xs[lo]
  if math.isinf(xs[hi]):
    return math.inf
  return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])


def test_k_values():
  assert k_values(1) == [1]
  assert k_values(100) == [1, 2, 4, 8, 16, 32, 64]
  assert k_values(64) == [1, 2, 4, 8, 16, 32, 64]
  assert k_values([10, 3, 3]) == [3, 10]
  with pytest.raises(ValueError):
    k_values(0)


def test_matches_direct_loop_on_shared_indices():
  df = _table({"sgd": (20, 5), "adam": (12, 8), "lion": (3, 0)})
  ks = [1, 2, 4, 8, 16, 40]
  out = bootstrap_best(df, "error", ks, num_resamples=300, seed=7)
  assert len(out) == 3 * len(ks)
  for opt in ("sgd", "adam", "lion"):
    n = int((df["optimizer"] == opt).sum())
    for k in ks:
      idx = bootstrap.resample_indices(n, k, 300, 7, opt)
      vals, tests = _loop_best(df, opt, idx)
      row = out[(out["optimizer"] == opt) & (out["K"] == k)].iloc[0]
      for name, q in (("p5", 5), ("median", 50), ("p95", 95)):
        assert row[f"validation_{name}"] == pytest.approx(_loop_percentile(vals, q), rel=1e-12)
        assert row[f"test_{name}"] == pytest.approx(_loop_percentile(tests, q), rel=1e-12)
      assert row["frac_all_lost"] == pytest.approx(np.mean(np.isinf(vals)))
      assert row["n_finished"] == n


def test_quantiles_match_numpy_on_finite_data():
  x = np.random.default_rng(1).normal(size=1001)
  np.testing.assert_allclose(bootstrap.quantiles(x, [5, 50, 95]),
                             np.percentile(x, [5, 50, 95]), rtol=1e-13)


def test_matches_closed_form_distribution():
  """Independent of the sampling code: with n distinct validation values v(1) < ... < v(n)
  and d lost trials, P(best-of-K <= v(j)) = 1 - (1 - j/N)^K with N = n + d, and
  P(all K lost) = (d/N)^K. The bootstrap quantiles must bracket the exact ones."""
  n_ok, n_lost = 30, 10
  df = _table({"adam": (n_ok, n_lost)}, seed=3)
  v = np.sort(df["final.validation.error"].dropna().to_numpy())
  N = n_ok + n_lost
  out = bootstrap_best(df, "error", [1, 2, 4, 8], num_resamples=20000, seed=0)
  for _, row in out.iterrows():
    k = row["K"]
    cdf = 1 - (1 - np.arange(1, n_ok + 1) / N) ** k
    assert row["frac_all_lost"] == pytest.approx((n_lost / N) ** k, abs=0.012)
    for name, q in (("p5", 0.05), ("median", 0.5), ("p95", 0.95)):
      j = int(np.searchsorted(cdf, q))  # exact q-quantile is v[j] (inf past the end)
      exact = v[j] if j < n_ok else math.inf
      got = row[f"validation_{name}"]
      if math.isinf(exact):
        assert math.isinf(got)
      else:
        lo, hi = v[max(j - 1, 0)], v[min(j + 1, n_ok - 1)] if j + 1 < n_ok else math.inf
        assert lo <= got <= hi, (k, name, got, exact)


def test_test_metric_comes_from_the_chosen_trial():
  """With test = 2 * validation + 1 for every trial, the test percentiles must be the same
  affine map of the validation percentiles (a different trial would break it)."""
  df = _table({"sgd": (25, 5)}, seed=5)
  df["final.test.error"] = 2 * df["final.validation.error"] + 1
  out = bootstrap_best(df, "error", 16, num_resamples=500)
  finite = np.isfinite(out["validation_p95"])
  for name in ("p5", "median", "p95"):
    np.testing.assert_allclose(out[f"test_{name}"][finite],
                               2 * out[f"validation_{name}"][finite] + 1, rtol=1e-12)


def test_seeded_determinism_and_independence_of_other_rows():
  df = _table({"sgd": (20, 2), "momentum": (15, 5), "adam": (18, 0)})
  a = bootstrap_best(df, "error", 16, seed=3)
  pd.testing.assert_frame_equal(a, bootstrap_best(df, "error", 16, seed=3), check_exact=True)
  shuffled = df.sample(frac=1.0, random_state=0)
  b = bootstrap_best(shuffled, "error", 16, seed=3, optimizers=["sgd", "momentum", "adam"])
  pd.testing.assert_frame_equal(a, b, check_exact=True)
  # Dropping an optimizer leaves the others' numbers unchanged.
  c = bootstrap_best(df[df["optimizer"] != "sgd"], "error", 16, seed=3)
  pd.testing.assert_frame_equal(a[a["optimizer"] != "sgd"].reset_index(drop=True), c,
                                check_exact=True)
  d = bootstrap_best(df, "error", 16, seed=4)
  assert not a["validation_median"].equals(d["validation_median"])


def test_k_larger_than_the_study():
  df = _table({"sgd": (5, 0)})
  out = bootstrap_best(df, "error", [64, 256], num_resamples=1000)
  best = df["final.validation.error"].min()
  best_test = df.loc[df["final.validation.error"].idxmin(), "final.test.error"]
  # P(best-of-64 misses the best of 5) = 0.8^64 ~ 6e-7: every resample finds it.
  assert (out["validation_median"] == best).all() and (out["validation_p95"] == best).all()
  assert (out["test_p5"] == best_test).all()


def test_all_diverged_and_unfinished_optimizers():
  df = _table({"sgd": (10, 0), "adam": (0, 6)})
  df = pd.concat([df, pd.DataFrame([
      {"trial_id": "lion/0", "optimizer": "lion", "index": 0, "status": "unfinished"},
      {"trial_id": "lion/1", "optimizer": "lion", "index": 1, "status": "pending"},
      {"trial_id": "sgd/10", "optimizer": "sgd", "index": 10, "status": "pending"},
  ])], ignore_index=True)
  out = bootstrap_best(df, "error", 8).set_index(["optimizer", "K"])
  adam = out.loc["adam"]
  assert (adam["n_lost"] == 6).all() and (adam["frac_all_lost"] == 1.0).all()
  for col in ("validation_median", "validation_p5", "validation_p95", "test_median"):
    assert np.isinf(adam[col]).all()
  lion = out.loc["lion"]
  assert (lion["n_finished"] == 0).all() and lion["validation_median"].isna().all()
  # Pending trials of sgd are left out: 10 finished.
  assert (out.loc["sgd", "n_finished"] == 10).all()
  assert np.isfinite(out.loc["sgd", "validation_p95"]).all()


def test_diverged_and_nonfinite_completed_trials_lose():
  df = pd.DataFrame({
      "trial_id": ["a/0", "a/1", "a/2"], "optimizer": "a", "index": [0, 1, 2],
      "status": ["diverged", "completed", "completed"],
      "final.validation.error": [0.01, np.nan, 0.3], "final.test.error": [0.01, 0.02, 0.31]})
  out = bootstrap_best(df, "error", [32])
  assert out["validation_median"].iloc[0] == 0.3 and out["test_median"].iloc[0] == 0.31
  assert out["n_lost"].iloc[0] == 2


def test_failed_trials_are_left_out_with_a_warning():
  """Failed is the infrastructure's outcome: not a lost trial, not a trial at all."""
  from optcompare.analysis.bootstrap import FailedTrialsWarning  # pylint: disable=g-import-not-at-top
  df = pd.DataFrame({
      "trial_id": ["a/0", "a/1", "a/2"], "optimizer": "a", "index": [0, 1, 2],
      "status": ["failed", "failed", "completed"],
      "final.validation.error": [np.nan, np.nan, 0.3], "final.test.error": [np.nan, np.nan, 0.31]})
  with pytest.warns(FailedTrialsWarning, match="a/0, a/1"):
    out = bootstrap_best(df, "error", [1, 4])
  assert (out["n_finished"] == 1).all() and (out["n_lost"] == 0).all()
  assert (out["validation_median"] == 0.3).all() and (out["frac_all_lost"] == 0).all()


def test_speed_is_reasonable():
  """A loose guard only (the measured figure is benchmarks/bootstrap_speed.py)."""
  import time
  df = _table({o: (85, 15) for o in ("sgd", "momentum", "nesterov", "rmsprop", "adam",
                                     "nadam")})
  t0 = time.perf_counter()
  out = bootstrap_best(df, "error", 64, num_resamples=1000)
  assert time.perf_counter() - t0 < 10.0
  assert len(out) == 6 * 7


def test_prob_a_beats_b():
  df = _table({"good": (20, 0), "bad": (20, 0)})
  df.loc[df["optimizer"] == "bad", "final.validation.error"] += 1.0
  p = prob_a_beats_b(df, "error", "good", "bad", [1, 4])
  assert (p["p_a_beats_b"] == 1.0).all() and (p["p_tie"] == 0).all()
  q = prob_a_beats_b(df, "error", "bad", "good", [1, 4])
  assert (q["p_a_beats_b"] == 0.0).all()
  # Against a loop on the same draws, on the test metric, with lost trials.
  df2 = _table({"x": (8, 4), "y": (10, 2)}, seed=9)
  ks = [1, 2, 8]
  p2 = prob_a_beats_b(df2, "error", "x", "y", ks, num_resamples=400, seed=2, split="test")
  for k, (_, row) in zip(ks, p2.iterrows()):
    _, ta = _loop_best(df2, "x", bootstrap.resample_indices(12, k, 400, 2, "x"))
    _, tb = _loop_best(df2, "y", bootstrap.resample_indices(12, k, 400, 2, "y"))
    wins = sum(a < b for a, b in zip(ta, tb)) + 0.5 * sum(a == b for a, b in zip(ta, tb))
    assert row["p_a_beats_b"] == pytest.approx(wins / 400)
  # Two optimizers that always diverge tie.
  df3 = _table({"u": (0, 3), "w": (0, 3)})
  assert prob_a_beats_b(df3, "error", "u", "w", 2)["p_a_beats_b"].tolist() == [0.5, 0.5]
