"""TFDS image-classification datasets that fit in memory (Fashion-MNIST, MNIST, CIFAR).

The dataset is read once from a prepared TFDS directory into host arrays; `prepare.py` prepares
it (offline from the original files, or by download). Validation is held out from the end of
the official training split; test is the official test split.
"""
from __future__ import annotations

from optcompare.data import in_memory
from optcompare.errors import BadInputError

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


def _read(builder, split: str) -> in_memory.ArraySplit:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
  return in_memory.ArraySplit(arrays["image"], arrays["label"].astype("int32"))


def load_splits(name: str, data_dir: str | None, num_validation: int) -> dict:
  """{'train', 'validation', 'test'} -> ArraySplit, validation from the end of 'train'."""
  if name not in IMAGE_DATASETS:
    raise BadInputError(f"dataset.name: unknown image dataset {name!r}; "
                        f"known: {sorted(IMAGE_DATASETS)}")
  num_train_total = IMAGE_DATASETS[name][2]
  if not 0 < num_validation < num_train_total:
    raise BadInputError(f"dataset.num_validation_examples: {num_validation} is not in "
                        f"(0, {num_train_total})")
  builder = _builder(name, data_dir)
  cut = num_train_total - num_validation
  return {
      "train": _read(builder, f"train[:{cut}]"),
      "validation": _read(builder, f"train[{cut}:]"),
      "test": _read(builder, "test"),
  }
