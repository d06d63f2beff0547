"""VGG-16 (cifar.torch, BN + dropout): counts and shapes at full size without materialising it;
dropout and batch-norm behaviour on a narrow copy built by the same code."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import vgg


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _modules(model, cls):
  return [m for _, m in nnx.iter_modules(model) if isinstance(m, cls)]


@pytest.fixture(scope="module")
def abstract_vgg16():
  return nnx.eval_shape(lambda: vgg.VGG16(rngs=nnx.Rngs(params=0)))


@pytest.fixture(scope="module")
def narrow_vgg():
  return vgg.VGG16(width_multiplier=1 / 16,
                   rngs=nnx.Rngs(params=jax.random.key(0, impl="rbg")))


def test_parameter_count_and_layers(abstract_vgg16):
  assert _num_params(abstract_vgg16) == 14_991_946
  model100 = nnx.eval_shape(lambda: vgg.VGG16(100, rngs=nnx.Rngs(params=0)))
  assert _num_params(model100) == 15_038_116
  convs = _modules(abstract_vgg16, nnx.Conv)
  assert [c.out_features for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
  assert len(_modules(abstract_vgg16, nnx.BatchNorm)) == 14  # 13 conv + 1 dense
  rates = sorted(d.rate for d in _modules(abstract_vgg16, nnx.Dropout))
  assert rates == [0.3] + [0.4] * 7 + [0.5] * 2
  assert all(bn.momentum == 0.9 and bn.epsilon == 1e-5
             for bn in _modules(abstract_vgg16, nnx.BatchNorm))


def test_shapes_and_bfloat16(abstract_vgg16):
  for model in (abstract_vgg16,
                nnx.eval_shape(lambda: vgg.VGG16(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))):
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model)))
    graphdef, state = nnx.split(model)
    out = jax.eval_shape(
        lambda s, x: nnx.merge(graphdef, s)(x, rngs=nnx.Rngs(dropout=0)), state,
        jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32))
    assert out.shape == (2, 10) and out.dtype == jnp.float32


def test_dropout_and_batch_norm_modes(narrow_vgg):
  model = narrow_vgg
  x = jax.random.normal(jax.random.key(1), (4, 32, 32, 3))
  fwd = nnx.jit(lambda m, x, key: m(x, rngs=nnx.Rngs(dropout=key)))
  model.train()
  a = fwd(model, x, jax.random.key(1))
  b = fwd(model, x, jax.random.key(2))
  assert a.shape == (4, 10) and a.dtype == jnp.float32
  assert not np.allclose(a, b)  # different dropout masks
  model.eval()
  e1 = model(x)  # no rngs needed in eval mode
  np.testing.assert_array_equal(e1, fwd(model, x, jax.random.key(3)))  # dropout inactive
  np.testing.assert_allclose(model(x[:1]), e1[:1], atol=1e-5)  # running statistics


def test_train_mode_requires_rngs(narrow_vgg):
  narrow_vgg.train()
  with pytest.raises(Exception, match="rngs"):
    narrow_vgg(jnp.zeros((1, 32, 32, 3)))
