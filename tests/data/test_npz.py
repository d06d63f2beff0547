"""Split arrays in one .npz file: the round trip is exact, bad files are named."""
import numpy as np
import pytest

from optcompare.data import in_memory, npz
from optcompare.errors import BadInputError


def _splits():
  rng = np.random.default_rng(0)
  make = lambda n: in_memory.ArraySplit(  # pylint: disable=g-long-lambda
      rng.integers(0, 256, (n, 3, 3, 1), dtype=np.uint8),
      rng.integers(0, 10, n).astype(np.int32))
  return {"train": make(7), "validation": make(3), "test": make(4)}


def test_round_trip_is_exact(tmp_path):
  splits = _splits()
  path = str(tmp_path / "d.npz")
  npz.save_splits(path, splits)
  loaded = npz.load_splits(path)
  assert sorted(loaded) == ["test", "train", "validation"]
  for name, split in splits.items():
    for field in ("inputs", "labels"):
      want, got = getattr(split, field), getattr(loaded[name], field)
      assert got.dtype == want.dtype and got.shape == want.shape, (name, field)
      np.testing.assert_array_equal(got, want)
  assert list(tmp_path.iterdir()) == [tmp_path / "d.npz"]  # no temporary file left


def test_missing_split_names_the_file_and_key(tmp_path):
  path = str(tmp_path / "partial.npz")
  np.savez(path, train_inputs=np.zeros((2, 1)), train_labels=np.zeros(2))
  with pytest.raises(BadInputError, match=r"partial\.npz.*validation_inputs"):
    npz.load_splits(path)


def test_unreadable_file_names_the_file(tmp_path):
  path = tmp_path / "junk.npz"
  path.write_text("not a zip")
  with pytest.raises(BadInputError, match=r"junk\.npz"):
    npz.load_splits(str(path))
  with pytest.raises(BadInputError, match=r"absent\.npz"):
    npz.load_splits(str(tmp_path / "absent.npz"))


def test_mismatched_lengths_name_the_file(tmp_path):
  path = str(tmp_path / "bad.npz")
  arrays = {f"{s}_{f}": np.zeros(2) for s in npz.SPLITS for f in npz.FIELDS}
  arrays["test_labels"] = np.zeros(3)
  np.savez(path, **arrays)
  with pytest.raises(BadInputError, match=r"bad\.npz.*2 inputs but 3 labels"):
    npz.load_splits(path)
