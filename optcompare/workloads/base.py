"""What every workload provides to the training loop.

A workload is a frozen, hashable dataclass (it is a static argument of the jitted steps):
it builds its model and data, and turns logits and a batch into a loss and metric sums.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from optcompare.errors import BadInputError

Batch = dict[str, Any]


class Workload(Protocol):
  """The interface `train.py` relies on."""
  name: str
  metric_names: tuple[str, ...]  # reported per split, lower is better

  def build_model(self, seed) -> nnx.Module: ...  # seed: int or key, for nnx.Rngs(params=)
  def load_splits(self) -> dict: ...                 # 'train' / 'validation' / 'test'
  # This process's rows (process_rows in data/in_memory.py) of the global batch at `step`,
  # and of each evaluation batch: every host reads and decodes only its own examples.
  def train_batch(self, splits: dict, step: int, process_index: int,
                  process_count: int) -> Batch: ...
  def eval_batches(self, split, process_index: int, process_count: int) -> Any: ...
  def preprocess(self, batch: Batch, rng: jax.Array | None) -> Batch: ...  # in jit; rng
  # is None when evaluating, else a per-step key for data augmentation
  def loss(self, params: nnx.State, logits: jax.Array, batch: Batch) -> jax.Array: ...
  def metric_sums(self, logits: jax.Array, batch: Batch) -> dict[str, jax.Array]: ...


class ServedByStep:
  """`train_batch` and `eval_batches` for workloads whose data module serves batches by step.

  The subclass names the module in `data` (optcompare.data.in_memory or .random_access, both
  `train_batch(split, seed, step, batch_size, process_index, process_count)` and
  `eval_batches(split, batch_size, process_index, process_count)`) and has the fields
  `seed`, `batch_size` and `eval_batch_size`.
  """
  data: Any

  def train_batch(self, splits: dict, step: int, process_index: int = 0,
                  process_count: int = 1) -> Batch:
    return self.data.train_batch(splits["train"], self.seed, step, self.batch_size,
                                 process_index, process_count)

  def eval_batches(self, split, process_index: int = 0, process_count: int = 1):
    return self.data.eval_batches(split, self.eval_batch_size, process_index, process_count)


def check_synthetic_examples(config, train_rows: int | None = None) -> None:
  """On synthetic data, BadInputError naming dataset.num_synthetic_examples unless it is a
  positive count whose training examples fill a batch: otherwise the first training step
  fails, after config.json is written. `train_rows`: the training examples the workload
  makes of the count when they are not the count itself (windows of a text)."""
  if not config.dataset.synthetic:
    return
  n = config.dataset.num_synthetic_examples
  if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
    raise BadInputError(f"dataset.num_synthetic_examples: must be a positive integer, "
                        f"got {n!r}")
  rows = n if train_rows is None else train_rows
  if rows < config.batch_size:
    made = "" if train_rows is None else f" make {rows} training examples, which"
    raise BadInputError(f"dataset.num_synthetic_examples: {n}{made} are fewer than one batch "
                        f"(batch_size {config.batch_size})")


def l2_penalty(params: nnx.State, coefficient: float) -> jax.Array:
  """coefficient/2 · Σ w² over weight matrices and kernels (biases and norms excluded)."""
  leaves = [p for p in jax.tree.leaves(params) if p.ndim > 1]
  return 0.5 * coefficient * sum(jnp.sum(jnp.square(p.astype(jnp.float32))) for p in leaves)


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array, num_classes: int,
                          label_smoothing: float = 0.0) -> jax.Array:
  """Per-example cross entropy against (optionally smoothed) one-hot labels."""
  targets = jax.nn.one_hot(labels, num_classes)
  if label_smoothing:
    targets = optax.smooth_labels(targets, label_smoothing)
  return optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)


def classification_loss(params: nnx.State, logits: jax.Array, batch: Batch, num_classes: int,
                        label_smoothing: float, l2: float) -> jax.Array:
  """The training objective of the softmax classifiers: mean cross entropy + L2."""
  xent = softmax_cross_entropy(logits, batch["labels"], num_classes, label_smoothing)
  return jnp.mean(xent) + l2_penalty(params, l2)


def classification_metric_sums(logits: jax.Array, batch: Batch,
                               num_classes: int) -> dict[str, jax.Array]:
  """Sums of `loss` (cross entropy, unsmoothed, no L2) and `error` (top-1) over real rows."""
  mask = batch.get("mask", jnp.ones(logits.shape[0], jnp.float32))
  xent = softmax_cross_entropy(logits, batch["labels"], num_classes)
  wrong = (jnp.argmax(logits, -1) != batch["labels"]).astype(jnp.float32)
  return {"loss": jnp.sum(xent * mask), "error": jnp.sum(wrong * mask), "count": jnp.sum(mask)}


@dataclasses.dataclass(frozen=True)
class Target:
  metric: str
  split: str
  value: float

  def reached(self, metrics_by_split: dict[str, dict[str, float]]) -> bool:
    value = metrics_by_split.get(self.split, {}).get(self.metric)
    return value is not None and value <= self.value
