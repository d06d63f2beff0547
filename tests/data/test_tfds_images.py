"""The in-memory TFDS image pipeline under tfds.testing.mock_data, for every such dataset."""
import numpy as np
import pytest
import tensorflow_datasets as tfds

from optcompare.data import tfds_images


@pytest.mark.parametrize("name", sorted(tfds_images.IMAGE_DATASETS))
def test_splits_under_mock_data(name, tmp_path):
  shape, num_classes, _ = tfds_images.IMAGE_DATASETS[name]
  with tfds.testing.mock_data(num_examples=40):
    splits = tfds_images.load_splits(name, str(tmp_path), 8)
  assert {k: len(v) for k, v in splits.items()} == {"train": 32, "validation": 8, "test": 40}
  for split in splits.values():
    assert split.inputs.shape[1:] == shape and split.inputs.dtype == np.uint8
    assert split.labels.dtype == np.int32 and split.labels.max() < num_classes
