"""ImageNet (ILSVRC 2012) by random access, with host-side crops that are a pure function of
(seed, step, example index).

Data: TFDS `imagenet2012` 5.1.0 prepared as ArrayRecord (`optcompare data prepare imagenet2012
--manual_dir=DIR`, DIR holding ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar):
1,281,167 training and 50,000 validation JPEGs. Images are read undecoded and decoded here
with Pillow.
Splits: validation = the last `num_validation` images of TFDS `train` (TFDS shuffled them when
it prepared the data), train = the rest, test = the official 50,000-image validation set.

Preprocessing (the torchvision ImageNet reference recipe, which is the ResNet-50 v1.5 recipe
of NVIDIA's and torchvision's reference trainings):
- train: RandomResizedCrop: up to 10 tries of a box of area U(0.08, 1) x the image's and
  aspect ratio log-uniform in [3/4, 4/3], at a uniform position; if none fits, the largest
  central box with aspect ratio clamped to that range. The box is resized to
  `image_size` x `image_size` (bilinear, antialiased: Pillow's `resize` with a box), then
  flipped left-right with probability 1/2.
- eval: the central square of side min(h, w) * 224/256 resized to `image_size` (equivalent to
  resizing the shorter side to 256 and center-cropping 224).
Rows are uint8 [image_size, image_size, 3] (4x less to transfer than float); `normalize`
subtracts the per-channel mean and divides by the standard deviation on the device.
"""
from __future__ import annotations

import io
import math

import numpy as np

from optcompare.data import random_access
from optcompare.errors import BadInputError

NUM_CLASSES = 1000
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)
CROP_FRACTION = 224 / 256  # eval: central crop of the shorter side
AREA_RANGE = (0.08, 1.0)
RATIO_RANGE = (3 / 4, 4 / 3)
ATTEMPTS = 10


def decode(image):
  """JPEG bytes (TFDS, undecoded) or a uint8 array -> an RGB Pillow image."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3:
    return Image.fromarray(image).convert("RGB")
  if isinstance(image, np.ndarray):
    image = image.item()
  return Image.open(io.BytesIO(image)).convert("RGB")


def random_resized_crop_box(rng: np.random.Generator, height: int, width: int,
                            area_range=AREA_RANGE, ratio_range=RATIO_RANGE,
                            attempts: int = ATTEMPTS) -> tuple[int, int, int, int]:
  """(left, top, right, bottom) of a random crop box (torchvision RandomResizedCrop)."""
  area = height * width
  log_ratio = (math.log(ratio_range[0]), math.log(ratio_range[1]))
  for _ in range(attempts):
    target = area * rng.uniform(*area_range)
    ratio = math.exp(rng.uniform(*log_ratio))
    w = int(round(math.sqrt(target * ratio)))
    h = int(round(math.sqrt(target / ratio)))
    if 0 < w <= width and 0 < h <= height:
      top = int(rng.integers(0, height - h + 1))
      left = int(rng.integers(0, width - w + 1))
      return left, top, left + w, top + h
  ratio = width / height  # fallback: the largest central box of an allowed aspect ratio
  if ratio < ratio_range[0]:
    w, h = width, int(round(width / ratio_range[0]))
  elif ratio > ratio_range[1]:
    w, h = int(round(height * ratio_range[1])), height
  else:
    w, h = width, height
  top, left = (height - h) // 2, (width - w) // 2
  return left, top, left + w, top + h


def center_crop_box(height: int, width: int, fraction: float = CROP_FRACTION):
  """(left, top, right, bottom), float: the central square of side fraction * min(h, w)."""
  side = fraction * min(height, width)
  top, left = (height - side) / 2, (width - side) / 2
  return left, top, left + side, top + side


def _resize(image, box, image_size: int) -> np.ndarray:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  out = image.resize((image_size, image_size), Image.Resampling.BILINEAR, box=box)
  return np.asarray(out, np.uint8)


def train_example(example: dict, rng: np.random.Generator, image_size: int) -> dict:
  image = decode(example["image"])
  box = random_resized_crop_box(rng, image.height, image.width)
  pixels = _resize(image, box, image_size)
  if rng.uniform() < 0.5:
    pixels = pixels[:, ::-1]
  return {"inputs": np.ascontiguousarray(pixels), "labels": np.int32(example["label"])}


def eval_example(example: dict, image_size: int) -> dict:
  image = decode(example["image"])
  pixels = _resize(image, center_crop_box(image.height, image.width), image_size)
  return {"inputs": pixels, "labels": np.int32(example["label"])}


def normalize(images):
  """uint8 NHWC -> float32, standardized per channel (inside the jitted step)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  images = images.astype(jnp.float32)
  return (images - jnp.asarray(MEAN_RGB)) / jnp.asarray(STDDEV_RGB)


class SyntheticImages:
  """Random uint8 images of random sizes whose label sets the mean colour; example i is a pure
  function of (seed, i). They go through the same decode/crop/resize path as JPEGs."""

  def __init__(self, num_examples: int, num_classes: int, max_side: int, seed: int):
    self.num_examples, self.num_classes, self.max_side, self.seed = (
        num_examples, num_classes, max_side, seed)

  def __len__(self) -> int:
    return self.num_examples

  def __getitem__(self, index: int) -> dict:
    if not 0 <= index < self.num_examples:
      raise IndexError(index)
    rng = np.random.default_rng((self.seed, index))
    label = int(rng.integers(self.num_classes))
    h, w = rng.integers(self.max_side // 2, self.max_side + 1, 2)
    colour = np.random.default_rng((1 << 20, label)).uniform(0, 255, 3)
    image = np.clip(colour + rng.normal(0, 48, (h, w, 3)), 0, 255).astype(np.uint8)
    return {"image": image, "label": np.int64(label)}


def _splits(parts: dict, image_size: int, num_threads: int, augment: bool) -> dict:
  """Train rows get random crops and flips (or, without `augment`, the eval crop)."""
  def train(example, rng):
    return train_example(example, rng, image_size)

  def evaluate(example, rng):
    del rng
    return eval_example(example, image_size)

  return {s: random_access.Split(p, train if s == "train" and augment else evaluate,
                                 num_threads)
          for s, p in parts.items()}


def load_splits(data_dir: str | None, num_validation: int, image_size: int,
                num_threads: int = 1, augment: bool = True) -> dict:
  """{'train', 'validation', 'test'} -> random_access.Split of prepared TFDS imagenet2012."""
  from optcompare.data import prepare  # pylint: disable=g-import-not-at-top
  return splits_from_builder(prepare.builder("imagenet2012", data_dir), num_validation,
                             image_size, num_threads, augment)


def splits_from_builder(builder, num_validation: int, image_size: int, num_threads: int = 1,
                        augment: bool = True) -> dict:
  """The splits of any prepared builder with `image` (JPEG) and `label` features and
  train/validation splits."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  sources = random_access.open_sources(builder, ["train", "validation"],
                                       decoders={"image": tfds.decode.SkipDecoding()})
  n = len(sources["train"])
  if not 0 < num_validation < n:
    raise BadInputError(f"dataset.num_validation_examples: {num_validation} is not in "
                        f"(0, {n})")
  parts = {"train": random_access.Range(sources["train"], 0, n - num_validation),
           "validation": random_access.Range(sources["train"], n - num_validation, n),
           "test": sources["validation"]}
  return _splits(parts, image_size, num_threads, augment)


def synthetic_splits(num_train: int, num_eval: int, image_size: int,
                     augment: bool = True) -> dict:
  """Random images (sides image_size .. 2 * image_size) through the real transforms."""
  sizes = {"train": num_train, "validation": num_eval, "test": num_eval}
  parts = {s: SyntheticImages(n, NUM_CLASSES, 2 * image_size, seed)
           for seed, (s, n) in enumerate(sizes.items())}
  return _splits(parts, image_size, 1, augment)
