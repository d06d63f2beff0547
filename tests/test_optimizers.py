"""optcompare.optimizers against DESIGN.md §2 (Choi et al. 2019, Table 1)."""
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs.workloads import fashion_mnist_simple_cnn
from optcompare import errors
from optcompare import optimizers
from optcompare import schedules

HPARAMS = {  # one setting per optimizer, and a second one for the recompilation tests
    "sgd": [dict(learning_rate=0.1), dict(learning_rate=0.03)],
    "momentum": [dict(learning_rate=0.05, momentum=0.9), dict(learning_rate=0.2, momentum=0.5)],
    "nesterov": [dict(learning_rate=0.05, momentum=0.9), dict(learning_rate=0.2, momentum=0.5)],
    "rmsprop": [dict(learning_rate=0.01, momentum=0.9, rho=0.9, epsilon=1e-6),
                dict(learning_rate=0.1, momentum=0.0, rho=0.99, epsilon=1e-3)],
    "adam": [dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8),
             dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0)],
    "nadam": [dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8),
              dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0)],
    "adamw": [dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.1),
              dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0, weight_decay=0.0)],
    "nadamw": [dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.1),
               dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0, weight_decay=0.0)],
    # DESIGN.md §2.1 (their rules: tests/test_modern_optimizers.py)
    "lion": [dict(learning_rate=0.01, beta1=0.9, beta2=0.99, weight_decay=0.1),
             dict(learning_rate=0.3, beta1=0.5, beta2=0.9, weight_decay=0.0)],
    "muon": [dict(learning_rate=0.01, momentum=0.95, beta1=0.9, beta2=0.999, epsilon=1e-8),
             dict(learning_rate=0.3, momentum=0.5, beta1=0.5, beta2=0.9, epsilon=1.0)],
    "sfadamw": [dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.1),
                dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0, weight_decay=0.0)],
    "adopt": [dict(learning_rate=0.01, beta1=0.9, beta2=0.9999, epsilon=1e-6),
              dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0)],
}
STEPS, DECAY_FACTOR, DECAY_FRACTION = 50, 0.1, 0.8  # T = 40: the last 10 steps sit at λ·η₀


def _params_and_grads(steps, seed=0, dtype=np.float32):
  rng = np.random.default_rng(seed)
  params = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=(5,))}
  grads = [{"w": rng.normal(size=(3, 4)), "b": 1e-2 * rng.normal(size=(5,))}
           for _ in range(steps)]
  cast = lambda tree: jax.tree.map(lambda x: x.astype(dtype), tree)
  return cast(params), [cast(g) for g in grads]


def _run(opt, params, grads, update=None):
  state, update = opt.init(params), update or jax.jit(opt.update)
  for g in grads:
    u, state = update(g, state, params)
    params = optax.apply_updates(params, u)
  return params


def _np_reference(name, hp, params, grads):
  """DESIGN.md §2 in float64 NumPy, with the linear-decay schedule of the tests."""
  p = {k: v.astype(np.float64) for k, v in params.items()}
  s = {k: (np.ones_like(v) if name == "rmsprop" else np.zeros_like(v)) for k, v in p.items()}
  m = {k: np.zeros_like(v) for k, v in p.items()}
  T = round(DECAY_FRACTION * STEPS)
  for t, g in enumerate(grads):
    lr = hp["learning_rate"] * (1 - (1 - DECAY_FACTOR) * min(t, T) / T)
    for k in p:
      gk = g[k].astype(np.float64)
      if name == "sgd":
        p[k] = p[k] - lr * gk
      elif name in ("momentum", "nesterov"):
        gam = hp["momentum"]
        s[k] = gam * s[k] + gk
        p[k] = p[k] - lr * (s[k] if name == "momentum" else gam * s[k] + gk)
      elif name == "rmsprop":
        s[k] = hp["rho"] * s[k] + (1 - hp["rho"]) * gk**2
        m[k] = hp["momentum"] * m[k] + lr * gk / np.sqrt(s[k] + hp["epsilon"])
        p[k] = p[k] - m[k]
      else:  # adam, nadam
        b1, b2 = hp["beta1"], hp["beta2"]
        m[k] = b1 * m[k] + (1 - b1) * gk
        s[k] = b2 * s[k] + (1 - b2) * gk**2
        b = math.sqrt(1 - b2**(t + 1)) / (1 - b1**(t + 1))
        num = m[k] if name == "adam" else b1 * m[k] + (1 - b1) * gk
        p[k] = p[k] - lr * b * num / (np.sqrt(s[k]) + hp["epsilon"])
  return p


def _lr_schedule(base, steps=STEPS):
  return schedules.create("linear_decay", base=base, num_train_steps=steps,
                          decay_factor=DECAY_FACTOR, decay_steps_fraction=DECAY_FRACTION)


@pytest.mark.parametrize("name", optimizers.TABLE_1)
def test_matches_float64_reference(name):
  hp = dict(HPARAMS[name][0])
  params, grads = _params_and_grads(STEPS)
  opt = optimizers.create(name, **{**hp, "learning_rate": _lr_schedule(hp["learning_rate"])})
  want = _np_reference(name, hp, params, grads)
  # Besides θ, the distance travelled with the float32 updates summed in float64: stricter, as
  # the rounding of θ + u (~1e-7 |θ| a step) does not hide the optimizer's own arithmetic.
  state, update, got = opt.init(params), jax.jit(opt.update), params
  moved = jax.tree.map(lambda p: np.zeros(p.shape), params)
  for g in grads:
    u, state = update(g, state, got)
    got = optax.apply_updates(got, u)
    moved = jax.tree.map(lambda m, u: m + np.asarray(u, np.float64), moved, u)
  rel = lambda x, y: np.linalg.norm(np.asarray(x, np.float64) - y) / np.linalg.norm(y)
  for k in want:
    assert rel(got[k], want[k]) < 1e-5, (k, rel(got[k], want[k]))
    assert rel(moved[k], want[k] - params[k]) < 1e-5, (k, rel(moved[k], want[k] - params[k]))


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
def test_zero_momentum_is_sgd_exactly(name):
  params, grads = _params_and_grads(20)
  lr = _lr_schedule(0.1, steps=20)
  got = _run(optimizers.create(name, learning_rate=lr, momentum=0.0), params, grads)
  want = _run(optimizers.create("sgd", learning_rate=lr), params, grads)
  jax.tree.map(np.testing.assert_array_equal, got, want)


def test_rmsprop_rho_one_epsilon_zero_is_momentum_exactly():
  # v stays 1, so m_t = η v_t of momentum; η = 2^-3 makes that exact in floating point too
  # (scaling by a power of two commutes with rounding).
  params, grads = _params_and_grads(30)
  got = _run(optimizers.create("rmsprop", learning_rate=0.125, momentum=0.9, rho=1.0,
                               epsilon=0.0), params, grads)
  want = _run(optimizers.create("momentum", learning_rate=0.125, momentum=0.9), params, grads)
  jax.tree.map(np.testing.assert_array_equal, got, want)


@pytest.mark.parametrize("general,special", [("adam", "momentum"), ("nadam", "nesterov")])
def test_large_epsilon_limit(general, special):
  """Adam/NAdam with α_t = η_t ε (1−β1^{t+1}) / ((1−β1) √(1−β2^{t+1})) → Momentum/Nesterov."""
  # float64: the gap is ~ √v/ε, ~1e-5 at ε = 1e2, so at ε = 1e4 it would already sit at
  # float32 rounding level and the monotone decrease would be luck.
  with jax.enable_x64(True):
    rng = np.random.default_rng(1)
    a, y = jnp.asarray(rng.normal(size=(32, 6))), jnp.asarray(rng.normal(size=(32,)))
    grad_fn = jax.grad(lambda x: 0.5 * jnp.mean((a @ x - y) ** 2))
    eta, b1, b2 = _lr_schedule(0.05, steps=100), 0.9, 0.99

    def run(opt):
      def body(carry, _):
        x, state = carry
        u, state = opt.update(grad_fn(x), state, x)
        return (x + u, state), None
      x0 = jnp.zeros(6)
      return jax.jit(lambda: jax.lax.scan(body, (x0, opt.init(x0)), length=100)[0][0])()

    want = run(optimizers.create(special, learning_rate=eta, momentum=b1))
    gaps = []
    for eps in (1e2, 1e4, 1e6):
      alpha = lambda t, eps=eps: (eta(t) * eps * (1 - b1 ** (t + 1))
                                  / ((1 - b1) * jnp.sqrt(1 - b2 ** (t + 1))))
      got = run(optimizers.create(general, learning_rate=alpha, beta1=b1, beta2=b2,
                                  epsilon=eps))
      assert got.dtype == jnp.float64
      gaps.append(float(jnp.linalg.norm(got - want) / jnp.linalg.norm(want)))
  assert gaps[0] > gaps[1] > gaps[2], gaps
  assert gaps[2] < 1e-3, gaps


@pytest.mark.parametrize("name", list(optimizers.REGISTRY))
def test_hyperparameters_are_traced_not_compiled(name):
  params, grads = _params_and_grads(2)
  settings = [dict(hp, learning_rate=_lr_schedule(hp["learning_rate"])) for hp in HPARAMS[name]]
  settings += HPARAMS[name]  # plain numbers: a second structure, compiled once more
  opts = [optimizers.create(name, **hp) for hp in settings]
  traces = []

  def step(grads, state, params):
    traces.append(1)  # runs only while tracing
    return opts[0].update(grads, state, params)  # reads every value from `state`

  jitted = jax.jit(step)
  for opt in opts:
    state = opt.init(params)
    got, _ = jitted(grads[0], state, params)
    want, _ = opt.update(grads[0], state, params)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), got, want)
  assert len(traces) == 2  # one per structure (schedule / number), not per setting


@pytest.mark.parametrize("name", list(optimizers.REGISTRY))
def test_vmap_over_settings_equals_separate_runs(name):
  params, grads = _params_and_grads(3)
  base = HPARAMS[name][0]
  settings = [dict(base, learning_rate=_lr_schedule(base["learning_rate"] * f)) for f in
              (0.5, 1.0, 2.0)] + [dict(HPARAMS[name][1], learning_rate=_lr_schedule(0.01))]
  opts = [optimizers.create(name, **hp) for hp in settings]
  stack = lambda trees: jax.tree.map(lambda *xs: jnp.stack(xs), *trees)
  batched_params, batched_state = stack([params] * 4), stack([o.init(params) for o in opts])
  update = jax.jit(jax.vmap(opts[0].update, in_axes=(None, 0, 0)))
  for g in grads:
    u, batched_state = update(g, batched_state, batched_params)
    batched_params = optax.apply_updates(batched_params, u)
  separate = jax.jit(opts[0].update)  # one compiled update serves every setting
  for i, opt in enumerate(opts):
    want = _run(opt, params, grads, separate)
    got = jax.tree.map(lambda x: x[i], batched_params)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), got, want)


def test_create_inside_vmap_with_traced_values():
  params, grads = _params_and_grads(1)
  opt = optimizers.create("momentum", learning_rate=0.1, momentum=0.9)
  lrs = jnp.array([0.1, 0.2, 0.4])
  states = jax.vmap(lambda lr: optimizers.create("momentum", learning_rate=lr,
                                                 momentum=0.9).init(params))(lrs)
  u, _ = jax.vmap(opt.update, in_axes=(None, 0, None))(grads[0], states, params)
  np.testing.assert_allclose(u["b"], -lrs[:, None] * grads[0]["b"][None], rtol=1e-6)


@pytest.mark.parametrize("name", list(optimizers.REGISTRY))
def test_bfloat16_params_keep_their_dtype(name):
  params, grads = _params_and_grads(3, dtype=jnp.bfloat16)
  opt = optimizers.create(name, **HPARAMS[name][0])
  state0 = state = opt.init(params)
  update = jax.jit(opt.update)
  for g in grads:
    u, state = update(g, state, params)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(u))
    params = optax.apply_updates(params, u)
  assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(params))
  # the state keeps its dtypes (a scan/while carry); accumulators are float32.
  assert jax.tree.map(lambda x: x.dtype, state) == jax.tree.map(lambda x: x.dtype, state0)
  accumulators = state.moments if hasattr(state, "moments") else state.inner  # (traced)
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(accumulators)
             if jnp.issubdtype(x.dtype, jnp.floating))
  assert all(bool(jnp.isfinite(x).all()) for x in jax.tree.leaves(params))


@pytest.mark.parametrize("name", ["adamw", "nadamw"])
def test_decoupled_weight_decay(name):
  params, grads = _params_and_grads(2)
  hp = dict(HPARAMS[name][0], weight_decay=0.5)
  plain = {k: v for k, v in hp.items() if k != "weight_decay"}
  opt, ref = optimizers.create(name, **hp), optimizers.create(name[:-1], **plain)
  s, r = opt.init(params), ref.init(params)
  for g in grads:  # θ ← θ − α_t (direction + wd · θ)
    u, s = opt.update(g, s, params)
    v, r = ref.update(g, r, params)
    want = jax.tree.map(lambda v, p: v - hp["learning_rate"] * 0.5 * p, v, params)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), u, want)
  with pytest.raises(ValueError, match="params"):
    opt.update(grads[0], s)


def test_hyperparams_are_visible_in_the_state():
  params, grads = _params_and_grads(3)
  opt = optimizers.create("sgd", learning_rate=_lr_schedule(1.0, steps=10))
  state = opt.init(params)
  assert float(state.hyperparams["learning_rate"]) == pytest.approx(1.0)
  for g in grads:
    _, state = opt.update(g, state, params)
  # the third update (t = 2) used η₀ (1 − 0.9 · 2/8)
  assert float(state.hyperparams["learning_rate"]) == pytest.approx(1 - 0.9 * 2 / 8)


ADAM = HPARAMS["adam"][0]
BAD = [  # (name, hparams, the field the message must name)
    ("adam", {k: v for k, v in ADAM.items() if k != "learning_rate"}, "learning_rate"),
    ("rmsprop", dict(learning_rate=0.1, momentum=0.9, epsilon=1e-3), "rho"),
    ("sgd", dict(learning_rate=0.1, momentum=0.9), "momentum"),
    ("adam", dict(ADAM, beta3=0.5), "beta3"),
    ("sgd", dict(learning_rate=-0.1), "learning_rate"),
    ("momentum", dict(learning_rate=0.1, momentum=1.0), "momentum"),
    ("nesterov", dict(learning_rate=0.1, momentum=-0.1), "momentum"),
    ("adam", dict(ADAM, beta1=1.0), "beta1"),
    ("nadam", dict(ADAM, beta2=-0.1), "beta2"),
    ("adam", dict(ADAM, epsilon=-1.0), "epsilon"),
    ("adam", dict(ADAM, learning_rate=float("nan")), "learning_rate"),
    ("sgd", dict(learning_rate=float("inf")), "learning_rate"),
    ("adam", dict(ADAM, beta1="0.9"), "beta1"),
    ("momentum", dict(learning_rate=0.1, momentum=True), "momentum"),
    ("sgd", dict(learning_rate=np.array([0.1, 0.2])), "learning_rate"),
    ("rmsprop", dict(learning_rate=0.1, momentum=0.9, rho=1.5, epsilon=0.0), "rho"),
    ("adamw", dict(ADAM, weight_decay=-1e-4), "weight_decay"),
    ("adam", dict(ADAM, beta1=lambda t: 0.9), "beta1"),  # only learning_rate may be a schedule
    ("adagrad", dict(learning_rate=0.1), "adagrad"),
]


@pytest.mark.parametrize("name,hparams,field", BAD, ids=[f"{b[0]}-{b[2]}-{i}" for i, b in
                                                         enumerate(BAD)])
def test_bad_hyperparameters(name, hparams, field):
  with pytest.raises(ValueError, match=field):
    optimizers.create(name, **hparams)


def test_good_edge_values_accepted():
  optimizers.create("sgd", learning_rate=1e-30)
  optimizers.create("momentum", learning_rate=np.float32(0.1), momentum=0.0)
  optimizers.create("rmsprop", learning_rate=jnp.asarray(0.1), momentum=0.0, rho=1.0,
                    epsilon=0.0)  # ρ = 1 keeps v = 1: ε = 0 is Momentum, and safe
  optimizers.create("adam", learning_rate=optax.constant_schedule(1e-3), beta1=0.0, beta2=0.0,
                    epsilon=1e-30)


@pytest.mark.parametrize("name,hparams,domain", [
    ("sgd", dict(learning_rate=0.0), "(0.0, inf)"),
    ("adam", dict(ADAM, epsilon=0.0), "(0.0, inf)"),
    ("nadam", dict(ADAM, epsilon=0.0), "(0.0, inf)"),
    ("adamw", dict(ADAM, epsilon=0.0, weight_decay=0.0), "(0.0, inf)"),
    ("nadamw", dict(ADAM, epsilon=0.0, weight_decay=0.0), "(0.0, inf)"),
    ("rmsprop", dict(learning_rate=0.1, momentum=0.0, rho=0.9, epsilon=0.0),
     "(0.0, inf), got 0.0 (rmsprop: ε = 0 only with rho = 1"),
])
def test_zero_learning_rate_and_epsilon_are_refused_with_the_domain(name, hparams, domain):
  """η = 0 trains nothing; ε = 0 gives 0/0 on a coordinate whose gradients have all been zero
  (RMSProp: unless ρ = 1, where v stays 1; with ρ < 1 its v underflows to 0)."""
  with pytest.raises(ValueError, match=re.escape(domain)):
    optimizers.create(name, **hparams)


def _config():
  return fashion_mnist_simple_cnn.get_config().optimizer


def test_from_config_default_is_constant_adam():
  params, grads = _params_and_grads(5)
  got = _run(optimizers.from_config(_config(), 10_000), params, grads)
  want = _run(optimizers.create("adam", learning_rate=1e-3, beta1=0.9, beta2=0.999,
                                epsilon=1e-8), params, grads)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), got, want)


def test_from_config_momentum_with_linear_decay():
  cfg = _config()
  cfg.name = "momentum"
  cfg.hparams.update(dict(learning_rate=0.1, momentum=0.9, beta1=None, beta2=None, epsilon=None))
  cfg.schedule.update(dict(name="linear_decay", decay_factor=DECAY_FACTOR,
                           decay_steps_fraction=DECAY_FRACTION))
  params, grads = _params_and_grads(STEPS)
  got = _run(optimizers.from_config(cfg, STEPS), params, grads)
  want = _np_reference("momentum", dict(learning_rate=0.1, momentum=0.9), params, grads)
  for k in want:
    np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)


def _set(cfg, path, value):
  *parents, leaf = path.split(".")
  for p in parents:
    cfg = cfg[p]
  cfg[leaf] = value


@pytest.mark.parametrize("changes,path", [
    ({"hparams.momentum": 0.9}, "optimizer.hparams.momentum: unknown hyperparameter for adam"),
    ({"hparams.beta2": None}, "optimizer.hparams.beta2: missing"),
    ({"hparams.learning_rate": None}, "optimizer.hparams.learning_rate: missing"),
    ({"hparams.learning_rate": -1.0}, "optimizer.hparams.learning_rate: "),
    ({"hparams.epsilon": -1.0}, "optimizer.hparams.epsilon: "),
    ({"name": "adagrad"}, "optimizer.name: unknown optimizer 'adagrad'"),
    ({"schedule.name": "step"}, "optimizer.schedule.name: unknown schedule 'step'"),
    ({"schedule.decay_factor": 0.5}, "optimizer.schedule.decay_factor: unknown argument"),
    ({"schedule.name": "linear_decay", "schedule.decay_factor": 0.1},
     "optimizer.schedule.decay_steps: missing"),
    ({"schedule.name": "linear_decay", "schedule.decay_factor": 0.1,
      "schedule.decay_steps": 100, "schedule.decay_steps_fraction": 0.5},
     "optimizer.schedule.decay_steps: give decay_steps or decay_steps_fraction, not both"),
    ({"schedule.warmup_steps": -1}, "optimizer.schedule.warmup_steps: "),
])
def test_from_config_errors_name_the_config_field(changes, path):
  cfg = _config()
  for k, v in changes.items():
    _set(cfg, k, v)
  with pytest.raises(errors.BadInputError) as e:
    optimizers.from_config(cfg, 10_000)
  assert str(e.value).startswith(path), str(e.value)
