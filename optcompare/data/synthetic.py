"""Random data of the right shapes, for smoke runs and tests: no TFDS, no files."""
from __future__ import annotations

import numpy as np

from optcompare.data import in_memory


def image_classification(seed: int, num_examples: int, image_shape: tuple[int, ...],
                         num_classes: int) -> in_memory.ArraySplit:
  """uint8 images whose label is learnable: each class has its own mean image."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, num_examples).astype(np.int32)
  class_means = rng.uniform(0, 255, (num_classes,) + tuple(image_shape))
  noise = rng.normal(0, 64, (num_examples,) + tuple(image_shape))
  images = np.clip(class_means[labels] + noise, 0, 255).astype(np.uint8)
  return in_memory.ArraySplit(images, labels)
