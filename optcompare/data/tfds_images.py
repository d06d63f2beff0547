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

# name -> (image shape, number of classes, number of official training examples)
IMAGE_DATASETS = {
    "fashion_mnist": ((28, 28, 1), 10, 60_000),
    "mnist": ((28, 28, 1), 10, 60_000),
    "cifar10": ((32, 32, 3), 10, 50_000),
    "cifar100": ((32, 32, 3), 100, 50_000),
}


def _not_prepared(builder) -> BadInputError:
  name, root = builder.info.name, builder.data_dir_root
  return BadInputError(
      f"dataset.data_dir: {name} is not prepared in {root}; run `optcompare data prepare "
      f"{name} --manual_dir=DIR --data_dir={root}` (or without --manual_dir to download)")


def _decode(builder) -> dict[str, np.ndarray]:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  arrays = {}
  for split in ("train", "test"):
    # Fixed-size batches, concatenated: batch_size=-1 trips tf.data under TFDS's mock_data.
    try:
      ds = builder.as_dataset(split=split, batch_size=4096, shuffle_files=False)
    except AssertionError as e:  # TFDS's way of saying "call download_and_prepare first"
      raise _not_prepared(builder) from e
    batches = list(tfds.as_numpy(ds))
    arrays[f"{split}_image"] = np.concatenate([b["image"] for b in batches])
    arrays[f"{split}_label"] = np.concatenate([b["label"] for b in batches]).astype(np.int32)
  return arrays


def _cached_arrays(builder) -> dict[str, np.ndarray]:
  """The decoded train and test arrays, from the cache file when there is one."""
  path = os.path.join(str(builder.data_path), CACHE_NAME)
  if "://" in path or not os.access(os.path.dirname(path), os.W_OK):
    return _decode(builder)  # remote or read-only storage (or TFDS's mock): no cache
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
  if num_validation <= 0:
    raise BadInputError(f"dataset.num_validation_examples: must be positive, got "
                        f"{num_validation}")
  if data_dir and data_dir.endswith(".npz"):
    return _npz_splits(data_dir, num_validation)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  arrays = _cached_arrays(tfds.builder(name, data_dir=data_dir))
  images, labels = arrays["train_image"], arrays["train_label"]
  if num_validation >= len(labels):
    raise BadInputError(f"dataset.num_validation_examples: {num_validation} leaves no "
                        f"training examples of the {len(labels)} in {name}")
  cut = len(labels) - num_validation
  return {
      "train": in_memory.ArraySplit(images[:cut], labels[:cut]),
      "validation": in_memory.ArraySplit(images[cut:], labels[cut:]),
      "test": in_memory.ArraySplit(arrays["test_image"], arrays["test_label"]),
  }


def _npz_splits(path: str, num_validation: int) -> dict:
  """The splits of a .npz that benchmarks/export_npz.py wrote (machines without TFDS, such as
  accelerator images); its validation split must be the size the config asks for."""
  from optcompare.data import npz  # pylint: disable=g-import-not-at-top
  splits = npz.load_splits(path)
  if len(splits["validation"]) != num_validation:
    raise BadInputError(f"dataset.num_validation_examples: {num_validation}, but {path} holds "
                        f"{len(splits['validation'])} validation examples")
  return splits
