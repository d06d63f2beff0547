"""The `train_eval` split: a fixed, seeded subset of the training split, evaluated like the
validation and test splits (without augmentation), so that trials can be chosen by training
loss (Choi et al. 2019, Fig. 9).

The subset is the same for every trial of every study of a dataset (its own fixed seed, not
the trial's), so training losses of trials are comparable, and it is evaluated in index order.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from optcompare.data import in_memory, random_access

SPLIT = "train_eval"
_SEED = 20191011  # fixed: every trial evaluates the same examples


def indices(num_train: int, num_examples: int) -> np.ndarray:
  """Sorted indices of the `num_examples` training examples of the subset."""
  if not 0 < num_examples <= num_train:
    raise ValueError(f"train_eval: {num_examples} examples requested of {num_train}")
  return np.sort(np.random.default_rng(_SEED).permutation(num_train)[:num_examples])


@dataclasses.dataclass(frozen=True)
class _Subset:
  """Examples `index[i]` of `source`, as a random-access source."""
  source: Any
  index: np.ndarray

  def __len__(self) -> int:
    return len(self.index)

  def __getitem__(self, i: int) -> Any:
    return self.source[int(self.index[i])]


def subset(train: Any, num_examples: int, evaluation: Any) -> Any:
  """The train_eval split of a training split (in-memory arrays or random access).

  `evaluation` is a split evaluated the same way (validation): a random-access train_eval
  takes its transform (the evaluation crop, not the training augmentation).
  """
  idx = indices(len(train), num_examples)
  if isinstance(train, in_memory.ArraySplit):
    return in_memory.ArraySplit(train.inputs[idx], train.labels[idx])
  if isinstance(train, random_access.Split):
    return random_access.Split(_Subset(train.examples, idx), evaluation.transform,
                               train.num_threads)
  raise TypeError(f"train_eval: no subset of a {type(train).__name__} split")
