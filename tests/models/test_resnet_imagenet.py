"""ResNet-50 v1.5: parameter count and shapes without materialising it; numerics on a tiny
network built by the same code."""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from optcompare.models import resnet_imagenet


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _abstract_logits(model, shape):
  graphdef, state = nnx.split(model)
  return jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state,
                        jax.ShapeDtypeStruct(shape, jnp.float32))


def _tiny(stage_sizes=(1, 1), **kw):
  return resnet_imagenet.ResNet(stage_sizes, num_classes=5, num_filters=4,
                                rngs=nnx.Rngs(params=jax.random.key(0, impl="rbg")), **kw)


def test_resnet50_parameter_count():
  model = nnx.eval_shape(lambda: resnet_imagenet.ResNet50(rngs=nnx.Rngs(params=0)))
  n = _num_params(model)
  assert n == 25_557_032  # torchvision resnet50 has exactly this many
  assert abs(n - 25.6e6) / 25.6e6 < 0.01
  assert sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.BatchStat))) == 53_120
  convs = [m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Conv)]
  assert len(convs) == 1 + 16 * 3 + 4  # stem, 16 bottlenecks, 4 projections


def test_resnet50_shapes_and_bfloat16():
  model = nnx.eval_shape(lambda: resnet_imagenet.ResNet50(rngs=nnx.Rngs(params=0)))
  out = _abstract_logits(model, (2, 224, 224, 3))
  assert out.shape == (2, 1000) and out.dtype == jnp.float32
  model16 = nnx.eval_shape(
      lambda: resnet_imagenet.ResNet50(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model16)))
  out16 = _abstract_logits(model16, (2, 224, 224, 3))
  assert out16.shape == (2, 1000) and out16.dtype == jnp.float32
  graphdef, state = nnx.split(model16)
  jaxpr = str(jax.make_jaxpr(lambda s, x: nnx.merge(graphdef, s)(x))(
      state, jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)))
  assert "bf16[1,112,112,64]" in jaxpr  # the stem convolution computes in bfloat16


def test_v1_5_stride_on_3x3_and_projection_shortcuts():
  model = nnx.eval_shape(lambda: resnet_imagenet.ResNet50(rngs=nnx.Rngs(params=0)))
  first_of_stage2 = model.blocks[3]
  assert first_of_stage2.conv1.strides == (1, 1)
  assert first_of_stage2.conv2.strides == (2, 2)
  assert first_of_stage2.proj_conv.strides == (2, 2)
  assert model.blocks[4].proj_conv is None  # identity shortcut inside a stage
  assert model.blocks[0].proj_conv is not None  # 64 -> 256 channels at stride 1


def test_zero_init_last_bn_flag():
  plain = nnx.eval_shape(lambda: _tiny((2,)))
  zero = _tiny((2,), zero_init_last_bn=True)
  assert all(np.all(b.bn3.scale[...] == 0) for b in zero.blocks)
  assert all(np.all(b.bn2.scale[...] == 1) for b in zero.blocks)
  assert _num_params(zero) == _num_params(plain)
  # With zero-init, every bottleneck starts as ReLU(shortcut): in eval mode at the initial
  # statistics (mean 0, var 1) the second block (identity shortcut) maps its input y to
  # relu(y) = y, y being the non-negative output of the first block.
  zero.eval()
  x = jax.random.normal(jax.random.key(1), (2, 16, 16, 4))
  y1 = zero.blocks[0](x)
  np.testing.assert_allclose(zero.blocks[1](y1), y1, atol=1e-6)


def test_tiny_forward_batch_norm_modes():
  model = _tiny()
  x = jax.random.normal(jax.random.key(2), (3, 32, 32, 3))
  model.train()
  before = jax.tree.map(np.array, nnx.state(model, nnx.BatchStat))
  out_train = model(x)
  assert out_train.shape == (3, 5) and out_train.dtype == jnp.float32
  after = jax.tree.map(np.array, nnx.state(model, nnx.BatchStat))
  assert all(jax.tree.leaves(jax.tree.map(lambda a, b: not np.allclose(a, b), before, after)))
  assert not np.allclose(model(x[:1]), out_train[:1], atol=1e-4)
  model.eval()
  np.testing.assert_allclose(model(x[:1]), model(x)[:1], atol=1e-5)
