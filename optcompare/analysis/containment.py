"""Does one study's search space contain another study's best settings?

Choi et al. 2019 (§3, §4.2): a ranking change between two tuning protocols says something about
tuning only if the broader protocol's space holds the good points of the narrower one. The
check here is the literal one: take an optimizer's best trial of study B, write the settings
it gave the optimizer and schedule in study A's search coordinates (A may search α0/ε where B
set α0 and ε), and test every coordinate of A's space: a tuned one must lie within its bounds,
a fixed one must equal its value. The per-dimension boundary check cannot see this: a space
can be wide in α0/ε and in ε separately and still exclude α0 = 1e-2 at ε = 1e-8.

Schedules: a constant schedule is linear decay with λ = 1 (and then the decay steps do not
matter). Hyperparameters a space leaves out (set by the study's base config) are not compared.
Specs are read as `search.spaces.Spec`s (a derived one inverted by `Spec.solve_of`); a bound is
compared on the value itself, since every bounded scale is monotone in it and the tolerance is
that of the value's round trip through JSON/CSV.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import pandas as pd

from optcompare import hparams
from optcompare.analysis import diagnostics
from optcompare.search.spaces import Spec

_REL_TOL = 1e-9  # values written to and read back from JSON/CSV


@dataclasses.dataclass(frozen=True)
class Containment:
  optimizer: str
  trial_id: str
  inside: bool | None   # None: could not tell (a coordinate the trial does not determine)
  reasons: tuple[str, ...] = ()  # why outside / undetermined

  def text(self) -> str:
    if self.inside:
      return f"{self.trial_id}: inside"
    what = "outside" if self.inside is False else "undetermined"
    return f"{self.trial_id}: {what} ({'; '.join(self.reasons)})"


def settings_of(row: Mapping[str, Any], schedule: str) -> dict[str, float]:
  """The optimizer and schedule hyperparameters a trial row (hp.* columns) was run with; a
  constant schedule is written as λ = 1."""
  out = {}
  for name in hparams.TABLE:
    value = row.get(f"hp.{name}")
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
      out[name] = float(value)
  if schedule == "constant":
    out["decay_factor"] = 1.0
  return out


def _close(a: float, b: float) -> bool:
  return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-300)


def _coordinates(settings: Mapping[str, float], space: Mapping[str, Mapping[str, Any]]
                 ) -> dict[str, float]:
  """`settings` plus the search-only coordinates of `space` that its derived specs determine:
  for `name = of · times^power`, of = settings[name] / settings[times]^power
  (`Spec.solve_of`)."""
  coords = dict(settings)
  for name, raw in space.items():
    if raw.get("scale") != "derived":
      continue
    spec = Spec.from_dict(name, raw)
    if spec.of not in coords and name in coords and coords.get(spec.times):
      coords[spec.of] = spec.solve_of(coords[name], coords[spec.times])
  return coords


def contains(space: Mapping[str, Mapping[str, Any]], schedule: str,
             settings: Mapping[str, float]) -> tuple[bool | None, tuple[str, ...]]:
  """(inside?, reasons) for one optimizer's `space` (run with schedule `schedule`)."""
  coords = _coordinates(settings, space)
  outside, unknown = [], []
  no_decay = _close(coords.get("decay_factor", math.nan), 1.0)
  fmt = diagnostics.format_value
  if schedule == "constant" and "decay_factor" in coords and not no_decay:
    outside.append(f"decay_factor = {fmt(coords['decay_factor'])}, but this study's schedule "
                   "is constant (λ = 1)")
  for name, raw in space.items():
    spec = Spec.from_dict(name, raw)
    if spec.scale == "derived" or (name == "decay_steps_fraction" and no_decay):
      continue  # determined by the others; the decay length is moot without decay
    if name not in coords:
      unknown.append(f"{name} not set by the trial")
      continue
    x = coords[name]
    if spec.scale == "fixed":
      if not _close(x, float(spec.value)):
        outside.append(f"{name} = {fmt(x)}, fixed at {fmt(float(spec.value))} here")
    elif spec.scale == "choice":
      if not any(_close(x, float(v)) for v in spec.values):
        outside.append(f"{name} = {fmt(x)}, not among {list(spec.values)}")
    else:  # every bounded scale is monotone in x: inside its bounds is min <= x <= max
      if x < spec.low and not _close(x, spec.low):
        outside.append(f"{name} = {fmt(x)} < min {fmt(spec.low)}")
      elif x > spec.high and not _close(x, spec.high):
        outside.append(f"{name} = {fmt(x)} > max {fmt(spec.high)}")
  if outside:
    return False, tuple(outside)
  return (None, tuple(unknown)) if unknown else (True, ())


def best_trial_containment(df: pd.DataFrame, schedule: str, metric: str,
                           spaces: Mapping[str, Mapping[str, Mapping[str, Any]]],
                           spaces_schedule: str) -> dict[str, Containment]:
  """optimizer -> whether its best trial in `df` (a study run with `schedule`) lies inside
  `spaces` (another study's search spaces, run with `spaces_schedule`)."""
  out = {}
  for opt in diagnostics.order_optimizers(df["optimizer"]):
    best = diagnostics.best_trials(df, opt, metric, 1)
    if best.empty or opt not in spaces:
      continue
    row = best.iloc[0]
    inside, reasons = contains(spaces[opt], spaces_schedule, settings_of(row, schedule))
    out[opt] = Containment(opt, str(row["trial_id"]), inside, reasons)
  return out
