"""In-memory serving: the batch at a step is a pure function of (seed, step)."""
import numpy as np
import pytest

from optcompare.data import in_memory, synthetic


@pytest.fixture(scope="module")
def split():
  return synthetic.image_classification(0, 100, (4, 4, 1), 3)


def test_batches_are_a_function_of_seed_and_step(split):
  a = in_memory.train_batch(split, seed=1, step=7, batch_size=8)
  in_memory.epoch_permutation.cache_clear()
  b = in_memory.train_batch(split, seed=1, step=7, batch_size=8)
  c = in_memory.train_batch(split, seed=2, step=7, batch_size=8)
  np.testing.assert_array_equal(a["inputs"], b["inputs"])
  assert not np.array_equal(a["labels"], c["labels"]) or not np.array_equal(a["inputs"],
                                                                           c["inputs"])


def test_each_epoch_visits_every_kept_example_once(split):
  steps_per_epoch = 100 // 8
  for epoch in range(2):
    idx = np.concatenate([in_memory.batch_indices(3, epoch * steps_per_epoch + i, 8, 100)
                          for i in range(steps_per_epoch)])
    assert len(set(idx.tolist())) == len(idx) == 96
  first = in_memory.batch_indices(3, 0, 8, 100)
  second_epoch_first = in_memory.batch_indices(3, steps_per_epoch, 8, 100)
  assert not np.array_equal(first, second_epoch_first)


def test_eval_batches_cover_the_split_once_with_padding(split):
  batches = list(in_memory.eval_batches(split, 32))
  assert [b["inputs"].shape[0] for b in batches] == [32] * 4
  assert sum(b["mask"].sum() for b in batches) == 100
  np.testing.assert_array_equal(np.concatenate([b["labels"][b["mask"] > 0] for b in batches]),
                                split.labels)


def test_batch_larger_than_dataset_is_an_error(split):
  with pytest.raises(ValueError, match="batch_size"):
    in_memory.batch_indices(0, 0, 101, 100)


def test_process_rows_concatenate_to_the_global_batch(split):
  whole = in_memory.train_batch(split, seed=4, step=3, batch_size=8)
  parts = [in_memory.train_batch(split, 4, 3, 8, process_index=i, process_count=2)
           for i in range(2)]
  # Each process sorts its own rows, so compare as multisets of examples.
  merged = np.concatenate([p["labels"] for p in parts])
  assert sorted(merged.tolist()) == sorted(whole["labels"].tolist())
  evals = [list(in_memory.eval_batches(split, 32, i, 4)) for i in range(4)]
  assert all(b["inputs"].shape[0] == 8 for part in evals for b in part)
  assert sum(b["mask"].sum() for part in evals for b in part) == 100
