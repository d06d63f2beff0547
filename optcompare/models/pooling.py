"""2x2/2 max pooling with the gradient of `nnx.max_pool`, at a fraction of its memory traffic.

`nnx.max_pool` is `lax.reduce_window`; its gradient is XLA's select-and-scatter, which keeps
the pooled layer's whole input alive for the backward pass and scatters into it window by
window. Pooling a 2x2 window with stride 2 is a reshape and a max over 4 values, and its
gradient needs only which of the 4 won. Done so (custom VJP, 1 byte per output kept), the
Simple CNN's training step reads and writes about half the bytes (XLA's cost analysis,
`benchmarks/pooling.py`), with gradients *bit-equal* to `nnx.max_pool`'s: the gradient goes to
the first maximum of each window in row-major order, as XLA's select (`ge`) picks it, ties
included (a ReLU'd constant background ties whole windows). A mean of the tied inputs, which
`jnp.max`'s own gradient would give, changes the results in the last bits.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _windows(x: jax.Array) -> jax.Array:
  """[n, h, w, c] -> [n, h//2, w//2, c, 4], each window's values in row-major order (a last
  odd row or column dropped, as VALID pooling drops it)."""
  n, h, w, c = x.shape
  x = x[:, :h // 2 * 2, :w // 2 * 2]
  x = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
  return x.reshape(n, h // 2, w // 2, c, 4)


@jax.custom_vjp
def max_pool_2x2(x: jax.Array) -> jax.Array:
  """`nnx.max_pool(x, (2, 2), strides=(2, 2))` (VALID) of NHWC `x`, forward and gradient."""
  return _windows(x).max(axis=-1)


def _forward(x: jax.Array):
  windows = _windows(x)
  winner = jnp.argmax(windows, axis=-1).astype(jnp.int8)  # the first maximum, as XLA's select
  return windows.max(axis=-1), (winner, x.shape)


def _backward(residuals, g: jax.Array):
  winner, (n, h, w, c) = residuals
  # where, not one_hot * g: the losers get +0.0, as the scatter into zeros gives (not -0.0).
  dx = jnp.where(winner[..., None] == jnp.arange(4, dtype=winner.dtype), g[..., None],
                 jnp.zeros((), g.dtype))
  dx = dx.reshape(n, h // 2, w // 2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
  dx = dx.reshape(n, h // 2 * 2, w // 2 * 2, c)
  return (jnp.pad(dx, ((0, 0), (0, h % 2), (0, w % 2), (0, 0))),)


max_pool_2x2.defvjp(_forward, _backward)
