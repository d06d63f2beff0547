"""Datasets that fit in memory, served by step: the batch at step t is a pure function of
(seed, t), so a resumed trial sees exactly the batches an uninterrupted one would.

Each epoch is a fresh permutation drawn from `np.random.default_rng((seed, epoch))`; an epoch
has `num_examples // batch_size` steps (the remainder is dropped, as in most TFDS pipelines).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True)
class ArraySplit:
  """One split as host arrays: `inputs[i]` and `labels[i]` are example i."""
  inputs: np.ndarray
  labels: np.ndarray

  def __post_init__(self):
    if len(self.inputs) != len(self.labels):
      raise ValueError(f"{len(self.inputs)} inputs but {len(self.labels)} labels")

  def __len__(self) -> int:
    return len(self.labels)


@functools.lru_cache(maxsize=2)
def epoch_permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  return np.random.default_rng((seed, epoch)).permutation(num_examples)


def batch_indices(seed: int, step: int, batch_size: int, num_examples: int) -> np.ndarray:
  """Indices of the training batch at `step` (0-based)."""
  steps_per_epoch = num_examples // batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"batch_size {batch_size} exceeds the {num_examples} training examples")
  epoch, offset = divmod(step, steps_per_epoch)
  perm = epoch_permutation(seed, epoch, num_examples)
  return perm[offset * batch_size:(offset + 1) * batch_size]


def process_rows(batch_size: int, process_index: int, process_count: int) -> slice:
  """The rows of a global batch that process `process_index` of `process_count` holds."""
  if batch_size % process_count:
    raise ValueError(f"batch size {batch_size} is not divisible by {process_count} processes")
  per_process = batch_size // process_count
  return slice(process_index * per_process, (process_index + 1) * per_process)


def train_batch(split: ArraySplit, seed: int, step: int, batch_size: int,
                process_index: int = 0, process_count: int = 1) -> dict:
  """This process's rows of the global training batch at `step`."""
  idx = batch_indices(seed, step, batch_size, len(split))
  idx = np.sort(idx[process_rows(batch_size, process_index, process_count)])  # cache-friendly
  return {"inputs": split.inputs[idx], "labels": split.labels[idx]}


def eval_batches(split: ArraySplit, batch_size: int, process_index: int = 0,
                 process_count: int = 1):
  """Yields this process's rows of fixed-size batches covering the split once.

  The last global batch is padded; `mask` is 1 for real examples and 0 for padding, so sums
  over the batch ignore padding and every batch has one shape (one compilation).
  """
  rows = process_rows(batch_size, process_index, process_count)
  for batch in _padded_batches(split, batch_size):
    yield {k: v[rows] for k, v in batch.items()}


def _padded_batches(split: ArraySplit, batch_size: int):
  n = len(split)
  for start in range(0, n, batch_size):
    stop = min(start + batch_size, n)
    pad = batch_size - (stop - start)
    inputs, labels = split.inputs[start:stop], split.labels[start:stop]
    mask = np.ones(stop - start, np.float32)
    if pad:
      inputs = np.concatenate([inputs, np.zeros((pad,) + inputs.shape[1:], inputs.dtype)])
      labels = np.concatenate([labels, np.zeros((pad,) + labels.shape[1:], labels.dtype)])
      mask = np.concatenate([mask, np.zeros(pad, np.float32)])
    yield {"inputs": inputs, "labels": labels, "mask": mask}
