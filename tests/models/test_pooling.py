"""max_pool_2x2 against a float64 NumPy reference and against nnx.max_pool, ties included."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models.pooling import max_pool_2x2


def _reference(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(pooled, dL/dx) in float64: the gradient of each window goes to its first maximum in
  row-major order."""
  n, h, w, c = x.shape
  out = np.zeros((n, h // 2, w // 2, c))
  dx = np.zeros(x.shape)
  for b, i, j, k in np.ndindex(out.shape):
    window = [(2 * i + di, 2 * j + dj) for di in (0, 1) for dj in (0, 1)]
    values = [x[b, r, s, k] for r, s in window]
    first = int(np.argmax(values))
    out[b, i, j, k] = values[first]
    r, s = window[first]
    dx[b, r, s, k] += g[b, i, j, k]
  return out, dx


def _tied(shape, seed=0) -> np.ndarray:
  """Values drawn from {0, 1, 2}: most windows hold ties, some a tie at their maximum."""
  return np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float64)


@pytest.mark.parametrize("shape", [(2, 4, 6, 3), (1, 5, 7, 2)])  # odd: the last row/col dropped
def test_matches_the_float64_reference_with_ties(shape):
  x = _tied(shape)
  n, h, w, c = shape
  g = np.random.default_rng(1).normal(size=(n, h // 2, w // 2, c))
  with jax.enable_x64(True):
    out, vjp = jax.vjp(max_pool_2x2, jnp.asarray(x))
    (dx,) = vjp(jnp.asarray(g))
  want_out, want_dx = _reference(x, g)
  np.testing.assert_array_equal(np.asarray(out), want_out)
  np.testing.assert_array_equal(np.asarray(dx), want_dx)


@pytest.mark.parametrize("relu_bias", [0.0, 0.1])  # 0.1: a constant background ties windows
def test_gradients_are_bit_equal_to_nnx_max_pool(relu_bias):
  """A conv -> ReLU -> pool -> dense loss: every gradient leaf has the same bits (signed zeros
  included) whichever pooling runs; vmapped over 3 trials too, as a pack runs it."""
  conv = nnx.Conv(1, 4, (3, 3), padding="SAME", rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(conv)
  x = jax.nn.relu(jax.random.normal(jax.random.key(1), (3, 8, 10, 10, 1)))
  x = x.at[:, :, :4].set(0.0)  # background

  def loss(params, x, pool):
    h = pool(jax.nn.relu(nnx.merge(graphdef, params)(x) + relu_bias))
    return jnp.sum(jnp.sin(h) * jnp.arange(h.size).reshape(h.shape))

  def grads(pool):
    one = jax.grad(loss)(params, x[0], pool)
    packed = jax.vmap(jax.grad(loss), in_axes=(None, 0, None))(params, x, pool)
    return jax.tree.leaves((one, packed))

  reduce_window = grads(lambda h: nnx.max_pool(h, (2, 2), strides=(2, 2)))
  ours = grads(max_pool_2x2)
  for a, b in zip(reduce_window, ours):
    np.testing.assert_array_equal(np.asarray(a).view(np.uint32), np.asarray(b).view(np.uint32))
