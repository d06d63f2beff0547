"""Character windows: labels are the inputs shifted by one character."""
import numpy as np

from optcompare.data import text


def test_windows_shift_by_one_and_vocabulary_is_sorted():
  vocab = text.vocabulary("abca", "d")
  assert vocab == {"a": 0, "b": 1, "c": 2, "d": 3}
  ids = text.encode("abcabcabcd", vocab)
  split = text.windows(ids, 3)
  assert len(split) == 3
  np.testing.assert_array_equal(split.inputs[0], [0, 1, 2])
  np.testing.assert_array_equal(split.labels[0], [1, 2, 0])
  np.testing.assert_array_equal(split.labels[2], [1, 2, 3])
