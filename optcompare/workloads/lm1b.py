"""Subword language modelling on LM1B with a decoder-only Transformer (Choi et al. 2019).

The data are streamed by random access (optcompare/data/lm1b.py): one sentence per row,
[bos] + SentencePiece pieces + [eos], right-padded to `seq_len`, with per-token `weights`.
The loss and the `loss` metric are the cross entropy per real token (padding weighs 0).

`train_batch` and `eval_batches` (base.ServedByStep) return only this process's rows of the
global batches, so a multi-host job need not tokenize the whole batch on
every host (see in_memory.process_rows).
"""
from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
from flax import nnx

from optcompare.data import lm1b, prepare, random_access
from optcompare.models import transformer
from optcompare.workloads import base, image_classification


def token_cross_entropy(logits: jax.Array, labels: jax.Array,
                        label_smoothing: float = 0.0) -> jax.Array:
  """Per-position cross entropy against integer labels, optionally label-smoothed.

  Smoothing puts 1 - s + s/V on the label and s/V elsewhere, computed without materializing
  one-hot targets (V is 32k here): -(1 - s) log p_y - (s / V) sum_k log p_k.
  """
  logp = jax.nn.log_softmax(logits.astype(jnp.float32))
  nll = -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
  if not label_smoothing:
    return nll
  return (1.0 - label_smoothing) * nll - label_smoothing * jnp.mean(logp, axis=-1)


@dataclasses.dataclass(frozen=True)
class TransformerLanguageModel(base.ServedByStep):
  """Next-token prediction; metric `loss`: cross entropy in nats per token."""
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
  vocab_size: int
  seq_len: int
  model_kwargs: tuple[tuple[str, object], ...]  # hashable: the workload is a static jit arg
  l2: float
  label_smoothing: float
  metric_names: tuple[str, ...] = ("loss",)

  def build_model(self, seed: int) -> nnx.Module:
    return transformer.TransformerLM(self.vocab_size, max_len=self.seq_len,
                                     rngs=nnx.Rngs(params=seed), **dict(self.model_kwargs))

  def load_splits(self) -> dict:
    if self.synthetic:
      return lm1b.synthetic_splits(self.num_synthetic, self.num_validation, self.vocab_size,
                                   self.seq_len)
    builder = prepare.builder("lm1b", self.data_dir)
    return lm1b.splits_from_builder(builder, self.data_dir or builder.data_dir_root,
                                    self.vocab_size, self.num_validation, self.seq_len,
                                    self.num_threads or os.cpu_count() or 1)

  def preprocess(self, batch: base.Batch, rng: jax.Array | None) -> base.Batch:
    del rng
    return batch

  def loss(self, params: nnx.State, logits: jax.Array, batch: base.Batch) -> jax.Array:
    xent = token_cross_entropy(logits, batch["labels"], self.label_smoothing)
    weights = batch["weights"]
    return (jnp.sum(xent * weights) / jnp.maximum(jnp.sum(weights), 1.0)
            + base.l2_penalty(params, self.l2))

  def metric_sums(self, logits: jax.Array, batch: base.Batch) -> dict[str, jax.Array]:
    weights = batch["weights"]
    if "mask" in batch:
      weights = weights * batch["mask"][:, None]
    xent = token_cross_entropy(logits, batch["labels"])
    return {"loss": jnp.sum(xent * weights), "count": jnp.sum(weights)}


def from_config(config) -> TransformerLanguageModel:
  base.check_synthetic_examples(config)
  return TransformerLanguageModel(
      name=config.workload, data_dir=config.dataset.data_dir,
      synthetic=config.dataset.synthetic, num_synthetic=config.dataset.num_synthetic_examples,
      num_validation=config.dataset.num_validation_examples,
      num_threads=config.dataset.num_threads, seed=config.seed,
      batch_size=config.batch_size, eval_batch_size=config.eval_batch_size,
      vocab_size=config.model.vocab_size, seq_len=config.dataset.seq_len,
      model_kwargs=image_classification.model_kwargs(
          {k: v for k, v in config.model.items() if k != "vocab_size"}),
      l2=config.loss.l2, label_smoothing=config.loss.label_smoothing)
