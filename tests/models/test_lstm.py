"""Char LSTM (DeepOBS tolstoi_char_rnn): count, shapes, causality, dropout, carried state."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import lstm

VOCAB = 83  # DeepOBS's War and Peace vocabulary
SEQ = 50


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.fixture(scope="module")
def model():
  return lstm.CharLSTM(VOCAB, rngs=nnx.Rngs(params=jax.random.key(0, impl="rbg")))


def _tokens(seed, batch=2, length=SEQ):
  return jax.random.randint(jax.random.key(seed), (batch, length), 0, VOCAB, jnp.int32)


def test_parameter_count():
  abstract = nnx.eval_shape(lambda: lstm.CharLSTM(VOCAB, rngs=nnx.Rngs(params=0)))
  assert _num_params(abstract) == 284_499
  assert _num_params(abstract) == VOCAB * 128 + 2 * (2 * 128 * 512 + 512) + 128 * VOCAB + VOCAB
  rates = [m.rate for _, m in nnx.iter_modules(abstract) if isinstance(m, nnx.Dropout)]
  assert rates == [0.2] * 4  # input and output of each of the two layers
  kinds = {type(v) for v in jax.tree.leaves(nnx.state(abstract),
                                            is_leaf=lambda v: isinstance(v, nnx.Variable))}
  assert kinds == {nnx.Param}


def test_bfloat16_option_keeps_float32_params_and_logits():
  abstract = nnx.eval_shape(
      lambda: lstm.CharLSTM(VOCAB, dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(abstract)))
  graphdef, state = nnx.split(abstract)
  out = jax.eval_shape(lambda s, t: nnx.merge(graphdef, s)(t, rngs=nnx.Rngs(dropout=0)),
                       state, jax.ShapeDtypeStruct((4, SEQ), jnp.int32))
  assert out.shape == (4, SEQ, VOCAB) and out.dtype == jnp.float32


def test_eval_forward_is_causal_and_deterministic(model):
  model.eval()
  a = _tokens(1)
  b = a.at[:, 30:].set(_tokens(2)[:, 30:])  # differs only from position 30 on
  la, lb = model(a), model(b)
  assert la.shape == (2, SEQ, VOCAB) and la.dtype == jnp.float32
  np.testing.assert_array_equal(la[:, :30], lb[:, :30])
  assert not np.allclose(la[:, 30:], lb[:, 30:])
  np.testing.assert_array_equal(la, model(a))


def test_train_dropout_depends_on_rngs_and_stays_causal(model):
  model.train()
  a = _tokens(1)
  b = a.at[:, 30:].set(_tokens(2)[:, 30:])
  k1, k2 = jax.random.key(1, impl="rbg"), jax.random.key(2, impl="rbg")
  la = model(a, rngs=nnx.Rngs(dropout=k1))
  assert not np.allclose(la, model(a, rngs=nnx.Rngs(dropout=k2)))
  # Same rngs, same masks: still causal.
  np.testing.assert_array_equal(la[:, :30], model(b, rngs=nnx.Rngs(dropout=k1))[:, :30])
  model.eval()
  assert not np.allclose(la, model(a))


def test_carry_across_batches_equals_one_long_sequence(model):
  model.eval()
  tokens = _tokens(3, length=2 * 25)
  full = model(tokens)
  first, carry = model(tokens[:, :25], initial_carry=model.initial_carry(2), return_carry=True)
  second = model(tokens[:, 25:], initial_carry=carry)
  np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), full, atol=1e-5)
