"""LM1B (One Billion Word benchmark, Chelba et al. 2013) as subword sequences, by random access.

Data: TFDS `lm1b` 1.1.0 prepared as ArrayRecord (`optcompare data prepare lm1b
--manual_dir=DIR`, DIR holding 1-billion-word-language-modeling-benchmark-r13output.tar.gz):
30,301,028 training sentences and the 306,688 sentences of the benchmark's held-out set
(TFDS's `test`). One example = one sentence, as TFDS and the benchmark store it.
Splits: validation = the last `num_validation` sentences of TFDS `train` (TFDS shuffled them
when it prepared the data), train = the rest, test = TFDS `test`.

Tokenizer: TFDS's lm1b no longer has the `subwords32k` config, so a SentencePiece unigram
model with a 32,000-piece vocabulary is trained at preparation time, as the Flax `lm1b`
example does (character coverage 1.0, trained on 10^7 characters of training sentences):
the sentences are drawn at random (fixed seed 0) from the first half of TFDS `train`, so none
comes from the validation sentences held out at its end. Ids: pad 0, unk 1, bos 2, eos 3.
It is stored beside the TFDS data, at `<data_dir>/lm1b_tokenizer/spm_unigram_<V>.model`.

Sequences: each sentence is encoded to [bos] + pieces + [eos], then inputs = all but the last
id and labels = all but the first, truncated or right-padded to `seq_len`; `weights` is 1 on
real label positions. No packing: one sentence per row, so rows are independent and the
causal mask alone keeps padding from affecting real positions. Every token of the sentence
and its eos are predicted (the first piece from bos).
"""
from __future__ import annotations

import io
import os
from typing import Iterable

import numpy as np

from optcompare.data import random_access
from optcompare.errors import BadInputError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
VOCAB_SIZE = 32_000
MAX_CORPUS_CHARS = 10**7
TOKENIZER_SEED = 0


def tokenizer_path(data_dir_root: str, vocab_size: int) -> str:
  return os.path.join(os.path.expanduser(str(data_dir_root)), "lm1b_tokenizer",
                      f"spm_unigram_{vocab_size}.model")


def _text(example) -> str:
  text = example["text"] if isinstance(example, dict) else example
  if isinstance(text, np.ndarray):
    text = text.item()
  return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def train_tokenizer(sentences: Iterable[str], vocab_size: int, path: str,
                    max_chars: int = MAX_CORPUS_CHARS) -> str:
  """Trains the SentencePiece unigram model on `sentences` (up to max_chars); writes `path`."""
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top

  def capped():
    total = 0
    for s in sentences:
      if total >= max_chars:
        return
      total += len(s)
      yield s

  spm.set_random_generator_seed(TOKENIZER_SEED)
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=capped(), model_writer=model, vocab_size=vocab_size,
      model_type="unigram", character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS,
      eos_id=EOS, num_threads=os.cpu_count() or 1, minloglevel=2)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "wb") as f:
    f.write(model.getvalue())
  os.replace(tmp, path)
  return path


def tokenizer_sentences(train: random_access.Examples, seed: int = TOKENIZER_SEED):
  """Training sentences for the tokenizer: a fixed random order over the first half."""
  half = len(train) // 2
  size = min(half, 1_000_000)  # MAX_CORPUS_CHARS takes ~80k LM1B sentences (~130 chars each)
  for i in np.random.default_rng(seed).choice(half, size=size, replace=False):
    yield _text(train[int(i)])


def prepare_tokenizer(builder, vocab_size: int = VOCAB_SIZE, root: str | None = None) -> str:
  """After `download_and_prepare`: trains the tokenizer on the prepared training split and
  stores it under `root` (default: the builder's data_dir); returns its path."""
  path = tokenizer_path(root or builder.data_dir_root, vocab_size)
  if not os.path.exists(path):
    train = random_access.open_sources(builder, ["train"])["train"]
    train_tokenizer(tokenizer_sentences(train), vocab_size, path)
  return path


def load_tokenizer(path: str, vocab_size: int):
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise BadInputError(f"dataset.data_dir: no LM1B tokenizer at {path}; run `optcompare data "
                        f"prepare lm1b --manual_dir=DIR` (it trains the {VOCAB_SIZE}-piece one)")
  tokenizer = spm.SentencePieceProcessor(model_file=path)
  if tokenizer.get_piece_size() != vocab_size:
    raise BadInputError(f"model.vocab_size: {vocab_size}, but {path} has "
                        f"{tokenizer.get_piece_size()} pieces")
  return tokenizer


class Tokenized:
  """Random access to the sentences of a TFDS source as piece ids (no bos/eos)."""

  def __init__(self, source: random_access.Examples, tokenizer):
    self.source, self.tokenizer = source, tokenizer

  def __len__(self) -> int:
    return len(self.source)

  def __getitem__(self, index: int) -> np.ndarray:
    return np.asarray(self.tokenizer.encode(_text(self.source[index])), np.int32)


class SyntheticTokens:
  """Random "sentences" of piece ids, example i a pure function of (seed, i); no files."""

  def __init__(self, num_examples: int, vocab_size: int, max_len: int, seed: int):
    self.num_examples, self.vocab_size, self.max_len, self.seed = (
        num_examples, vocab_size, max_len, seed)

  def __len__(self) -> int:
    return self.num_examples

  def __getitem__(self, index: int) -> np.ndarray:
    if not 0 <= index < self.num_examples:
      raise IndexError(index)
    rng = np.random.default_rng((self.seed, index))
    length = rng.integers(1, self.max_len + 1)
    return rng.integers(EOS + 1, self.vocab_size, length).astype(np.int32)


def sequence(ids: np.ndarray, seq_len: int) -> dict:
  """[bos] + ids + [eos] -> next-token inputs, labels and weights of length seq_len."""
  full = np.concatenate([[BOS], ids, [EOS]]).astype(np.int32)[:seq_len + 1]
  n = len(full) - 1
  inputs = np.full(seq_len, PAD, np.int32)
  labels = np.full(seq_len, PAD, np.int32)
  inputs[:n], labels[:n] = full[:-1], full[1:]
  weights = (np.arange(seq_len) < n).astype(np.float32)
  return {"inputs": inputs, "labels": labels, "weights": weights}


def _split(examples, seq_len: int, num_threads: int) -> random_access.Split:
  return random_access.Split(examples, lambda ids, rng: sequence(ids, seq_len), num_threads)


def splits_from_builder(builder, root: str, vocab_size: int, num_validation: int,
                        seq_len: int, num_threads: int = 1) -> dict:
  """The splits of any prepared builder with a `text` feature and train/test splits."""
  sources = random_access.open_sources(builder, ["train", "test"])
  tokenizer = load_tokenizer(tokenizer_path(root, vocab_size), vocab_size)
  n = len(sources["train"])
  if not 0 < num_validation < n // 2:
    raise BadInputError(f"dataset.num_validation_examples: {num_validation} is not in "
                        f"(0, {n // 2})")
  parts = {"train": random_access.Range(sources["train"], 0, n - num_validation),
           "validation": random_access.Range(sources["train"], n - num_validation, n),
           "test": sources["test"]}
  return {s: _split(Tokenized(p, tokenizer), seq_len, num_threads) for s, p in parts.items()}


def synthetic_splits(num_train: int, num_eval: int, vocab_size: int, seq_len: int) -> dict:
  """Random sequences of the real shapes (lengths 1..seq_len), for smoke runs."""
  sizes = {"train": num_train, "validation": num_eval, "test": num_eval}
  return {s: _split(SyntheticTokens(n, vocab_size, seq_len, seed), seq_len, 1)
          for seed, (s, n) in enumerate(sizes.items())}
