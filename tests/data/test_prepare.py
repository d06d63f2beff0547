"""Offline preparation: errors name the files; the real Fashion-MNIST when ../shared has it."""
import os

import numpy as np
import pytest

from optcompare.data import prepare, tfds_images
from optcompare.errors import BadInputError
from tests.conftest import SHARED_DATA


def test_missing_manual_files_are_named(tmp_path):
  (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
  with pytest.raises(BadInputError, match="t10k-labels-idx1-ubyte.gz"):
    prepare.prepare("fashion_mnist", manual_dir=str(tmp_path), data_dir=str(tmp_path / "tfds"))
  assert not os.path.exists(tmp_path / "tfds")


def test_unknown_dataset_and_missing_dir(tmp_path):
  with pytest.raises(BadInputError, match="unknown dataset"):
    prepare.prepare("nope", manual_dir=str(tmp_path))
  with pytest.raises(BadInputError, match="not a directory"):
    prepare.prepare("mnist", manual_dir=str(tmp_path / "absent"))


def test_unprepared_data_dir_is_a_clear_error(tmp_path):
  with pytest.raises(BadInputError, match="optcompare data prepare fashion_mnist"):
    tfds_images.load_splits("fashion_mnist", str(tmp_path), 10_000)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "fashion_mnist")),
                    reason="../shared/data/fashion_mnist is not here")
def test_real_fashion_mnist_prepared_offline(tmp_path):
  prepare.prepare("fashion_mnist", manual_dir=os.path.join(SHARED_DATA, "fashion_mnist"),
                  data_dir=str(tmp_path))
  splits = tfds_images.load_splits("fashion_mnist", str(tmp_path), 10_000)
  assert {k: v.inputs.shape for k, v in splits.items()} == {
      "train": (50_000, 28, 28, 1), "validation": (10_000, 28, 28, 1),
      "test": (10_000, 28, 28, 1)}
  np.testing.assert_array_equal(np.bincount(splits["test"].labels), [1000] * 10)
  assert splits["train"].inputs.dtype == np.uint8
  # The second load comes from the decoded-array cache and is the same data, which is the
  # tail of TFDS's own train split.
  assert os.path.exists(os.path.join(str(tmp_path), "fashion_mnist", "3.0.1",
                                     tfds_images.CACHE_NAME))
  again = tfds_images.load_splits("fashion_mnist", str(tmp_path), 10_000)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  reference = tfds.as_numpy(tfds.builder("fashion_mnist", data_dir=str(tmp_path)).as_dataset(
      split="train[50000:]", batch_size=-1, shuffle_files=False))
  np.testing.assert_array_equal(again["validation"].inputs, reference["image"])
  np.testing.assert_array_equal(again["validation"].labels, reference["label"])
  np.testing.assert_array_equal(again["train"].inputs, splits["train"].inputs)
