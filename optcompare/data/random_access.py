"""Datasets too large for memory, served by step through TFDS random access (ArrayRecord).

The batch at step t holds the examples at `in_memory.batch_indices(seed, t, B, N)` (sorted, as
the in-memory datasets do), and each example is turned into arrays on the host by a
per-example function whose randomness is `example_rng(seed, t, index)`. A batch is therefore a
pure function of (seed, step): a resumed trial reads the same examples, with the same crops, as
an uninterrupted one, and two fresh pipelines agree.

Several processes: each reads and decodes only its rows of the global batch, rows
`in_memory.process_rows(B, process_index, process_count)`, one contiguous slice each, so a
process's part is identical whether it is made alone or cut from the global batch.

The datasets must be prepared with `file_format='array_record'` (`optcompare data prepare`
does so for them); `open_sources` turns "not prepared" and "wrong format" into one clear line.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from optcompare.data import in_memory
from optcompare.errors import BadInputError

# (example, numpy Generator or None at evaluation) -> {name: array}, one row of a batch
Transform = Callable[[Any, "np.random.Generator | None"], dict]


class Examples(Protocol):
  """What a TFDS data source offers: a length and random access by index."""

  def __len__(self) -> int: ...
  def __getitem__(self, index: int) -> Any: ...


@dataclasses.dataclass(frozen=True)
class Range:
  """Examples [start, stop) of `source`, indexed from 0 (e.g. validation held out of train)."""
  source: Examples
  start: int
  stop: int

  def __len__(self) -> int:
    return self.stop - self.start

  def __getitem__(self, index: int) -> Any:
    if not 0 <= index < len(self):
      raise IndexError(f"index {index} out of range for {len(self)} examples")
    return self.source[self.start + int(index)]


def open_sources(builder, splits: Sequence[str], decoders=None) -> dict[str, Examples]:
  """{split: TFDS data source} of a builder prepared as ArrayRecord; BadInputError if not."""
  name, root = builder.info.name, builder.data_dir_root
  hint = (f"run `optcompare data prepare {name} --manual_dir=DIR --data_dir={root}`")
  try:
    return {s: builder.as_data_source(s, decoders=decoders) for s in splits}
  except KeyError as e:  # TFDS: "`splits` is empty", i.e. nothing generated in data_dir
    raise BadInputError(f"dataset.data_dir: {name} is not prepared in {root}; {hint}") from e
  except (NotImplementedError, ValueError) as e:  # prepared, but not as ArrayRecord
    raise BadInputError(f"dataset.data_dir: {name} in {root} is not stored as array_record, "
                        f"which random access needs; {hint} into a fresh data_dir") from e


def example_rng(seed: int, step: int, index: int) -> np.random.Generator:
  """The randomness of example `index` in the batch of `step` (crops, flips)."""
  return np.random.default_rng((seed, step, index))


class Split:
  """A random-access split and the per-example transform that makes batch rows of it.

  Examples are read and transformed on `num_threads` host threads (JPEG decoding and
  resizing release the GIL); rows come back in index order, so threading changes nothing.
  """

  def __init__(self, examples: Examples, transform: Transform, num_threads: int = 1):
    self.examples = examples
    self.transform = transform
    self.num_threads = num_threads
    self._pool = None

  def __len__(self) -> int:
    return len(self.examples)

  def _map(self, fn, *iterables) -> list:
    if self.num_threads <= 1:
      return list(map(fn, *iterables))
    if self._pool is None:
      self._pool = concurrent.futures.ThreadPoolExecutor(self.num_threads)
    return list(self._pool.map(fn, *iterables))

  def rows(self, indices: Sequence[int], keys: Sequence[tuple] | None = None) -> dict:
    """Stacked transforms of examples `indices`; row k draws from `example_rng(*keys[k])`
    (keys None: no randomness, as at evaluation)."""
    def one(index, key):
      rng = None if key is None else example_rng(*key)
      return self.transform(self.examples[int(index)], rng)
    out = self._map(one, indices, [None] * len(indices) if keys is None else keys)
    return {k: np.stack([row[k] for row in out]) for k in out[0]}


def train_indices(seed: int, step: int, batch_size: int, num_examples: int) -> np.ndarray:
  """Example indices of the global training batch at `step`, sorted (read locality)."""
  return np.sort(in_memory.batch_indices(seed, step, batch_size, num_examples))


def train_batch(split: Split, seed: int, step: int, batch_size: int, process_index: int = 0,
                process_count: int = 1) -> dict:
  """This process's rows of the training batch at `step` (all of it for one process)."""
  idx = train_indices(seed, step, batch_size, len(split))
  idx = idx[in_memory.process_rows(batch_size, process_index, process_count)]
  return split.rows(idx, [(seed, step, int(i)) for i in idx])


def eval_batches(split: Split, batch_size: int, process_index: int = 0,
                 process_count: int = 1):
  """This process's rows of fixed-size batches covering the split once, the last padded.

  Padding rows repeat example 0 with `mask` 0, so every batch has one shape (one compile)
  and sums over it ignore the padding.
  """
  rows = in_memory.process_rows(batch_size, process_index, process_count)
  n = len(split)
  for start in range(0, n, batch_size):
    idx = np.arange(start, start + batch_size)
    mask = (idx < n).astype(np.float32)[rows]
    batch = split.rows(np.where(idx < n, idx, 0)[rows])
    yield {**batch, "mask": mask}
