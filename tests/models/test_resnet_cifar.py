"""ResNet-32 (CIFAR): parameter count, shapes/dtypes, batch norm train/eval, option-A shortcut,
and the split/merge-inside-jit pattern the train loop uses."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import resnet_cifar


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _fast_rngs(seed=0):
  # The rbg PRNG compiles much faster on CPU than threefry; values do not matter here.
  return nnx.Rngs(params=jax.random.key(seed, impl="rbg"))


def _abstract_logits(model, shape):
  graphdef, state = nnx.split(model)
  return jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state,
                        jax.ShapeDtypeStruct(shape, jnp.float32))


@pytest.fixture(scope="module")
def small_model():
  """ResNet-8 (one block per stage): the same code paths as ResNet-32, cheaper to compile."""
  return resnet_cifar.ResNetCifar(num_blocks=1, rngs=_fast_rngs())


def test_parameter_count_matches_he_et_al():
  model = nnx.eval_shape(lambda: resnet_cifar.ResNet32(rngs=nnx.Rngs(params=0)))
  n = _num_params(model)
  assert n == 464_154
  assert abs(n - 0.46e6) / 0.46e6 < 0.02  # He et al. 2016, Table 6: 0.46M
  model_b = nnx.eval_shape(lambda: resnet_cifar.ResNet32(shortcut="B", rngs=nnx.Rngs(params=0)))
  assert _num_params(model_b) == 466_906
  # 31 convolutions: 1 stem + 3 x 5 x 2 in the blocks (option A adds none).
  convs = [m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Conv)]
  assert len(convs) == 31
  # The model's state is parameters and batch statistics only (no RNG state).
  kinds = {type(v) for v in jax.tree.leaves(nnx.state(model),
                                            is_leaf=lambda v: isinstance(v, nnx.Variable))}
  assert kinds == {nnx.Param, nnx.BatchStat}


def test_shapes_and_dtypes_float32_and_bfloat16():
  model = nnx.eval_shape(lambda: resnet_cifar.ResNet32(rngs=nnx.Rngs(params=0)))
  out = _abstract_logits(model, (4, 32, 32, 3))
  assert out.shape == (4, 10) and out.dtype == jnp.float32
  model16 = nnx.eval_shape(
      lambda: resnet_cifar.ResNet32(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model16)))
  out16 = _abstract_logits(model16, (4, 32, 32, 3))
  assert out16.shape == (4, 10) and out16.dtype == jnp.float32
  graphdef, state = nnx.split(model16)
  jaxpr = str(jax.make_jaxpr(lambda s, x: nnx.merge(graphdef, s)(x))(
      state, jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)))
  assert "bf16[1,32,32,16]" in jaxpr  # the convolutions compute in bfloat16


def test_batch_norm_train_updates_statistics_and_eval_uses_them(small_model):
  model = small_model
  x = jax.random.normal(jax.random.key(1), (4, 32, 32, 3))
  bn = model.bn
  # Train mode: batch statistics; running averages move by momentum 0.9.
  model.train()
  old_mean, old_var = np.array(bn.mean[...]), np.array(bn.var[...])
  h = model.conv(x)
  batch_mean = np.mean(np.array(h), axis=(0, 1, 2))
  batch_var = np.var(np.array(h), axis=(0, 1, 2))
  train_out = model(x)
  np.testing.assert_allclose(bn.mean[...], 0.9 * old_mean + 0.1 * batch_mean, atol=1e-5)
  np.testing.assert_allclose(bn.var[...], 0.9 * old_var + 0.1 * batch_var, rtol=1e-4)
  # In train mode an example's output depends on the rest of the batch.
  assert not np.allclose(model(x[:1]), train_out[:1], atol=1e-4)

  model.eval()
  stats_before = jax.tree.map(np.array, nnx.state(model, nnx.BatchStat))
  out = model(x)
  # Eval mode leaves the statistics alone and treats examples independently ...
  jax.tree.map(np.testing.assert_array_equal, stats_before,
               jax.tree.map(np.array, nnx.state(model, nnx.BatchStat)))
  np.testing.assert_allclose(model(x[:1]), out[:1], atol=1e-5)
  # ... normalising with the stored running mean and variance.
  expected = ((np.array(h) - np.array(bn.mean[...])) / np.sqrt(np.array(bn.var[...]) + 1e-5)
              * np.array(bn.scale[...]) + np.array(bn.bias[...]))
  np.testing.assert_allclose(bn(h), expected, atol=1e-4)
  assert bn.momentum == 0.9 and bn.epsilon == 1e-5


def test_option_a_shortcut_subsamples_and_zero_pads():
  block = resnet_cifar.BasicBlock(16, 32, 2, shortcut="A", rngs=_fast_rngs())
  x = jax.random.normal(jax.random.key(2), (2, 8, 8, 16))
  s = np.array(block._shortcut(x))  # pylint: disable=protected-access
  assert s.shape == (2, 4, 4, 32)
  np.testing.assert_array_equal(s[..., 8:24], np.array(x)[:, ::2, ::2, :])
  assert not s[..., :8].any() and not s[..., 24:].any()
  with pytest.raises(ValueError, match="shortcut"):
    resnet_cifar.BasicBlock(16, 32, 2, shortcut="C", rngs=_fast_rngs())


def test_split_merge_inside_jit_returns_updated_batch_stats(small_model):
  """The train loop's pattern: nnx.split outside, nnx.merge + forward + nnx.split inside jit."""
  model = small_model
  model.train()
  graphdef, params, model_state = nnx.split(model, nnx.Param, ...)
  x = jax.random.normal(jax.random.key(3), (4, 32, 32, 3))

  @jax.jit
  def step(params, model_state, x):
    def loss_fn(params):
      m = nnx.merge(graphdef, params, model_state, copy=True)
      logits = m(x, rngs=nnx.Rngs(dropout=jax.random.key(0)))
      _, _, new_model_state = nnx.split(m, nnx.Param, ...)
      return jnp.mean(logits ** 2), new_model_state
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return loss, grads, new_model_state

  loss, grads, new_model_state = step(params, model_state, x)
  assert np.isfinite(loss)
  assert jax.tree.structure(grads) == jax.tree.structure(params)
  changed = jax.tree.map(lambda a, b: not np.allclose(a, b), model_state, new_model_state)
  assert all(jax.tree.leaves(changed))  # every running mean/var moved
  # The returned state merges back into a working model.
  merged = nnx.merge(graphdef, params, new_model_state)
  np.testing.assert_array_equal(merged.bn.mean[...], new_model_state["bn"]["mean"][...])
