"""TFDS image-classification datasets that fit in memory (Fashion-MNIST, MNIST, CIFAR).

The dataset is read once from a prepared TFDS directory into host arrays; `prepare.py` prepares
it (offline from the original files, or by download). Validation is held out from the end of
the official training split; test is the official test split.
"""
from __future__ import annotations

import os

import numpy as np

from optcompare.data import in_memory
from optcompare.errors import BadInputError

# Decoded arrays are cached beside the prepared dataset: decoding 70,000 PNGs through
# tf.data takes longer than training a small trial, and a study loads the data once per trial.
CACHE_NAME = "optcompare_arrays.npz"

# name -> (image shape, number of classes, number of training examples)
IMAGE_DATASETS = {
    "fashion_mnist": ((28, 28, 1), 10, 60_000),
    "mnist": ((28, 28, 1), 10, 60_000),
    "cifar10": ((32, 32, 3), 10, 50_000),
    "cifar100": ((32, 32, 3), 100, 50_000),
}


def _builder(name: str, data_dir: str | None):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds.builder(name, data_dir=data_dir)
  if not builder.is_prepared():
    raise BadInputError(
        f"dataset.data_dir: {name} is not prepared in {builder.data_dir_root}; run "
        f"`optcompare data prepare {name} --manual_dir=DIR --data_dir={builder.data_dir_root}`"
        " (or without --manual_dir to download)")
  return builder


def _decode(builder) -> dict[str, np.ndarray]:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  arrays = {}
  for split in ("train", "test"):
    data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
    arrays[f"{split}_image"] = data["image"]
    arrays[f"{split}_label"] = data["label"].astype(np.int32)
  return arrays


def _cached_arrays(builder) -> dict[str, np.ndarray]:
  """The decoded train and test arrays, from the cache file when there is one."""
  path = os.path.join(str(builder.data_path), CACHE_NAME)
  if "://" in path:  # remote storage: decode every time, write nothing
    return _decode(builder)
  if os.path.exists(path):
    with np.load(path) as cached:
      return dict(cached)
  arrays = _decode(builder)
  tmp = f"{path}.tmp.{os.getpid()}.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, path)  # atomic: concurrent trials never read a half-written cache
  return arrays


def load_splits(name: str, data_dir: str | None, num_validation: int) -> dict:
  """{'train', 'validation', 'test'} -> ArraySplit, validation from the end of 'train'."""
  if name not in IMAGE_DATASETS:
    raise BadInputError(f"dataset.name: unknown image dataset {name!r}; "
                        f"known: {sorted(IMAGE_DATASETS)}")
  num_train_total = IMAGE_DATASETS[name][2]
  if not 0 < num_validation < num_train_total:
    raise BadInputError(f"dataset.num_validation_examples: {num_validation} is not in "
                        f"(0, {num_train_total})")
  arrays = _cached_arrays(_builder(name, data_dir))
  images, labels = arrays["train_image"], arrays["train_label"]
  if len(labels) != num_train_total:
    raise BadInputError(f"dataset.data_dir: {name} has {len(labels)} training examples, "
                        f"expected {num_train_total}")
  cut = num_train_total - num_validation
  return {
      "train": in_memory.ArraySplit(images[:cut], labels[:cut]),
      "validation": in_memory.ArraySplit(images[cut:], labels[cut:]),
      "test": in_memory.ArraySplit(arrays["test_image"], arrays["test_label"]),
  }
