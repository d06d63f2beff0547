"""Char LSTM (DeepOBS tolstoi_char_rnn): count, shapes, causality, dropout, carried state."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import lstm

VOCAB = 83  # DeepOBS's War and Peace vocabulary
SEQ = 50


@pytest.fixture(scope="module")
def model(helpers):
  return helpers.materialize(lambda: lstm.CharLSTM(VOCAB, rngs=nnx.Rngs(params=0)))


def _tokens(seed, batch=2, length=SEQ):
  return jnp.asarray(np.random.default_rng(seed).integers(0, VOCAB, (batch, length)), jnp.int32)


def test_parameter_count_and_structure(helpers):
  abstract = nnx.eval_shape(lambda: lstm.CharLSTM(VOCAB, rngs=nnx.Rngs(params=0)))
  assert helpers.num_params(abstract) == 284_499
  assert helpers.num_params(abstract) == (VOCAB * 128 + 2 * (2 * 128 * 512 + 512)
                                          + 128 * VOCAB + VOCAB)
  rates = [m.rate for _, m in nnx.iter_modules(abstract) if isinstance(m, nnx.Dropout)]
  assert rates == [0.2] * 4  # on the input and the output of each of the two layers
  assert helpers.variable_kinds(abstract) == {nnx.Param}
  _, jaxpr = helpers.abstract_apply(abstract, ((2, SEQ), jnp.int32))
  assert helpers.count_primitive(jaxpr, "random_bits") == 4
  abstract.eval()
  _, jaxpr = helpers.abstract_apply(abstract, ((2, SEQ), jnp.int32), train_rngs=False)
  assert helpers.count_primitive(jaxpr, "random_bits") == 0


def test_bfloat16_option_keeps_float32_params_and_logits(helpers):
  abstract = nnx.eval_shape(
      lambda: lstm.CharLSTM(VOCAB, dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(abstract)))
  out, jaxpr = helpers.abstract_apply(abstract, ((4, SEQ), jnp.int32))
  assert out.shape == (4, SEQ, VOCAB) and out.dtype == jnp.float32
  assert "bf16[4,50,128]" in str(jaxpr)


def test_eval_forward_is_causal_and_deterministic(helpers, model):
  model.eval()
  a = _tokens(1)
  b = a.at[:, 30:].set(_tokens(2)[:, 30:])  # differs only from position 30 on
  la, lb = helpers.forward(model, a, None), helpers.forward(model, b, None)
  assert la.shape == (2, SEQ, VOCAB) and la.dtype == jnp.float32
  np.testing.assert_array_equal(la[:, :30], lb[:, :30])
  assert not np.allclose(la[:, 30:], lb[:, 30:])
  np.testing.assert_array_equal(la, helpers.forward(model, a, None))


def test_train_dropout_depends_on_rngs_and_stays_causal(helpers, model):
  fwd = helpers.forward
  model.train()
  a = _tokens(1)
  b = a.at[:, 30:].set(_tokens(2)[:, 30:])
  la = fwd(model, a, helpers.dropout_key(1))
  assert not np.allclose(la, fwd(model, a, helpers.dropout_key(2)))
  # Same rngs, same masks: the output is still causal.
  np.testing.assert_array_equal(la[:, :30], fwd(model, b, helpers.dropout_key(1))[:, :30])
  model.eval()
  assert not np.allclose(la, fwd(model, a, None))


def test_carry_across_batches_equals_one_long_sequence(helpers, model):
  model.eval()
  tokens = _tokens(3)
  full = helpers.forward(model, tokens, None)  # zero initial state by default
  run = nnx.jit(lambda m, t, c: m(t, initial_carry=c, return_carry=True))
  first, carry = run(model, tokens[:, :25], model.initial_carry(2))
  second, _ = run(model, tokens[:, 25:], carry)
  np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), full, atol=1e-5)
