"""ImageNet classification with ResNet-50 v1.5 (Choi et al. 2019).

The images are streamed by random access (optcompare/data/imagenet.py): crops and flips are
made on the host, a pure function of (seed, step, example index), and arrive as uint8; the
jitted `preprocess` only standardizes them. Metrics `loss` (cross entropy, without label
smoothing or L2) and `error` (top-1).

`train_batch` and `eval_batches` (base.ServedByStep) return only this process's rows of the
global batches, so a multi-host job decodes each JPEG on one host only
(see in_memory.process_rows).
"""
from __future__ import annotations

import dataclasses
import os

import jax
from flax import nnx

from optcompare.data import imagenet, random_access
from optcompare.models import resnet_imagenet
from optcompare.workloads import base, image_classification


@dataclasses.dataclass(frozen=True)
class ImageNetClassification(base.ServedByStep):
  """1000-way softmax classification of image_size x image_size crops."""
  data = random_access  # serves batches by step (a class attribute, not a field)
  name: str
  data_dir: str | None
  synthetic: bool
  num_synthetic: int
  num_validation: int
  num_threads: int
  seed: int
  batch_size: int
  eval_batch_size: int
  image_size: int
  augment: bool
  model_kwargs: tuple[tuple[str, object], ...]  # hashable: the workload is a static jit arg
  l2: float
  label_smoothing: float
  num_classes: int = imagenet.NUM_CLASSES
  metric_names: tuple[str, ...] = ("loss", "error")

  def build_model(self, seed: int) -> nnx.Module:
    return resnet_imagenet.ResNet(num_classes=self.num_classes, rngs=nnx.Rngs(params=seed),
                                  **dict(self.model_kwargs))

  def load_splits(self) -> dict:
    if self.synthetic:
      return imagenet.synthetic_splits(self.num_synthetic, self.num_validation,
                                       self.image_size, self.augment)
    return imagenet.load_splits(self.data_dir, self.num_validation, self.image_size,
                                self.num_threads or os.cpu_count() or 1, self.augment)

  def preprocess(self, batch: base.Batch, rng: jax.Array | None) -> base.Batch:
    del rng  # augmentation happened on the host
    return {**batch, "inputs": imagenet.normalize(batch["inputs"])}

  def loss(self, params: nnx.State, logits: jax.Array, batch: base.Batch) -> jax.Array:
    return base.classification_loss(params, logits, batch, self.num_classes,
                                    self.label_smoothing, self.l2)

  def metric_sums(self, logits: jax.Array, batch: base.Batch) -> dict[str, jax.Array]:
    return base.classification_metric_sums(logits, batch, self.num_classes)


def from_config(config) -> ImageNetClassification:
  base.check_synthetic_examples(config)
  return ImageNetClassification(
      name=config.workload, data_dir=config.dataset.data_dir,
      synthetic=config.dataset.synthetic, num_synthetic=config.dataset.num_synthetic_examples,
      num_validation=config.dataset.num_validation_examples,
      num_threads=config.dataset.num_threads, seed=config.seed,
      batch_size=config.batch_size, eval_batch_size=config.eval_batch_size,
      image_size=config.dataset.image_size, augment=config.dataset.augment,
      model_kwargs=image_classification.model_kwargs(config.model),
      l2=config.loss.l2, label_smoothing=config.loss.label_smoothing)
