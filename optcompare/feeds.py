"""Where the loop's batches come from: device-resident arrays, or the host.

The loop runs the steps between two boundaries as one compiled scan. Its input for those
steps (a *chunk*) is, per step and per trial of the pack:
- **Device-resident data** (datasets that fit in memory, `optcompare.data.in_memory`, one
  process): the training split is placed on the device once; a chunk is the example
  *indices* of each step's batch — the very indices the host path reads
  (`in_memory.batch_indices`, sorted) — and the compiled step gathers the rows on the device,
  so its batches are bit-equal to the host's. Evaluation batches are stacked and placed once
  per split, and an evaluation is one compiled scan over them.
- **Host data** (random-access datasets too large for memory: ImageNet, LM1B; or several
  processes): a chunk is the stacked host batches of its steps (at most HOST_CHUNK_BYTES, so
  a boundary interval may take several dispatches). The loop builds the next chunk while
  the device runs the current one (dispatch is asynchronous), so reading overlaps the steps.

What is placed stays cached for the next trial of a worker that trains the same data.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from optcompare.data import in_memory, train_eval
from optcompare.errors import BadInputError

HOST_CHUNK_BYTES = 256 << 20  # the most host batches one dispatch carries

_host_cache: dict = {}    # (workload, n) -> splits (one entry: a worker's memory stays flat)
_device_cache: dict = {}  # (workload, n, mesh) -> device arrays


def load_splits(workload, num_train_eval: int) -> dict:
  """The workload's splits and its train_eval subset of `num_train_eval` examples (none for
  0), kept for the next trial of a worker that trains the same data."""
  key = (workload, num_train_eval)
  if key not in _host_cache:
    _host_cache.clear()
    splits = dict(workload.load_splits())
    if num_train_eval > len(splits["train"]):
      raise BadInputError(f"dataset.num_train_eval_examples: {num_train_eval} exceeds the "
                          f"{len(splits['train'])} training examples")
    if num_train_eval:
      splits[train_eval.SPLIT] = train_eval.subset(splits["train"], num_train_eval,
                                                   splits["validation"])
    _host_cache[key] = splits
  return _host_cache[key]


def device_resident(workload) -> bool:
  """Whether the workload's data go on the device (in-memory datasets, one process)."""
  return getattr(workload, "data", None) is in_memory and jax.process_count() == 1


@dataclasses.dataclass(frozen=True)
class Shardings:
  """Placements of a pack of `packed` trials over a ("trials", "data") mesh."""
  mesh: jax.sharding.Mesh
  packed: bool

  def _spec(self, *lead) -> NamedSharding:
    return NamedSharding(self.mesh, P(*lead, *(("trials", "data") if self.packed
                                               else ("data",))))

  @property
  def state(self) -> NamedSharding:
    return NamedSharding(self.mesh, P("trials") if self.packed else P())

  @property
  def batch(self) -> NamedSharding:    # one step's batch: [K,] B, ...
    return self._spec()

  @property
  def chunk(self) -> NamedSharding:    # a chunk: n, [K,] B, ...
    return self._spec(None)

  @property
  def eval_batch(self) -> NamedSharding:  # shared by the trials
    return NamedSharding(self.mesh, P("data"))

  @property
  def eval_stack(self) -> NamedSharding:
    return NamedSharding(self.mesh, P(None, "data"))

  @property
  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())


def to_global(local: Any, sharding: NamedSharding, axis: int = 0) -> Any:
  """This process's rows of a batch (rows along `axis`) -> global arrays over the mesh."""
  n = jax.process_count()
  def one(x):
    shape = x.shape[:axis] + (x.shape[axis] * n,) + x.shape[axis + 1:]
    return jax.make_array_from_process_local_data(sharding, x, shape)
  return jax.tree.map(one, local)


def _stack(rows: list) -> Any:
  return jax.tree.map(lambda *xs: np.stack(xs), *rows)


@dataclasses.dataclass
class Feed:
  """A pack's batches: `workloads` are its trials' (each its seed, hence its data order)."""
  workloads: list
  splits: dict
  shardings: Shardings
  device: dict | None = None  # split -> placed arrays (device-resident data only)
  _batch_bytes: int = 0       # of one step's host batches (host data), once measured

  @property
  def data(self) -> Any:
    """The training arrays the compiled step gathers from (None: chunks carry batches)."""
    return None if self.device is None else self.device["train"]

  def _indices(self, step: int) -> np.ndarray:
    """[K,] B example indices of each trial's batch at `step` (in_memory.train_batch's)."""
    w0 = self.workloads[0]
    n = len(self.splits["train"])
    rows = [np.sort(in_memory.batch_indices(w.seed, step, w0.batch_size, n)).astype(np.int32)
            for w in self.workloads]
    return np.stack(rows) if self.shardings.packed else rows[0]

  def _host_batch(self, step: int) -> dict:
    by_seed = {}
    for w in self.workloads:
      if w.seed not in by_seed:
        by_seed[w.seed] = w.train_batch(self.splits, step, jax.process_index(),
                                        jax.process_count())
    rows = [by_seed[w.seed] for w in self.workloads]
    return _stack(rows) if self.shardings.packed else rows[0]

  def batch(self, step: int) -> Any:
    """Every trial's batch at `step` from the host, placed (one step per dispatch)."""
    return to_global(self._host_batch(step), self.shardings.batch,
                     axis=1 if self.shardings.packed else 0)

  def chunk_end(self, start: int, stop: int) -> int:
    """Where the chunk starting at `start` ends, at most `stop` (host data: memory-bound)."""
    if self.device is not None:
      return stop
    if not self._batch_bytes:
      self._batch_bytes = max(1, sum(x.nbytes for x in jax.tree.leaves(self._host_batch(start))))
    return min(stop, start + max(1, HOST_CHUNK_BYTES // self._batch_bytes))

  def chunk(self, start: int, stop: int) -> Any:
    """The input of steps [start, stop): indices (device data) or batches, placed."""
    if self.device is not None:
      xs = np.stack([self._indices(s) for s in range(start, stop)])
      return jax.device_put(xs, self.shardings.chunk)
    xs = _stack([self._host_batch(s) for s in range(start, stop)])
    return to_global(xs, self.shardings.chunk, axis=2 if self.shardings.packed else 1)

  def eval_batches(self, split: str):
    """The split's evaluation batches: one placed stack (device data) or placed batches."""
    if self.device is not None:
      return self.device[split]
    return (to_global(b, self.shardings.eval_batch) for b in
            self.workloads[0].eval_batches(self.splits[split], jax.process_index(),
                                           jax.process_count()))


def make_feed(workloads: list, splits: dict, shardings: Shardings, *,
              device: bool = True) -> Feed:
  """The pack's feed; with `device`, in-memory data are placed on the device(s) once
  (cached) and batches gathered there."""
  program = dataclasses.replace(workloads[0], seed=0)
  if not (device and device_resident(program)):
    return Feed(workloads, splits, shardings)
  key = (program, tuple(sorted(splits)), id(splits), shardings.mesh)
  if key not in _device_cache:
    _device_cache.clear()
    train = splits["train"]
    placed = {"train": jax.device_put({"inputs": train.inputs, "labels": train.labels},
                                      shardings.replicated)}
    for name in splits:
      if name != "train":
        placed[name] = jax.device_put(_stack(list(program.eval_batches(splits[name]))),
                                      shardings.eval_stack)
    _device_cache[key] = placed
  return Feed(workloads, splits, shardings, _device_cache[key])
