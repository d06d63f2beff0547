"""models/conv.py: im2col + matmul is the convolution, for every shape the models use."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from optcompare.models import conv, resnet_cifar, simple_cnn


def _reference(x, k, strides, pads):
  """The convolution in float64 NumPy, loop over the window (NHWC x HWIO -> NHWC)."""
  x = np.pad(np.asarray(x, np.float64), [(0, 0), *pads, (0, 0)])
  kh, kw, _, o = k.shape
  oh = (x.shape[1] - kh) // strides[0] + 1
  ow = (x.shape[2] - kw) // strides[1] + 1
  out = np.zeros((x.shape[0], oh, ow, o))
  for i in range(kh):
    for j in range(kw):
      window = x[:, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1], :]
      out += window @ np.asarray(k[i, j], np.float64)
  return out


@pytest.mark.parametrize("window,strides,padding", [
    ((5, 5), (1, 1), "SAME"), ((3, 3), (2, 2), "SAME"), ((1, 1), (2, 2), "VALID"),
    ((3, 3), (1, 2), ((1, 2), (0, 1)))])
def test_im2col_matches_a_float64_reference(window, strides, padding):
  x = jax.random.normal(jax.random.key(0), (3, 9, 10, 4))
  k = jax.random.normal(jax.random.key(1), (*window, 4, 5))
  pads = (lax.padtype_to_pads(x.shape[1:3], window, strides, padding)
          if isinstance(padding, str) else padding)
  want = _reference(x, k, strides, pads)
  got = conv.im2col_conv(x, k, strides, padding, precision="highest")
  direct = lax.conv_general_dilated(x, k, strides, padding, precision="highest",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
  scale = np.max(np.abs(want))
  assert got.shape == want.shape
  assert np.max(np.abs(np.asarray(got) - want)) / scale < 1e-6
  assert np.max(np.abs(np.asarray(direct) - want)) / scale < 1e-6


def test_vmapped_im2col_is_a_batched_matmul_not_a_grouped_convolution():
  x = jnp.ones((4, 2, 8, 8, 3))
  k = jnp.ones((4, 3, 3, 3, 6))
  text = jax.jit(jax.vmap(lambda a, b: conv.im2col_conv(a, b, (1, 1), "SAME"))).lower(
      x, k).as_text()
  assert "convolution" not in text and "dot_general" in text


@pytest.mark.parametrize("make", [
    lambda: simple_cnn.SimpleCNN(conv_features=(4, 8), dense_features=16, rngs=nnx.Rngs(0)),
    lambda: resnet_cifar.ResNetCifar(num_blocks=1, num_classes=10, rngs=nnx.Rngs(0))])
def test_a_model_with_im2col_computes_the_same_function(make):
  model = make()
  model.eval()
  x = jax.random.uniform(jax.random.key(2), (2, 28, 28, 1) if isinstance(
      model, simple_cnn.SimpleCNN) else (2, 32, 32, 3))
  with jax.default_matmul_precision("float32"):
    want = model(x)
    got = conv.use(model, "im2col")(x)
  assert float(jnp.max(jnp.abs(got - want))) <= 1e-5 * float(jnp.max(jnp.abs(want)))


def test_unsupported_convolutions_are_refused_not_computed_otherwise():
  with pytest.raises(NotImplementedError, match="feature_group_count=2"):
    conv.im2col_conv(jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 1, 2)), (1, 1), "SAME",
                     feature_group_count=2)
  with pytest.raises(ValueError, match="unknown convolution formulation"):
    conv.use(simple_cnn.SimpleCNN(rngs=nnx.Rngs(0)), "winograd")
