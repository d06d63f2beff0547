"""ResNet-50 v1.5 for ImageNet (the ImageNet workload of Choi et al. 2019).

Architecture: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016,
arXiv 1512.03385), Table 1, 50-layer column, with the "v1.5" change used by the TensorFlow
official models, MLPerf and torchvision: in a downsampling bottleneck the stride is on the
3x3 convolution, not on the first 1x1.

- stem: 7x7/2 convolution with 64 filters, batch norm, ReLU, 3x3/2 max pooling;
- four stages of [3, 4, 6, 3] bottleneck blocks with widths 64, 128, 256, 512 (outputs 4x
  wider: 256, 512, 1024, 2048); the first block of stages 2-4 has stride 2;
- bottleneck (post-activation, v1): 1x1 - BN - ReLU - 3x3 (stride) - BN - ReLU - 1x1 (4x) - BN,
  add the shortcut, ReLU; the shortcut is a 1x1 strided projection + BN where the shape
  changes (option B), identity elsewhere;
- global average pooling, a 1000-way fully connected layer.

Parameter count: 25,557,032 for 1000 classes (the published "25.6M"; torchvision's
``resnet50`` has exactly this number), counting batch-norm scale and bias; the batch-norm
running statistics (``nnx.BatchStat``, 53,120 numbers) are not parameters.

Details of this implementation:
- Convolutions have no bias; padding is symmetric, k // 2 on each side (TF official models'
  ``fixed_padding`` and torchvision), including the 7x7/2 stem and the strided 3x3; the max
  pool pads 1 on each side.
- Batch norm: ``nnx.BatchNorm`` with momentum 0.9 (running = 0.9 running + 0.1 batch) and
  epsilon 1e-5. Train mode (``model.train()``) uses and updates batch statistics, eval mode
  (``model.eval()``) uses the running statistics.
- ``zero_init_last_bn`` (default False, as He et al.): initialise the scale (gamma) of the
  last batch norm of each bottleneck to zero, so each residual block starts as the identity
  (Goyal et al. 2017, "Accurate, Large Minibatch SGD", Sec. 5.1).
- Initialisation: convolutions He-normal, N(0, 2 / fan_out) (torchvision; Goyal et al. 2017);
  the final dense layer N(0, 0.01^2) with zero bias (Goyal et al. 2017; MLPerf reference).
- ``dtype`` is the compute dtype (``jnp.bfloat16`` for mixed precision); parameters and
  batch statistics are float32 and the logits are returned as float32.
- No dropout; ``rngs`` in ``__call__`` is accepted for a uniform interface and ignored.

``ResNet`` takes the stage sizes and base width, so tests can build a tiny network with the
same code; ``ResNet50`` fixes them.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

_conv_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")
_dense_init = nnx.initializers.normal(stddev=0.01)


def _conv(in_ch, out_ch, kernel, stride, *, dtype, rngs):
  pad = kernel // 2
  return nnx.Conv(
      in_ch, out_ch, (kernel, kernel), strides=(stride, stride),
      padding=((pad, pad), (pad, pad)), use_bias=False, kernel_init=_conv_init,
      dtype=dtype, param_dtype=jnp.float32, rngs=rngs)


def _bn(ch, *, dtype, rngs, zero_scale=False):
  scale_init = nnx.initializers.zeros_init() if zero_scale else nnx.initializers.ones_init()
  return nnx.BatchNorm(ch, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype,
                       param_dtype=jnp.float32, scale_init=scale_init, rngs=rngs)


class Bottleneck(nnx.Module):
  """ResNet v1.5 bottleneck: stride on the 3x3 convolution; projection shortcut if needed."""

  expansion = 4

  def __init__(self, in_ch: int, width: int, stride: int, *, zero_init_last_bn: bool = False,
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    out_ch = width * self.expansion
    self.conv1 = _conv(in_ch, width, 1, 1, dtype=dtype, rngs=rngs)
    self.bn1 = _bn(width, dtype=dtype, rngs=rngs)
    self.conv2 = _conv(width, width, 3, stride, dtype=dtype, rngs=rngs)
    self.bn2 = _bn(width, dtype=dtype, rngs=rngs)
    self.conv3 = _conv(width, out_ch, 1, 1, dtype=dtype, rngs=rngs)
    self.bn3 = _bn(out_ch, dtype=dtype, rngs=rngs, zero_scale=zero_init_last_bn)
    if stride != 1 or in_ch != out_ch:
      self.proj_conv = _conv(in_ch, out_ch, 1, stride, dtype=dtype, rngs=rngs)
      self.proj_bn = _bn(out_ch, dtype=dtype, rngs=rngs)
    else:
      self.proj_conv = nnx.data(None)
      self.proj_bn = nnx.data(None)

  def __call__(self, x: jax.Array) -> jax.Array:
    y = nnx.relu(self.bn1(self.conv1(x)))
    y = nnx.relu(self.bn2(self.conv2(y)))
    y = self.bn3(self.conv3(y))
    shortcut = x if self.proj_conv is None else self.proj_bn(self.proj_conv(x))
    return nnx.relu(y + shortcut)


class ResNet(nnx.Module):
  """Bottleneck ResNet v1.5 (see the module docstring).

  Args:
    stage_sizes: bottleneck blocks per stage ((3, 4, 6, 3) for ResNet-50).
    num_classes: number of output logits.
    num_filters: base width (64); stage i has width num_filters * 2**i.
    zero_init_last_bn: zero-initialise the last BN scale of every bottleneck.
    dtype: compute dtype; parameters stay float32, logits are float32.
    rngs: ``nnx.Rngs(params=seed)`` for initialisation.
  """

  def __init__(self, stage_sizes: Sequence[int], num_classes: int = 1000, *,
               num_filters: int = 64, zero_init_last_bn: bool = False,
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    self.dtype = dtype
    self.stem_conv = _conv(3, num_filters, 7, 2, dtype=dtype, rngs=rngs)
    self.stem_bn = _bn(num_filters, dtype=dtype, rngs=rngs)
    blocks = []
    in_ch = num_filters
    for stage, n in enumerate(stage_sizes):
      width = num_filters * 2 ** stage
      for i in range(n):
        stride = 2 if (stage > 0 and i == 0) else 1
        blocks.append(Bottleneck(in_ch, width, stride,
                                 zero_init_last_bn=zero_init_last_bn, dtype=dtype,
                                 rngs=rngs))
        in_ch = width * Bottleneck.expansion
    self.blocks = nnx.List(blocks)
    self.head = nnx.Linear(in_ch, num_classes, kernel_init=_dense_init, dtype=dtype,
                           param_dtype=jnp.float32, rngs=rngs)

  def __call__(self, x: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """Images NHWC [batch, H, W, 3] float -> logits [batch, num_classes] float32."""
    del rngs  # no dropout in this model
    x = jnp.asarray(x, self.dtype)
    x = nnx.relu(self.stem_bn(self.stem_conv(x)))
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for block in self.blocks:
      x = block(x)
    x = jnp.mean(x, axis=(1, 2))
    return self.head(x).astype(jnp.float32)


class ResNet50(ResNet):
  """ResNet-50 v1.5: stages (3, 4, 6, 3), width 64; 25,557,032 parameters (1000 classes)."""

  def __init__(self, num_classes: int = 1000, *, zero_init_last_bn: bool = False,
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    super().__init__((3, 4, 6, 3), num_classes, num_filters=64,
                     zero_init_last_bn=zero_init_last_bn, dtype=dtype, rngs=rngs)
