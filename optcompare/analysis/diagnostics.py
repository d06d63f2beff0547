"""Search-space diagnostics and the inclusion check (Choi et al. 2019, §3 and Appendix E).

Search-space specs (the study config's `search_spaces[optimizer][hparam]`):
  {"scale": "log", "min", "max"}            sampled log-uniformly in [min, max]
  {"scale": "linear", "min", "max"}         sampled uniformly
  {"scale": "one_minus_log", "min", "max"}  min/max bound x itself; 1-x sampled log-uniformly
  {"scale": "choice", "values": [...]}       one of a list
  {"scale": "fixed", "value": x}             not tuned
  {"scale": "derived", "of", "times", "power"}  value = hp[of] * hp[times] ** power; not tuned
The "search scale" of a tuned hyperparameter is log10(x) (log), x (linear), log10(1-x)
(one_minus_log): the space in which the search was uniform. What each scale means is defined
once, in optcompare.search.spaces (`BOUNDED`, `Spec`); the dict specs of study.json are read
through `Spec.from_dict`. Natural limits of the hyperparameters come from optcompare.hparams.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from optcompare.analysis import markdown
from optcompare.analysis import verdicts
from optcompare.analysis.bootstrap import metric_column
from optcompare.hparams import is_natural_limit  # pylint: disable=unused-import  (re-exported)
from optcompare.search import spaces

TUNED_SCALES = spaces.SAMPLED
BOUNDED_SCALES = tuple(spaces.BOUNDED)

# (general, special): the general optimizer includes the special one (DESIGN.md §1).
INCLUSIONS: tuple[tuple[str, str], ...] = (
    ("momentum", "sgd"),
    ("rmsprop", "momentum"),
    ("adam", "momentum"),
    ("nesterov", "sgd"),
    ("nadam", "nesterov"),
)
# Plot / table order: by inclusion family, others after (alphabetically).
FAMILY_ORDER = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")


def order_optimizers(names) -> list[str]:
  names = list(dict.fromkeys(names))
  known = [o for o in FAMILY_ORDER if o in names]
  return known + sorted(o for o in names if o not in FAMILY_ORDER)


def tuned_hparams(space: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
  """The hyperparameters of one optimizer's space that were searched over, in order."""
  return {name: spec for name, spec in space.items()
          if isinstance(spec, Mapping) and spec.get("scale") in TUNED_SCALES}


def bounded_spec(name: str, spec: Mapping[str, Any]) -> spaces.Spec:
  """The Spec of a log, linear or one_minus_log dict spec; ValueError for another scale."""
  if spec.get("scale") not in BOUNDED_SCALES:
    raise ValueError(f"scale {spec.get('scale')!r} has no numeric search scale")
  return spaces.Spec.from_dict(name, spec)


def to_search_scale(values, spec: Mapping[str, Any], name: str = "") -> np.ndarray:
  """Values -> the coordinate in which the search was uniform (`Spec.search_coordinate`)."""
  return bounded_spec(name, spec).search_coordinate(values)


def search_bounds(spec: Mapping[str, Any], name: str = "") -> tuple[float, float]:
  """(low, high) on the search scale."""
  lo, hi = to_search_scale([spec["min"], spec["max"]], spec, name)
  return (float(min(lo, hi)), float(max(lo, hi)))


def scale_label(name: str, spec: Mapping[str, Any]) -> str:
  """The axis label of `name` on its scale: "1 − beta1 (log scale)"; the name itself for a
  linear or choice spec."""
  scale = spaces.BOUNDED.get(spec.get("scale"))
  return scale.label(name) if scale else name


@dataclasses.dataclass(frozen=True)
class BoundaryWarning:
  optimizer: str
  hparam: str
  bound: str          # "min" or "max": which bound of x itself (as the spec gives it)
  bound_value: float
  trial_id: str
  value: float
  metric_value: float
  rank: int           # 1 = best trial of the optimizer
  num_top: int
  natural: bool = False  # the bound is the hyperparameter's natural limit (hparams.TABLE)
  scale: str = ""        # the spec's scale: "log", "linear" or "one_minus_log"
  tolerance: float = 0.05  # the fraction of the range's width on that scale

  def coordinate(self) -> str:
    """The quantity the distance to the bound is measured on: log10(epsilon),
    log10(1 − beta2), decay_factor."""
    return search_coordinate_name(self.hparam, self.scale)

  def message(self) -> str:
    advice = ("the hyperparameter's natural limit, so the space cannot grow there"
              if self.natural else "widen the search space")
    return (f"{self.optimizer}: {self.hparam} = {format_value(self.value)} of top trial "
            f"{self.trial_id} (rank {self.rank} of the top {self.num_top}) lies within "
            f"{self.tolerance:.0%} of the search range's width, measured on "
            f"{self.coordinate()}, from the search bound {self.bound} = "
            f"{format_value(self.bound_value)}; {advice}")


def search_coordinate_name(name: str, scale: str) -> str:
  """How the search scale of `name` reads: log10(name) (log), log10(1 − name)
  (one_minus_log), name (linear); "the search scale" when the scale is not known."""
  return {"log": f"log10({name})", "one_minus_log": f"log10(1 − {name})",
          "linear": name}.get(scale, "the search scale")


def format_value(x: float) -> str:
  """A hyperparameter value for a message, 4 significant digits; within 0.01 below 1 as
  1 − (1 − x), since β2 = 0.99999 would print as 1 and 0.99899 and 0.999 alike (the report's
  tables print values with the same rule: markdown.hparam_value)."""
  return markdown.hparam_value(float(x))


def best_trials(df: pd.DataFrame, optimizer: str, metric: str, n: int | None = None
                ) -> pd.DataFrame:
  """An optimizer's completed trials with a finite validation metric, best first (ties by
  index); the first n if given."""
  col = metric_column(metric, "validation")
  if col not in df.columns:
    return df.iloc[0:0]
  rows = df[(df["optimizer"] == optimizer) & (df["status"] == "completed")]
  rows = rows[np.isfinite(rows[col].to_numpy(dtype=float, na_value=np.nan))]
  rows = rows.sort_values([col, "index"], kind="stable")
  return rows if n is None else rows.head(n)


def top_trials(df: pd.DataFrame, optimizer: str, metric: str,
               top_fraction: float = 0.1) -> pd.DataFrame:
  """The best ceil(top_fraction * n) of an optimizer's n completed trials (at least one)."""
  rows = best_trials(df, optimizer, metric)
  return rows.head(max(1, math.ceil(top_fraction * len(rows))))


def boundary_warnings(df: pd.DataFrame, search_spaces: Mapping[str, Mapping[str, Any]],
                      metric: str, top_fraction: float = 0.1, tolerance: float = 0.05
                      ) -> list[BoundaryWarning]:
  """Top trials (best `top_fraction` of each optimizer's completed trials by validation
  metric) whose tuned hyperparameter lies within `tolerance` of the search range's width
  (on the search scale) from one of its bounds: `Spec.to_unit` within `tolerance` of 0 (the
  spec's min) or of 1 (its max), whatever the scale. Choice hyperparameters have no bounds."""
  out = []
  col = metric_column(metric, "validation")
  for opt in order_optimizers(df["optimizer"]):
    space = search_spaces.get(opt)
    if not space:
      continue
    top = top_trials(df, opt, metric, top_fraction)
    if top.empty:
      continue
    for name, spec in tuned_hparams(space).items():
      if spec["scale"] not in BOUNDED_SCALES or f"hp.{name}" not in top.columns:
        continue
      s = bounded_spec(name, spec)
      units = [s.to_unit(x) for x in np.asarray(top[f"hp.{name}"], dtype=float)]
      for rank, (u, (_, row)) in enumerate(zip(units, top.iterrows()), start=1):
        near_min, near_max = u <= tolerance, 1.0 - u <= tolerance
        if not (near_min or near_max):
          continue
        bound = "min" if near_min and u <= 1.0 - u else "max"
        out.append(BoundaryWarning(
            optimizer=opt, hparam=name, bound=bound, bound_value=float(spec[bound]),
            trial_id=str(row["trial_id"]), value=float(row[f"hp.{name}"]),
            metric_value=float(row[col]), rank=rank, num_top=len(top),
            natural=is_natural_limit(name, bound, float(spec[bound])),
            scale=str(spec["scale"]), tolerance=tolerance))
  return out


@dataclasses.dataclass(frozen=True)
class InclusionResult:
  general: str
  special: str
  K: int
  verdict: str        # "held" | "violated" | "inconclusive" (analysis/verdicts.py)
  general_band: tuple[float, float, float]   # (p5, median, p95) best-of-K validation
  special_band: tuple[float, float, float]
  reason: str
  trials: tuple[float, float] = (math.nan, math.nan)  # finished trials (general, special)
  too_few: bool = False  # inconclusive because the study is too small to tell

  def message(self) -> str:
    g, s = self.general_band, self.special_band
    return (f"{self.special} ⊆ {self.general} at K={self.K}: {self.verdict} — "
            f"{self.general} {g[1]:.4g} [{g[0]:.4g}, {g[2]:.4g}] vs "
            f"{self.special} {s[1]:.4g} [{s[0]:.4g}, {s[2]:.4g}]; {self.reason}")


def _band_at(rows: pd.DataFrame, k: int) -> tuple[tuple[float, float, float], float]:
  """(p5, median, p95) of the validation metric at K = `k`, and the finished trials (NaN
  where the table does not count them)."""
  r = rows[rows["K"] == k].iloc[0]
  band = (float(r["validation_p5"]), float(r["validation_median"]),
          float(r["validation_p95"]))
  return band, float(r.get("n_finished", math.nan))


def inclusion_check(boot: pd.DataFrame, pairs: Sequence[tuple[str, str]] = INCLUSIONS,
                    k: int | None = None, min_trials: int = verdicts.MIN_TRIALS
                    ) -> list[InclusionResult]:
  """For each (general, special) pair present in the bootstrap table: does the general
  optimizer do at least as well as the one it includes, at the largest K both have (or `k`)?

  On the best-of-K validation metric (lower is better), by `verdicts.judge`: held, violated
  or inconclusive from the bands [p5, p95] and medians, inconclusive whenever either
  optimizer has fewer than `min_trials` finished trials (the table's `n_finished`; a table
  without it counts none) or K < `min_trials`.
  """
  out = []
  present = set(boot["optimizer"])
  for general, special in pairs:
    if general not in present or special not in present:
      continue
    g_rows, s_rows = boot[boot["optimizer"] == general], boot[boot["optimizer"] == special]
    common = sorted(set(g_rows["K"]) & set(s_rows["K"]))
    if not common:
      continue
    kk = int(k if k is not None else common[-1])
    (gb, ng), (sb, ns) = _band_at(g_rows, kk), _band_at(s_rows, kk)
    verdict, reason, too_few = verdicts.judge(general, special, kk, gb, sb, ng, ns,
                                              min_trials)
    out.append(InclusionResult(general, special, kk, verdict, gb, sb, reason, (ng, ns),
                               too_few))
  return out


# Bands this wide claim little even where the study has the trials for a verdict.
MIN_EVIDENCE_K = verdicts.MIN_TRIALS
MAX_BAND_SPAN = 0.5  # of the range of the two optimizers' outcomes


def weak_inclusions(results: Sequence[InclusionResult], df: pd.DataFrame, metric: str,
                    min_k: int = MIN_EVIDENCE_K, max_span: float = MAX_BAND_SPAN
                    ) -> list[tuple[InclusionResult, str]]:
  """The held or violated verdicts that say little, each with why: K < `min_k` (only where
  a caller judged with fewer trials than the rule's), or the two 5–95% bands together
  spanning more than `max_span` of the range of the two optimizers' outcomes (finite
  validation metric of their completed trials), where a "held" follows from almost any pair
  of results. Inconclusive verdicts are left out: they claim nothing."""
  col = metric_column(metric, "validation")
  out = []
  for r in results:
    if r.verdict == verdicts.INCONCLUSIVE:
      continue
    if r.K < min_k:
      out.append((r, f"K = {r.K} < {min_k}"))
      continue
    span = _band_span(r, df, col)
    if span is not None and span > max_span:
      out.append((r, f"the bands span {span:.0%} of the outcomes"))
  return out


def _band_span(r: InclusionResult, df: pd.DataFrame, col: str) -> float | None:
  """The fraction of the two optimizers' range of outcomes that their bands cover together;
  None where it cannot be measured (no column, fewer than two distinct finite outcomes)."""
  if col not in df.columns:
    return None
  rows = df[df["optimizer"].isin((r.general, r.special)) & (df["status"] == "completed")]
  values = rows[col].to_numpy(float)
  values = values[np.isfinite(values)]
  bands = np.array(r.general_band + r.special_band, float)
  if values.size < 2 or np.isfinite(bands).sum() < 2 or values.max() <= values.min():
    return None
  lo = min(r.general_band[0], r.special_band[0])
  hi = max(r.general_band[2], r.special_band[2])
  return (min(hi, values.max()) - max(lo, values.min())) / (values.max() - values.min())


def closing_budget(boot: pd.DataFrame, result: InclusionResult) -> str | None:
  """For a pair that is not held: how many trials the general optimizer would need for its
  best-of-K median to reach the included one's 95th percentile (the held threshold), if the
  median kept falling per doubling of K as it did over the last doubling. Best-of-K curves
  flatten, so this is a lower bound; a median that stopped falling cannot close the gap with
  more trials of the same space. None for a held pair, one too small to judge (its gap is
  not measured) or a K below 2."""
  if result.verdict == verdicts.HELD or result.too_few or result.K < 2:
    return None
  g = boot[boot["optimizer"] == result.general].set_index("K")["validation_median"]
  gap = result.general_band[1] - result.special_band[2]
  half = result.K // 2
  if half not in g.index or not (math.isfinite(gap) and math.isfinite(g[half])):
    return None
  drop = float(g[half] - g[result.K])
  pair = f"{result.special} ⊆ {result.general}"
  if drop <= 0:
    return (f"{pair}: {result.general}'s best-of-K median did not fall from K = {half} to "
            f"{result.K}; more trials of this space would not close the gap of {gap:.3g}")
  k_needed = result.K * 2.0 ** (gap / drop)
  return (f"{pair}: the gap of {gap:.3g} at {drop:.3g} per doubling of K (the last one) "
          f"needs K ≥ {k_needed:.3g} trials of {result.general}")
