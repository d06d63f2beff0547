"""`optcompare data prepare NAME`: build a TFDS dataset offline from its original files.

TFDS's download manager takes a file from `manual_dir` instead of downloading it when a file
of the expected name is there (its checksum is still verified), so offline preparation is the
ordinary `download_and_prepare` with `DownloadConfig(manual_dir=...)`. Without a manual_dir,
TFDS downloads as usual.
"""
from __future__ import annotations

import os

from optcompare.errors import BadInputError

# The original files each dataset is prepared from (names as the authors publish them).
MANUAL_FILES = {
    "fashion_mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "war_and_peace": ("warpeace_input.txt",),
    "cifar10": ("cifar-10-binary.tar.gz",),
    "cifar100": ("cifar-100-binary.tar.gz",),
    "lm1b": ("1-billion-word-language-modeling-benchmark-r13output.tar.gz",),
    "imagenet2012": ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"),
}

# Too large for memory: read by random access (optcompare/data/random_access.py), which needs
# TFDS's ArrayRecord file format.
RANDOM_ACCESS = ("lm1b", "imagenet2012")


def builder(name: str, data_dir: str | None):
  """The TFDS builder of `name`: optcompare's own builders first, then TFDS's registry."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if name == "war_and_peace":
    from optcompare.data import war_and_peace  # pylint: disable=g-import-not-at-top
    return war_and_peace.WarAndPeace(data_dir=data_dir)
  if name in RANDOM_ACCESS:
    return tfds.builder(name, data_dir=data_dir, file_format="array_record")
  return tfds.builder(name, data_dir=data_dir)


def check_manual_dir(name: str, manual_dir: str) -> None:
  if not os.path.isdir(manual_dir):
    raise BadInputError(f"--manual_dir: {manual_dir} is not a directory")
  missing = [f for f in MANUAL_FILES[name] if not os.path.isfile(os.path.join(manual_dir, f))]
  if missing:
    raise BadInputError(f"--manual_dir: {manual_dir} lacks {', '.join(missing)} "
                        f"(expected for {name}: {', '.join(MANUAL_FILES[name])})")


def prepare(name: str, manual_dir: str | None = None, data_dir: str | None = None) -> str:
  """Prepares `name` under data_dir (TFDS's default when None); returns the dataset path."""
  if name not in MANUAL_FILES:
    raise BadInputError(f"data prepare: unknown dataset {name!r}; known: {sorted(MANUAL_FILES)}")
  if manual_dir is not None:
    check_manual_dir(name, manual_dir)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  dataset = builder(name, data_dir)
  config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  try:
    dataset.download_and_prepare(download_config=config)
  except tfds.core.download.download_manager.NonMatchingChecksumError as e:
    raise BadInputError(f"--manual_dir: a file in {manual_dir} has the wrong checksum: {e}") from e
  if name == "lm1b":  # its subword tokenizer is trained on the prepared training split
    from optcompare.data import lm1b  # pylint: disable=g-import-not-at-top
    lm1b.prepare_tokenizer(dataset)
  return str(dataset.data_path)
