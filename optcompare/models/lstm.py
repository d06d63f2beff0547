"""Two-layer character-level LSTM, as the DeepOBS test problem ``tolstoi_char_rnn``.

The War and Peace (Tolstoi) char-RNN of DeepOBS (Schneider, Balles & Hennig 2019;
deepobs/tensorflow/testproblems/tolstoi_char_rnn.py), the "War and Peace LSTM" workload of
Choi et al. 2019, after Karpathy's char-rnn:

    embedding [vocab_size, 128]
    2 x { dropout 0.2 on the layer input -> LSTM (128 units) -> dropout 0.2 on its output }
    dense 128 -> vocab_size (logits for the next character at every position)

DeepOBS wraps each ``tf.contrib.rnn.LSTMCell(128)`` in a ``DropoutWrapper`` with
``input_keep_prob = output_keep_prob = 0.8`` in training (1.0 otherwise), without variational
(per-sequence) masks; so dropout is applied independently to every element of the layer
inputs and outputs, and between the two layers the hidden state passes through two dropouts
(the output dropout of layer 1 and the input dropout of layer 2). Sequence length 50 and
vocabulary size 83 are DeepOBS's for War and Peace; here the vocabulary size is a constructor
argument and any sequence length works.

LSTM cell (TensorFlow's ``LSTMCell`` without peepholes or projection): with
[i, j, f, o] = x W_x + h W_h + b,
c' = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j),  h' = sigmoid(o) * tanh(c'),
forget_bias = 1.0 (a constant, not a parameter, as TensorFlow's default).

Parameter count: 284,499 for vocab_size 83 (embedding 10,624; each LSTM layer
2 * 128 * 512 + 512 = 131,584; output layer 10,707). In general
V*128 + 2*131,584 + 128*V + V.

Initialisation as the TensorFlow 1 defaults DeepOBS inherits: embedding, softmax weight and
softmax bias Glorot-uniform (``tf.get_variable``'s default; for the 1-D bias that is
uniform(+-sqrt(3 / V))); LSTM kernel Glorot-uniform over TensorFlow's concatenated
[in + 128, 4 * 128] matrix (stored here as its two blocks W_x and W_h), bias zero.

State between batches: DeepOBS keeps the final LSTM state of a batch as the initial state of
the next (resetting it to zero when the phase changes). ``__call__`` starts from zeros by
default; pass ``initial_carry`` and ``return_carry=True`` to carry state across batches
(the carry is then the caller's to keep; the model stores no state besides its parameters).

Causality: the logits at position t depend only on inputs at positions <= t.
Dropout uses the call-time ``rngs`` (``nnx.Rngs(dropout=key)``) and is inactive in eval
mode. ``dtype`` is the compute dtype of the LSTM matrix products (accumulated in float32);
gates, cell state, the output layer and the logits are float32.
"""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

FORGET_BIAS = 1.0

Carry = tuple[tuple[jax.Array, jax.Array], ...]  # per layer: (c, h), each [batch, hidden]


def _uniform_init(limit: float):
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -limit, limit)

  return init


class LSTMLayer(nnx.Module):
  """One TensorFlow-style LSTM layer run over a whole sequence with ``jax.lax.scan``.

  The input projection x W_x + b is computed for all time steps at once; the scan only
  does the recurrent product h W_h.
  """

  def __init__(self, in_features: int, hidden_size: int, *, dtype: Any = jnp.float32,
               rngs: nnx.Rngs):
    # Glorot-uniform limits of TF's concatenated [in + hidden, 4 hidden] kernel.
    init = _uniform_init(math.sqrt(6.0 / (in_features + hidden_size + 4 * hidden_size)))
    self.hidden_size = hidden_size
    self.dtype = dtype
    self.input_kernel = nnx.Param(init(rngs.params(), (in_features, 4 * hidden_size)))
    self.recurrent_kernel = nnx.Param(init(rngs.params(), (hidden_size, 4 * hidden_size)))
    self.bias = nnx.Param(jnp.zeros((4 * hidden_size,), jnp.float32))

  def __call__(self, x: jax.Array, carry: tuple[jax.Array, jax.Array]
               ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """x [batch, time, in] -> (h [batch, time, hidden] float32, final (c, h))."""
    wx = self.input_kernel[...].astype(self.dtype)
    wh = self.recurrent_kernel[...].astype(self.dtype)
    xw = jnp.einsum("bti,ig->btg", x.astype(self.dtype), wx,
                    preferred_element_type=jnp.float32) + self.bias[...]

    def step(carry, xw_t):
      c, h = carry
      z = xw_t + jnp.dot(h.astype(self.dtype), wh, preferred_element_type=jnp.float32)
      i, j, f, o = jnp.split(z, 4, axis=-1)
      c = jax.nn.sigmoid(f + FORGET_BIAS) * c + jax.nn.sigmoid(i) * jnp.tanh(j)
      h = jax.nn.sigmoid(o) * jnp.tanh(c)
      return (c, h), h

    carry, hs = jax.lax.scan(step, carry, jnp.swapaxes(xw, 0, 1))
    return jnp.swapaxes(hs, 0, 1), carry


class CharLSTM(nnx.Module):
  """DeepOBS ``tolstoi_char_rnn`` two-layer char LSTM; see the module docstring.

  Args:
    vocab_size: number of characters (83 for DeepOBS's War and Peace).
    hidden_size: LSTM units and embedding width (128).
    num_layers: LSTM layers (2).
    dropout_rate: dropout on each layer's input and output in training (0.2, i.e. keep
      probability 0.8).
    dtype: compute dtype of the matrix products; parameters and logits are float32.
    rngs: ``nnx.Rngs(params=seed)`` for initialisation.

  Call: ``model(tokens, rngs=nnx.Rngs(dropout=key))`` in train mode, ``model(tokens)`` in
  eval mode; tokens int32 [batch, seq] -> logits float32 [batch, seq, vocab_size], where
  logits[:, t] predicts the character after tokens[:, t].
  """

  def __init__(self, vocab_size: int, *, hidden_size: int = 128, num_layers: int = 2,
               dropout_rate: float = 0.2, dtype: Any = jnp.float32, rngs: nnx.Rngs):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_layers = num_layers
    self.dtype = dtype
    self.embed = nnx.Embed(vocab_size, hidden_size,
                           embedding_init=nnx.initializers.glorot_uniform(),
                           param_dtype=jnp.float32, rngs=rngs)
    self.input_dropouts = nnx.List([nnx.Dropout(dropout_rate) for _ in range(num_layers)])
    self.lstms = nnx.List([LSTMLayer(hidden_size, hidden_size, dtype=dtype, rngs=rngs)
                           for _ in range(num_layers)])
    self.output_dropouts = nnx.List([nnx.Dropout(dropout_rate) for _ in range(num_layers)])
    self.head = nnx.Linear(
        hidden_size, vocab_size, kernel_init=nnx.initializers.glorot_uniform(),
        bias_init=_uniform_init(math.sqrt(3.0 / vocab_size)), param_dtype=jnp.float32,
        rngs=rngs)

  def initial_carry(self, batch_size: int) -> Carry:
    """Zero LSTM state, one (c, h) pair per layer."""
    zeros = jnp.zeros((batch_size, self.hidden_size), jnp.float32)
    return tuple((zeros, zeros) for _ in range(self.num_layers))

  def __call__(self, tokens: jax.Array, rngs: nnx.Rngs | None = None, *,
               initial_carry: Carry | None = None, return_carry: bool = False):
    """tokens int [batch, seq] -> logits float32 [batch, seq, vocab_size].

    With ``return_carry=True`` returns ``(logits, final_carry)``.
    """
    if initial_carry is None:
      initial_carry = self.initial_carry(tokens.shape[0])
    x = self.embed(tokens)
    final = []
    for drop_in, lstm, drop_out, carry in zip(self.input_dropouts, self.lstms,
                                               self.output_dropouts, initial_carry):
      x = drop_in(x, rngs=rngs)
      x, carry = lstm(x, carry)
      x = drop_out(x, rngs=rngs)
      final.append(carry)
    logits = self.head(x).astype(jnp.float32)
    if return_carry:
      return logits, tuple(final)
    return logits
