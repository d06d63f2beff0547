"""The Simple CNN of Choi et al. 2019 (Fashion-MNIST; DeepOBS `fmnist_2c2d`).

conv 5x5 (32) -> ReLU -> max-pool 2x2/2 -> conv 5x5 (64) -> ReLU -> max-pool 2x2/2
-> dense 1024 -> ReLU -> dense num_classes. 'SAME' padding. With the default widths on
28x28x1 inputs: 3,274,634 parameters.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from optcompare.models.pooling import max_pool_2x2


class SimpleCNN(nnx.Module):
  """Two conv + max-pool blocks, then two dense layers."""

  def __init__(self, *, num_classes: int = 10, in_channels: int = 1,
               conv_features: Sequence[int] = (32, 64), dense_features: int = 1024,
               image_size: int = 28, rngs: nnx.Rngs):
    c1, c2 = conv_features
    self.conv1 = nnx.Conv(in_channels, c1, (5, 5), padding="SAME", rngs=rngs)
    self.conv2 = nnx.Conv(c1, c2, (5, 5), padding="SAME", rngs=rngs)
    pooled = image_size // 4  # two VALID 2x2/2 max-pools
    self.dense1 = nnx.Linear(pooled * pooled * c2, dense_features, rngs=rngs)
    self.dense2 = nnx.Linear(dense_features, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
    del rngs  # no dropout
    x = max_pool_2x2(jax.nn.relu(self.conv1(x)))  # nnx.max_pool's results, half the traffic
    x = max_pool_2x2(jax.nn.relu(self.conv2(x)))
    x = jnp.reshape(x, (x.shape[0], -1))
    return self.dense2(jax.nn.relu(self.dense1(x)))
