"""The range arithmetic of `optcompare refine`: from an initial study's top trials to refined
search spaces (steps 1-5 of the package docstring).

In each searched coordinate's search scale (log10 x, x, log10(1 − x)): the top trials, their
span widened by the margin and to a minimum width, clipped at the initial bounds (past one only
where the boundary check flags a top trial) and at natural limits, grown to hold the --contain
studies' best trials, and rounded outward to `Bound`s. `refine_spaces` returns a `Refinement`:
the new spaces and the record (`Change`, `Contained`) that the written file reports.
"""
from __future__ import annotations

import dataclasses
import decimal
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from optcompare import hparams as hparams_lib
from optcompare import study_manifest
from optcompare.analysis import containment
from optcompare.analysis import diagnostics
from optcompare.analysis.bootstrap import metric_column
from optcompare.search import spaces as spaces_lib

DEFAULT_TOP = 0.25
DEFAULT_MARGIN = 0.25
MIN_TRIALS = 2            # top trials per optimizer, at least (when it has that many)
MIN_WIDTH_FRACTION = 0.1  # of the initial range's width in the search coordinate
CONTAIN_PAD = 0.1         # of the grown width, beyond a contained point
SIGNIFICANT_DIGITS = 3


@dataclasses.dataclass(frozen=True)
class Bound:
  """One bound of a refined range: its value and the Python expression that gives it."""
  value: float
  expr: str


@dataclasses.dataclass
class Change:
  """One searched coordinate of one optimizer: its initial and refined range (of x)."""
  optimizer: str
  name: str
  scale: str
  old: tuple[float, float]
  new: tuple[Bound, Bound]
  width_ratio: float  # refined / initial width in the search coordinate
  notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Contained:
  """One --contain study's best trial of one optimizer, and where it lies in the result."""
  study: str
  optimizer: str
  trial_id: str
  inside: bool | None
  reasons: tuple[str, ...] = ()

  def text(self) -> str:
    what = {True: "inside", False: "OUTSIDE", None: "undetermined"}[self.inside]
    why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
    return f"{self.study} {self.trial_id}: {what}{why}"


@dataclasses.dataclass
class Refinement:
  """What `refine_spaces` computes: the new spaces (dict specs, in the initial order, bounded
  ones holding `Bound`s) and the record of how."""
  spaces: dict[str, dict[str, Any]]
  changes: dict[str, list[Change]]
  counts: dict[str, tuple[int, int]]   # optimizer -> (top trials, completed trials)
  best: dict[str, tuple[str, float]]   # optimizer -> (best trial id, its metric)
  notes: dict[str, list[str]]          # optimizer -> notes (no trials, skipped points)
  contained: list[Contained]

  def plain_spaces(self) -> dict[str, dict[str, dict]]:
    """The spaces as a study config holds them (Bounds as floats)."""
    return {opt: {name: _plain(spec) for name, spec in space.items()}
            for opt, space in self.spaces.items()}


def _plain(spec: Mapping[str, Any]) -> dict:
  return {k: (v.value if isinstance(v, Bound) else v) for k, v in spec.items()}


# ---- the search coordinate ----

def _coordinate(spec: spaces_lib.Spec, x: float) -> float:
  return float(spec.search_coordinate([x])[0])


def _limits(name: str, spec: spaces_lib.Spec, old: tuple[float, float]) -> tuple[float, float]:
  """(low, high) in the search coordinate that no refined range may pass: the
  hyperparameter's natural limits (its domain where it has none), within the scale's domain.
  An open end of a linear coordinate's domain is kept 1% of the initial width inside."""
  h = hparams_lib.TABLE.get(name)
  lo_x, hi_x, lo_open, hi_open = -math.inf, math.inf, False, False
  if h is not None:
    lo_x = h.natural[0] if h.natural[0] is not None else h.domain.low
    hi_x = h.natural[1] if h.natural[1] is not None else h.domain.high
    lo_open = lo_x == h.domain.low and h.domain.low_open
    hi_open = hi_x == h.domain.high and h.domain.high_open
  if spec.scale == "linear":
    pad = 0.01 * (old[1] - old[0])
    return (lo_x + pad if lo_open else lo_x), (hi_x - pad if hi_open else hi_x)
  if spec.scale == "one_minus_log":
    lo_x, hi_x = max(lo_x, 0.0), min(hi_x, 1.0)
  else:  # log
    lo_x = max(lo_x, 0.0)
  with np.errstate(divide="ignore", invalid="ignore"):
    ends = [_coordinate(spec, lo_x), _coordinate(spec, hi_x)]
  ends = [(-math.inf if math.isnan(c) else c) for c in ends]
  return min(ends), max(ends)


def _to_bounds(name: str, spec: spaces_lib.Spec, lo: float, hi: float,
               limits: tuple[float, float]) -> tuple[Bound, Bound]:
  """The range [lo, hi] of the search coordinate as (min, max) of x, rounded outward."""
  if spec.scale == "linear":
    low = _round(lo, "down")
    high = _round(hi, "up")
    low, high = max(low, limits[0]), min(high, limits[1])
    bounds = (Bound(low, repr(low)), Bound(high, repr(high)))
  elif spec.scale == "log":
    low, high = _round(10.0 ** lo, "down"), _round(10.0 ** hi, "up")
    high = min(high, 10.0 ** limits[1]) if math.isfinite(limits[1]) else high
    low = max(low, 10.0 ** limits[0]) if math.isfinite(limits[0]) else low
    bounds = (Bound(low, repr(low)), Bound(high, repr(high)))
  else:  # one_minus_log: coordinate log10(1 − x) falls as x grows; x = 1 − s
    s_min, s_max = _round(10.0 ** hi, "up"), _round(10.0 ** lo, "down")
    if math.isfinite(limits[1]):
      s_min = min(s_min, 10.0 ** limits[1])
    bounds = tuple(Bound(0.0, "0.0") if s >= 1.0 else Bound(1.0 - s, f"1 - {s!r}")
                   for s in (s_min, s_max))
  if name in spaces_lib.INT_PARAMS:
    low, high = math.floor(bounds[0].value), math.ceil(bounds[1].value)
    if low == high:
      high += 1
    bounds = (Bound(float(low), repr(float(low))), Bound(float(high), repr(float(high))))
  return bounds


def _round(x: float, direction: str) -> float:
  """x rounded down or up to SIGNIFICANT_DIGITS significant digits (exact decimal steps)."""
  if x == 0 or not math.isfinite(x):
    return x
  d = decimal.Decimal(x)
  q = decimal.Decimal(1).scaleb(d.adjusted() - SIGNIFICANT_DIGITS + 1)
  rounding = decimal.ROUND_FLOOR if direction == "down" else decimal.ROUND_CEILING
  return float((d / q).to_integral_value(rounding=rounding) * q)


# ---- the refinement ----

def top_trials(df: pd.DataFrame, optimizer: str, metric: str, top: float
               ) -> tuple[pd.DataFrame, int]:
  """(the top trials whose span gives the new range, the optimizer's completed trials)."""
  rows = diagnostics.best_trials(df, optimizer, metric)
  n = max(MIN_TRIALS, math.ceil(top * len(rows)))
  return rows.head(n), len(rows)


def _flagged(df: pd.DataFrame, spaces: Mapping[str, Mapping], metric: str) -> set:
  """(optimizer, hparam, "min"|"max" of x) where the boundary check flags a top trial at a
  bound that is not a natural limit."""
  return {(w.optimizer, w.hparam, w.bound)
          for w in diagnostics.boundary_warnings(df, spaces, metric) if not w.natural}


def _grow_sides(spec: spaces_lib.Spec, opt: str, name: str, flagged: set) -> tuple[bool, bool]:
  """Whether the coordinate's (low, high) side may grow past the initial bound."""
  at_min, at_max = (opt, name, "min") in flagged, (opt, name, "max") in flagged
  return (at_max, at_min) if spec.scale == "one_minus_log" else (at_min, at_max)


def _settings_coordinates(settings: Mapping[str, float], space: Mapping[str, Mapping]
                          ) -> dict[str, float]:
  """`settings` plus the search-only coordinates that the space's derived specs determine
  (containment's reading: of = value / times**power)."""
  coords = dict(settings)
  for name, raw in space.items():
    if raw.get("scale") != "derived":
      continue
    spec = spaces_lib.Spec.from_dict(name, raw)
    if spec.of not in coords and name in coords and coords.get(spec.times):
      coords[spec.of] = spec.solve_of(coords[name], coords[spec.times])
  return coords


@dataclasses.dataclass
class _Range:
  spec: spaces_lib.Spec
  lo: float
  hi: float
  old_lo: float
  old_hi: float
  limits: tuple[float, float]
  notes: list[str]


def _keep_initial(r: _Range, bounds: tuple[Bound, Bound]) -> tuple[Bound, Bound]:
  """Outward rounding never takes a bound past the initial one on a side that did not grow."""
  low_grew, high_grew = r.lo < r.old_lo, r.hi > r.old_hi
  if r.spec.scale == "one_minus_log":
    low_grew, high_grew = high_grew, low_grew
  low, high = bounds
  if not low_grew and low.value < r.spec.low:
    low = Bound(r.spec.low, repr(r.spec.low))
  if not high_grew and high.value > r.spec.high:
    high = Bound(r.spec.high, repr(r.spec.high))
  return low, high


def _record_top(result: Refinement, opt: str, rows: pd.DataFrame, n: int, col: str) -> None:
  """Counts, notes and best trial of one optimizer's top trials, into `result`."""
  result.counts[opt] = (len(rows), n)
  result.notes[opt] = []
  if n == 0:
    result.notes[opt].append("no completed trials: the initial space is kept")
  else:
    result.best[opt] = (str(rows.iloc[0]["trial_id"]), float(rows.iloc[0][col]))


def _top_coordinates(spec: spaces_lib.Spec, name: str, rows: pd.DataFrame) -> np.ndarray:
  """The finite search coordinates of the top trials' values of `name`."""
  column = f"hp.{name}"
  values = np.asarray(rows[column], dtype=float) if column in rows.columns else np.array([])
  coords = spec.search_coordinate(values[np.isfinite(values)]) if len(values) else values
  return coords[np.isfinite(coords)]


def _at_least(lo: float, hi: float, min_width: float, clip: tuple[float, float]
              ) -> tuple[float, float]:
  """[lo, hi] grown on both sides, within `clip`, to `min_width` where it is narrower."""
  if hi - lo >= min_width:
    return lo, hi
  extra = min_width - (hi - lo)
  lo_room, hi_room = lo - clip[0], clip[1] - hi
  down = min(lo_room, max(extra / 2, extra - hi_room))
  up = min(hi_room, extra - down)
  return lo - down, hi + up


def _growth_notes(spec: spaces_lib.Spec, lo: float, hi: float, old_lo: float,
                  old_hi: float) -> list[str]:
  """A note for each side of x that grew past its initial bound."""
  notes = []
  for side, grown in (("min", lo < old_lo), ("max", hi > old_hi)):
    if grown:
      which = side if spec.scale != "one_minus_log" else {"min": "max", "max": "min"}[side]
      notes.append(f"grown past the initial {which} (a top trial at that bound)")
  return notes


def _range(name: str, spec: spaces_lib.Spec, rows: pd.DataFrame, margin: float,
           grow: tuple[bool, bool]) -> _Range:
  """The top trials' range of one coordinate (steps 1-3): their span widened by `margin`,
  clipped (past an initial bound only on a side in `grow`), at least the minimum width."""
  old = (_coordinate(spec, spec.low), _coordinate(spec, spec.high))
  old_lo, old_hi = min(old), max(old)
  limits = _limits(name, spec, (spec.low, spec.high))
  coords = _top_coordinates(spec, name, rows)
  if not len(coords):
    return _Range(spec, old_lo, old_hi, old_lo, old_hi, limits, [])
  span = float(coords.max() - coords.min())
  lo, hi = float(coords.min()) - margin * span, float(coords.max()) + margin * span
  clip = (limits[0] if grow[0] else max(old_lo, limits[0]),
          limits[1] if grow[1] else min(old_hi, limits[1]))
  lo, hi = _at_least(max(lo, clip[0]), min(hi, clip[1]),
                     MIN_WIDTH_FRACTION * (old_hi - old_lo), clip)
  return _Range(spec, lo, hi, old_lo, old_hi, limits,
                _growth_notes(spec, lo, hi, old_lo, old_hi))


def _optimizer_ranges(result: Refinement, df: pd.DataFrame, opt: str,
                      space: Mapping[str, Mapping], metric: str, top: float, margin: float,
                      flagged: set) -> dict[str, _Range]:
  """The ranges of one optimizer's bounded coordinates; its counts, notes and best trial
  go into `result`."""
  rows, n = top_trials(df, opt, metric, top)
  _record_top(result, opt, rows, n, metric_column(metric, "validation"))
  ranges = {}
  for name, raw in space.items():
    spec = spaces_lib.Spec.from_dict(name, raw)
    if spec.scale in spaces_lib.BOUNDED:
      ranges[name] = _range(name, spec, rows, margin, _grow_sides(spec, opt, name, flagged))
  return ranges


def _hold(r: _Range, c: float, why: str) -> None:
  """Grows `r` (in place) to hold the coordinate `c`, a pad beyond it, within its limits."""
  if not math.isfinite(c) or r.lo <= c <= r.hi:
    return
  lo, hi = min(r.lo, c), max(r.hi, c)
  pad = CONTAIN_PAD * (hi - lo)
  if c < r.lo:
    lo = max(c - pad, r.limits[0])
  else:
    hi = min(c + pad, r.limits[1])
  r.lo, r.hi = lo, hi
  r.notes.append(why)


def _grow_to_contain(result: Refinement, ranges: dict[str, dict[str, _Range]],
                     initial: Mapping[str, Mapping], schedule: str | None, label: str,
                     other: study_manifest.StudyManifest, other_df: pd.DataFrame) -> None:
  """Step 4: grows `ranges` (in place) to hold each optimizer's best trial of the study
  `other` (`label`), where the unbounded specs and the schedule let them."""
  _, other_metric = other.target
  for opt in diagnostics.order_optimizers(other_df["optimizer"]):
    if opt not in initial:
      continue  # reported by _contained
    best = diagnostics.best_trials(other_df, opt, other_metric, 1)
    if best.empty:
      result.notes[opt].append(f"{label}: no completed {opt} trial to contain")
      continue
    row = best.iloc[0]
    settings = containment.settings_of(row, other.schedule)
    unbounded = {n: raw for n, raw in initial[opt].items()
                 if raw.get("scale") not in spaces_lib.BOUNDED}
    if containment.contains(unbounded, schedule, settings)[0] is False:
      continue  # a fixed or choice spec (or the schedule) excludes it: growing cannot help
    coords = _settings_coordinates(settings, initial[opt])
    no_decay = math.isclose(coords.get("decay_factor", math.nan), 1.0, rel_tol=1e-9)
    for name, r in ranges[opt].items():
      if name in coords and not (name == "decay_steps_fraction" and no_decay):
        _hold(r, _coordinate(r.spec, coords[name]),
              f"widened to hold {label} {row['trial_id']}")


def _change(opt: str, name: str, r: _Range, bounds: tuple[Bound, Bound]) -> Change:
  """The record of one refined coordinate: width ratio and notes (natural limits reached)."""
  new = spaces_lib.Spec.from_dict(name, {"scale": r.spec.scale, "min": bounds[0].value,
                                         "max": bounds[1].value})
  new_c = [_coordinate(new, new.low), _coordinate(new, new.high)]
  ratio = abs(new_c[1] - new_c[0]) / (r.old_hi - r.old_lo)
  notes = list(r.notes)
  for side, bound, was in (("min", new.low, r.spec.low), ("max", new.high, r.spec.high)):
    if bound != was and hparams_lib.is_natural_limit(name, side, bound):
      notes.append(f"{side} at the natural limit")
  return Change(opt, name, r.spec.scale, (r.spec.low, r.spec.high), bounds, ratio, notes)


def _refined_space(opt: str, initial: Mapping[str, Mapping], ranges: Mapping[str, _Range],
                   untouched: bool) -> tuple[dict[str, Any], list[Change]]:
  """Step 5: one optimizer's refined space (bounded specs holding `Bound`s) and its
  changes; `untouched` (no completed trials): a range without notes keeps its bounds."""
  space, changes = {}, []
  for name, raw in initial.items():
    if name not in ranges:
      space[name] = dict(raw)
      continue
    r = ranges[name]
    if untouched and not r.notes:  # the initial bounds, as given
      bounds = (Bound(r.spec.low, repr(r.spec.low)), Bound(r.spec.high, repr(r.spec.high)))
    else:
      bounds = _keep_initial(r, _to_bounds(name, r.spec, r.lo, r.hi, r.limits))
    space[name] = {"scale": r.spec.scale, "min": bounds[0], "max": bounds[1]}
    changes.append(_change(opt, name, r, bounds))
  return space, changes


def _contained(plain: Mapping[str, Mapping], schedule: str | None, label: str,
               other: study_manifest.StudyManifest, other_df: pd.DataFrame) -> list[Contained]:
  """Where each optimizer's best trial of the study `other` lies in the refined spaces."""
  _, other_metric = other.target
  checked = containment.best_trial_containment(other_df, other.schedule, other_metric,
                                               plain, schedule)
  out = []
  for opt in diagnostics.order_optimizers(other_df["optimizer"]):
    if opt in checked:
      c = checked[opt]
      out.append(Contained(label, opt, c.trial_id, c.inside, c.reasons))
    elif opt not in plain:
      best = diagnostics.best_trials(other_df, opt, other_metric, 1)
      if not best.empty:
        out.append(Contained(label, opt, str(best.iloc[0]["trial_id"]), None,
                             ("no such optimizer in the refined study",)))
  return out


def refine_spaces(manifest: study_manifest.StudyManifest | Mapping, df: pd.DataFrame, *,
                  top: float = DEFAULT_TOP, margin: float = DEFAULT_MARGIN,
                  contain: Sequence[tuple[str, study_manifest.StudyManifest | Mapping,
                                          pd.DataFrame]] = ()) -> Refinement:
  """The refined spaces of a study (its manifest and trial table); `contain`: (label,
  manifest, table) of the studies whose best trials the result must hold."""
  _, metric = manifest.target
  initial = manifest.search_spaces
  schedule = manifest.schedule
  flagged = _flagged(df, initial, metric)
  result = Refinement({}, {}, {}, {}, {}, [])
  ranges = {opt: _optimizer_ranges(result, df, opt, initial[opt], metric, top, margin, flagged)
            for opt in manifest.optimizers}
  for label, other, other_df in contain:
    _grow_to_contain(result, ranges, initial, schedule, label, other, other_df)
  for opt in manifest.optimizers:
    result.spaces[opt], result.changes[opt] = _refined_space(
        opt, initial[opt], ranges[opt], untouched=result.counts[opt][1] == 0)
  plain = result.plain_spaces()
  for label, other, other_df in contain:
    result.contained += _contained(plain, schedule, label, other, other_df)
  return result
