"""Bootstrap estimates of best-of-K performance (Choi et al. 2019, Appendix C).

For an optimizer with n finished trials and a budget of K trials, draw K of the n trials with
replacement, pick the one with the best (lowest) validation metric, and record its validation
and test metric. Repeating this `num_resamples` times gives the distribution of "what a tuner
with K trials would have found"; we report its median and 5th / 95th percentiles.

Conventions (documented here, relied on by the report):
* Only finished trials take part: status completed or diverged, the optimizer's outcomes.
  Failed trials (the infrastructure's: a raised exception, a killed process) are left out,
  with a warning (`FailedTrialsWarning`): counting them as lost would let an accident bias the
  comparison. Running, pending and corrupt trials are left out too (their outcome is unknown).
* Diverged trials count as trials that *lost*: their validation metric is +inf, so they are
  never chosen while any resampled trial completed. A completed trial whose validation metric
  is NaN/inf counts as lost too.
* If all K resampled trials lost, the outcome of that resample is +inf for both validation and
  test. Percentiles are taken over all resamples with +inf sorting last, so a percentile is
  +inf exactly when more than that fraction of resamples lost entirely (`frac_all_lost`
  gives the fraction). Percentiles interpolate linearly (NumPy's default); interpolating
  towards +inf gives +inf.
* A completed trial without a test metric (NaN) contributes nothing to the test percentiles
  (they are taken over the resamples whose chosen trial has a test value).
* K may exceed the number of finished trials (resampling is with replacement).
* Resampled indices come from `np.random.SeedSequence([seed, crc32(optimizer), K])`: the
  numbers for one optimizer do not change when optimizers are added to or removed from the
  table, and do not depend on the row order (trials are ordered by index).
* Selection (`select`, a column `final.<split>.<metric>`, lower is better): the trial chosen
  among the K is the one with the lowest selection value (default: the validation metric, as
  above); a trial whose selection value is not finite, or that diverged, is lost. The
  validation and test metric reported are those of the chosen trial; `selected_*` columns give
  the selection value itself.
"""
from __future__ import annotations

import warnings
import zlib
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from optcompare.analysis.load import LOST
from optcompare.studydir import FAILED, FINISHED


class FailedTrialsWarning(UserWarning):
  """Failed trials (infrastructure) were left out of a best-of-K estimate."""

QUANTILES = (("p5", 5.0), ("median", 50.0), ("p95", 95.0))


def k_values(num_trials: int | Iterable[int]) -> list[int]:
  """An int gives 1, 2, 4, ... up to num_trials; an iterable is used as given (sorted)."""
  if isinstance(num_trials, (int, np.integer)):
    if num_trials < 1:
      raise ValueError(f"num_trials must be >= 1, got {num_trials}")
    ks, k = [], 1
    while k <= num_trials:
      ks.append(k)
      k *= 2
    return ks
  ks = sorted({int(k) for k in num_trials})
  if not ks or ks[0] < 1:
    raise ValueError(f"every K must be >= 1, got {list(num_trials)}")
  return ks


def metric_column(metric: str, split: str = "validation") -> str:
  return metric if metric.startswith("final.") else f"final.{split}.{metric}"


def selection_column(select: str | None, metric: str) -> str:
  """The column trials are chosen by: `select` as `final.<split>.<metric>` or
  `<split>.<metric>`; None: the validation `metric`."""
  if select is None:
    return metric_column(metric, "validation")
  return select if select.startswith("final.") else f"final.{select}"


def trial_outcomes(df: pd.DataFrame, metric: str, optimizer: str, select: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(selection, validation, test) arrays of one optimizer's finished trials, ordered by
  index; lost trials (diverged, or a selection value that is not finite) have +inf in all
  three. A failed trial is left out with a `FailedTrialsWarning`."""
  mine = df[df["optimizer"] == optimizer]
  failed = mine[mine["status"] == FAILED]
  if len(failed):
    warnings.warn(f"{optimizer}: {len(failed)} failed trial(s) left out of best-of-K "
                  f"({', '.join(failed['trial_id'].astype(str))}); rerun them with "
                  "`optcompare sweep --retries=N`", FailedTrialsWarning, stacklevel=3)
  rows = mine[mine["status"].isin(FINISHED)]
  rows = rows.sort_values("index", kind="stable")
  scol = selection_column(select, metric)
  vcol, tcol = metric_column(metric, "validation"), metric_column(metric, "test")

  def column(col: str) -> np.ndarray:
    if col not in df.columns:
      return np.full(len(rows), np.nan)
    return rows[col].to_numpy(dtype=float, na_value=np.nan).copy()

  if scol not in df.columns and (df["status"] == "completed").any():
    # Legitimate only while no trial has completed (nothing finished, or all lost).
    raise KeyError(f"no column {scol!r} in the trial table (metric {metric!r})")
  sel, val, test = column(scol), column(vcol), column(tcol)
  lost = rows["status"].isin(LOST).to_numpy() | ~np.isfinite(sel)
  for x in (sel, val, test):
    x[lost] = np.inf
  return sel, val, test


def outcomes(df: pd.DataFrame, metric: str, optimizer: str) -> tuple[np.ndarray, np.ndarray]:
  """(validation, test) arrays of one optimizer's finished trials, ordered by index; lost
  trials have validation = +inf and test = +inf."""
  _, val, test = trial_outcomes(df, metric, optimizer)
  return val, test


def resample_indices(n: int, k: int, num_resamples: int, seed: int, optimizer: str
                     ) -> np.ndarray:
  """The (num_resamples, k) trial indices drawn for one optimizer and K."""
  ss = np.random.SeedSequence([int(seed), zlib.crc32(optimizer.encode()), int(k)])
  return np.random.default_rng(ss).integers(0, n, size=(num_resamples, k))


def choose(sel: np.ndarray, idx: np.ndarray) -> np.ndarray:
  """Per resample (row of idx): the index of the drawn trial with the lowest `sel`. Ties go
  to the first drawn (they are the same trial or equal in selection value)."""
  choice = np.argmin(sel[idx], axis=1)
  return np.take_along_axis(idx, choice[:, None], axis=1)[:, 0]


def best_of_k(val: np.ndarray, test: np.ndarray, idx: np.ndarray,
              sel: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Per resample (row of idx): validation and test metric of the trial chosen by `sel`
  (default: by validation)."""
  chosen = choose(val if sel is None else sel, idx)
  return val[chosen], test[chosen]


def quantiles(x: np.ndarray, qs: Sequence[float]) -> np.ndarray:
  """Linear-interpolation percentiles (as np.percentile) that treat +inf as the largest
  value instead of producing NaN; NaN entries are dropped; all-NaN gives NaN."""
  x = np.sort(x[~np.isnan(x)])
  if x.size == 0:
    return np.full(len(qs), np.nan)
  pos = np.asarray(qs, dtype=float) / 100.0 * (x.size - 1)
  lo = np.floor(pos).astype(int)
  hi = np.ceil(pos).astype(int)
  frac = pos - lo
  a, b = x[lo], x[hi]
  with np.errstate(invalid="ignore"):
    out = a + frac * (b - a)
  out = np.where((frac == 0) | (a == b), a, out)
  out = np.where(np.isinf(b) & (frac > 0), np.inf, out)
  return out


COLUMNS = ["optimizer", "K", "n_finished", "n_lost", "validation_median", "validation_p5",
           "validation_p95", "test_median", "test_p5", "test_p95", "frac_all_lost",
           "selected_median", "selected_p5", "selected_p95"]


def summarize(optimizer: str, sel: np.ndarray, val: np.ndarray, test: np.ndarray,
              ks: Sequence[int], num_resamples: int, seed: int) -> list[dict]:
  """Rows of `bootstrap_best` for one optimizer from its `trial_outcomes` arrays."""
  qs = [q for _, q in QUANTILES]
  n = val.size
  n_lost = int(np.isinf(sel).sum())
  rows = []
  for k in ks:
    row = {"optimizer": optimizer, "K": k, "n_finished": n, "n_lost": n_lost}
    if n == 0:
      vq = tq = sq = np.full(len(qs), np.nan)
      frac = np.nan
    else:
      chosen = choose(sel, resample_indices(n, k, num_resamples, seed, optimizer))
      vq, tq, sq = (quantiles(x[chosen], qs) for x in (val, test, sel))
      frac = float(np.isinf(sel[chosen]).mean())
    for (name, _), v, t, s in zip(QUANTILES, vq, tq, sq):
      row[f"validation_{name}"] = float(v)
      row[f"test_{name}"] = float(t)
      row[f"selected_{name}"] = float(s)
    row["frac_all_lost"] = frac
    rows.append(row)
  return rows


def bootstrap_best(df: pd.DataFrame, metric: str, num_trials: int | Iterable[int],
                   num_resamples: int = 1000, seed: int = 0,
                   optimizers: Sequence[str] | None = None, *,
                   select: str | None = None) -> pd.DataFrame:
  """A row per (optimizer, K): best-of-K validation and test metric, median, p5 and p95.

  Columns: optimizer, K, n_finished, n_lost, validation_median, validation_p5,
  validation_p95, test_median, test_p5, test_p95, frac_all_lost, selected_median,
  selected_p5, selected_p95. `select`: the column trials are chosen by
  (`final.<split>.<metric>` or `<split>.<metric>`; default the validation `metric`); the
  validation and test values are those of the chosen trial. See the module docstring for
  how lost (diverged) trials are counted. An optimizer without finished trials gets NaN.
  """
  ks = k_values(num_trials)
  if optimizers is None:
    optimizers = list(dict.fromkeys(df["optimizer"]))
  rows = []
  for opt in optimizers:
    sel, val, test = trial_outcomes(df, metric, opt, select)
    rows.extend(summarize(opt, sel, val, test, ks, num_resamples, seed))
  return pd.DataFrame(rows, columns=COLUMNS)


SETTLE_STEPS = 2  # further K steps without change that a "settled" claim needs


def settling_k(boot: pd.DataFrame, tolerance: float, split: str = "validation",
               further: int = SETTLE_STEPS) -> dict[str, int | None]:
  """Per optimizer: the smallest K > 1 of the table after which the best-of-K `split` median
  changes by less than `tolerance` (absolute) from each K to the next, through at least
  `further` such steps (so the last K it can be claimed at is the table's `further`-th from
  last). None when the last step still changes it by `tolerance` or more (or a median is not
  finite there), or too few steps follow. Never K = 1: the best-of-1 median is every
  trial's median, and where it happens to sit says nothing about tuning."""
  out: dict[str, int | None] = {}
  for opt in dict.fromkeys(boot["optimizer"]):
    r = boot[boot["optimizer"] == opt].sort_values("K")
    out[opt] = _settled_at(r["K"].to_list(), r[f"{split}_median"].to_numpy(float),
                           tolerance, further)
  return out


def _settled_at(ks: Sequence[int], med: np.ndarray, tolerance: float, further: int
                ) -> int | None:
  """`settling_k` for one optimizer's K values and medians."""
  small = unchanged_steps(med, tolerance)
  settled = None
  for i in range(len(small) - 1, -1, -1):  # walk back over the trailing small changes
    if not small[i] or ks[i] <= 1:
      break
    if len(small) - i >= further:
      settled = int(ks[i])
  return settled


def unchanged_steps(med: np.ndarray, tolerance: float) -> np.ndarray:
  """Per step from one K to the next: whether both medians are finite and differ by less
  than `tolerance`."""
  med = np.asarray(med, float)
  with np.errstate(invalid="ignore"):
    return np.isfinite(med[1:]) & np.isfinite(med[:-1]) & (np.abs(np.diff(med)) < tolerance)


def prob_a_beats_b(df: pd.DataFrame, metric: str, a: str, b: str,
                   ks: int | Iterable[int], num_resamples: int = 1000, seed: int = 0,
                   split: str = "validation", *, select: str | None = None) -> pd.DataFrame:
  """Per K: the probability that A's best-of-K trial beats B's best-of-K trial.

  Both tuners draw K trials independently (with the same resampled indices as
  `bootstrap_best`) and choose by `select` (default the validation metric); their chosen
  trials are compared on `split` ("validation" or "test").
  A strictly lower value beats; ties (including both losing everything) count one half.
  Columns: K, p_a_beats_b, p_tie. NaN when either optimizer has no finished trials.
  """
  if split not in ("validation", "test"):
    raise ValueError(f"split must be 'validation' or 'test', got {split!r}")
  sa_, va, ta = trial_outcomes(df, metric, a, select)
  sb_, vb, tb = trial_outcomes(df, metric, b, select)
  rows = []
  for k in k_values(ks):
    if va.size == 0 or vb.size == 0:
      rows.append({"K": k, "p_a_beats_b": np.nan, "p_tie": np.nan})
      continue
    xa = best_of_k(va, ta, resample_indices(va.size, k, num_resamples, seed, a), sa_)
    xb = best_of_k(vb, tb, resample_indices(vb.size, k, num_resamples, seed, b), sb_)
    sa, sb = (xa[0], xb[0]) if split == "validation" else (xa[1], xb[1])
    ok = ~(np.isnan(sa) | np.isnan(sb))
    sa, sb = sa[ok], sb[ok]
    if sa.size == 0:
      rows.append({"K": k, "p_a_beats_b": np.nan, "p_tie": np.nan})
      continue
    tie = sa == sb
    win = sa < sb
    rows.append({"K": k, "p_a_beats_b": float(win.mean() + 0.5 * tie.mean()),
                 "p_tie": float(tie.mean())})
  return pd.DataFrame(rows, columns=["K", "p_a_beats_b", "p_tie"])
