"""All-CNN-C for CIFAR-100, as the DeepOBS test problem ``cifar100_allcnnc``.

Architecture: Springenberg, Dosovitskiy, Brox & Riedmiller, "Striving for Simplicity: The All
Convolutional Net" (ICLR 2015 workshop, arXiv 1412.6806), model C, exactly as implemented in
DeepOBS (Schneider, Balles & Hennig 2019; deepobs/tensorflow/testproblems/cifar100_allcnnc.py),
which is the "CIFAR-100 CNN" workload of Choi et al. 2019. Max pooling is replaced by strided
convolutions; every convolution (including the last) is followed by a ReLU:

    dropout 0.2 (on the input image)
    conv3x3  96, conv3x3  96, conv3x3  96 stride 2      (SAME padding)
    dropout 0.5
    conv3x3 192, conv3x3 192, conv3x3 192 stride 2      (SAME padding)
    dropout 0.5
    conv3x3 192 (VALID padding), conv1x1 192, conv1x1 num_classes
    global average pooling -> logits

On 32x32 inputs the maps are 32, 16, 8 and (after the VALID conv) 6 pixels wide.

Parameter count: 1,387,108 for 100 classes (1,369,738 for 10). DeepOBS adds an L2 weight
decay of 5e-4 on the convolution kernels (not the biases); that belongs to the workload's
loss, not to this module.

Details:
- Padding "SAME" is TensorFlow's (for the stride-2 convs on even sizes it pads 0 before and
  1 after), as in DeepOBS.
- Initialisation as DeepOBS: kernels Glorot-normal (truncated normal, fan_avg), biases 0.1.
- Dropout: ``nnx.Dropout`` with the call-time ``rngs`` (the model stores no RNG state);
  inactive in eval mode (``model.eval()``). No batch norm.
- ``dtype`` is the compute dtype; parameters are float32, logits are returned as float32.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

# (out_channels, kernel, stride, padding) per convolution; a float is a dropout rate.
ALLCNNC_LAYERS = (
    0.2,
    (96, 3, 1, "SAME"), (96, 3, 1, "SAME"), (96, 3, 2, "SAME"),
    0.5,
    (192, 3, 1, "SAME"), (192, 3, 1, "SAME"), (192, 3, 2, "SAME"),
    0.5,
    (192, 3, 1, "VALID"), (192, 1, 1, "SAME"), ("classes", 1, 1, "SAME"),
)


class AllCNNC(nnx.Module):
  """All-CNN-C (DeepOBS ``cifar100_allcnnc``); see the module docstring.

  Args:
    num_classes: number of output logits (100 for CIFAR-100).
    dtype: compute dtype; parameters stay float32, logits are float32.
    rngs: ``nnx.Rngs(params=seed)`` for initialisation.

  Call: ``model(x, rngs=nnx.Rngs(dropout=key))`` in train mode, ``model(x)`` in eval mode;
  x is NHWC [batch, 32, 32, 3].
  """

  def __init__(self, num_classes: int = 100, *, dtype: Any = jnp.float32, rngs: nnx.Rngs):
    self.dtype = dtype
    layers = []
    in_ch = 3
    for spec in ALLCNNC_LAYERS:
      if isinstance(spec, float):
        layers.append(nnx.Dropout(spec))
        continue
      out_ch, kernel, stride, padding = spec
      out_ch = num_classes if out_ch == "classes" else out_ch
      layers.append(nnx.Conv(
          in_ch, out_ch, (kernel, kernel), strides=(stride, stride), padding=padding,
          kernel_init=nnx.initializers.glorot_normal(),
          bias_init=nnx.initializers.constant(0.1),
          dtype=dtype, param_dtype=jnp.float32, rngs=rngs))
      in_ch = out_ch
    self.layers = nnx.List(layers)

  def __call__(self, x: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """Images NHWC [batch, 32, 32, 3] float -> logits [batch, num_classes] float32."""
    x = jnp.asarray(x, self.dtype)
    for layer in self.layers:
      if isinstance(layer, nnx.Dropout):
        x = layer(x, rngs=rngs)
      else:
        x = nnx.relu(layer(x))
    return jnp.mean(x.astype(jnp.float32), axis=(1, 2))
