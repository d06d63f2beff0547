"""Decoder-only Transformer language model (the LM1B Transformer workload of Choi et al. 2019).

Choi et al. 2019 train the LM1B Transformer of Shallue et al. 2018 ("Measuring the Effects of
Data Parallelism on Neural Network Training"), a Tensor2Tensor Transformer (Vaswani et al.
2017) used as a decoder-only language model. This module follows the Flax ``examples/lm1b``
model (``models.py``: ``TransformerLM`` / ``Decoder`` / ``EncoderDecoder1DBlock``), which is
that same architecture written in Flax; its sizes are constructor arguments, so the workload
config sets the paper's (the defaults are the Flax lm1b example's: 6 layers, width 512,
8 heads, MLP 2048, dropout 0.1).

- **Pre-LN** residual blocks (layer norm at the start of each sub-block, and a final layer
  norm after the last block), as Tensor2Tensor's default ``layer_preprocess_sequence="n"`` /
  ``layer_postprocess_sequence="da"`` and the Flax lm1b example:
      x = x + Dropout(SelfAttention(LN(x), causal mask))
      x = x + Dropout(Dense(ReLU-Dropout(Dense(LN(x)))))     (ReLU MLP of width mlp_dim)
- Token embedding N(0, 1) (no sqrt(d) scaling) plus **fixed sinusoidal** position encodings
  (default; the Flax lm1b/T2T formula: sines in the first half of the features, cosines in
  the second), or ``position_embedding="learned"`` (a [max_len, emb_dim] parameter,
  N(0, 0.02^2)); dropout on the sum.
- Multi-head self-attention with a **causal mask** (position t attends to positions <= t),
  query/key/value/output projections without biases, attention-probability dropout
  ``attention_dropout_rate`` (default: ``dropout_rate``), not broadcast over heads.
- **Untied** output layer by default (a dense layer with bias, the lm1b example's
  ``logits_via_embedding=False``); ``tie_embeddings=True`` uses the transposed embedding
  divided by sqrt(emb_dim), as that example does.
- Initialisation as the Flax example: dense and attention kernels Xavier-uniform, biases
  N(0, 1e-6^2), layer norm scale 1 and bias 0 (epsilon 1e-6).

No shifting inside the model: ``logits[:, t]`` is the prediction for the token after
``tokens[:, t]``; the workload feeds (inputs, targets) = (seq[:-1], seq[1:]) or equivalent.
No padding mask: with right-padding, the causal mask already keeps padding from affecting
earlier positions, and the loss should weight padded targets by zero.

Parameter count (untied, sinusoidal positions):
  V*d + L*(4*d*d + 2*d*m + m + 5*d) + 2*d + d*V + V
with V = vocab_size, d = emb_dim, L = num_layers, m = mlp_dim; e.g. 51,703,040 for
V = 32,000, L = 6, d = 512, m = 2048 (tying removes d*V + V; learned positions add
max_len*d).

Dropout uses the call-time ``rngs`` (``nnx.Rngs(dropout=key)``); the model stores no RNG
state and dropout is inactive in eval mode. ``dtype`` is the compute dtype (``jnp.bfloat16``
for mixed precision); parameters are float32 and logits are returned as float32.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

_kernel_init = nnx.initializers.xavier_uniform()
_bias_init = nnx.initializers.normal(stddev=1e-6)
LN_EPSILON = 1e-6


def sinusoidal_positions(length: int, features: int, min_scale: float = 1.0,
                         max_scale: float = 10000.0) -> np.ndarray:
  """[length, features] sinusoidal encodings (Flax lm1b ``sinusoidal_init``)."""
  pe = np.zeros((length, features), dtype=np.float32)
  position = np.arange(length)[:, None]
  half = features // 2
  scale_factor = -np.log(max_scale / min_scale) / max(half - 1, 1)
  div_term = min_scale * np.exp(np.arange(half) * scale_factor)
  pe[:, :half] = np.sin(position * div_term)
  pe[:, half:2 * half] = np.cos(position * div_term)
  return pe


class MlpBlock(nnx.Module):
  """Dense(mlp_dim) - ReLU - Dropout - Dense(emb_dim)."""

  def __init__(self, emb_dim: int, mlp_dim: int, dropout_rate: float, *, dtype: Any,
               rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(emb_dim, mlp_dim, kernel_init=_kernel_init, bias_init=_bias_init,
                          dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
    self.dropout = nnx.Dropout(dropout_rate)
    self.fc2 = nnx.Linear(mlp_dim, emb_dim, kernel_init=_kernel_init, bias_init=_bias_init,
                          dtype=dtype, param_dtype=jnp.float32, rngs=rngs)

  def __call__(self, x, rngs=None):
    return self.fc2(self.dropout(nnx.relu(self.fc1(x)), rngs=rngs))


class DecoderBlock(nnx.Module):
  """Pre-LN block: x + Drop(Attn(LN(x))), then x + Drop(MLP(LN(x)))."""

  def __init__(self, emb_dim: int, num_heads: int, mlp_dim: int, dropout_rate: float,
               attention_dropout_rate: float, *, dtype: Any, rngs: nnx.Rngs):
    self.ln1 = nnx.LayerNorm(emb_dim, epsilon=LN_EPSILON, dtype=dtype,
                             param_dtype=jnp.float32, rngs=rngs)
    self.attention = nnx.MultiHeadAttention(
        num_heads, emb_dim, qkv_features=emb_dim, out_features=emb_dim, dtype=dtype,
        param_dtype=jnp.float32, broadcast_dropout=False,
        dropout_rate=attention_dropout_rate, deterministic=False, kernel_init=_kernel_init,
        use_bias=False, decode=False, keep_rngs=False, rngs=rngs)
    self.dropout1 = nnx.Dropout(dropout_rate)
    self.ln2 = nnx.LayerNorm(emb_dim, epsilon=LN_EPSILON, dtype=dtype,
                             param_dtype=jnp.float32, rngs=rngs)
    self.mlp = MlpBlock(emb_dim, mlp_dim, dropout_rate, dtype=dtype, rngs=rngs)
    self.dropout2 = nnx.Dropout(dropout_rate)

  def __call__(self, x, mask, rngs=None):
    y = self.attention(self.ln1(x), mask=mask, rngs=rngs)
    x = x + self.dropout1(y, rngs=rngs)
    y = self.mlp(self.ln2(x), rngs=rngs)
    return x + self.dropout2(y, rngs=rngs)


class TransformerLM(nnx.Module):
  """Decoder-only pre-LN Transformer LM; see the module docstring.

  Args:
    vocab_size: number of tokens.
    num_layers, emb_dim, num_heads, mlp_dim: sizes (L, d, heads, m).
    max_len: the longest sequence accepted (and the learned position table size).
    dropout_rate: residual, embedding and MLP dropout.
    attention_dropout_rate: dropout on attention probabilities (None: ``dropout_rate``).
    position_embedding: "sinusoidal" (fixed, default) or "learned".
    tie_embeddings: output logits from the transposed input embedding.
    dtype: compute dtype; parameters stay float32, logits are float32.
    rngs: ``nnx.Rngs(params=seed)`` for initialisation.

  Call: ``model(tokens, rngs=nnx.Rngs(dropout=key))`` in train mode, ``model(tokens)`` in
  eval mode; tokens int32 [batch, seq] -> logits float32 [batch, seq, vocab_size].
  """

  def __init__(self, vocab_size: int, *, num_layers: int = 6, emb_dim: int = 512,
               num_heads: int = 8, mlp_dim: int = 2048, max_len: int = 512,
               dropout_rate: float = 0.1, attention_dropout_rate: float | None = None,
               position_embedding: str = "sinusoidal", tie_embeddings: bool = False,
               dtype: Any = jnp.float32, rngs: nnx.Rngs):
    if position_embedding not in ("sinusoidal", "learned"):
      raise ValueError("position_embedding must be 'sinusoidal' or 'learned', got "
                       f"{position_embedding!r}")
    if attention_dropout_rate is None:
      attention_dropout_rate = dropout_rate
    self.vocab_size = vocab_size
    self.emb_dim = emb_dim
    self.max_len = max_len
    self.position_embedding = position_embedding
    self.tie_embeddings = tie_embeddings
    self.dtype = dtype
    self.embed = nnx.Embed(vocab_size, emb_dim,
                           embedding_init=nnx.initializers.normal(stddev=1.0),
                           dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
    if position_embedding == "learned":
      self.pos_embedding = nnx.Param(
          nnx.initializers.normal(stddev=0.02)(rngs.params(), (max_len, emb_dim)))
    else:
      self.pos_embedding = nnx.data(None)
    self.embed_dropout = nnx.Dropout(dropout_rate)
    self.blocks = nnx.List([
        DecoderBlock(emb_dim, num_heads, mlp_dim, dropout_rate, attention_dropout_rate,
                     dtype=dtype, rngs=rngs)
        for _ in range(num_layers)])
    self.final_ln = nnx.LayerNorm(emb_dim, epsilon=LN_EPSILON, dtype=dtype,
                                  param_dtype=jnp.float32, rngs=rngs)
    if tie_embeddings:
      self.head = nnx.data(None)
    else:
      self.head = nnx.Linear(emb_dim, vocab_size, kernel_init=_kernel_init,
                             bias_init=_bias_init, dtype=dtype,
                             param_dtype=jnp.float32, rngs=rngs)

  def __call__(self, tokens: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """tokens int [batch, seq] -> logits float32 [batch, seq, vocab_size]."""
    length = tokens.shape[1]
    if length > self.max_len:
      raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
    x = self.embed(tokens.astype(jnp.int32))
    if self.pos_embedding is None:
      pos = jnp.asarray(sinusoidal_positions(length, self.emb_dim))
    else:
      pos = self.pos_embedding[...][:length]
    x = (x.astype(jnp.float32) + pos[None]).astype(self.dtype)
    x = self.embed_dropout(x, rngs=rngs)
    mask = nnx.make_causal_mask(tokens, dtype=jnp.bool_)  # [batch, 1, seq, seq]
    for block in self.blocks:
      x = block(x, mask, rngs=rngs)
    x = self.final_ln(x)
    if self.head is None:
      logits = self.embed.attend(x) / jnp.sqrt(jnp.asarray(self.emb_dim, x.dtype))
    else:
      logits = self.head(x)
    return logits.astype(jnp.float32)
