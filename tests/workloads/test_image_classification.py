"""Augmentation and preprocessing of the in-memory image workloads."""
import jax
import jax.numpy as jnp
import numpy as np

from optcompare.data import augment


def test_crop_and_flip_takes_windows_of_the_padded_image():
  images = jnp.arange(2 * 6 * 6 * 1, dtype=jnp.float32).reshape(2, 6, 6, 1) + 1
  out = np.asarray(augment.random_crop_and_flip(images, jax.random.PRNGKey(0), pad=2))
  assert out.shape == images.shape
  padded = np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2), (0, 0)))
  for i in range(2):
    windows = [padded[i, y:y + 6, x:x + 6] for y in range(5) for x in range(5)]
    windows += [w[:, ::-1] for w in windows]
    assert any(np.array_equal(out[i], w) for w in windows)


def test_augmentation_depends_on_the_key_only():
  images = jax.random.uniform(jax.random.PRNGKey(1), (8, 8, 8, 3))
  a = augment.random_crop_and_flip(images, jax.random.PRNGKey(2))
  b = augment.random_crop_and_flip(images, jax.random.PRNGKey(2))
  c = augment.random_crop_and_flip(images, jax.random.PRNGKey(3))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
