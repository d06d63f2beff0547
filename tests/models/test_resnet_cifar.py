"""ResNet-32 (CIFAR): parameter count, shapes/dtypes, batch norm train/eval, option-A shortcut,
and the split/merge-inside-jit pattern of the train loop."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import resnet_cifar


@pytest.fixture(scope="module")
def small_model(helpers):
  """ResNet-8 (one block per stage): the code paths of ResNet-32, cheaper to compile."""
  return helpers.materialize(lambda: resnet_cifar.ResNetCifar(1, rngs=nnx.Rngs(params=0)))


def _images(seed, n=4, size=8):
  return jnp.asarray(np.random.default_rng(seed).standard_normal((n, size, size, 3)),
                     jnp.float32)


def test_parameter_count_matches_he_et_al(helpers):
  model = nnx.eval_shape(lambda: resnet_cifar.ResNet32(rngs=nnx.Rngs(params=0)))
  n = helpers.num_params(model)
  assert n == 464_154
  assert abs(n - 0.46e6) / 0.46e6 < 0.02  # He et al. 2016, Table 6: 0.46M
  model_b = nnx.eval_shape(lambda: resnet_cifar.ResNet32(shortcut="B", rngs=nnx.Rngs(params=0)))
  assert helpers.num_params(model_b) == 466_906
  # 31 convolutions: the stem and 3 stages x 5 blocks x 2 (option A adds none).
  assert len([m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Conv)]) == 31
  assert helpers.variable_kinds(model) == {nnx.Param, nnx.BatchStat}  # no RNG state


def test_shapes_and_dtypes_float32_and_bfloat16(helpers):
  for dtype in (jnp.float32, jnp.bfloat16):
    model = nnx.eval_shape(lambda d=dtype: resnet_cifar.ResNet32(dtype=d, rngs=nnx.Rngs(params=0)))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model)))
    out, jaxpr = helpers.abstract_apply(model, ((4, 32, 32, 3), jnp.float32))
    assert out.shape == (4, 10) and out.dtype == jnp.float32
    assert ("bf16[4,32,32,16]" in str(jaxpr)) == (dtype == jnp.bfloat16)  # compute dtype
    # After a train-mode step the batch statistics are still float32.
    model.train()
    graphdef, state = nnx.split(model)

    def new_state(s, x):
      m = nnx.merge(graphdef, s)
      m(x)
      return nnx.state(m, nnx.BatchStat)

    stats = jax.eval_shape(new_state, state, jax.ShapeDtypeStruct((4, 32, 32, 3), jnp.float32))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(stats))


def test_batch_norm_train_updates_statistics_and_eval_uses_them(helpers, small_model):
  model, fwd = small_model, helpers.forward
  x = _images(1)
  x_other = x.at[1:].set(_images(2)[1:])  # same first example, different rest of the batch
  bn = model.bn
  h = np.array(model.conv(x))  # stem convolution output, input of the first batch norm
  old_mean, old_var = np.array(bn.mean[...]), np.array(bn.var[...])
  model.train()
  out = fwd(model, x, None)
  assert out.shape == (4, 10) and out.dtype == jnp.float32
  # Train mode normalises with batch statistics and moves the running averages (momentum 0.9).
  np.testing.assert_allclose(bn.mean[...], 0.9 * old_mean + 0.1 * h.mean(axis=(0, 1, 2)),
                             atol=1e-5)
  np.testing.assert_allclose(bn.var[...], 0.9 * old_var + 0.1 * h.var(axis=(0, 1, 2)),
                             rtol=1e-4)
  assert not np.allclose(fwd(model, x_other, None)[0], out[0], atol=1e-4)

  model.eval()
  stats = jax.tree.map(np.array, nnx.state(model, nnx.BatchStat))
  e = fwd(model, x, None)
  # Eval mode leaves the statistics alone and treats examples independently ...
  jax.tree.map(np.testing.assert_array_equal, stats,
               jax.tree.map(np.array, nnx.state(model, nnx.BatchStat)))
  np.testing.assert_allclose(fwd(model, x_other, None)[0], e[0], atol=1e-5)
  # ... normalising with the stored running mean and variance.
  mean, var = np.array(bn.mean[...]), np.array(bn.var[...])
  assert not np.allclose(mean, 0) and not np.allclose(var, 1)  # not the initial values
  expected = ((h - mean) / np.sqrt(var + 1e-5) * np.array(bn.scale[...])
              + np.array(bn.bias[...]))
  np.testing.assert_allclose(bn(jnp.asarray(h)), expected, atol=1e-4)
  assert (bn.momentum, bn.epsilon) == (0.9, 1e-5)


def test_option_a_shortcut_subsamples_and_zero_pads():
  block = nnx.eval_shape(lambda: resnet_cifar.BasicBlock(16, 32, 2, rngs=nnx.Rngs(params=0)))
  x = jnp.asarray(np.random.default_rng(2).standard_normal((2, 8, 8, 16)), jnp.float32)
  s = np.array(block._shortcut(x))  # pylint: disable=protected-access
  assert s.shape == (2, 4, 4, 32)
  np.testing.assert_array_equal(s[..., 8:24], np.array(x)[:, ::2, ::2, :])
  assert not s[..., :8].any() and not s[..., 24:].any()
  with pytest.raises(ValueError, match="shortcut"):
    nnx.eval_shape(lambda: resnet_cifar.BasicBlock(16, 32, 2, shortcut="C",
                                                   rngs=nnx.Rngs(params=0)))


def test_split_merge_inside_jit_returns_updated_batch_stats(small_model):
  """The train loop's pattern: nnx.split outside; inside jit and value_and_grad, nnx.merge,
  a train-mode forward, and nnx.split again to return the new batch statistics.

  Inside a jax.grad trace the merge needs copy=True (fresh Variables); merging the traced
  state without copying and running batch norm raises flax's TraceContextError."""
  model = small_model
  model.train()
  graphdef, params, model_state = nnx.split(model, nnx.Param, ...)
  x = _images(3)

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
  assert all(jax.tree.leaves(changed))  # every running mean and variance moved
  merged = nnx.merge(graphdef, params, new_model_state)
  np.testing.assert_array_equal(merged.bn.mean[...], new_model_state["bn"]["mean"][...])
