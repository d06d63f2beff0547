"""The hyperparameters the project knows: one table, read by every part that names them.

`TABLE` maps each name to an `HParam`: its domain (what `optimizers.create` and
`schedules.create` accept), whether it is an integer, its natural limits (search bounds at
which a family's edge is reached, so a search space cannot grow past them), whether it is a
hyperparameter of the paper's Table 1 (DESIGN.md §2), and whether a trial config carries it
under `optimizer.hparams` ("optimizer") or `optimizer.schedule` ("schedule").

Read by optcompare.optimizers (domains), optcompare.schedules (domains), optcompare.search
(which names go where; integers), optcompare.analysis (natural limits) and the workload
configs (the hparams fields). Plain data: no JAX, nothing registered on import.
"""
from __future__ import annotations

import dataclasses
import math

OPTIMIZER = "optimizer"  # a trial config's optimizer.hparams.<name>
SCHEDULE = "schedule"    # a trial config's optimizer.schedule.<name>


@dataclasses.dataclass(frozen=True)
class Domain:
  """The interval of allowed values: [low, high], with either end open."""
  low: float
  high: float
  low_open: bool = False
  high_open: bool = False

  def args(self) -> tuple[float, float, bool, bool]:
    """(low, high, low_open, high_open), as `schedules.check_number` takes them."""
    return (self.low, self.high, self.low_open, self.high_open)


@dataclasses.dataclass(frozen=True)
class HParam:
  """One hyperparameter of an optimizer or of a learning-rate schedule.

  `natural`: (at min, at max), the search bounds that are the edge of the hyperparameter's
  family (γ = 0 is SGD, λ = 1 is no decay); None where no bound is. A top trial at such a
  bound is worth knowing about, but the space cannot be widened there.
  """
  name: str
  kind: str          # OPTIMIZER or SCHEDULE
  symbol: str        # as the paper and DESIGN.md §2 write it
  description: str
  domain: Domain
  integer: bool = False
  natural: tuple[float | None, float | None] = (None, None)
  table_1: bool = False  # a hyperparameter of the paper's Table 1 optimizers

  def is_natural_limit(self, bound: str, value: float) -> bool:
    """Whether search bound `bound` ("min" or "max") = `value` is a natural limit."""
    limit = self.natural[0 if bound == "min" else 1]
    return limit is not None and value == limit


_INF = math.inf
_UNIT_CLOSED = Domain(0.0, 1.0)
_UNIT_HIGH_OPEN = Domain(0.0, 1.0, high_open=True)
_NONNEGATIVE = Domain(0.0, _INF)
_POSITIVE = Domain(0.0, _INF, low_open=True)

TABLE: dict[str, HParam] = {h.name: h for h in (
    HParam("learning_rate", OPTIMIZER, "η", "learning rate η_t (α_t for Adam, NAdam); a "
           "number or a schedule; η = 0 trains nothing, so it is outside the domain",
           _POSITIVE, natural=(0.0, _INF), table_1=True),
    HParam("momentum", OPTIMIZER, "γ", "momentum; γ = 0 is SGD (Muon: μ, the momentum of "
           "its orthogonalised matrices)", _UNIT_HIGH_OPEN,
           natural=(0.0, 1.0), table_1=True),
    HParam("rho", OPTIMIZER, "ρ", "RMSProp's decay of the squared-gradient average; ρ = 1 "
           "(with ε = 0) is Momentum", _UNIT_CLOSED, natural=(0.0, 1.0), table_1=True),
    HParam("beta1", OPTIMIZER, "β1", "Adam's decay of the gradient average (ADOPT's, and "
           "Muon's Adam part's; Lion's interpolation of the sign's argument; schedule-free "
           "AdamW's interpolation y = β1 x + (1−β1) z, in (0, 1): NARROWER)",
           _UNIT_HIGH_OPEN, natural=(0.0, 1.0), table_1=True),
    HParam("beta2", OPTIMIZER, "β2", "Adam's decay of the squared-gradient average (ADOPT's, "
           "schedule-free AdamW's, Muon's Adam part's; Lion's decay of its momentum)",
           _UNIT_HIGH_OPEN, natural=(0.0, 1.0), table_1=True),
    HParam("epsilon", OPTIMIZER, "ε", "denominator offset; ε → ∞ takes Adam to Momentum; "
           "ε = 0 divides 0 by 0 on a coordinate whose gradients have all been zero (see "
           "WIDER for RMSProp's exception)", _POSITIVE, natural=(0.0, _INF), table_1=True),
    HParam("weight_decay", OPTIMIZER, "wd", "decoupled weight decay (adamw, nadamw, lion, "
           "sfadamw; outside Table 1)", _NONNEGATIVE, natural=(0.0, _INF)),
    HParam("decay_factor", SCHEDULE, "λ", "final fraction of the learning rate; λ = 1 is no "
           "decay, λ = 0 decays to zero", _UNIT_CLOSED, natural=(0.0, 1.0)),
    HParam("decay_steps", SCHEDULE, "T", "steps of the decay (absolute)", Domain(1, _INF),
           integer=True),
    HParam("decay_steps_fraction", SCHEDULE, "f", "steps of the decay, a fraction of the "
           "steps after warmup; f = 1 decays over the whole run",
           Domain(0.0, 1.0, low_open=True), natural=(0.0, 1.0)),
    HParam("warmup_steps", SCHEDULE, "W", "steps of the linear warmup from 0 (also below the "
           "step budget)", Domain(0, _INF), integer=True),
)}


@dataclasses.dataclass(frozen=True)
class Wider:
  """A wider domain of one optimizer's hyperparameter, valid while the other
  hyperparameters hold the values in `when` (name -> value)."""
  domain: Domain
  when: tuple[tuple[str, float], ...]
  why: str


# (optimizer, hyperparameter) -> its wider domain there (read by optimizers.create).
# RMSProp's ε = 0 is safe only with ρ = 1: v then stays v₀ = 1 and RMSProp is Momentum
# (DESIGN.md §2). With ρ < 1, v of a coordinate whose gradients are all zero is ρ^t, which
# underflows to 0 (float32, ρ = 0.9: after about 1000 steps; at once for ρ = 0), and
# g / √(v + ε) is then 0/0.
WIDER: dict[tuple[str, str], Wider] = {
    ("rmsprop", "epsilon"): Wider(_NONNEGATIVE, (("rho", 1.0),),
                                  "ε = 0 only with rho = 1, where v stays 1"),
}


@dataclasses.dataclass(frozen=True)
class Narrower:
  """A narrower domain of one optimizer's hyperparameter, always in force."""
  domain: Domain
  why: str


# (optimizer, hyperparameter) -> its narrower domain there (read by optimizers.create).
# Schedule-free AdamW keeps y and z and recovers x = (y − (1−β1) z) / β1 (optax), so β1 = 0
# divides by zero; β1 → 0 is nevertheless its base optimizer's limit (DESIGN.md §2.1).
NARROWER: dict[tuple[str, str], Narrower] = {
    ("sfadamw", "beta1"): Narrower(Domain(0.0, 1.0, low_open=True, high_open=True),
                                   "x is recovered as (y − (1−β1) z) / β1"),
}


def names(kind: str | None = None) -> tuple[str, ...]:
  """The names of the table (of one kind, if given), in table order."""
  return tuple(n for n, h in TABLE.items() if kind is None or h.kind == kind)


OPTIMIZER_HPARAMS = names(OPTIMIZER)
SCHEDULE_PARAMS = names(SCHEDULE)
INT_PARAMS = tuple(n for n, h in TABLE.items() if h.integer)
TABLE_1_HPARAMS = tuple(n for n, h in TABLE.items() if h.table_1)


def is_natural_limit(name: str, bound: str, value: float) -> bool:
  """Whether search bound `bound` ("min"/"max") = `value` of `name` is a natural limit of the
  hyperparameter (see HParam); False for a name outside the table (a search helper)."""
  h = TABLE.get(name)
  return h is not None and h.is_natural_limit(bound, value)
