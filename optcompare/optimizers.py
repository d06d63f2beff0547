"""The optimizers of Choi et al. 2019, Table 1, exactly as DESIGN.md §2 states them.

`create(name, **hparams) -> optax.GradientTransformation`; g = gradient, t = 0, 1, ... the step,
η_t / α_t = `learning_rate` (a number, a jax scalar, or a schedule of the step count).

Hyperparameter values are traced, never compiled in: numeric values, and schedules made by
`optcompare.schedules`, live in the optimizer state (`state.hyperparams`, `state.schedules`);
the update function depends only on the optimizer's name and on which hyperparameters are
schedules. So `create(name, **a).update` applied to the state `create(name, **b).init(params)`
performs setting b's update; one jitted update serves every setting; states of several
settings can be stacked and vmapped. (Another callable schedule, e.g. one of optax's, is
evaluated from the closure, so its constants are compiled in.) After an update,
`state.hyperparams` holds the values that update used (η_t for a schedule).

Dtypes: hyperparameters are float32, or float64 when a parameter is float64; accumulators are
kept in at least float32; updates have the gradients' dtype (bf16 parameters stay bf16).

`traced(factory, hparams)` gives any optax factory (optax's own, a user's plug-in) the same
traced hyperparameters: the values and schedules live in its `TracedState`, and `factory` is
called inside `update` with them.
"""
import functools
import inspect
import types
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optcompare import errors
from optcompare import hparams as hparams_lib
from optcompare import schedules
from optcompare.schedules import FieldError


class OptimizerState(NamedTuple):
  count: jax.Array  # t: updates taken so far (int32)
  hyperparams: dict[str, jax.Array]  # numeric values; for schedules, the latest value
  schedules: dict[str, schedules.Schedule]  # optcompare schedules, traced
  moments: tuple  # one params-shaped pytree per accumulator


def _optimizer(hparams: dict[str, Any], moments_init: tuple[float, ...], rule: Callable,
               needs_params: bool = False) -> optax.GradientTransformation:
  """Applies `rule(h, t, g, p, *moments) -> (step, *new_moments)` leafwise: θ ← θ − step."""
  closure_scheds = _closure_schedules(hparams)

  def init(params):
    hps, scheds = _traced_hyperparams(hparams, params)
    count = jnp.zeros([], jnp.int32)
    moments = tuple(jax.tree.map(lambda p: jnp.full_like(p, m0, _acc_dtype(p)), params)
                    for m0 in moments_init)
    return OptimizerState(count, _evaluate(hps, scheds, closure_scheds, count), scheds, moments)

  def update(grads, state, params=None):
    if needs_params and params is None:
      raise ValueError("this optimizer needs `params` in update (weight decay)")
    hps = _evaluate(state.hyperparams, state.schedules, closure_scheds, state.count)
    h = types.SimpleNamespace(**hps)

    def leaf(g, p, *ms):
      acc = _acc_dtype(g)
      step, *new = rule(h, state.count, g.astype(acc), p.astype(acc), *ms)
      return (-step).astype(g.dtype), *(n.astype(m.dtype) for n, m in zip(new, ms))

    out = jax.tree.map(leaf, grads, grads if params is None else params, *state.moments)
    pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)
    moments = tuple(pick(i + 1) for i in range(len(moments_init)))
    return pick(0), OptimizerState(optax.safe_increment(state.count), hps, state.schedules,
                                   moments)

  return optax.GradientTransformation(init, update)


def _closure_schedules(hparams: dict[str, Any]) -> dict[str, Callable]:
  """The callables of `hparams` that are not optcompare schedules (evaluated from the
  closure: their constants are compiled in)."""
  return {k: v for k, v in hparams.items()
          if callable(v) and not isinstance(v, schedules.Schedule)}


def _traced_hyperparams(hparams: dict[str, Any], params) -> tuple[dict, dict]:
  """(values, schedules) to keep in a state: every number as an array of the hyperparameter
  dtype (float32, float64 when a parameter is float64), a schedule's slot 0 until evaluated,
  and the optcompare schedules with their numbers in that dtype."""
  floats = [x.dtype for x in jax.tree.leaves(params) if jnp.issubdtype(x.dtype, jnp.floating)]
  dtype = jnp.result_type(jnp.float32, *floats)
  scheds = {k: jax.tree.map(lambda x: jnp.asarray(x, dtype), v)
            for k, v in hparams.items() if isinstance(v, schedules.Schedule)}
  hps = {k: jnp.asarray(0 if callable(v) else v, dtype) for k, v in hparams.items()}
  return hps, scheds


def _evaluate(hps: dict, scheds: dict, closure_scheds: dict, count) -> dict:
  """The values an update at step `count` uses: `hps` with every schedule evaluated."""
  hps = dict(hps)
  for k, s in list(scheds.items()) + list(closure_scheds.items()):
    hps[k] = jnp.asarray(s(count), hps[k].dtype)
  return hps


class TracedState(NamedTuple):
  """The state of `traced(factory, hparams)`."""
  count: jax.Array  # t: updates taken so far (int32)
  hyperparams: dict[str, jax.Array]  # numeric values; for schedules, the latest value
  schedules: dict[str, schedules.Schedule]  # optcompare schedules, traced
  inner: Any  # the factory's own state


def traced(factory: Callable[..., optax.GradientTransformation], hparams: dict[str, Any]
           ) -> optax.GradientTransformationExtraArgs:
  """`factory(**hparams)`, any optax GradientTransformation factory, with its
  hyperparameters traced as the built-ins' are (module docstring).

  `hparams` maps each keyword of `factory` that a setting varies to a number, a jax scalar or
  a schedule (an `optcompare.schedules.Schedule`, kept in the state; any other callable is
  evaluated from the closure, its constants compiled in). Options that select code (a bool,
  a string, a step count used as a loop bound) are not hyperparameters here: bind them into
  `factory` (functools.partial). The state is a `TracedState`: `hyperparams` holds every
  value as a float32 array (float64 when a parameter is float64), after an update the values
  that update used (η_t for a schedule); `inner` is the factory's state.

  `update` reads every value from the state and calls `factory(**values).update` with them,
  so the `update` of any one `traced(factory, ...)` performs the update of whichever setting
  initialised the state: one jitted function serves all settings (`update_fn`), and states
  of several settings stack and vmap. Hence `factory` must not use a hyperparameter in Python
  control flow (it sees tracers), and the structure of its state must not depend on the
  values. The inner optimizer runs in at least float32: gradients and parameters are
  upcast before it sees them, its updates cast back to the gradients' dtype.
  """
  closure_scheds = _closure_schedules(hparams)

  def init(params):
    hps, scheds = _traced_hyperparams(hparams, params)
    count = jnp.zeros([], jnp.int32)
    values = _evaluate(hps, scheds, closure_scheds, count)
    return TracedState(count, values, scheds, factory(**values).init(_upcast(params)))

  def update(grads, state, params=None, **extra_args):
    values = _evaluate(state.hyperparams, state.schedules, closure_scheds, state.count)
    inner = optax.with_extra_args_support(factory(**values))
    updates, inner_state = inner.update(_upcast(grads), state.inner, _upcast(params),
                                        **extra_args)
    updates = jax.tree.map(lambda u, g: u.astype(g.dtype), updates, grads)
    return updates, TracedState(optax.safe_increment(state.count), values, state.schedules,
                                inner_state)

  return optax.GradientTransformationExtraArgs(init, update)


def _upcast(tree):
  """`tree` with floating leaves in at least float32 (None stays None)."""
  return jax.tree.map(lambda x: x.astype(_acc_dtype(x))
                      if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def _acc_dtype(x):
  return jnp.promote_types(x.dtype, jnp.float32)


def _bias(h, t):
  """b = √(1−β2^{t+1}) / (1−β1^{t+1}); 1−β^n as −expm1(n·log1p(β−1)), accurate for β near 1."""
  t1 = (t + 1).astype(h.beta1.dtype)
  one_minus_pow = lambda beta: -jnp.expm1(t1 * jnp.log1p(beta - 1))
  return jnp.sqrt(one_minus_pow(h.beta2)) / one_minus_pow(h.beta1)


def sgd(learning_rate):
  """θ ← θ − η_t g."""
  return _optimizer(dict(learning_rate=learning_rate), (),
                    lambda h, t, g, p: (h.learning_rate * g,))


def momentum(learning_rate, momentum):
  """v₀ = 0; v ← γ v + g; θ ← θ − η_t v."""
  def rule(h, t, g, p, v):
    v = h.momentum * v + g
    return h.learning_rate * v, v
  return _optimizer(dict(learning_rate=learning_rate, momentum=momentum), (0.0,), rule)


def nesterov(learning_rate, momentum):
  """v₀ = 0; v ← γ v + g; θ ← θ − η_t (γ v + g)."""
  def rule(h, t, g, p, v):
    v = h.momentum * v + g
    return h.learning_rate * (h.momentum * v + g), v
  return _optimizer(dict(learning_rate=learning_rate, momentum=momentum), (0.0,), rule)


def rmsprop(learning_rate, momentum, rho, epsilon):
  """v₀ = 1, m₀ = 0; v ← ρ v + (1−ρ) g²; m ← γ m + η_t g / √(v + ε); θ ← θ − m."""
  def rule(h, t, g, p, v, m):
    v = h.rho * v + (1 - h.rho) * g * g
    m = h.momentum * m + h.learning_rate * g / jnp.sqrt(v + h.epsilon)
    return m, v, m
  return _optimizer(dict(learning_rate=learning_rate, momentum=momentum, rho=rho,
                         epsilon=epsilon), (1.0, 0.0), rule)


def _adam_family(hparams, nesterov_: bool, decay: bool):
  def rule(h, t, g, p, m, v):
    m = h.beta1 * m + (1 - h.beta1) * g
    v = h.beta2 * v + (1 - h.beta2) * g * g
    num = h.beta1 * m + (1 - h.beta1) * g if nesterov_ else m
    step = _bias(h, t) * num / (jnp.sqrt(v) + h.epsilon)
    if decay:
      step = step + h.weight_decay * p
    return h.learning_rate * step, m, v
  return _optimizer(hparams, (0.0, 0.0), rule, needs_params=decay)


def adam(learning_rate, beta1, beta2, epsilon):
  """m₀ = v₀ = 0; m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
  b = √(1−β2^{t+1}) / (1−β1^{t+1}); θ ← θ − α_t b m / (√v + ε)."""
  return _adam_family(dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                           epsilon=epsilon), nesterov_=False, decay=False)


def nadam(learning_rate, beta1, beta2, epsilon):
  """As adam, but θ ← θ − α_t b (β1 m + (1−β1) g) / (√v + ε), with the updated m."""
  return _adam_family(dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                           epsilon=epsilon), nesterov_=True, decay=False)


def adamw(learning_rate, beta1, beta2, epsilon, weight_decay):
  """Not in Table 1. Adam with decoupled weight decay scaled by the learning rate (as optax
  and PyTorch): θ ← θ − α_t (b m / (√v + ε) + wd · θ), decaying every parameter."""
  return _adam_family(dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                           epsilon=epsilon, weight_decay=weight_decay),
                      nesterov_=False, decay=True)


def nadamw(learning_rate, beta1, beta2, epsilon, weight_decay):
  """Not in Table 1. NAdam with the same decoupled weight decay as adamw:
  θ ← θ − α_t (b (β1 m + (1−β1) g) / (√v + ε) + wd · θ)."""
  return _adam_family(dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                           epsilon=epsilon, weight_decay=weight_decay),
                      nesterov_=True, decay=True)


TABLE_1 = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")
REGISTRY: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd, "momentum": momentum, "nesterov": nesterov, "rmsprop": rmsprop,
    "adam": adam, "nadam": nadam,
    "adamw": adamw, "nadamw": nadamw,  # outside the paper's family
}


def create(name: str, **hparams) -> optax.GradientTransformation:
  """The optimizer `name` of REGISTRY with the given hyperparameters (all required).

  Raises FieldError (a ValueError) naming the unknown optimizer, the missing or unknown
  hyperparameter, or the value outside its domain (optcompare.hparams.TABLE: η > 0,
  γ ∈ [0,1), ρ ∈ [0,1], β ∈ [0,1), ε > 0 (RMSProp: ε = 0 with ρ = 1, hparams.WIDER),
  wd ≥ 0, finite real scalars). Only `learning_rate` may be a schedule.
  """
  if name not in REGISTRY:
    raise FieldError("name", f"unknown optimizer {name!r} (known: {', '.join(REGISTRY)})")
  takes = list(inspect.signature(REGISTRY[name]).parameters)
  for key, value in hparams.items():
    if key not in takes:
      raise FieldError(key, f"unknown hyperparameter for {name} (takes {', '.join(takes)})")
    if not (key == "learning_rate" and callable(value)):
      _check_in_domain(name, key, value, hparams)
  for key in takes:
    if key not in hparams:
      raise FieldError(key, f"missing, required by {name}")
  return REGISTRY[name](**hparams)


def _meets(value: Any, wanted: float) -> bool:
  """Whether `value` equals `wanted`; a traced value cannot be inspected and passes."""
  if isinstance(value, jax.core.Tracer):
    return True
  try:
    return float(value) == wanted
  except (TypeError, ValueError):
    return False


def _check_in_domain(name: str, key: str, value: Any, hparams: dict) -> None:
  """FieldError unless `value` lies in the domain of hyperparameter `key` of optimizer
  `name` (the table's, or hparams.WIDER's where the other values allow it); the message
  states the domain, and the exception when there is one."""
  wider = hparams_lib.WIDER.get((name, key))
  if wider and all(_meets(hparams.get(k), v) for k, v in wider.when):
    schedules.check_number(key, value, *wider.domain.args())
    return
  try:
    schedules.check_number(key, value, *hparams_lib.TABLE[key].domain.args())
  except FieldError as e:
    if wider is None:
      raise
    raise FieldError(key, f"{e.reason} ({name}: {wider.why})") from e


def update_fn(name: str) -> Callable:
  """`update(grads, state, params)` of optimizer `name`, shared by all of its settings.

  Every value an update uses is read from the optimizer state (hyperparameters and
  `optcompare.schedules` schedules alike), so one function, and one compiled program, serves
  every setting of an optimizer: the train step is keyed on the name, never on a `tx` object.
  """
  return _update_fn(name)


@functools.lru_cache(maxsize=None)
def _update_fn(name: str) -> Callable:
  takes = inspect.signature(REGISTRY[name]).parameters
  placeholders = {k: 0.0 for k in takes}  # never read: the state carries the values
  placeholders["learning_rate"] = schedules.Schedule("constant", 0.0)
  return REGISTRY[name](**placeholders).update


def settings_from_config(opt_cfg, num_train_steps: int) -> dict[str, Any]:
  """The keyword arguments of `create(opt_cfg.name, ...)`: the set hparams, with
  `learning_rate` the schedule built from `opt_cfg.schedule` (base: hparams.learning_rate).

  None means unset, in `hparams` and `schedule`. Checks every value (as `create` does) and
  raises errors.BadInputError naming the config field, e.g.
  "optimizer.hparams.momentum: unknown hyperparameter for adam".
  """
  hp = {k: v for k, v in opt_cfg.hparams.items() if v is not None}
  sched = {k: v for k, v in opt_cfg.schedule.items() if v is not None and k != "name"}
  try:
    if opt_cfg.name not in REGISTRY:
      create(opt_cfg.name)  # raises the unknown-name error
    if "learning_rate" not in hp:
      raise FieldError("learning_rate", f"missing, required by {opt_cfg.name}")
    try:
      hp["learning_rate"] = schedules.create(
          opt_cfg.schedule.name, base=hp["learning_rate"], num_train_steps=num_train_steps,
          **sched)
    except FieldError as e:
      path = {"name": "optimizer.schedule.name", "base": "optimizer.hparams.learning_rate",
              "num_train_steps": "num_train_steps"}.get(e.field, f"optimizer.schedule.{e.field}")
      raise errors.BadInputError(f"{path}: {e.reason}") from e
    create(opt_cfg.name, **hp)  # checks names and domains
    return hp
  except FieldError as e:
    path = "optimizer.name" if e.field == "name" else f"optimizer.hparams.{e.field}"
    raise errors.BadInputError(f"{path}: {e.reason}") from e


def from_config(opt_cfg, num_train_steps: int) -> optax.GradientTransformation:
  """create(name, **settings_from_config(...)); errors as settings_from_config."""
  return create(opt_cfg.name, **settings_from_config(opt_cfg, num_train_steps))
