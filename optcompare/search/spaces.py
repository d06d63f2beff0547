"""Search spaces: hyperparameter specs, their validation, and the map from the unit cube.

A search space maps hyperparameter names to specs (DESIGN.md §4):

  {"scale": "log",    "min": a, "max": b}      0 < a < b; log-uniform
  {"scale": "linear", "min": a, "max": b}      a < b; uniform
  {"scale": "one_minus_log", "min": a, "max": b}
        0 ≤ a < b < 1 bound x itself (momentum in [0.9, 0.999]); 1 − x is log-uniform
  {"scale": "choice", "values": [v, ...]}      one of the values, equally often
  {"scale": "fixed",  "value": v}              not searched
  {"scale": "derived", "of": name, "times": name, "power": p}
        value = of · times**p (p defaults to 1), e.g. Adam's learning_rate =
        learning_rate_over_epsilon · epsilon, RMSProp's = learning_rate_over_sqrt_epsilon ·
        epsilon**0.5 (DESIGN.md §2: the paper tunes α0/ε and η0/√ε).

Names that a trial config takes (optcompare.hparams.TABLE, the one list): the optimizer's
hyperparameters (`learning_rate momentum rho beta1 beta2 epsilon weight_decay`, each optimizer
its own subset) go to `config.optimizer.hparams`; the schedule's (`decay_factor decay_steps
decay_steps_fraction warmup_steps`) to `config.optimizer.schedule`. Any other name is a helper
that only feeds a derived value; it is searched but never applied to the config.

The sampled dimensions (log, linear, one_minus_log, choice) are ordered by name; a point of
the unit cube [0, 1)^d maps to values dimension by dimension (`SearchSpace.values`,
`Spec.from_unit`); `Spec.to_unit` maps a value back. What a bounded scale means is defined
once, in `BOUNDED`: sampling, the analysis's search-scale coordinate, its boundary check and
its figures all read it.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from typing import Any, Callable, Mapping

import ml_collections
import numpy as np

from optcompare import hparams as hparams_lib
from optcompare.errors import BadInputError

HPARAMS = hparams_lib.OPTIMIZER_HPARAMS  # -> config.optimizer.hparams
SCHEDULE_PARAMS = hparams_lib.SCHEDULE_PARAMS  # -> config.optimizer.schedule
INT_PARAMS = hparams_lib.INT_PARAMS  # sampled values are rounded to integers


def _log(x: float) -> float:
  """log x, with IEEE's answers (−inf at 0, NaN below) instead of math's ValueError."""
  return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _log_one_minus(x: float) -> float:
  """log(1 − x), accurate near x = 0; −inf at 1, NaN above."""
  return math.log1p(-x) if x < 1 else (-math.inf if x == 1 else math.nan)


@dataclasses.dataclass(frozen=True)
class Scale:
  """What a bounded scale means; the one definition that sampling and analysis read.

  The search draws t = warp(x) uniformly between warp(min) and warp(max), and
  x = unwarp(t). For a reader the same scale is `shown(x)` (x, or 1 − x), on a logarithmic
  axis when `log`: warp(x) = log(shown(x)) then, else shown(x). The "search scale"
  coordinate of the analysis is log10(shown(x)) or shown(x): log10 x, x, log10(1 − x).
  """
  name: str
  warp: Callable[[float], float]    # x -> t (scalar, math: sampling is bit-reproducible)
  unwarp: Callable[[float], float]  # t -> x
  shown: Callable[[Any], Any]       # x -> the quantity plotted (numbers or numpy arrays)
  log: bool                         # whether shown(x) is read on a log axis
  flipped: bool = False             # shown(x) decreases as x grows (1 − x)

  def label(self, name: str) -> str:
    """An axis label for hyperparameter `name` on this scale."""
    shown = f"1 − {name}" if self.flipped else name
    return f"{shown} (log scale)" if self.log else shown


BOUNDED: dict[str, Scale] = {
    "linear": Scale("linear", lambda x: x, lambda t: t, lambda x: x, log=False),
    "log": Scale("log", _log, math.exp, lambda x: x, log=True),
    "one_minus_log": Scale("one_minus_log", _log_one_minus, lambda t: -math.expm1(t),
                           lambda x: 1.0 - x, log=True, flipped=True),
}
SCALES = ("log", "linear", "one_minus_log", "choice", "fixed", "derived")
SAMPLED = ("log", "linear", "one_minus_log", "choice")  # searched: the unit cube's axes
_KEYS = {**{scale: {"min", "max"} for scale in BOUNDED},
         "choice": {"values"}, "fixed": {"value"}, "derived": {"of", "times", "power"}}


def optimizer_names() -> tuple[str, ...]:
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top  (imports jax)
  return tuple(optimizers.REGISTRY)


def takes(optimizer: str, plugin: Mapping | None = None) -> tuple[str, ...]:
  """The hyperparameters `optimizer` takes: a built-in's from optcompare.optimizers (the one
  source), a plug-in's from its record in study.json (`plugin`, optcompare.plugins.record)."""
  if plugin is not None:
    return tuple(plugin["hyperparameters"])
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top
  return tuple(inspect.signature(optimizers.REGISTRY[optimizer]).parameters)


def _is_number(x) -> bool:
  return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


@dataclasses.dataclass(frozen=True)
class Spec:
  """One validated entry of a search space (module docstring); `Spec.from_dict` builds one
  from the dict a study config or study.json holds."""
  name: str
  scale: str
  low: float | None = None
  high: float | None = None
  values: tuple = ()
  value: Any = None
  of: str | None = None
  times: str | None = None
  power: float = 1.0

  @classmethod
  def from_dict(cls, name: str, raw: Mapping, field: str | None = None) -> Spec:
    """The spec of `name` from its dict; BadInputError naming `field` (default: name) if
    the dict is not a valid spec."""
    return _parse_spec(name, raw, field or name)

  def _bounded(self) -> Scale:
    if self.scale not in BOUNDED:
      raise ValueError(f"{self.name}: a {self.scale} spec has no bounded scale")
    return BOUNDED[self.scale]

  def _ends(self) -> tuple[float, float]:
    scale = self._bounded()
    return scale.warp(self.low), scale.warp(self.high)

  def from_unit(self, u: float):
    """The value at u ∈ [0, 1) of a sampled spec: u = 0 gives min, u → 1 max."""
    if self.scale == "choice":
      return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
    lo, hi = self._ends()
    x = self._bounded().unwarp(lo + u * (hi - lo))
    x = min(max(x, self.low), self.high)  # rounding never leaves the bounds
    return int(round(x)) if self.name in INT_PARAMS else float(x)

  def to_unit(self, value) -> float:
    """The u at which `from_unit` gives `value`: its inverse on log, linear, one_minus_log.

    Exact up to rounding: to_unit(from_unit(u)) = u within ~1e-15, except that on
    one_minus_log x holds 1 − x only to eps/(1 − x) relative (u to that over the log range's
    width: 1e-12 at 1 − 1e-5). Not clamped: a value outside [min, max] gives u outside
    [0, 1] (how far out, in the search's own measure), one outside the scale's domain NaN
    (±inf at its edge). An integer parameter's value is an integer, so to_unit∘from_unit
    rounds there. A choice
    value gives the middle of its cell, (index + ½) / n, so from_unit(to_unit(v)) == v;
    ValueError for a value not among the choices, and for fixed and derived specs.
    """
    if self.scale == "choice":
      if value not in self.values:
        raise ValueError(f"{self.name}: {value!r} is not among {list(self.values)}")
      return (self.values.index(value) + 0.5) / len(self.values)
    lo, hi = self._ends()
    return (self._bounded().warp(float(value)) - lo) / (hi - lo)

  def search_coordinate(self, values) -> np.ndarray:
    """Values -> the coordinate in which the search was uniform, in units a reader knows:
    log10 x (log), x (linear), log10(1 − x) (one_minus_log). An affine map of the
    warp, so distances on it are proportional to distances in `to_unit`."""
    scale = self._bounded()
    x = scale.shown(np.asarray(values, dtype=float))
    if not scale.log:
      return x
    with np.errstate(divide="ignore", invalid="ignore"):
      return np.log10(x)

  def derive(self, of_value: float, times_value: float) -> float:
    """A derived spec's value: of · times**power."""
    return float(of_value * times_value ** self.power)

  def solve_of(self, value: float, times_value: float) -> float:
    """The inverse of `derive` in `of`: the `of` value that gives `value`."""
    return value / times_value ** self.power


def _check_value(name: str, x, field: str) -> None:
  if not _is_number(x):
    raise BadInputError(f"{field}: must be a finite number, got {x!r}")
  if name in INT_PARAMS and x != int(x):
    raise BadInputError(f"{field}: {name} must be an integer, got {x!r}")


def _parse_spec(name: str, raw, field: str) -> Spec:
  if isinstance(raw, ml_collections.ConfigDict):
    raw = raw.to_dict()
  if not isinstance(raw, Mapping):
    raise BadInputError(f"{field}: a spec must be a dict with a 'scale', got {raw!r}")
  scale = raw.get("scale")
  if scale not in SCALES:
    raise BadInputError(f"{field}.scale: unknown scale {scale!r} (known: {', '.join(SCALES)})")
  keys = set(raw) - {"scale"}
  for key in sorted(keys - _KEYS[scale]):
    raise BadInputError(f"{field}.{key}: not a key of a {scale} spec "
                        f"(takes {', '.join(sorted(_KEYS[scale]))})")
  for key in sorted(_KEYS[scale] - keys - {"power"}):
    raise BadInputError(f"{field}.{key}: missing, required by a {scale} spec")
  if scale in BOUNDED:
    low, high = raw["min"], raw["max"]
    for key, x in (("min", low), ("max", high)):
      if not _is_number(x):
        raise BadInputError(f"{field}.{key}: must be a finite number, got {x!r}")
    if low > high:
      raise BadInputError(f"{field}: min {low} > max {high}")
    if low == high:
      raise BadInputError(f"{field}: empty range, min = max = {low} (use a fixed spec)")
    if scale == "log" and low <= 0:
      raise BadInputError(f"{field}.min: a log scale needs positive bounds, got {low}")
    if scale == "one_minus_log" and not (0 <= low and high < 1):
      raise BadInputError(f"{field}: one_minus_log bounds must lie in [0, 1), "
                          f"got [{low}, {high}]")
    if name in INT_PARAMS and math.floor(high) < math.ceil(low):
      raise BadInputError(f"{field}: [{low}, {high}] holds no integer")
    return Spec(name, scale, low=float(low), high=float(high))
  if scale == "choice":
    values = raw["values"]
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
      raise BadInputError(f"{field}.values: must be a non-empty list, got {values!r}")
    for x in values:
      _check_value(name, x, f"{field}.values")
    return Spec(name, scale, values=tuple(values))
  if scale == "fixed":
    if raw["value"] is not None:
      _check_value(name, raw["value"], f"{field}.value")
    return Spec(name, scale, value=raw["value"])
  of, times, power = raw["of"], raw["times"], raw.get("power", 1.0)
  for key, x in (("of", of), ("times", times)):
    if not isinstance(x, str) or not x:
      raise BadInputError(f"{field}.{key}: must name another entry of this space, got {x!r}")
  if not _is_number(power):
    raise BadInputError(f"{field}.power: must be a finite number, got {power!r}")
  return Spec(name, scale, of=of, times=times, power=float(power))


class SearchSpace:
  """One optimizer's validated search space.

  `sampled`: the names of the searched dimensions, sorted (the unit cube's axes).
  `values(u)`: every name of the space (fixed and derived included) at the point u.
  `applied`: the names that go into a trial config (helpers excluded).
  """

  def __init__(self, optimizer: str, raw: Mapping, field: str, plugin: Mapping | None = None):
    if isinstance(raw, ml_collections.ConfigDict):
      raw = raw.to_dict()
    if not isinstance(raw, Mapping) or not raw:
      raise BadInputError(f"{field}: must be a non-empty dict of hyperparameter specs")
    self.optimizer = optimizer
    self.specs = {name: _parse_spec(name, raw[name], f"{field}.{name}") for name in sorted(raw)}
    takes_ = set(takes(optimizer, plugin)) | set(SCHEDULE_PARAMS)
    derived = [s for s in self.specs.values() if s.scale == "derived"]
    used_by_derived = {s.of for s in derived} | {s.times for s in derived}
    for s in derived:
      for key in ("of", "times"):
        ref = getattr(s, key)
        if ref not in self.specs:
          raise BadInputError(f"{field}.{s.name}.{key}: refers to {ref!r}, which is not in "
                              f"this space")
        if self.specs[ref].scale == "derived":
          raise BadInputError(f"{field}.{s.name}.{key}: {ref!r} is itself derived")
        if self.specs[ref].scale == "fixed" and self.specs[ref].value is None:
          raise BadInputError(f"{field}.{s.name}.{key}: {ref!r} is None")
    for name, s in self.specs.items():
      if name in takes_:
        continue
      if name in HPARAMS or name in SCHEDULE_PARAMS or name not in used_by_derived:
        declared = f"; {plugin['path']} does not declare it" if plugin else ""
        raise BadInputError(
            f"{field}.{name}: unknown hyperparameter for {optimizer} (takes "
            f"{', '.join(sorted(takes_))}{declared}; other names must feed a derived value)")
      if s.scale == "derived":
        raise BadInputError(f"{field}.{name}: a derived value must be a hyperparameter of "
                            f"{optimizer}")
    self.sampled = tuple(n for n, s in self.specs.items() if s.scale in SAMPLED)
    if not self.sampled:
      raise BadInputError(f"{field}: nothing to search (every entry is fixed or derived)")
    self.applied = tuple(n for n in self.specs if n in takes_)

  @property
  def dims(self) -> int:
    return len(self.sampled)

  def values(self, unit_point) -> dict[str, Any]:
    """Every name of the space, at the point `unit_point` ∈ [0, 1)^dims."""
    out = {name: self.specs[name].from_unit(float(u))
           for name, u in zip(self.sampled, unit_point, strict=True)}
    for name, s in self.specs.items():
      if s.scale == "fixed":
        out[name] = s.value
    for name, s in self.specs.items():
      if s.scale == "derived":
        out[name] = s.derive(out[s.of], out[s.times])
    return {name: out[name] for name in self.specs}


def unset_hparams_not_taken(optimizer_config, keep=()) -> None:
  """Sets to None the hyperparameters (HPARAMS) that optimizer_config.name does not take,
  except those in `keep`: a base config's Adam β and ε must not reach SGD."""
  taken = set(takes(optimizer_config.name))
  for name in HPARAMS:
    if name not in taken and name not in keep and name in optimizer_config.hparams:
      optimizer_config.hparams[name] = None


def build_trial_config(base: Mapping, optimizer: str, hparams: Mapping[str, Any],
                       plugin: Mapping | None = None) -> ml_collections.ConfigDict:
  """The trial config: `base` (a JSON-safe dict) with the optimizer and its hyperparameters.

  Hyperparameters that `optimizer` does not take are unset (None), so the base's Adam
  defaults do not leak into SGD; a searched decay_steps unsets decay_steps_fraction and vice
  versa. Names that are neither hyperparameters nor schedule parameters (helpers) are skipped.
  A plug-in (`plugin`: its record in study.json) adds its file, its hash and its own
  hyperparameters, at the file's defaults unless searched (_with_plugin).
  """
  config = ml_collections.ConfigDict(dict(base))
  if plugin is not None:
    _with_plugin(config.optimizer, plugin)
  config.lock()
  opt = config.optimizer
  opt.name = optimizer
  if plugin is None:
    unset_hparams_not_taken(opt)
  taken = set(takes(optimizer, plugin))
  for name, value in hparams.items():
    if name in taken:
      opt.hparams[name] = None if value is None else float(value)
    elif name in SCHEDULE_PARAMS:
      if name in INT_PARAMS:
        opt.schedule[name] = None if value is None else int(value)
      else:
        opt.schedule[name] = None if value is None else float(value)
      other = {"decay_steps": "decay_steps_fraction",
               "decay_steps_fraction": "decay_steps"}.get(name)
      if other and other not in hparams:
        opt.schedule[other] = None
  return config


def _with_plugin(opt: ml_collections.ConfigDict, plugin: Mapping) -> None:
  """optimizer.file and optimizer.sha256 (the worker loads and checks the file), and
  optimizer.hparams: the plug-in's own, at its defaults; every other one unset."""
  opt.file = plugin["path"]
  opt.sha256 = plugin["sha256"]
  for name in list(opt.hparams):
    opt.hparams[name] = None
  for name, default in plugin["hyperparameters"].items():
    opt.hparams[name] = float(default)
