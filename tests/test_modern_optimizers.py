"""optcompare.optimizers.traced (any optax factory, hyperparameters traced) and the four modern
built-ins (lion, muon, sfadamw, adopt) against float64 NumPy references (DESIGN.md §2.1)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optcompare import optimizers
from optcompare import schedules


def _tree(seed=0, dtype=np.float32):
  rng = np.random.default_rng(seed)
  return {"w": rng.normal(size=(3, 4)).astype(dtype), "b": rng.normal(size=(5,)).astype(dtype)}


def _optax_adam(learning_rate, b1):
  """An optax factory as a user would write one: Adam with two hyperparameters."""
  return optax.adam(learning_rate, b1=b1)


def _run(tx, params, grads, update=None):
  state, update = tx.init(params), update or jax.jit(tx.update)
  for g in grads:
    u, state = update(g, state, params)
    params = optax.apply_updates(params, u)
  return params, state


def test_traced_performs_the_factorys_update():
  params, grads = _tree(0), [_tree(s) for s in (1, 2, 3)]
  got, state = _run(optimizers.traced(_optax_adam, dict(learning_rate=0.1, b1=0.5)), params,
                    grads)
  want, _ = _run(_optax_adam(0.1, 0.5), params, grads)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), got, want)
  assert isinstance(state, optimizers.TracedState) and int(state.count) == 3
  assert float(state.hyperparams["b1"]) == 0.5


def test_traced_two_settings_share_one_compilation():
  params, grads = _tree(0), [_tree(s) for s in (1, 2)]
  lr = lambda base: schedules.create("linear_decay", base=base, num_train_steps=4,
                                     decay_factor=0.5, decay_steps=2)
  settings = [dict(learning_rate=lr(0.1), b1=0.9), dict(learning_rate=lr(0.3), b1=0.2)]
  traces = []

  def update(g, state, p):
    traces.append(1)  # runs only while tracing
    return optimizers.traced(_optax_adam, settings[0]).update(g, state, p)

  jitted = jax.jit(update)
  for hp in settings:
    got, _ = _run(optimizers.traced(_optax_adam, hp), params, grads, jitted)
    want, _ = _run(optimizers.traced(_optax_adam, hp), params, grads)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), got, want)
  assert len(traces) == 1


def test_traced_stacked_states_vmap_and_log_the_learning_rate_used():
  params, grads = _tree(0), [_tree(s) for s in (1, 2, 3)]
  lr = lambda base: schedules.create("linear_decay", base=base, num_train_steps=3,
                                     decay_factor=0.1, decay_steps=2)
  txs = [optimizers.traced(_optax_adam, dict(learning_rate=lr(base), b1=b1))
         for base, b1 in ((0.1, 0.9), (0.01, 0.0), (1.0, 0.5))]
  stack = lambda trees: jax.tree.map(lambda *xs: jnp.stack(xs), *trees)
  ps, states = stack([params] * 3), stack([tx.init(params) for tx in txs])
  update = jax.jit(jax.vmap(txs[0].update))
  for g in grads:
    u, states = update(stack([g] * 3), states, ps)
    ps = optax.apply_updates(ps, u)
  for i, tx in enumerate(txs):
    want, state = _run(tx, params, grads)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x[i], y, rtol=1e-6), ps, want)
    # the third update (t = 2) used η₀ λ
    np.testing.assert_allclose(states.hyperparams["learning_rate"][i],
                               state.hyperparams["learning_rate"], rtol=1e-7)
    np.testing.assert_allclose(state.hyperparams["learning_rate"],
                               0.1 * float(tx.init(params).hyperparams["learning_rate"]),
                               rtol=1e-6)


def test_traced_runs_a_bfloat16_model_in_float32():
  params, grads = _tree(0, jnp.bfloat16), [_tree(s, jnp.bfloat16) for s in (1, 2)]
  tx = optimizers.traced(_optax_adam, dict(learning_rate=0.1, b1=0.9))
  got, state = _run(tx, params, grads)
  assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(got))
  moments = [x for x in jax.tree.leaves(state.inner) if jnp.issubdtype(x.dtype, jnp.floating)]
  assert moments and all(x.dtype == jnp.float32 for x in moments)


# ---- the four modern built-ins (DESIGN.md §2.1) ----

MODERN = ("lion", "muon", "sfadamw", "adopt")
HPARAMS = {  # two settings each
    "lion": [dict(learning_rate=0.01, beta1=0.9, beta2=0.99, weight_decay=0.1),
             dict(learning_rate=0.3, beta1=0.5, beta2=0.9, weight_decay=0.0)],
    "muon": [dict(learning_rate=0.02, momentum=0.95, beta1=0.9, beta2=0.999, epsilon=1e-8),
             dict(learning_rate=0.3, momentum=0.5, beta1=0.5, beta2=0.9, epsilon=1.0)],
    "sfadamw": [dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8,
                     weight_decay=0.1),
                dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0, weight_decay=0.0)],
    "adopt": [dict(learning_rate=0.01, beta1=0.9, beta2=0.9999, epsilon=1e-6),
              dict(learning_rate=0.3, beta1=0.5, beta2=0.9, epsilon=1.0)],
}
STEPS, DECAY_FACTOR, DECAY_STEPS = 8, 0.2, 6


def _model_tree(seed=0, dtype=np.float64):
  """A model-like parameter tree: a 4-D convolution kernel and a hidden dense kernel (Muon's),
  biases and an output layer `head` (Adam's)."""
  rng = np.random.default_rng(seed)
  shapes = {"conv": {"kernel": (2, 2, 3, 4), "bias": (4,)},
            "hidden": {"kernel": (4, 6), "bias": (6,)},
            "head": {"kernel": (6, 3), "bias": (3,)}}
  return jax.tree.map(lambda s: rng.normal(size=s).astype(dtype), shapes,
                      is_leaf=lambda x: isinstance(x, tuple))


def _lr(base):
  return schedules.create("linear_decay", base=base, num_train_steps=STEPS,
                          decay_factor=DECAY_FACTOR, decay_steps=DECAY_STEPS)


def _eta(base, t):
  return base * (1 - (1 - DECAY_FACTOR) * min(t, DECAY_STEPS) / DECAY_STEPS)


def _np_lion(hp, params, grads):
  b1, b2, wd = hp["beta1"], hp["beta2"], hp["weight_decay"]
  p, m = dict(params), {k: np.zeros_like(v) for k, v in params.items()}
  for t, g in enumerate(grads):
    for k in p:
      c = b1 * m[k] + (1 - b1) * g[k]
      m[k] = b2 * m[k] + (1 - b2) * g[k]
      p[k] = p[k] - _eta(hp["learning_rate"], t) * (np.sign(c) + wd * p[k])
  return p


def _np_adopt(hp, params, grads):
  b1, b2, eps = hp["beta1"], hp["beta2"], hp["epsilon"]
  p = dict(params)
  m, v = ({k: np.zeros_like(x) for k, x in params.items()} for _ in range(2))
  for t, g in enumerate(grads):
    b1_, b2_ = (b1, b2) if t > 0 else (1.0, 0.0)  # t = 0: v ← g², no step
    for k in p:
      u = np.clip(g[k] / np.maximum(np.sqrt(v[k]), eps), -t ** 0.25, t ** 0.25)
      m[k] = b1_ * m[k] + (1 - b1_) * u
      v[k] = b2_ * v[k] + (1 - b2_) * g[k] ** 2
      p[k] = p[k] - _eta(hp["learning_rate"], t) * m[k]
  return p


def _np_sfadamw(hp, params, grads):
  """Returns (y, x): the trained parameters and the averaged iterate."""
  b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["epsilon"], hp["weight_decay"]
  y, z, x = dict(params), dict(params), dict(params)
  v = {k: np.zeros_like(a) for k, a in params.items()}
  weight_sum = max_lr = 0.0
  for t, g in enumerate(grads):
    lr = _eta(hp["learning_rate"], t)
    max_lr = max(max_lr, lr)
    weight_sum += max_lr ** 2
    c = max_lr ** 2 / weight_sum
    for k in y:
      v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
      z[k] = z[k] - lr * (g[k] / (np.sqrt(v[k] / (1 - b2 ** (t + 1))) + eps) + wd * y[k])
      x[k] = (1 - c) * x[k] + c * z[k]
      y[k] = b1 * x[k] + (1 - b1) * z[k]
  return y, x


def _np_orthogonalise(m):
  """Newton–Schulz, five quintic steps with (a, b, c) = (3.4445, −4.7750, 2.0315)."""
  a, b, c = 3.4445, -4.7750, 2.0315
  wide = m.shape[0] <= m.shape[1]
  x = m if wide else m.T
  x = x / (np.linalg.norm(x) + 1e-8)
  for _ in range(5):
    s = x @ x.T
    x = a * x + (b * s + c * s @ s) @ x
  return x if wide else x.T


def _np_adam_step(hp, t, g, m, v):
  m = hp["beta1"] * m + (1 - hp["beta1"]) * g
  v = hp["beta2"] * v + (1 - hp["beta2"]) * g ** 2
  bias = np.sqrt(1 - hp["beta2"] ** (t + 1)) / (1 - hp["beta1"] ** (t + 1))
  return bias * m / (np.sqrt(v) + hp["epsilon"]), m, v


def _np_muon(hp, params, grads):
  """Muon on the two kernels (conv as its (kh·kw·c_in, c_out) matrix), Adam on the rest."""
  mu = hp["momentum"]
  p = jax.tree.map(np.copy, params)
  flat = lambda tree: {(a, b): x for a, d in tree.items() for b, x in d.items()}
  p, state = flat(p), {k: [np.zeros_like(x), np.zeros_like(x)] for k, x in flat(p).items()}
  for t, g in enumerate(grads):
    lr = _eta(hp["learning_rate"], t)
    for k, gk in flat(g).items():
      if k in (("conv", "kernel"), ("hidden", "kernel")):
        state[k][0] = mu * state[k][0] + (1 - mu) * gk
        nesterov = mu * state[k][0] / (1 - mu ** (t + 2)) + (1 - mu) * gk / (1 - mu ** (t + 1))
        mat = nesterov.reshape(-1, gk.shape[-1])
        step = 0.2 * np.sqrt(max(mat.shape)) * _np_orthogonalise(mat)
        p[k] = p[k] - lr * step.reshape(gk.shape)
      else:
        step, state[k][0], state[k][1] = _np_adam_step(hp, t, gk, *state[k])
        p[k] = p[k] - lr * step
  out = {}
  for (a, b), x in p.items():
    out.setdefault(a, {})[b] = x
  return out


def _run_modern(name, hp, params, grads):
  tx = optimizers.create(name, **dict(hp, learning_rate=_lr(hp["learning_rate"])))
  return _run(tx, params, grads)


@pytest.mark.parametrize("setting", [0, 1])
@pytest.mark.parametrize("name", ["lion", "adopt"])
def test_elementwise_rules_match_float64_references(name, setting):
  hp = HPARAMS[name][setting]
  with jax.enable_x64(True):
    params, grads = _tree(0, np.float64), [_tree(s, np.float64) for s in range(1, STEPS + 1)]
    got, _ = _run_modern(name, hp, params, grads)
    want = {"lion": _np_lion, "adopt": _np_adopt}[name](hp, params, grads)
    for k in want:
      np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("setting", [0, 1])
def test_sfadamw_matches_its_float64_reference_and_is_evaluated_at_x(setting):
  hp = HPARAMS["sfadamw"][setting]
  with jax.enable_x64(True):
    params, grads = _tree(0, np.float64), [_tree(s, np.float64) for s in range(1, STEPS + 1)]
    got, state = _run_modern("sfadamw", hp, params, grads)
    want_y, want_x = _np_sfadamw(hp, params, grads)
    x = optimizers.eval_params("sfadamw", got, state)
    for k in want_y:
      np.testing.assert_allclose(got[k], want_y[k], rtol=1e-12, atol=1e-12)
      np.testing.assert_allclose(x[k], want_x[k], rtol=1e-10, atol=1e-10)
      assert np.abs(x[k] - got[k]).max() > 1e-4  # x is not y: the hook matters


@pytest.mark.parametrize("setting", [0, 1])
def test_muon_matches_its_float64_reference(setting):
  hp = HPARAMS["muon"][setting]
  with jax.enable_x64(True):
    params, grads = _model_tree(0), [_model_tree(s) for s in range(1, STEPS + 1)]
    got, _ = _run_modern("muon", hp, params, grads)
    want = _np_muon(hp, params, grads)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12),
                 got, want)


# ---- exact inclusion relations, shown numerically (as Appendix A's) ----

def test_lion_with_zero_betas_is_sign_descent_exactly():
  params, grads = _tree(0), [_tree(s) for s in range(1, STEPS + 1)]
  lion = optimizers.create("lion", learning_rate=_lr(0.1), beta1=0.0, beta2=0.0,
                           weight_decay=0.0)
  sgd = optimizers.create("sgd", learning_rate=_lr(0.1))
  got, _ = _run(lion, params, grads)
  want, _ = _run(sgd, params, [jax.tree.map(np.sign, g) for g in grads])
  jax.tree.map(np.testing.assert_array_equal, got, want)


def test_adopt_with_epsilon_above_every_gradient_is_momentum_one_step_late():
  """max(√v, ε) = ε exactly once ε ≥ max |g| (v is an average of g²), and |g/ε| ≤ 1 ≤ t^¼
  leaves the clipping idle: with α = η ε / (1−β1), ADOPT is Momentum(η, γ = β1) on
  g_1, g_2, … (its step at t = 0 only sets v)."""
  eta, b1, eps = 0.05, 0.8, 10.0
  with jax.enable_x64(True):
    params, grads = _tree(0, np.float64), [_tree(s, np.float64) for s in range(1, STEPS + 1)]
    assert eps >= max(np.abs(x).max() for g in grads for x in g.values())
    got, _ = _run(optimizers.create("adopt", learning_rate=eta * eps / (1 - b1), beta1=b1,
                                    beta2=0.9, epsilon=eps), params, grads)
    want, _ = _run(optimizers.create("momentum", learning_rate=eta, momentum=b1), params,
                   grads[1:])
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-12), got, want)


def _least_squares():
  rng = np.random.default_rng(1)
  a, y = jnp.asarray(rng.normal(size=(32, 6))), jnp.asarray(rng.normal(size=(32,)))
  return jax.grad(lambda x: 0.5 * jnp.mean((a @ x - y) ** 2))


def _descend(tx, grad_fn, steps=50):
  x0 = jnp.zeros(6)

  def body(carry, _):
    x, state = carry
    u, state = tx.update(grad_fn(x), state, x)
    return (x + u, state), None
  return jax.jit(lambda: jax.lax.scan(body, (x0, tx.init(x0)), length=steps)[0])()


def test_sfadamw_as_beta1_goes_to_zero_trains_its_base_adamw():
  """y = β1 x + (1−β1) z: as β1 → 0 the gradients are taken at z, whose steps are optax's
  AdamW with b1 = 0, so the trained parameters converge to the base's, the gap O(β1)."""
  hp = dict(learning_rate=0.05, beta2=0.99, epsilon=1e-3, weight_decay=0.1)
  with jax.enable_x64(True):
    grad_fn = _least_squares()
    base, _ = _descend(optax.adamw(hp["learning_rate"], b1=0.0, b2=hp["beta2"],
                                   eps=hp["epsilon"], weight_decay=hp["weight_decay"]), grad_fn)
    gaps = [float(jnp.abs(_descend(optimizers.create("sfadamw", beta1=b1, **hp), grad_fn)[0]
                          - base).max()) for b1 in (1e-2, 1e-4, 1e-6)]
  assert gaps[0] > 1e-3 and gaps[2] < 1e-6
  assert 50 < gaps[0] / gaps[1] < 200 and 50 < gaps[1] / gaps[2] < 200  # linear in β1


def test_sfadamw_with_a_constant_learning_rate_averages_z_uniformly():
  """With η constant every weight is η², c_t = 1/(t+1): x is the mean of z_1, …, z_T."""
  with jax.enable_x64(True):
    params, grads = _tree(0, np.float64), [_tree(s, np.float64) for s in range(1, STEPS + 1)]
    tx = optimizers.create("sfadamw", learning_rate=0.1, beta1=0.9, beta2=0.99, epsilon=1e-8,
                           weight_decay=0.0)
    state, zs = tx.init(params), []
    for g in grads:
      u, state = tx.update(g, state, params)
      params = optax.apply_updates(params, u)
      zs.append(state.inner.z)
    x = optimizers.eval_params("sfadamw", params, state)
    mean = jax.tree.map(lambda *z: np.mean(z, axis=0), *zs)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), x, mean)


def test_muon_trains_every_non_matrix_parameter_exactly_as_adam():
  hp = HPARAMS["muon"][0]
  params, grads = _model_tree(0, np.float32), [_model_tree(s, np.float32) for s in (1, 2, 3)]
  adam_hp = {k: v for k, v in hp.items() if k != "momentum"}
  got, _ = _run(optimizers.create("muon", **hp), params, grads)
  want, _ = _run(optimizers.create("adam", **adam_hp), params, grads)
  for module, leaf in (("conv", "bias"), ("hidden", "bias"), ("head", "bias"),
                       ("head", "kernel")):
    np.testing.assert_array_equal(got[module][leaf], want[module][leaf])
  for module in ("conv", "hidden"):  # the matrices are Muon's
    assert np.abs(got[module]["kernel"] - want[module]["kernel"]).max() > 1e-3


def test_eval_params_is_the_identity_except_for_schedule_free():
  params = _tree(0)
  for name in optimizers.REGISTRY:
    if name != "sfadamw":
      tx = optimizers.create(name, **_any_setting(name))
      assert optimizers.eval_params(name, params, tx.init(params)) is params
  assert set(optimizers.EVAL_PARAMS) == {"sfadamw"}


def _any_setting(name):
  import inspect  # pylint: disable=g-import-not-at-top
  hp = {k: 0.5 for k in inspect.signature(optimizers.REGISTRY[name]).parameters}
  return dict(hp, **({"rho": 0.9} if "rho" in hp else {}))


# ---- invariants of all four ----

@pytest.mark.parametrize("name", MODERN)
def test_two_settings_one_compile_finite_deterministic_array_state(name):
  params, grads = _model_tree(0, np.float32), [_model_tree(s, np.float32) for s in (1, 2, 3)]
  settings = [dict(hp, learning_rate=_lr(hp["learning_rate"])) for hp in HPARAMS[name]]
  traces = []

  def update(g, state, p):
    traces.append(1)  # runs only while tracing
    return optimizers.update_fn(name)(g, state, p)

  jitted = jax.jit(update)
  for hp in settings:
    tx = optimizers.create(name, **hp)
    first, state = _run(tx, params, grads, jitted)
    again, _ = _run(tx, params, grads, jitted)
    alone, _ = _run(tx, params, grads)
    jax.tree.map(np.testing.assert_array_equal, first, again)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), first, alone)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(first))
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))
    assert int(state.count) == 3 and "learning_rate" in state.hyperparams
  assert len(traces) == 1


# ---- Muon's split of real models (optcompare.param_roles) ----

def _abstract_params(workload_config):
  import importlib  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top
  from optcompare import workloads  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f"configs.workloads.{workload_config}").get_config("smoke")
  workload = workloads.create(config)
  return nnx.state(nnx.eval_shape(lambda: workload.build_model(0)), nnx.Param)


def _muon_leaves(params):
  from optcompare import param_roles  # pylint: disable=g-import-not-at-top
  labels = jax.tree_util.tree_flatten_with_path(param_roles.labels(params))[0]
  return {"/".join(param_roles.path_names(p)) for p, label in labels
          if label == param_roles.MUON}


@pytest.mark.parametrize("workload,muon", [
    ("fashion_mnist_simple_cnn", {"conv1/kernel", "conv2/kernel", "dense1/kernel"}),
    ("war_and_peace_lstm", {f"lstms/{i}/{k}" for i in (0, 1)
                            for k in ("input_kernel", "recurrent_kernel")}),
    ("lm1b_transformer", {f"blocks/0/attention/{m}/kernel" for m in
                          ("query", "key", "value", "out")}
     | {"blocks/0/mlp/fc1/kernel", "blocks/0/mlp/fc2/kernel"}),
])
def test_muon_takes_the_hidden_matrices_of_real_models(workload, muon):
  """Biases, norms, embeddings and the output layer (dense2, head) are Adam's."""
  assert _muon_leaves(_abstract_params(workload)) == muon


@pytest.mark.parametrize("workload,output", [
    ("cifar10_resnet32", ("head",)), ("cifar10_vgg16", ("fc2",)),
    ("cifar100_cnn", ("layers", "11")), ("imagenet_resnet50", ("head",))])
def test_the_output_layer_of_every_other_model(workload, output):
  from optcompare import param_roles  # pylint: disable=g-import-not-at-top
  assert param_roles.output_module(_abstract_params(workload)) == output


def test_muon_matrices_of_kernels():
  """A convolution kernel is its (kh·kw·c_in, c_out) matrix; flax attention's query, key,
  value (d, heads, head_dim) map d to heads·head_dim, its out (heads, head_dim, d) the
  reverse."""
  from optcompare import param_roles  # pylint: disable=g-import-not-at-top
  tree = {"conv": {"kernel": jnp.zeros((3, 3, 4, 8))}, "dense": {"kernel": jnp.zeros((4, 8))},
          "attention": {"query": {"kernel": jnp.zeros((8, 2, 4))},
                        "out": {"kernel": jnp.zeros((2, 4, 8))}}}
  dims = param_roles.muon_dimension_numbers(tree)
  as_tuple = lambda d: (tuple(np.atleast_1d(d.reduction_axis)),
                        tuple(np.atleast_1d(d.output_axis)))
  assert as_tuple(dims["conv"]["kernel"]) == ((0, 1, 2), (3,))
  assert as_tuple(dims["dense"]["kernel"]) == ((0,), (1,))
  assert as_tuple(dims["attention"]["query"]["kernel"]) == ((0,), (1, 2))
  assert as_tuple(dims["attention"]["out"]["kernel"]) == ((0, 1), (2,))


def test_muon_steps_a_simple_cnn_at_rms_two_tenths_of_eta():
  """One update of a small Simple CNN (an nnx.State): Muon's matrices move by about 0.2 η
  in RMS (an orthogonalised full-rank matrix, Newton–Schulz leaving its singular values
  within about [0.7, 1.2]); the output layer takes Adam's first step, η · sign(g)."""
  from flax import nnx  # pylint: disable=g-import-not-at-top
  from optcompare.models import simple_cnn  # pylint: disable=g-import-not-at-top
  model = nnx.eval_shape(lambda: simple_cnn.SimpleCNN(
      num_classes=3, conv_features=(2, 3), dense_features=5, image_size=8, rngs=nnx.Rngs(0)))
  rng = np.random.default_rng(1)
  params = jax.tree.map(lambda p: np.zeros(p.shape, np.float32), nnx.state(model, nnx.Param))
  grads = jax.tree.map(lambda p: rng.normal(size=p.shape).astype(np.float32), params)
  hp = HPARAMS["muon"][0]
  tx = optimizers.create("muon", **hp)
  u, _ = jax.jit(tx.update)(grads, tx.init(params), params)
  rms = lambda x: float(jnp.sqrt(jnp.mean(jnp.square(x))))
  for module in ("conv1", "conv2", "dense1"):
    assert 0.1 * hp["learning_rate"] < rms(u[module]["kernel"]) < 0.3 * hp["learning_rate"]
  for leaf in ("kernel", "bias"):  # b m / √v = sign(g) at t = 0 (up to ε)
    np.testing.assert_allclose(u["dense2"][leaf], -hp["learning_rate"] *
                               np.sign(grads["dense2"][leaf]), rtol=1e-5)


def test_the_loop_evaluates_schedule_free_at_its_averaged_iterate():
  """update.eval_sums (the loop's evaluation) reads optimizers.eval_params: for sfadamw the
  metrics are those of x = (y − (1−β1) z)/β1, not of the parameters y it trains."""
  import functools  # pylint: disable=g-import-not-at-top
  from configs.workloads import fashion_mnist_simple_cnn  # pylint: disable=g-import-not-at-top
  from optcompare import update, workloads  # pylint: disable=g-import-not-at-top
  workload = workloads.create(fashion_mnist_simple_cnn.get_config("smoke"))
  state = update.init_state(workload, "sfadamw", 0, HPARAMS["sfadamw"][0])

  def with_z(state, params, z):  # z = params puts x at params: the state evaluates there
    inner = state.opt_state.inner._replace(z=z)
    return state.replace(params=params, opt_state=state.opt_state._replace(inner=inner))

  y = state.params
  moved = with_z(state, y, jax.tree.map(lambda p: p + 0.5, y))  # z away from y, as in training
  x = optimizers.eval_params("sfadamw", moved.params, moved.opt_state)
  rng = np.random.default_rng(0)
  batch = {"inputs": rng.integers(0, 256, (8, 28, 28, 1)).astype(np.uint8),
           "labels": rng.integers(0, 10, 8), "mask": np.ones(8, bool)}
  sums = jax.jit(functools.partial(update.eval_sums, update.graph_defs(workload)[1], workload,
                                   "sfadamw"))
  loss = lambda s: float(sums(s, batch)["loss"])
  assert loss(moved) == pytest.approx(loss(with_z(state, x, x)), rel=1e-6)
  assert loss(moved) != pytest.approx(loss(with_z(state, y, y)), rel=1e-3)


def test_schedule_free_refuses_beta1_zero_with_the_reason():
  hp = dict(HPARAMS["sfadamw"][0], beta1=0.0)
  with pytest.raises(ValueError, match=r"beta1: must lie in \(0.0, 1.0\), got 0.0 \(sfadamw: "
                                       r"x is recovered as"):
    optimizers.create("sfadamw", **hp)
  optimizers.create("adam", **{k: v for k, v in hp.items() if k != "weight_decay"})  # β1 = 0 ok
