"""ResNet-32 (v1) for CIFAR-10, as in He et al. 2016, Section 4.2.

Architecture (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
arXiv 1512.03385, Sec. 4.2 "CIFAR-10 and Analysis"), the network used for the CIFAR-10
ResNet-32 workload of Choi et al. 2019:

- a 3x3 convolution with 16 filters, batch norm, ReLU;
- three stages of n basic blocks each (n = 5 for ResNet-32, depth 6n + 2 = 32), with 16, 32
  and 64 filters on 32x32, 16x16 and 8x8 feature maps; the first block of stages 2 and 3
  halves the resolution with a stride-2 first convolution;
- basic block (v1, post-activation): conv3x3 - BN - ReLU - conv3x3 - BN, add the shortcut,
  ReLU;
- global average pooling, a fully connected layer to ``num_classes`` logits.

Shortcuts: **option A** by default, as He et al. use for all their CIFAR ResNets
("in this case we use identity shortcuts in all cases (i.e. option A)", which is what gives
their Table 6 count of 0.46M parameters for ResNet-32): where the shape changes, the
shortcut subsamples the input with stride 2 and pads the new channels with zeros (half of
them before the existing channels and half after, the usual implementation). No
parameters. ``shortcut="B"`` gives option B instead (a 1x1 strided projection convolution
followed by batch norm where the shape changes, identity elsewhere), as in the TensorFlow
official-models CIFAR ResNet.

Parameter count (10 classes): option A 464,154 (He et al.: "0.46M"); option B 466,906.
Both count batch-norm scale and bias; the batch-norm running statistics (``nnx.BatchStat``)
are not parameters.

Details of this implementation:
- Convolutions have no bias (batch norm follows each); padding is symmetric, k // 2 on
  each side (as TF official models' ``fixed_padding`` and PyTorch), also for strided
  convolutions.
- Batch norm: ``nnx.BatchNorm`` with momentum 0.9 (running = 0.9 running + 0.1 batch) and
  epsilon 1e-5; scale initialised to 1, bias to 0. Train mode (``model.train()``) normalises
  with the batch statistics and updates the running statistics; eval mode
  (``model.eval()``) uses the running statistics.
- Initialisation: convolutions He-normal, N(0, 2 / fan_out) (He et al. 2015 "Delving deep",
  the fb.resnet.torch / torchvision convention); the final dense layer LeCun-normal with zero
  bias (Flax's default).
- ``dtype`` is the compute dtype (e.g. ``jnp.bfloat16``); parameters and batch statistics
  are always float32 and the logits are returned as float32.
- No dropout; ``rngs`` in ``__call__`` is accepted for a uniform interface and ignored.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

_conv_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv(in_ch, out_ch, kernel, stride, *, dtype, rngs):
  pad = kernel // 2
  return nnx.Conv(
      in_ch, out_ch, (kernel, kernel), strides=(stride, stride),
      padding=((pad, pad), (pad, pad)), use_bias=False, kernel_init=_conv_init,
      dtype=dtype, param_dtype=jnp.float32, rngs=rngs)


def _bn(ch, *, dtype, rngs):
  return nnx.BatchNorm(ch, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype,
                       param_dtype=jnp.float32, rngs=rngs)


class BasicBlock(nnx.Module):
  """He et al. 2016 v1 basic block: conv-BN-ReLU-conv-BN, + shortcut, ReLU."""

  def __init__(self, in_ch: int, out_ch: int, stride: int, *, shortcut: str = "A",
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    if shortcut not in ("A", "B"):
      raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
    self.conv1 = _conv(in_ch, out_ch, 3, stride, dtype=dtype, rngs=rngs)
    self.bn1 = _bn(out_ch, dtype=dtype, rngs=rngs)
    self.conv2 = _conv(out_ch, out_ch, 3, 1, dtype=dtype, rngs=rngs)
    self.bn2 = _bn(out_ch, dtype=dtype, rngs=rngs)
    self.stride = stride
    self.in_ch = in_ch
    self.out_ch = out_ch
    self.needs_projection = stride != 1 or in_ch != out_ch
    self.shortcut = shortcut
    if self.needs_projection and shortcut == "B":
      self.proj_conv = _conv(in_ch, out_ch, 1, stride, dtype=dtype, rngs=rngs)
      self.proj_bn = _bn(out_ch, dtype=dtype, rngs=rngs)
    else:
      self.proj_conv = nnx.data(None)
      self.proj_bn = nnx.data(None)

  def _shortcut(self, x: jax.Array) -> jax.Array:
    if not self.needs_projection:
      return x
    if self.shortcut == "B":
      return self.proj_bn(self.proj_conv(x))
    # Option A: subsample, then zero-pad the extra channels (half before, half after).
    x = x[:, ::self.stride, ::self.stride, :]
    extra = self.out_ch - self.in_ch
    return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))

  def __call__(self, x: jax.Array) -> jax.Array:
    y = nnx.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return nnx.relu(y + self._shortcut(x))


class ResNetCifar(nnx.Module):
  """CIFAR ResNet v1 of depth 6n + 2 (He et al. 2016, Sec. 4.2). See the module docstring.

  Args:
    num_blocks: n, basic blocks per stage (5 gives ResNet-32).
    num_classes: number of output logits.
    shortcut: "A" (zero-padding identity, He et al.'s CIFAR choice; default) or "B"
      (1x1 projection + BN where the shape changes).
    dtype: compute dtype; parameters stay float32, logits are float32.
    rngs: ``nnx.Rngs(params=seed)`` for initialisation.
  """

  def __init__(self, num_blocks: int = 5, num_classes: int = 10, *, shortcut: str = "A",
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    self.dtype = dtype
    self.conv = _conv(3, 16, 3, 1, dtype=dtype, rngs=rngs)
    self.bn = _bn(16, dtype=dtype, rngs=rngs)
    blocks = []
    in_ch = 16
    for stage, ch in enumerate((16, 32, 64)):
      for i in range(num_blocks):
        stride = 2 if (stage > 0 and i == 0) else 1
        blocks.append(BasicBlock(in_ch, ch, stride, shortcut=shortcut, dtype=dtype,
                                 rngs=rngs))
        in_ch = ch
    self.blocks = nnx.List(blocks)
    self.head = nnx.Linear(64, num_classes, dtype=dtype, param_dtype=jnp.float32,
                           rngs=rngs)

  def __call__(self, x: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """Images NHWC [batch, 32, 32, 3] float -> logits [batch, num_classes] float32."""
    del rngs  # no dropout in this model
    x = jnp.asarray(x, self.dtype)
    x = nnx.relu(self.bn(self.conv(x)))
    for block in self.blocks:
      x = block(x)
    x = jnp.mean(x, axis=(1, 2))
    return self.head(x).astype(jnp.float32)


class ResNet32(ResNetCifar):
  """ResNet-32 v1 for CIFAR-10: 3 stages x 5 basic blocks, 16/32/64 filters.

  464,154 parameters with the default option-A shortcuts and 10 classes (He et al. 2016,
  Table 6: 0.46M); 466,906 with ``shortcut="B"``.
  """

  def __init__(self, num_classes: int = 10, *, shortcut: str = "A",
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    super().__init__(5, num_classes, shortcut=shortcut, dtype=dtype, rngs=rngs)
