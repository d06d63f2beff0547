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
import math
import types
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optcompare import errors
from optcompare import hparams as hparams_lib
from optcompare import param_roles
from optcompare import plugins
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


def _adam_direction(h, t, g, m, v, nesterov_: bool):
  """(b m̃ / (√v + ε), m, v) with m, v updated by g; m̃ = m (Adam) or β1 m + (1−β1) g (NAdam)."""
  m = h.beta1 * m + (1 - h.beta1) * g
  v = h.beta2 * v + (1 - h.beta2) * g * g
  num = h.beta1 * m + (1 - h.beta1) * g if nesterov_ else m
  return _bias(h, t) * num / (jnp.sqrt(v) + h.epsilon), m, v


def _adam_family(hparams, nesterov_: bool, decay: bool):
  def rule(h, t, g, p, m, v):
    step, m, v = _adam_direction(h, t, g, m, v, nesterov_)
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


# Modern optimizers (not in the paper; DESIGN.md §2.1): optax's rules under `traced`.

def lion(learning_rate, beta1, beta2, weight_decay):
  """Lion (Chen et al. 2023; optax.lion). m₀ = 0; c = β1 m + (1−β1) g; m ← β2 m + (1−β2) g;
  θ ← θ − η_t (sign(c) + wd · θ), decaying every parameter. β1 = β2 = 0, wd = 0 is sign
  descent, θ ← θ − η_t sign(g)."""
  factory = lambda learning_rate, beta1, beta2, weight_decay: optax.lion(
      learning_rate, b1=beta1, b2=beta2, weight_decay=weight_decay)
  return traced(factory, dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                              weight_decay=weight_decay))


def adopt(learning_rate, beta1, beta2, epsilon):
  """ADOPT (Taniguchi et al. 2024; optax.contrib.adopt, clipped as its authors recommend).
  m₀ = 0; at t = 0 only v ← g² (no step); for t ≥ 1: u = clip(g / max(√v, ε), ±t^¼) with the
  v of the previous step; m ← β1 m + (1−β1) u; v ← β2 v + (1−β2) g²; θ ← θ − α_t m."""
  factory = lambda learning_rate, beta1, beta2, epsilon: optax.contrib.adopt(
      learning_rate, b1=beta1, b2=beta2, eps=epsilon)
  return traced(factory, dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                              epsilon=epsilon))


def sfadamw(learning_rate, beta1, beta2, epsilon, weight_decay):
  """Schedule-free AdamW (Defazio et al. 2024; optax.contrib.schedule_free_adamw). Params
  θ = y are where gradients are taken; z₀ = x₀ = θ₀, v₀ = 0, W₀ = 0:
  v ← β2 v + (1−β2) g²; z ← z − α_t (g / (√(v / (1−β2^{t+1})) + ε) + wd · y);
  W ← W + w, w = (max_{s≤t} α_s)²; c = w / W; x ← (1−c) x + c z; y = β1 x + (1−β1) z.
  Evaluate at x (`eval_params`). β1 ∈ (0, 1): optax recovers x = (y − (1−β1) z) / β1. The
  method replaces the decay schedule: give it a constant one (warmup allowed)."""
  factory = lambda learning_rate, beta1, beta2, epsilon, weight_decay: (
      optax.contrib.schedule_free_adamw(learning_rate, b1=beta1, b2=beta2, eps=epsilon,
                                        weight_decay=weight_decay))
  return traced(factory, dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                              epsilon=epsilon, weight_decay=weight_decay))


MUON_RMS = 0.2  # Muon's update RMS, matched to Adam's (Liu et al. 2025): one η for both parts


def muon(learning_rate, momentum, beta1, beta2, epsilon):
  """Muon (Jordan et al. 2024; optax.contrib.scale_by_muon) on the hidden weight matrices, the
  Adam of DESIGN.md §2 on every other parameter (biases, norms, embeddings, the output
  layer), with the same η_t: the split of optcompare.param_roles, read from the parameter
  pytree's names and shapes (a convolution kernel is Muon's, as its (kh·kw·c_in, c_out)
  matrix). On a Muon matrix G (its gradient as that matrix, m₀ = 0):
  m ← μ m + (1−μ) g; M = μ m / (1−μ^{t+2}) + (1−μ) g / (1−μ^{t+1}) (Nesterov, as optax);
  X₀ = M / (‖M‖_F + 10⁻⁸), five steps X ← a X + (b A + c A²) X, A = X Xᵀ
  ((a, b, c) = (3.4445, −4.7750, 2.0315), on Mᵀ when M has more rows than columns);
  θ ← θ − η_t · 0.2 √max(fan_in, fan_out) · X (Liu et al.'s consistent update RMS, so that
  one η serves both parts). On the rest: θ ← θ − η_t b m / (√v + ε), Adam's (β1, β2, ε)."""
  def factory(learning_rate, momentum, beta1, beta2, epsilon):
    dims = param_roles.muon_dimension_numbers
    muon_part = optax.chain(
        optax.contrib.scale_by_muon(beta=momentum, nesterov=True, weight_dimension_numbers=dims),
        _consistent_rms(dims, MUON_RMS), optax.scale_by_learning_rate(learning_rate))
    adam_part = optax.chain(_scale_by_adam(beta1, beta2, epsilon),
                            optax.scale_by_learning_rate(learning_rate))
    return optax.partition({param_roles.MUON: muon_part, param_roles.ADAM: adam_part},
                           param_roles.labels)
  return traced(factory, dict(learning_rate=learning_rate, momentum=momentum, beta1=beta1,
                              beta2=beta2, epsilon=epsilon))


def _consistent_rms(dims_fn: Callable, rms: float) -> optax.GradientTransformation:
  """Scales each orthogonalised matrix by rms · √max(fan_in, fan_out): an orthogonal
  fan_in × fan_out matrix has RMS 1/√max(fan_in, fan_out), so the update's RMS is `rms`."""
  def scale(u, d):
    fan_in = math.prod(u.shape[a] for a in _axes(d.reduction_axis))
    fan_out = math.prod(u.shape[a] for a in _axes(d.output_axis))
    return u * (rms * math.sqrt(max(fan_in, fan_out)))

  def update(updates, state, params=None):
    del params
    return jax.tree.map(scale, updates, dims_fn(updates),
                        is_leaf=lambda x: isinstance(x, optax.contrib.MuonDimensionNumbers)
                        ), state
  return optax.GradientTransformation(optax.init_empty_state, update)


def _axes(axis) -> tuple[int, ...]:
  return (axis,) if isinstance(axis, int) else tuple(axis)


def _scale_by_adam(beta1, beta2, epsilon) -> optax.GradientTransformation:
  """The direction b m / (√v + ε) of DESIGN.md §2's Adam, without the learning rate, its values
  from the closure (for a factory under `traced`); accumulators in at least float32."""
  h = types.SimpleNamespace(beta1=beta1, beta2=beta2, epsilon=epsilon)

  def init(params):
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros_like(p, _acc_dtype(p)), params)
    return optax.ScaleByAdamState(jnp.zeros([], jnp.int32), zeros(), zeros())

  def update(grads, state, params=None):
    del params
    out = jax.tree.map(lambda g, m, v: _adam_direction(h, state.count, g, m, v, False),
                       grads, state.mu, state.nu)
    pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)
    return pick(0), optax.ScaleByAdamState(optax.safe_increment(state.count), pick(1), pick(2))
  return optax.GradientTransformation(init, update)


TABLE_1 = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")
REGISTRY: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd, "momentum": momentum, "nesterov": nesterov, "rmsprop": rmsprop,
    "adam": adam, "nadam": nadam,
    "adamw": adamw, "nadamw": nadamw,  # outside the paper's family
    "lion": lion, "muon": muon, "sfadamw": sfadamw, "adopt": adopt,  # DESIGN.md §2.1
}


def _schedule_free_eval(params, state: TracedState):
  """x = (y − (1−β1) z) / β1, the averaged iterate (optax.contrib.schedule_free_eval_params),
  in the parameters' dtypes."""
  x = optax.contrib.schedule_free_eval_params(state.inner, _upcast(params))
  return jax.tree.map(lambda a, p: a.astype(p.dtype), x, params)


# name -> (params, optimizer state) -> the parameters a model is evaluated at.
EVAL_PARAMS: dict[str, Callable] = {"sfadamw": _schedule_free_eval}


def eval_params(name, params, opt_state):
  """The parameters at which a model trained by optimizer `name` is evaluated: `params`
  themselves (the very object), except for an optimizer of EVAL_PARAMS (schedule-free
  AdamW: its averaged iterate x, not the gradient point y it trains). Any other `name`,
  e.g. a plug-in, is evaluated at `params`."""
  fn = EVAL_PARAMS.get(name)
  return params if fn is None else fn(params, opt_state)


def create(name: "str | plugins.Plugin", **hparams) -> optax.GradientTransformation:
  """The optimizer `name` of REGISTRY, or a plug-in, with the given hyperparameters (all
  required; a plug-in's: `traced(make, hparams)`, η > 0 and the others finite).

  Raises FieldError (a ValueError) naming the unknown optimizer, the missing or unknown
  hyperparameter, or the value outside its domain (optcompare.hparams.TABLE: η > 0,
  γ ∈ [0,1), ρ ∈ [0,1], β ∈ [0,1) (sfadamw: β1 ∈ (0,1), hparams.NARROWER), ε > 0
  (RMSProp: ε = 0 with ρ = 1, hparams.WIDER),
  wd ≥ 0, finite real scalars). Only `learning_rate` may be a schedule.
  """
  if not isinstance(name, plugins.Plugin) and name not in REGISTRY:
    raise FieldError("name", f"unknown optimizer {name!r} (known: {', '.join(REGISTRY)})")
  takes = _takes(name)
  for key, value in hparams.items():
    if key not in takes:
      raise FieldError(key, f"unknown hyperparameter for {_name(name)} (takes "
                       f"{', '.join(takes)})")
    if key == "learning_rate" and callable(value):
      continue
    if isinstance(name, plugins.Plugin):  # its names mean what its file says: η > 0 only
      schedules.check_number(key, value, *(hparams_lib.TABLE[key].domain.args()
                                           if key == "learning_rate" else ()))
    else:
      _check_in_domain(name, key, value, hparams)
  for key in takes:
    if key not in hparams:
      raise FieldError(key, f"missing, required by {_name(name)}")
  if isinstance(name, plugins.Plugin):
    return traced(name.make, hparams)
  return REGISTRY[name](**hparams)


def _takes(optimizer: "str | plugins.Plugin") -> list[str]:
  if isinstance(optimizer, plugins.Plugin):
    return list(optimizer.hyperparameters)
  return list(inspect.signature(REGISTRY[optimizer]).parameters)


def _name(optimizer: "str | plugins.Plugin") -> str:
  return optimizer.name if isinstance(optimizer, plugins.Plugin) else optimizer


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
  `name` (the table's, or hparams.WIDER's where the other values allow it, and within
  hparams.NARROWER's); the message states the domain, and the exception when there is one."""
  narrower = hparams_lib.NARROWER.get((name, key))
  if narrower:
    try:
      schedules.check_number(key, value, *narrower.domain.args())
    except FieldError as e:
      raise FieldError(key, f"{e.reason} ({name}: {narrower.why})") from e
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
def _update_fn(name: "str | plugins.Plugin") -> Callable:
  placeholders = {k: 0.0 for k in _takes(name)}  # never read: the state carries the values
  placeholders["learning_rate"] = schedules.Schedule("constant", 0.0)
  if isinstance(name, plugins.Plugin):
    return traced(name.make, placeholders).update
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
  optimizer = plugins.of_config(opt_cfg)  # a plug-in: loaded (BadInputError naming its file)
  try:
    if not isinstance(optimizer, plugins.Plugin) and optimizer not in REGISTRY:
      create(optimizer)  # raises the unknown-name error
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
    create(optimizer, **hp)  # checks names and domains
    return hp
  except FieldError as e:
    path = "optimizer.name" if e.field == "name" else f"optimizer.hparams.{e.field}"
    raise errors.BadInputError(f"{path}: {e.reason}") from e


def from_config(opt_cfg, num_train_steps: int) -> optax.GradientTransformation:
  """create(name, **settings_from_config(...)); errors as settings_from_config."""
  settings = settings_from_config(opt_cfg, num_train_steps)
  return create(plugins.of_config(opt_cfg), **settings)
