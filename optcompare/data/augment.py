"""On-device image augmentation, a pure function of (images, key): inside the jitted step."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def random_crop_and_flip(images: jax.Array, key: jax.Array, pad: int = 4) -> jax.Array:
  """Zero-pad by `pad`, crop back to the original size at a random offset, flip half.

  The standard CIFAR augmentation (He et al. 2016, Sec. 4.2), drawn per example.
  """
  n, h, w, c = images.shape
  crop_key, flip_key = jax.random.split(key)
  offsets = jax.random.randint(crop_key, (n, 2), 0, 2 * pad + 1)
  padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  crop = jax.vmap(lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], 0), (h, w, c)))
  cropped = crop(padded, offsets)
  flip = jax.random.bernoulli(flip_key, 0.5, (n, 1, 1, 1))
  return jnp.where(flip, cropped[:, :, ::-1], cropped)
