"""Character-level language modelling on War and Peace (Choi et al. 2019's LSTM workload).

The text is cut into non-overlapping windows of `seq_len + 1` characters; the batch at step t
is drawn from a per-epoch permutation of the training windows, like every in-memory dataset
here. Unlike DeepOBS `tolstoi_char_rnn`, which carries the LSTM state across consecutive
batches, each window starts from a zero state: batches are then a pure function of (seed, step)
and a resumed trial is bit-identical to an uninterrupted one.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from optcompare.data import in_memory, prepare, text
from optcompare.errors import BadInputError
from optcompare.models import lstm
from optcompare.workloads import base


@dataclasses.dataclass(frozen=True)
class CharLanguageModel(base.ServedByStep):
  """Next-character prediction; metric `loss`: cross entropy in nats per character."""
  data = in_memory  # serves batches by step (a class attribute, not a field)
  name: str
  data_dir: str | None
  synthetic: bool
  num_synthetic: int
  vocab_size: int
  seq_len: int
  seed: int
  batch_size: int
  eval_batch_size: int
  hidden_size: int
  num_layers: int
  dropout_rate: float
  l2: float
  metric_names: tuple[str, ...] = ("loss",)

  def build_model(self, seed: int) -> nnx.Module:
    return lstm.CharLSTM(self.vocab_size, hidden_size=self.hidden_size,
                         num_layers=self.num_layers, dropout_rate=self.dropout_rate,
                         rngs=nnx.Rngs(params=seed))

  def load_splits(self) -> dict:
    if self.synthetic:
      rng = jax.random.PRNGKey(0)
      texts = {s: jax.random.randint(jax.random.fold_in(rng, i), (self.num_synthetic,), 0,
                                     self.vocab_size).astype(jnp.int32)
               for i, s in enumerate(("train", "validation", "test"))}
      return {s: text.windows(jax.device_get(ids), self.seq_len) for s, ids in texts.items()}
    builder = prepare.builder("war_and_peace", self.data_dir)
    if not builder.is_prepared():
      raise BadInputError(f"dataset.data_dir: war_and_peace is not prepared in "
                          f"{self.data_dir}; run `optcompare data prepare war_and_peace "
                          f"--manual_dir=DIR --data_dir={self.data_dir}`")
    # Imported here: it needs TFDS, which machines that train other workloads may lack.
    from optcompare.data import war_and_peace  # pylint: disable=g-import-not-at-top
    texts = {s: war_and_peace.read_text(builder, s) for s in ("train", "validation", "test")}
    vocab = text.vocabulary(*texts.values())
    if len(vocab) != self.vocab_size:
      raise BadInputError(f"model.vocab_size: {self.vocab_size}, but the text has "
                          f"{len(vocab)} distinct characters")
    return {s: text.windows(text.encode(t, vocab), self.seq_len) for s, t in texts.items()}

  def preprocess(self, batch: base.Batch, rng: jax.Array | None) -> base.Batch:
    del rng
    return batch

  def loss(self, params: nnx.State, logits: jax.Array, batch: base.Batch) -> jax.Array:
    xent = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"])
    return jnp.mean(xent) + base.l2_penalty(params, self.l2)

  def metric_sums(self, logits: jax.Array, batch: base.Batch) -> dict[str, jax.Array]:
    mask = batch.get("mask", jnp.ones(logits.shape[0], jnp.float32))[:, None]
    xent = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"])
    return {"loss": jnp.sum(xent * mask), "count": jnp.sum(mask) * logits.shape[1]}


def from_config(config) -> CharLanguageModel:
  seq_len = config.model.seq_len
  if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len <= 0:
    raise BadInputError(f"model.seq_len: must be a positive integer, got {seq_len!r}")
  # Synthetic text of n characters makes (n - 1) // seq_len windows (labels one character on).
  base.check_synthetic_examples(config, (config.dataset.num_synthetic_examples - 1) // seq_len)
  return CharLanguageModel(
      name=config.workload, data_dir=config.dataset.data_dir,
      synthetic=config.dataset.synthetic, num_synthetic=config.dataset.num_synthetic_examples,
      vocab_size=config.model.vocab_size, seq_len=config.model.seq_len, seed=config.seed,
      batch_size=config.batch_size, eval_batch_size=config.eval_batch_size,
      hidden_size=config.model.hidden_size, num_layers=config.model.num_layers,
      dropout_rate=config.model.dropout_rate, l2=config.loss.l2)
