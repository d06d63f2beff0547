"""The streaming workloads (LM1B Transformer, ImageNet ResNet-50): the TFDS random-access
pipelines under `tfds.testing.mock_data` and on tiny real ArrayRecord datasets, determinism by
(seed, step), and per-process rows. (Their smoke configs train in test_workload_smoke.py.)

Real LM1B and ImageNet are not here: `mock_data` stands in for their TFDS data sources (it
mocks `as_data_source` with deterministic random examples: short strings for lm1b, small
random JPEGs for imagenet2012), and a tiny builder prepared as array_record exercises the real
ArrayRecord reads and JPEG decoding.
"""
import os

import numpy as np
import pytest

from configs.workloads import imagenet_resnet50, lm1b_transformer
from optcompare import workloads
from optcompare.data import imagenet, lm1b, prepare, random_access
from optcompare.errors import BadInputError

SHARED_LM1B = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                           "lm1b")
CONFIGS = {"lm1b": lm1b_transformer, "imagenet": imagenet_resnet50}


def _workload(name, **overrides):
  config = CONFIGS[name].get_config("smoke")
  with config.unlocked():
    for key, value in overrides.items():
      node, *path = key.split(".")
      target = config[node] if path else config
      target[path[0] if path else node] = value
  return config, workloads.create(config)


def _assert_batches_equal(a, b):
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("name", ["lm1b", "imagenet"])
def test_synthetic_batches_by_step_and_process(name):
  config, workload = _workload(name)
  splits, fresh = workload.load_splits(), workload.load_splits()
  b = config.batch_size
  for step in (0, 7, 1000):  # 1000: a later epoch
    batch = workload.train_batch(splits, step)
    _assert_batches_equal(batch, workload.train_batch(fresh, step))
    assert all(len(v) == b for v in batch.values())
    parts = [workload.train_batch(fresh, step, i, 4) for i in range(4)]
    _assert_batches_equal(batch, {k: np.concatenate([p[k] for p in parts]) for k in batch})
  assert not np.array_equal(workload.train_batch(splits, 0)["inputs"],
                            workload.train_batch(splits, 1)["inputs"])
  whole = list(workload.eval_batches(splits["validation"]))
  halves = [list(workload.eval_batches(fresh["validation"], i, 2)) for i in range(2)]
  assert len(whole) == len(halves[0]) == len(halves[1]) == 2
  for k, batch in enumerate(whole):
    _assert_batches_equal(batch, {key: np.concatenate([halves[0][k][key], halves[1][k][key]])
                                  for key in batch})
  assert sum(float(b["mask"].sum()) for b in whole) == config.dataset.num_validation_examples


def test_lm_sequences_and_loss():
  row = lm1b.sequence(np.array([7, 8, 9], np.int32), 6)
  np.testing.assert_array_equal(row["inputs"], [lm1b.BOS, 7, 8, 9, 0, 0])
  np.testing.assert_array_equal(row["labels"], [7, 8, 9, lm1b.EOS, 0, 0])
  np.testing.assert_array_equal(row["weights"], [1, 1, 1, 1, 0, 0])
  cut = lm1b.sequence(np.arange(10, 20, dtype=np.int32), 4)  # truncated, no eos
  np.testing.assert_array_equal(cut["labels"], [10, 11, 12, 13])
  from optcompare.workloads import lm1b as lm_workload  # pylint: disable=g-import-not-at-top
  logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32)
  labels = np.array([[1, 2, 3], [4, 0, 1]])
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  smooth = 0.1
  onehot = 0.9 * np.eye(5)[labels] + smooth / 5
  np.testing.assert_allclose(lm_workload.token_cross_entropy(logits, labels, smooth),
                             -(onehot * logp).sum(-1), rtol=1e-5)


def test_crop_boxes():
  rng = np.random.default_rng(0)
  for h, w in ((375, 500), (40, 400), (400, 40), (224, 224)):
    for _ in range(50):
      left, top, right, bottom = imagenet.random_resized_crop_box(rng, h, w)
      assert 0 <= left < right <= w and 0 <= top < bottom <= h
  assert imagenet.random_resized_crop_box(rng, 40, 400, attempts=0) == (173, 0, 226, 40)
  assert imagenet.center_crop_box(256, 512) == (144.0, 16.0, 368.0, 240.0)
  a = imagenet.random_resized_crop_box(random_access.example_rng(0, 5, 9), 300, 400)
  assert a == imagenet.random_resized_crop_box(random_access.example_rng(0, 5, 9), 300, 400)


def test_prepare_names_manual_files_and_unprepared_dir(tmp_path):
  for name, missing in (("lm1b", "1-billion-word-language-modeling-benchmark-r13output"),
                        ("imagenet2012", "ILSVRC2012_img_val.tar"),
                        ("cifar10", "cifar-10-binary.tar.gz"),
                        ("cifar100", "cifar-100-binary.tar.gz")):
    with pytest.raises(BadInputError, match=missing):
      prepare.prepare(name, manual_dir=str(tmp_path), data_dir=str(tmp_path / "tfds"))
  assert not os.path.exists(tmp_path / "tfds")
  for name in ("lm1b", "imagenet"):
    _, workload = _workload(name, **{"dataset.synthetic": False,
                                     "dataset.data_dir": str(tmp_path)})
    with pytest.raises(BadInputError, match="optcompare data prepare"):
      workload.load_splits()


def test_lm1b_pipeline_under_mock_data(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  vocab = 24
  _, workload = _workload("lm1b", **{
      "dataset.synthetic": False, "dataset.data_dir": str(tmp_path),
      "dataset.num_validation_examples": 8, "dataset.num_threads": 2,
      "model.vocab_size": vocab})
  with tfds.testing.mock_data(num_examples=40):
    builder = prepare.builder("lm1b", str(tmp_path))
    lm1b.prepare_tokenizer(builder, vocab, root=str(tmp_path))
    splits, fresh = workload.load_splits(), workload.load_splits()
    assert {s: len(v) for s, v in splits.items()} == {"train": 32, "validation": 8,
                                                      "test": 40}
    batch = workload.train_batch(splits, 5)
    _assert_batches_equal(batch, workload.train_batch(fresh, 5))
    parts = [workload.train_batch(fresh, 5, i, 2) for i in range(2)]
    _assert_batches_equal(batch, {k: np.concatenate([p[k] for p in parts]) for k in batch})
    evals = list(workload.eval_batches(splits["validation"]))
  assert batch["inputs"].shape == batch["labels"].shape == (8, 16)
  assert (batch["inputs"][:, 0] == lm1b.BOS).all() and batch["labels"].max() < vocab
  # Mock sentences have 10-19 characters: each row has at least a few real tokens.
  assert (batch["weights"].sum(1) >= 3).all()
  assert [float(b["mask"].sum()) for b in evals] == [8.0]


def test_imagenet_pipeline_under_mock_data(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  _, workload = _workload("imagenet", **{
      "dataset.synthetic": False, "dataset.data_dir": str(tmp_path),
      "dataset.num_validation_examples": 6, "dataset.num_threads": 2})
  with tfds.testing.mock_data(num_examples=30):
    splits, fresh = workload.load_splits(), workload.load_splits()
    assert {s: len(v) for s, v in splits.items()} == {"train": 24, "validation": 6,
                                                      "test": 30}
    batch = workload.train_batch(splits, 3)
    _assert_batches_equal(batch, workload.train_batch(fresh, 3))
    parts = [workload.train_batch(fresh, 3, i, 2) for i in range(2)]
    _assert_batches_equal(batch, {k: np.concatenate([p[k] for p in parts]) for k in batch})
    test = next(iter(workload.eval_batches(splits["test"])))
  assert batch["inputs"].shape == (8, 32, 32, 3) and batch["inputs"].dtype == np.uint8
  assert batch["labels"].dtype == np.int32 and test["inputs"].shape == (16, 32, 32, 3)
  assert not np.array_equal(batch["inputs"], workload.train_batch(splits, 4)["inputs"])


@pytest.fixture(scope="module")
def tiny_jpegs(tmp_path_factory):
  """A tiny image dataset really prepared as ArrayRecord (JPEG features, like imagenet2012)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  class OptcompareTinyJpegs(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(encoding_format="jpeg"),
          "label": tfds.features.ClassLabel(num_classes=3)}))

    def _split_generators(self, dl_manager):
      return {"train": self._generate_examples(12, 0),
              "validation": self._generate_examples(5, 1)}

    def _generate_examples(self, n, seed):  # pylint: disable=arguments-differ
      rng = np.random.default_rng(seed)
      for i in range(n):
        h, w = rng.integers(20, 60, 2)
        yield i, {"image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "label": i % 3}

  builder = OptcompareTinyJpegs(data_dir=str(tmp_path_factory.mktemp("tfds")),
                                file_format="array_record")
  builder.download_and_prepare()
  return builder


def test_real_array_record_images(tiny_jpegs):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  splits = imagenet.splits_from_builder(tiny_jpegs, num_validation=4, image_size=16,
                                        num_threads=2)
  fresh = imagenet.splits_from_builder(tiny_jpegs, num_validation=4, image_size=16)
  assert {s: len(v) for s, v in splits.items()} == {"train": 8, "validation": 4, "test": 5}
  batch = random_access.train_batch(splits["train"], 0, 2, 4)
  _assert_batches_equal(batch, random_access.train_batch(fresh["train"], 0, 2, 4))
  assert batch["inputs"].shape == (4, 16, 16, 3)
  # Pillow decodes the undecoded JPEG bytes exactly as TFDS's own decoder does.
  decoded = tiny_jpegs.as_data_source("validation")[3]["image"]
  raw = random_access.open_sources(tiny_jpegs, ["validation"], decoders={
      "image": tfds.decode.SkipDecoding()})["validation"][3]
  np.testing.assert_array_equal(np.asarray(imagenet.decode(raw["image"])), decoded)


@pytest.mark.skipif(not os.path.isdir(SHARED_LM1B), reason="../shared/data/lm1b is not here")
def test_real_lm1b_text_through_array_record(tmp_path):
  """Real LM1B sentences (two held-out shards) in a tiny ArrayRecord builder shaped like TFDS
  lm1b: the tokenizer is trained from it as `data prepare lm1b` does, then batches are read."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with open(os.path.join(SHARED_LM1B, "1b_benchmark.dev.tokens"), encoding="utf-8") as f:
    sentences = f.read().splitlines()[:600]

  class OptcompareTinyLm1b(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return self.dataset_info_from_configs(
          features=tfds.features.FeaturesDict({"text": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
      return {"train": self._generate_examples(sentences[:500]),
              "test": self._generate_examples(sentences[500:])}

    def _generate_examples(self, lines):  # pylint: disable=arguments-differ
      for i, line in enumerate(lines):
        yield i, {"text": line}

  builder = OptcompareTinyLm1b(data_dir=str(tmp_path / "tfds"), file_format="array_record")
  builder.download_and_prepare()
  path = lm1b.prepare_tokenizer(builder, 300, root=str(tmp_path))
  with pytest.raises(BadInputError, match="model.vocab_size"):
    lm1b.load_tokenizer(path, 301)
  splits = lm1b.splits_from_builder(builder, str(tmp_path), 300, num_validation=20,
                                    seq_len=64, num_threads=2)
  assert {s: len(v) for s, v in splits.items()} == {"train": 480, "validation": 20, "test": 100}
  tokenizer = lm1b.load_tokenizer(path, 300)
  text = builder.as_data_source("test")[0]["text"]  # bytes from a real data source
  text = text.decode() if isinstance(text, bytes) else text
  assert tokenizer.decode(splits["test"].examples[0].tolist()) == text
  assert text in sentences[500:]  # TFDS stores the examples in its own (shuffled) order
  batch = random_access.train_batch(splits["train"], 0, 3, 8)
  assert batch["inputs"].shape == (8, 64) and batch["labels"].max() < 300
  lengths = batch["weights"].sum(1)
  assert (lengths > 2).all()
  rows = np.arange(8)
  np.testing.assert_array_equal(batch["labels"][rows, lengths.astype(int) - 1][lengths < 64],
                                lm1b.EOS)
