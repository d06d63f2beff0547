"""Learning-rate schedules: `create(name, *, base, num_train_steps, **kw)` -> an optax schedule.

A schedule maps the step count t = 0, 1, ... (the number of updates already taken) to η_t.
  constant      η_t = base
  linear_decay  η_t = base · (1 − (1−λ) · min(t, T)/T)                    (paper, §2 of DESIGN.md)
  cosine        η_t = base · (λ + (1−λ) · ½ (1 + cos(π · min(t, T)/T)))
kw: `decay_factor` λ ∈ [0, 1] (linear_decay: required; cosine: default 0); `decay_steps` T
(absolute) or `decay_steps_fraction` f (T = round(f · (num_train_steps − W))): exactly one for
linear_decay, at most one for cosine (neither: T = num_train_steps − W); `warmup_steps` W ≥ 0
(default 0) on every schedule: η_t = base · t/W for t < W (a linear ramp from 0), then the
schedule above evaluated at t − W (shifted, so the decay starts when the warmup ends and
`decay_steps_fraction` = 1 ends the decay exactly at the last step).

The returned `Schedule` is a callable pytree whose numbers (base, λ, T, W) are its leaves, so
`optcompare.optimizers` keeps it in the optimizer state: schedule settings are traced, never
compiled in, and a batch of them can be vmapped. Any other optax schedule works there too.
"""
import dataclasses
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optcompare import hparams


class FieldError(ValueError):
  """A ValueError that names the argument at fault: str(e) == f"{field}: {reason}".

  `optimizers.from_config` turns it into a BadInputError carrying the config path.
  """

  def __init__(self, field: str, reason: str):
    super().__init__(f"{field}: {reason}")
    self.field, self.reason = field, reason


def check_number(field: str, value: Any, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> Any:
  """Returns `value` if it is a finite real scalar in the interval, else raises FieldError.

  Traced values (inside jit/vmap) cannot be inspected and pass unchecked.
  """
  if isinstance(value, jax.core.Tracer):
    return value
  if isinstance(value, (bool, np.bool_)) or not isinstance(
      value, (numbers.Real, np.ndarray, np.generic, jax.Array)):
    raise FieldError(field, f"must be a number, got {value!r}")
  arr = np.asarray(value)
  if arr.shape != () or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
    raise FieldError(field, f"must be a real scalar, got {value!r}")
  x = float(arr)
  if not math.isfinite(x):
    raise FieldError(field, f"must be finite, got {x}")
  if x < low or x > high or (low_open and x == low) or (high_open and x == high):
    # (an infinite end is never included: x is finite)
    interval = (f"{'(' if low_open or math.isinf(low) else '['}{low}, "
                f"{high}{')' if high_open or math.isinf(high) else ']'}")
    raise FieldError(field, f"must lie in {interval}, got {x}")
  return value


def _check_int(field: str, value: Any, low: int) -> int:
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
    raise FieldError(field, f"must be an integer, got {value!r}")
  if value < low:
    raise FieldError(field, f"must be >= {low}, got {value}")
  return int(value)


def _int_low(name: str) -> int:
  """The least value of integer schedule parameter `name` (optcompare.hparams.TABLE)."""
  return int(hparams.TABLE[name].domain.low)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Schedule:
  """η_t of the module docstring; `kind` is static, the numbers are pytree leaves."""
  kind: str = dataclasses.field(metadata=dict(static=True))
  base: Any
  decay_factor: Any = 1.0
  decay_steps: Any = 1
  warmup_steps: Any = 0

  def __call__(self, count):
    dtype = jnp.result_type(self.base, jnp.float32)
    t = jnp.asarray(count).astype(dtype)
    w, big_t = (jnp.asarray(x, dtype) for x in (self.warmup_steps, self.decay_steps))
    s = jnp.clip(t - w, 0, big_t)  # min(t − W, T) for t ≥ W
    lam = jnp.asarray(self.decay_factor, dtype)
    # Rearranged to avoid cancellation near the end of the decay (1 − s/T = (T − s)/T, exact):
    if self.kind == "linear_decay":  # 1 − (1−λ) s/T
      shape = (big_t - s + lam * s) / big_t
    elif self.kind == "cosine":  # λ + (1−λ) ½ (1 + cos(π s/T)) = λ + (1−λ) sin²(π (T − s)/(2T))
      shape = lam + (1 - lam) * jnp.sin(jnp.pi * (big_t - s) / (2 * big_t)) ** 2
    else:
      shape = jnp.ones_like(t)
    ramp = jnp.where(t < w, t / jnp.maximum(w, 1), 1)
    return self.base * ramp * shape


# kind -> (allowed kwargs, default decay_factor or None when it is required)
_KINDS = {
    "constant": ({"warmup_steps"}, 1.0),
    "linear_decay": ({"decay_factor", "decay_steps", "decay_steps_fraction", "warmup_steps"}, None),
    "cosine": ({"decay_factor", "decay_steps", "decay_steps_fraction", "warmup_steps"}, 0.0),
}


def create(name: str, *, base, num_train_steps: int, **kw) -> Schedule:
  """The schedule `name` (constant, linear_decay, cosine) of the module docstring.

  Raises FieldError (a ValueError) naming the unknown name, unknown or missing kwarg, or the
  argument outside its domain (base > 0 finite: learning_rate's domain, λ ∈ [0, 1], T ≥ 1,
  0 < f ≤ 1, 0 ≤ W < N; optcompare.hparams.TABLE).
  """
  if name not in _KINDS:
    raise FieldError("name", f"unknown schedule {name!r} (known: {', '.join(_KINDS)})")
  allowed, default_factor = _KINDS[name]
  for key in kw:
    if key not in allowed:
      raise FieldError(key, f"unknown argument for schedule {name} "
                       f"(takes {', '.join(sorted(allowed)) or 'none'})")
  check_number("base", base, *hparams.TABLE["learning_rate"].domain.args())
  n = _check_int("num_train_steps", num_train_steps, 1)
  w = _check_int("warmup_steps", kw.get("warmup_steps", 0), _int_low("warmup_steps"))
  if w >= n:
    raise FieldError("warmup_steps", f"must be < num_train_steps ({n}), got {w}")
  if name == "constant":
    return Schedule("constant", base, warmup_steps=w)
  if "decay_factor" not in kw and default_factor is None:
    raise FieldError("decay_factor", f"missing, required by schedule {name}")
  lam = check_number("decay_factor", kw.get("decay_factor", default_factor),
                     *hparams.TABLE["decay_factor"].domain.args())
  if "decay_steps" in kw and "decay_steps_fraction" in kw:
    raise FieldError("decay_steps", "give decay_steps or decay_steps_fraction, not both")
  if "decay_steps" in kw:
    steps = _check_int("decay_steps", kw["decay_steps"], _int_low("decay_steps"))
  elif "decay_steps_fraction" in kw:
    f = float(check_number("decay_steps_fraction", kw["decay_steps_fraction"],
                           *hparams.TABLE["decay_steps_fraction"].domain.args()))
    steps = round(f * (n - w))
    if steps < 1:
      raise FieldError("decay_steps_fraction",
                       f"{f} of {n - w} steps rounds to {steps} decay steps; need >= 1")
  elif name == "linear_decay":
    raise FieldError("decay_steps", "missing: give decay_steps or decay_steps_fraction")
  else:
    steps = n - w
  return Schedule(name, base, decay_factor=lam, decay_steps=steps, warmup_steps=w)
