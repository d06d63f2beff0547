"""ResNet-50 v1.5: parameter count and shapes without materialising it; numerics on a tiny
network built by the same code."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import resnet_imagenet


def _images(seed, n=3, size=32):
  return jnp.asarray(np.random.default_rng(seed).standard_normal((n, size, size, 3)),
                     jnp.float32)


@pytest.fixture(scope="module")
def resnet50():
  return nnx.eval_shape(lambda: resnet_imagenet.ResNet50(rngs=nnx.Rngs(params=0)))


@pytest.fixture(scope="module")
def tiny(helpers):
  """Two stages of one bottleneck each, width 4: the code paths of ResNet-50."""
  return helpers.materialize(lambda: resnet_imagenet.ResNet(
      (1, 1), num_classes=5, num_filters=4, rngs=nnx.Rngs(params=0)))


def test_resnet50_parameter_count(helpers, resnet50):
  n = helpers.num_params(resnet50)
  assert n == 25_557_032  # torchvision's resnet50 has exactly this many
  assert abs(n - 25.6e6) / 25.6e6 < 0.01
  assert sum(x.size for x in jax.tree.leaves(nnx.state(resnet50, nnx.BatchStat))) == 53_120
  convs = [m for _, m in nnx.iter_modules(resnet50) if isinstance(m, nnx.Conv)]
  assert len(convs) == 1 + 16 * 3 + 4  # stem, 16 bottlenecks, 4 projection shortcuts
  assert helpers.variable_kinds(resnet50) == {nnx.Param, nnx.BatchStat}


def test_resnet50_shapes_and_bfloat16(helpers, resnet50):
  out, jaxpr = helpers.abstract_apply(resnet50, ((2, 224, 224, 3), jnp.float32))
  assert out.shape == (2, 1000) and out.dtype == jnp.float32
  assert "bf16[" not in str(jaxpr)
  model16 = nnx.eval_shape(
      lambda: resnet_imagenet.ResNet50(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model16)))
  out16, jaxpr16 = helpers.abstract_apply(model16, ((2, 224, 224, 3), jnp.float32))
  assert out16.shape == (2, 1000) and out16.dtype == jnp.float32
  assert "bf16[2,112,112,64]" in str(jaxpr16)  # the stem convolution computes in bfloat16


def test_v1_5_stride_on_3x3_and_projection_shortcuts(resnet50):
  first_of_stage2 = resnet50.blocks[3]
  assert first_of_stage2.conv1.strides == (1, 1)
  assert first_of_stage2.conv2.strides == (2, 2)
  assert first_of_stage2.proj_conv.strides == (2, 2)
  assert resnet50.blocks[4].proj_conv is None  # identity shortcut inside a stage
  assert resnet50.blocks[0].proj_conv is not None  # 64 -> 256 channels at stride 1
  assert resnet50.stem_conv.kernel_size == (7, 7) and resnet50.stem_conv.strides == (2, 2)


def test_zero_init_last_bn_flag():
  # A real (not materialised) initialisation of one bottleneck with an identity shortcut.
  block = resnet_imagenet.Bottleneck(
      16, 4, 1, zero_init_last_bn=True, rngs=nnx.Rngs(params=jax.random.key(0, impl="rbg")))
  assert np.all(block.bn3.scale[...] == 0) and np.all(block.bn2.scale[...] == 1)
  # The residual branch starts at zero, so the block is ReLU(identity) at initialisation.
  block.eval()
  x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 8, 8, 16)), jnp.float32)
  np.testing.assert_allclose(nnx.jit(lambda b, x: b(x))(block, x), jax.nn.relu(x), atol=1e-6)


def test_tiny_forward_batch_norm_modes(helpers, tiny):
  model, fwd = tiny, helpers.forward
  x = _images(2)
  x_other = x.at[1:].set(_images(3)[1:])  # same first example, different rest of the batch
  model.train()
  before = jax.tree.map(np.array, nnx.state(model, nnx.BatchStat))
  out = fwd(model, x, None)
  assert out.shape == (3, 5) and out.dtype == jnp.float32
  after = jax.tree.map(np.array, nnx.state(model, nnx.BatchStat))
  assert all(jax.tree.leaves(jax.tree.map(lambda a, b: not np.allclose(a, b), before, after)))
  assert not np.allclose(fwd(model, x_other, None)[0], out[0], atol=1e-4)
  model.eval()
  np.testing.assert_allclose(fwd(model, x_other, None)[0], fwd(model, x, None)[0], atol=1e-5)
