"""VGG-16 with batch norm and dropout for CIFAR (the CIFAR-10 VGG-16 workload of Choi et al. 2019).

Variant: Zagoruyko's ``cifar.torch`` "vgg_bn_drop" network (github.com/szagoruyko/cifar.torch,
models/vgg_bn_drop.lua; blog post torch.ch/blog/2015/07/30/cifar.html), the VGG-16 that
Wilson et al. 2017 ("The Marginal Value of Adaptive Gradient Methods in Machine Learning")
train on CIFAR-10, and that Choi et al. 2019 take from them. It is VGG-16 (Simonyan &
Zisserman 2015, configuration D: 13 3x3 convolutions in five groups of 2, 2, 3, 3, 3 with
64, 128, 256, 512, 512 filters, each group followed by 2x2/2 max pooling) with:

- every convolution followed by batch norm and ReLU ("ConvBNReLU"); convolutions keep their
  bias, as in cifar.torch;
- dropout after the ReLU of the 1st conv (rate 0.3) and of every conv that is not the last
  of its group (rate 0.4): i.e. after convs 1, 3, 5, 6, 8, 9, 11, 12;
- classifier on the 1x1x512 map: dropout 0.5, dense 512 -> 512, batch norm, ReLU,
  dropout 0.5, dense 512 -> num_classes.

Layer by layer (C = conv3x3+BN+ReLU, D = dropout, M = max pool)::

    C64 D.3 C64 M | C128 D.4 C128 M | C256 D.4 C256 D.4 C256 M |
    C512 D.4 C512 D.4 C512 M | C512 D.4 C512 D.4 C512 M | flatten |
    D.5 FC512 BN ReLU D.5 FC(num_classes)

Parameter count: 14,991,946 for 10 classes (15,038,116 for 100), counting batch-norm scale
and bias; batch-norm running statistics (``nnx.BatchStat``, 9,472 numbers) are not
parameters. (``width_multiplier`` scales every width, for fast tests only.)

Details and deviations:
- Batch norm: ``nnx.BatchNorm`` with momentum 0.9 (Torch's momentum 0.1: running =
  0.9 running + 0.1 batch) and epsilon 1e-5 (cifar.torch uses 1e-3 in the conv layers; the
  project uses 1e-5 everywhere). Train mode (``model.train()``) uses and updates batch
  statistics; eval mode (``model.eval()``) uses the running statistics.
- Initialisation: convolutions N(0, 2 / (3 * 3 * out_channels)) with zero bias, cifar.torch's
  "MSRinit"; dense layers Torch's default uniform(+-1/sqrt(fan_in)) weights with zero bias.
- Max pooling 2x2/2 without padding (cifar.torch uses ceil mode, which is the same on
  32x32 inputs).
- Dropout: ``nnx.Dropout`` with the call-time ``rngs`` (the model stores no RNG state);
  inactive in eval mode.
- ``dtype`` is the compute dtype (``jnp.bfloat16`` for mixed precision); parameters and
  batch statistics are float32, and the logits are returned as float32.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from optcompare.models.pooling import max_pool_2x2

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

# (out_channels, dropout rate after the ReLU or None) per conv; "M" is a 2x2/2 max pool.
VGG16_LAYERS = (
    (64, 0.3), (64, None), "M",
    (128, 0.4), (128, None), "M",
    (256, 0.4), (256, 0.4), (256, None), "M",
    (512, 0.4), (512, 0.4), (512, None), "M",
    (512, 0.4), (512, 0.4), (512, None), "M",
)

_conv_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")  # MSRinit
_dense_init = nnx.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")  # Torch


def _bn(ch, *, dtype, rngs):
  return nnx.BatchNorm(ch, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype,
                       param_dtype=jnp.float32, rngs=rngs)


class ConvBNReLU(nnx.Module):
  """3x3 convolution (with bias) - batch norm - ReLU - optional dropout."""

  def __init__(self, in_ch: int, out_ch: int, dropout_rate: float | None, *,
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    self.conv = nnx.Conv(in_ch, out_ch, (3, 3), padding=((1, 1), (1, 1)),
                         kernel_init=_conv_init, dtype=dtype, param_dtype=jnp.float32,
                         rngs=rngs)
    self.bn = _bn(out_ch, dtype=dtype, rngs=rngs)
    self.dropout = nnx.Dropout(dropout_rate) if dropout_rate else nnx.data(None)

  def __call__(self, x: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    x = nnx.relu(self.bn(self.conv(x)))
    if self.dropout is not None:
      x = self.dropout(x, rngs=rngs)
    return x


class VGG16(nnx.Module):
  """cifar.torch VGG-16 with batch norm and dropout (see the module docstring).

  Args:
    num_classes: number of output logits (10 for CIFAR-10, 100 for CIFAR-100).
    width_multiplier: scales all channel and hidden widths (1.0 is VGG-16; smaller values
      only make tests cheap).
    dtype: compute dtype; parameters stay float32, logits are float32.
    rngs: ``nnx.Rngs(params=seed)`` for initialisation.

  Call: ``model(x, rngs=nnx.Rngs(dropout=key))`` in train mode, ``model(x)`` in eval mode;
  x is NHWC [batch, 32, 32, 3].
  """

  def __init__(self, num_classes: int = 10, *, width_multiplier: float = 1.0,
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    self.dtype = dtype
    layers = []
    in_ch = 3
    for spec in VGG16_LAYERS:
      if spec == "M":
        continue
      out_ch, rate = spec
      out_ch = max(1, int(out_ch * width_multiplier))
      layers.append(ConvBNReLU(in_ch, out_ch, rate, dtype=dtype, rngs=rngs))
      in_ch = out_ch
    self.convs = nnx.List(layers)
    hidden = max(1, int(512 * width_multiplier))
    self.dropout1 = nnx.Dropout(0.5)
    self.fc1 = nnx.Linear(in_ch, hidden, kernel_init=_dense_init, dtype=dtype,
                          param_dtype=jnp.float32, rngs=rngs)
    self.fc1_bn = _bn(hidden, dtype=dtype, rngs=rngs)
    self.dropout2 = nnx.Dropout(0.5)
    self.fc2 = nnx.Linear(hidden, num_classes, kernel_init=_dense_init, dtype=dtype,
                          param_dtype=jnp.float32, rngs=rngs)

  def __call__(self, x: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """Images NHWC [batch, 32, 32, 3] float -> logits [batch, num_classes] float32."""
    x = jnp.asarray(x, self.dtype)
    convs = iter(self.convs)
    for spec in VGG16_LAYERS:
      if spec == "M":
        x = max_pool_2x2(x)  # nnx.max_pool(x, (2, 2), strides=(2, 2)), bit for bit
      else:
        x = next(convs)(x, rngs=rngs)
    x = x.reshape((x.shape[0], -1))
    x = self.dropout1(x, rngs=rngs)
    x = nnx.relu(self.fc1_bn(self.fc1(x)))
    x = self.dropout2(x, rngs=rngs)
    return self.fc2(x).astype(jnp.float32)
