"""Image classification workloads whose data fits in memory (Fashion-MNIST, MNIST)."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from optcompare.data import in_memory, synthetic, tfds_images
from optcompare.models import simple_cnn
from optcompare.workloads import base


@dataclasses.dataclass(frozen=True)
class InMemoryImageClassification:
  """Softmax classification; metrics `loss` (cross entropy, no L2) and `error` (top-1)."""
  name: str
  dataset: str
  data_dir: str | None
  synthetic: bool
  num_validation: int
  num_synthetic: int
  seed: int
  batch_size: int
  eval_batch_size: int
  conv_features: tuple[int, ...]
  dense_features: int
  l2: float
  label_smoothing: float
  metric_names: tuple[str, ...] = ("loss", "error")

  @property
  def image_shape(self) -> tuple[int, ...]:
    return tfds_images.IMAGE_DATASETS[self.dataset][0]

  @property
  def num_classes(self) -> int:
    return tfds_images.IMAGE_DATASETS[self.dataset][1]

  def build_model(self, seed: int) -> nnx.Module:
    h, _, c = self.image_shape
    return simple_cnn.SimpleCNN(num_classes=self.num_classes, in_channels=c,
                                conv_features=self.conv_features,
                                dense_features=self.dense_features, image_size=h,
                                rngs=nnx.Rngs(params=seed))

  def load_splits(self) -> dict:
    if not self.synthetic:
      return tfds_images.load_splits(self.dataset, self.data_dir, self.num_validation)
    make = lambda offset, n: synthetic.image_classification(  # pylint: disable=g-long-lambda
        offset, n, self.image_shape, self.num_classes)
    # One fixed generator seed: the data stay the same when the trial seed changes.
    return {"train": make(0, self.num_synthetic), "validation": make(1, self.num_validation),
            "test": make(2, self.num_validation)}

  def train_batch(self, splits: dict, step: int) -> base.Batch:
    return in_memory.train_batch(splits["train"], self.seed, step, self.batch_size)

  def eval_batches(self, split: in_memory.ArraySplit):
    return in_memory.eval_batches(split, self.eval_batch_size)

  def preprocess(self, batch: base.Batch, rng: jax.Array | None) -> base.Batch:
    del rng  # no augmentation
    return {**batch, "inputs": batch["inputs"].astype(jnp.float32) / 255.0}

  def loss(self, params: nnx.State, logits: jax.Array, batch: base.Batch) -> jax.Array:
    xent = base.softmax_cross_entropy(logits, batch["labels"], self.num_classes,
                                      self.label_smoothing)
    return jnp.mean(xent) + base.l2_penalty(params, self.l2)

  def metric_sums(self, logits: jax.Array, batch: base.Batch) -> dict[str, jax.Array]:
    mask = batch.get("mask", jnp.ones(logits.shape[0], jnp.float32))
    xent = base.softmax_cross_entropy(logits, batch["labels"], self.num_classes)
    wrong = (jnp.argmax(logits, -1) != batch["labels"]).astype(jnp.float32)
    return {"loss": jnp.sum(xent * mask), "error": jnp.sum(wrong * mask),
            "count": jnp.sum(mask)}


def from_config(config) -> InMemoryImageClassification:
  return InMemoryImageClassification(
      name=config.workload, dataset=config.dataset.name, data_dir=config.dataset.data_dir,
      synthetic=config.dataset.synthetic,
      num_validation=config.dataset.num_validation_examples,
      num_synthetic=config.dataset.num_synthetic_examples, seed=config.seed,
      batch_size=config.batch_size, eval_batch_size=config.eval_batch_size,
      conv_features=tuple(config.model.conv_features),
      dense_features=config.model.dense_features, l2=config.loss.l2,
      label_smoothing=config.loss.label_smoothing)
