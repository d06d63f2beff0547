"""VGG-16 (cifar.torch, BN + dropout): counts, layers, shapes and dropout structure at full size
without compiling it; numerics on a narrow copy built by the same code."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import vgg


def _modules(model, cls):
  return [m for _, m in nnx.iter_modules(model) if isinstance(m, cls)]


@pytest.fixture(scope="module")
def vgg16():
  return nnx.eval_shape(lambda: vgg.VGG16(rngs=nnx.Rngs(params=0)))


def test_parameter_count_and_layers(helpers, vgg16):
  assert helpers.num_params(vgg16) == 14_991_946
  assert helpers.num_params(nnx.eval_shape(lambda: vgg.VGG16(100, rngs=nnx.Rngs(params=0)))) \
      == 15_038_116
  convs = _modules(vgg16, nnx.Conv)
  assert [c.out_features for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
  assert all(c.kernel_size == (3, 3) and c.use_bias for c in convs)
  bns = _modules(vgg16, nnx.BatchNorm)
  assert len(bns) == 14  # 13 after the convolutions, 1 after the hidden dense layer
  assert all((bn.momentum, bn.epsilon) == (0.9, 1e-5) for bn in bns)
  rates = [d.rate for d in _modules(vgg16, nnx.Dropout)]
  assert sorted(rates) == [0.3] + [0.4] * 7 + [0.5] * 2
  assert helpers.variable_kinds(vgg16) == {nnx.Param, nnx.BatchStat}


def test_shapes_bfloat16_and_dropout_structure(helpers, vgg16):
  vgg16.train()
  out, jaxpr = helpers.abstract_apply(vgg16, ((2, 32, 32, 3), jnp.float32))
  assert out.shape == (2, 10) and out.dtype == jnp.float32
  assert helpers.count_primitive(jaxpr, "random_bits") == 10  # one mask per dropout layer in train mode
  with pytest.raises(Exception, match="rngs"):  # train mode needs the call-time rngs
    helpers.abstract_apply(vgg16, ((2, 32, 32, 3), jnp.float32), train_rngs=False)
  vgg16.eval()
  out, jaxpr = helpers.abstract_apply(vgg16, ((2, 32, 32, 3), jnp.float32), train_rngs=False)
  assert out.shape == (2, 10) and helpers.count_primitive(jaxpr, "random_bits") == 0  # deterministic
  model16 = nnx.eval_shape(lambda: vgg.VGG16(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model16)))
  out16, jaxpr16 = helpers.abstract_apply(model16, ((2, 32, 32, 3), jnp.float32))
  assert out16.shape == (2, 10) and out16.dtype == jnp.float32
  assert "bf16[2,32,32,64]" in str(jaxpr16)


def test_narrow_numerics_dropout_and_batch_norm(helpers):
  model = helpers.materialize(
      lambda: vgg.VGG16(width_multiplier=1 / 16, rngs=nnx.Rngs(params=0)))
  fwd = helpers.forward
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((4, 32, 32, 3)), jnp.float32)
  x_other = x.at[1:].set(jnp.asarray(rng.standard_normal((3, 32, 32, 3)), jnp.float32))
  model.train()
  a = fwd(model, x, helpers.dropout_key(1))
  assert a.shape == (4, 10) and a.dtype == jnp.float32
  assert not np.allclose(a, fwd(model, x, helpers.dropout_key(2)))
  model.eval()
  e = fwd(model, x, None)
  np.testing.assert_allclose(fwd(model, x_other, None)[0], e[0], atol=1e-5)
