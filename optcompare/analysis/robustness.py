"""Budget and target robustness of the inclusion relations (Choi et al. 2019, Fig. 10).

From the per-step logs (metrics.jsonl, `load.load_curves`, or a committed `curves.csv`):

(a) Budget: best-of-K as if the step budget had ended at each evaluation step. At step s each
    finished trial (completed or diverged) is chosen by its selection value at s (the study's
    rule: by default its validation metric) and reports its validation and test metric at s.
    A trial without a finite selection value at s (it diverged before s, or its line is
    missing) is lost, as in `bootstrap.bootstrap_best`. The test split may be evaluated at
    some steps only: where it was not, the chosen trial's test value is NaN (left out).
    Approximation: a trial run with a linear-decay schedule tied to the full budget had not
    finished decaying at an earlier step, so its value there is not what a trial tuned for
    that budget would have reached.
(b) Targets: steps to reach `split` metric <= t for a range of targets t (by default
    `DEFAULT_NUM_TARGETS` values evenly spaced between the study's best final validation
    metric and the median final validation metric of its completed trials). A trial's steps to
    t is its first evaluation step at or below t (even if it diverged later: as if the budget
    had ended there), +inf if it never got there. Best-of-K is the fewest steps among K
    resampled trials (+inf when none of the K reached t).

Both use the resampled indices of `bootstrap.resample_indices` (so, for one optimizer and K, the
same draws as the main best-of-K table) and judge each inclusion pair with
`diagnostics.inclusion_check`'s rule (lower is better) at the largest K.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from etils import epath

from optcompare import errors, studydir
from optcompare.analysis import bootstrap as bootstrap_lib
from optcompare.analysis import diagnostics
from optcompare.analysis import verdicts as verdict_rule
from optcompare.studydir import FINISHED

CURVES_TABLE = studydir.CURVES_TABLE  # the evaluation curves `analyze` writes beside trials.csv
EVAL_SPLITS = ("validation", "test", "train_eval")
DEFAULT_NUM_TARGETS = 8
_DROP = ("optimizer", "index", "wall_time_s")


# ---- the curves: from the trial directories or a committed table ----

def curves_table(curves: pd.DataFrame) -> pd.DataFrame:
  """The evaluation rows of a `load_curves` table: trial_id, step, split, metrics."""
  rows = curves[curves["split"].isin(EVAL_SPLITS)]
  cols = [c for c in rows.columns if c not in _DROP]
  rows = rows[cols].dropna(axis=1, how="all")
  return rows.reset_index(drop=True)


def save_curves_table(curves: pd.DataFrame, path: epath.PathLike) -> None:
  with epath.Path(path).open("w") as f:
    curves_table(curves).to_csv(f, index=False, lineterminator="\n")


def read_curves_table(path: epath.PathLike) -> pd.DataFrame:
  """A curves.csv written by `save_curves_table`; BadInputError naming it if damaged."""
  path = epath.Path(path)
  try:
    with path.open("r") as f:
      df = pd.read_csv(f)
    missing = {"trial_id", "step", "split"} - set(df.columns)
    if missing:
      raise ValueError(f"lacks columns {sorted(missing)}")
    df["step"] = pd.to_numeric(df["step"], errors="raise").astype(int)
    for col in df.columns:
      if col not in ("trial_id", "split", "step"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
  except (ValueError, TypeError, pd.errors.ParserError, pd.errors.EmptyDataError,
          UnicodeDecodeError) as e:
    raise errors.BadInputError(f"{path}: corrupt curves table "
                               f"({str(e).strip().splitlines()[0]})") from e
  return df


# ---- per-trial values at each evaluation step ----

def _finished_ids(df: pd.DataFrame, optimizer: str) -> list[str]:
  """An optimizer's finished trials, ordered by index (as `bootstrap.trial_outcomes`)."""
  rows = df[(df["optimizer"] == optimizer) & df["status"].isin(FINISHED)]
  return rows.sort_values("index", kind="stable")["trial_id"].astype(str).to_list()


def eval_steps(curves: pd.DataFrame, df: pd.DataFrame, split: str) -> list[int]:
  """The steps at which finished trials evaluated `split`, ascending."""
  finished = set(df.loc[df["status"].isin(FINISHED), "trial_id"].astype(str))
  rows = curves[(curves["split"] == split) & curves["trial_id"].astype(str).isin(finished)]
  return sorted(int(s) for s in rows["step"].unique())


def values_at_steps(curves: pd.DataFrame, df: pd.DataFrame, optimizers: Sequence[str],
                    split: str, metric: str, steps: Sequence[int]) -> dict[str, np.ndarray]:
  """optimizer -> (finished trials, steps) array of `split` `metric`; NaN where not logged."""
  rows = curves[curves["split"] == split]
  if metric in rows.columns and len(rows):
    rows = rows.drop_duplicates(subset=["trial_id", "step"], keep="last")
    wide = rows.pivot(index="trial_id", columns="step", values=metric)
  else:
    wide = pd.DataFrame()
  out = {}
  for opt in optimizers:
    ids = _finished_ids(df, opt)
    out[opt] = wide.reindex(index=ids, columns=list(steps)).to_numpy(dtype=float,
                                                                     na_value=np.nan)
  return out


# ---- (a) budgets ----

def budget_bootstrap(curves: pd.DataFrame, df: pd.DataFrame, metric: str,
                     ks: int | Sequence[int], *, select_split: str = "validation",
                     select_metric: str | None = None, num_resamples: int = 1000,
                     seed: int = 0, optimizers: Sequence[str] | None = None) -> pd.DataFrame:
  """`bootstrap.bootstrap_best` as if the budget had ended at each evaluation step of the
  selection split: a row per (step, optimizer, K), columns `step` + `bootstrap.COLUMNS`."""
  ks = bootstrap_lib.k_values(ks)
  optimizers = list(optimizers or diagnostics.order_optimizers(df["optimizer"]))
  select_metric = select_metric or metric
  steps = eval_steps(curves, df, select_split)
  sel = values_at_steps(curves, df, optimizers, select_split, select_metric, steps)
  val = values_at_steps(curves, df, optimizers, "validation", metric, steps)
  test = values_at_steps(curves, df, optimizers, "test", metric, steps)
  rows = []
  for j, step in enumerate(steps):
    for opt in optimizers:
      s, v, t = sel[opt][:, j].copy(), val[opt][:, j].copy(), test[opt][:, j].copy()
      lost = ~np.isfinite(s)
      for x in (s, v, t):
        x[lost] = np.inf
      for r in bootstrap_lib.summarize(opt, s, v, t, ks, num_resamples, seed):
        rows.append({"step": step, **r})
  return pd.DataFrame(rows, columns=["step"] + bootstrap_lib.COLUMNS)


def verdicts(table: pd.DataFrame, key: str, k: int | None = None,
             min_trials: int = verdict_rule.MIN_TRIALS
             ) -> dict[float, list[diagnostics.InclusionResult]]:
  """key value (a step or a target) -> the inclusion check of that slice of a budget or
  target table (at its largest K, or `k`), by the same rule as the main table (too few
  finished trials or K below `min_trials`: inconclusive). A target table's steps_* columns
  are judged."""
  if "steps_median" in table.columns:
    table = table.rename(columns={f"steps_{q}": f"validation_{q}"
                                  for q in ("median", "p5", "p95")})
  return {value: diagnostics.inclusion_check(group, k=k, min_trials=min_trials)
          for value, group in table.groupby(key, sort=True)}


# ---- (b) targets ----

def default_targets(df: pd.DataFrame, metric: str, num: int = DEFAULT_NUM_TARGETS
                    ) -> list[float]:
  """`num` targets evenly spaced from the best final validation `metric` of the completed
  trials to their median (one target if they coincide; none without completed trials)."""
  col = bootstrap_lib.metric_column(metric, "validation")
  if col not in df.columns or num < 1:
    return []
  v = df.loc[df["status"] == "completed", col].to_numpy(dtype=float, na_value=np.nan)
  v = v[np.isfinite(v)]
  if not v.size:
    return []
  best, median = float(v.min()), float(np.median(v))
  if num == 1 or best == median:
    return [best]
  return [float(x) for x in np.linspace(best, median, num)]


def steps_to_reach(curves: pd.DataFrame, df: pd.DataFrame, metric: str,
                   targets: Sequence[float], optimizers: Sequence[str],
                   split: str = "validation") -> dict[str, np.ndarray]:
  """optimizer -> (finished trials, targets) array: the first evaluation step at which the
  trial's `split` `metric` was <= the target; +inf if never."""
  steps = eval_steps(curves, df, split)
  values = values_at_steps(curves, df, optimizers, split, metric, steps)
  steps_arr = np.asarray(steps, dtype=float)
  out = {}
  for opt in optimizers:
    v = values[opt]
    reach = np.full((v.shape[0], len(targets)), np.inf)
    for j, t in enumerate(targets):
      with np.errstate(invalid="ignore"):
        hit = np.nan_to_num(v, nan=np.inf) <= t
      first = hit.argmax(axis=1)
      ok = hit.any(axis=1)
      reach[ok, j] = steps_arr[first[ok]]
    out[opt] = reach
  return out


TARGET_COLUMNS = ["target", "optimizer", "K", "n_finished", "n_reached", "steps_median",
                  "steps_p5", "steps_p95", "frac_never"]


def target_bootstrap(curves: pd.DataFrame, df: pd.DataFrame, metric: str,
                     ks: int | Sequence[int], targets: Sequence[float], *,
                     split: str = "validation", num_resamples: int = 1000, seed: int = 0,
                     optimizers: Sequence[str] | None = None) -> pd.DataFrame:
  """A row per (target, optimizer, K): best-of-K (fewest) steps to reach the target, median,
  p5 and p95 (+inf sorts last), n_reached (trials that reached it) and frac_never (the
  fraction of resamples in which none of the K did)."""
  ks = bootstrap_lib.k_values(ks)
  optimizers = list(optimizers or diagnostics.order_optimizers(df["optimizer"]))
  reach = steps_to_reach(curves, df, metric, targets, optimizers, split)
  qs = [q for _, q in bootstrap_lib.QUANTILES]
  rows = []
  for j, target in enumerate(targets):
    for opt in optimizers:
      x = reach[opt][:, j]
      for k in ks:
        row = {"target": float(target), "optimizer": opt, "K": k, "n_finished": x.size,
               "n_reached": int(np.isfinite(x).sum())}
        if x.size == 0:
          q, frac = np.full(len(qs), np.nan), np.nan
        else:
          idx = bootstrap_lib.resample_indices(x.size, k, num_resamples, seed, opt)
          best = x[idx].min(axis=1)
          q, frac = bootstrap_lib.quantiles(best, qs), float(np.isinf(best).mean())
        for (name, _), value in zip(bootstrap_lib.QUANTILES, q):
          row[f"steps_{name}"] = float(value)
        row["frac_never"] = frac
        rows.append(row)
  return pd.DataFrame(rows, columns=TARGET_COLUMNS)
