"""Image classification on datasets that fit in memory (Fashion-MNIST, MNIST, CIFAR-10/100).

One dataclass serves every such workload: the model is chosen by `config.model.name` from
MODELS, inputs are scaled to [0, 1] and then standardized per channel where the dataset has
published statistics (CIFAR), and `augment` adds the random crop + flip of He et al. 2016.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from optcompare.data import augment, in_memory, synthetic, tfds_images
from optcompare.errors import BadInputError
from optcompare.models import allcnn, resnet_cifar, simple_cnn, vgg
from optcompare.workloads import base

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}

# model name -> (workload, keyword args from config.model, rngs) -> nnx.Module
MODELS = {
    "simple_cnn": lambda w, kw, rngs: simple_cnn.SimpleCNN(
        num_classes=w.num_classes, in_channels=w.image_shape[-1],
        image_size=w.image_shape[0], rngs=rngs, **kw),
    "resnet_cifar": lambda w, kw, rngs: resnet_cifar.ResNetCifar(
        num_classes=w.num_classes, rngs=rngs, **kw),
    "allcnn_c": lambda w, kw, rngs: allcnn.AllCNNC(num_classes=w.num_classes, rngs=rngs, **kw),
    "vgg16": lambda w, kw, rngs: vgg.VGG16(num_classes=w.num_classes, rngs=rngs, **kw),
}

# Per-channel mean and standard deviation of the training images, on the [0, 1] scale.
CHANNEL_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


@dataclasses.dataclass(frozen=True)
class InMemoryImageClassification(base.ServedByStep):
  """Softmax classification; metrics `loss` (cross entropy, no L2) and `error` (top-1)."""
  data = in_memory  # serves batches by step (a class attribute, not a field)
  name: str
  dataset: str
  data_dir: str | None
  synthetic: bool
  num_validation: int
  num_synthetic: int
  seed: int
  batch_size: int
  eval_batch_size: int
  model_name: str
  model_kwargs: tuple[tuple[str, object], ...]  # hashable: the workload is a static jit arg
  augment: bool
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
    return MODELS[self.model_name](self, dict(self.model_kwargs), nnx.Rngs(params=seed))

  def load_splits(self) -> dict:
    if not self.synthetic:
      return tfds_images.load_splits(self.dataset, self.data_dir, self.num_validation)
    make = lambda offset, n: synthetic.image_classification(  # pylint: disable=g-long-lambda
        offset, n, self.image_shape, self.num_classes)
    # One fixed generator seed: the data stay the same when the trial seed changes.
    return {"train": make(0, self.num_synthetic), "validation": make(1, self.num_validation),
            "test": make(2, self.num_validation)}

  def preprocess(self, batch: base.Batch, rng: jax.Array | None) -> base.Batch:
    images = batch["inputs"].astype(jnp.float32) / 255.0
    if self.dataset in CHANNEL_STATS:
      mean, std = CHANNEL_STATS[self.dataset]
      images = (images - jnp.asarray(mean)) / jnp.asarray(std)
    if self.augment and rng is not None:
      images = augment.random_crop_and_flip(images, rng)
    return {**batch, "inputs": images}

  def loss(self, params: nnx.State, logits: jax.Array, batch: base.Batch) -> jax.Array:
    return base.classification_loss(params, logits, batch, self.num_classes,
                                    self.label_smoothing, self.l2)

  def metric_sums(self, logits: jax.Array, batch: base.Batch) -> dict[str, jax.Array]:
    return base.classification_metric_sums(logits, batch, self.num_classes)


def model_kwargs(model_config) -> tuple[tuple[str, object], ...]:
  """config.model minus `name`, lists as tuples and `dtype` names as dtypes."""
  kwargs = {}
  for key, value in model_config.items():
    if key == "name":
      continue
    if key == "dtype":
      if value not in DTYPES:
        raise BadInputError(f"model.dtype: {value!r} is not one of {sorted(DTYPES)}")
      value = DTYPES[value]
    kwargs[key] = tuple(value) if isinstance(value, list) else value
  return tuple(sorted(kwargs.items()))


def from_config(config) -> InMemoryImageClassification:
  if config.dataset.name not in tfds_images.IMAGE_DATASETS:
    raise BadInputError(f"dataset.name: unknown image dataset {config.dataset.name!r}; "
                        f"known: {sorted(tfds_images.IMAGE_DATASETS)}")
  base.check_synthetic_examples(config)
  if config.model.name not in MODELS:
    raise BadInputError(f"model.name: unknown model {config.model.name!r}; "
                        f"known: {sorted(MODELS)}")
  return InMemoryImageClassification(
      name=config.workload, dataset=config.dataset.name, data_dir=config.dataset.data_dir,
      synthetic=config.dataset.synthetic,
      num_validation=config.dataset.num_validation_examples,
      num_synthetic=config.dataset.num_synthetic_examples, seed=config.seed,
      batch_size=config.batch_size, eval_batch_size=config.eval_batch_size,
      model_name=config.model.name, model_kwargs=model_kwargs(config.model),
      augment=config.dataset.augment, l2=config.loss.l2,
      label_smoothing=config.loss.label_smoothing)
