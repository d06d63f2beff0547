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
