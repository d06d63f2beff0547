"""Decoder-only Transformer LM: counts, shapes, bf16 option, causal mask, dropout."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import transformer

SMALL = dict(num_layers=2, emb_dim=32, num_heads=4, mlp_dim=64, max_len=16)
VOCAB = 50


def _expected(v, l, d, m, *, tied=False, learned_len=0):
  n = v * d + l * (4 * d * d + 2 * d * m + m + 5 * d) + 2 * d + learned_len * d
  return n if tied else n + d * v + v


@pytest.fixture(scope="module")
def model(helpers):
  return helpers.materialize(lambda: transformer.TransformerLM(
      VOCAB, **SMALL, rngs=nnx.Rngs(params=0)))


def _tokens(seed, batch=2, length=16):
  return jnp.asarray(np.random.default_rng(seed).integers(0, VOCAB, (batch, length)), jnp.int32)


def test_parameter_counts(helpers):
  base = nnx.eval_shape(lambda: transformer.TransformerLM(32_000, rngs=nnx.Rngs(params=0)))
  assert helpers.num_params(base) == 51_703_040 == _expected(32_000, 6, 512, 2048)
  assert helpers.variable_kinds(base) == {nnx.Param}  # no RNG streams, caches or statistics
  tied = nnx.eval_shape(lambda: transformer.TransformerLM(
      VOCAB, **SMALL, tie_embeddings=True, position_embedding="learned",
      rngs=nnx.Rngs(params=0)))
  assert helpers.num_params(tied) == _expected(VOCAB, 2, 32, 64, tied=True, learned_len=16)
  with pytest.raises(ValueError, match="position_embedding"):
    transformer.TransformerLM(VOCAB, position_embedding="rotary", rngs=nnx.Rngs(params=0))


def test_shapes_bfloat16_and_dropout_structure(helpers):
  for kw in ({}, {"dtype": jnp.bfloat16, "tie_embeddings": True}):
    abstract = nnx.eval_shape(lambda kw=kw: transformer.TransformerLM(
        VOCAB, **SMALL, **kw, rngs=nnx.Rngs(params=0)))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(abstract)))
    out, jaxpr = helpers.abstract_apply(abstract, ((3, 16), jnp.int32))
    assert out.shape == (3, 16, VOCAB) and out.dtype == jnp.float32
    assert ("bf16[3,16,64]" in str(jaxpr)) == bool(kw)  # the MLP's compute dtype
    # Embedding dropout, then per layer: attention probabilities, attention output,
    # MLP hidden, MLP output.
    assert helpers.count_primitive(jaxpr, "random_bits") == 1 + 4 * SMALL["num_layers"]
    abstract.eval()
    _, jaxpr = helpers.abstract_apply(abstract, ((3, 16), jnp.int32), train_rngs=False)
    assert helpers.count_primitive(jaxpr, "random_bits") == 0


def test_causal_mask_and_eval_determinism(helpers, model):
  fwd = helpers.forward
  model.eval()
  a = _tokens(1)
  b = a.at[:, 9:].set(_tokens(2)[:, 9:])  # differs only from position 9 on
  la, lb = fwd(model, a, None), fwd(model, b, None)
  assert la.shape == (2, 16, VOCAB) and la.dtype == jnp.float32
  np.testing.assert_allclose(la[:, :9], lb[:, :9], atol=1e-5)
  assert not np.allclose(la[:, 9:], lb[:, 9:])
  np.testing.assert_array_equal(la, fwd(model, a, None))
  with pytest.raises(ValueError, match="max_len"):
    model(_tokens(1, length=17))


def test_train_dropout_depends_on_rngs_and_stays_causal(helpers, model):
  fwd = helpers.forward
  model.train()
  a = _tokens(1)
  b = a.at[:, 9:].set(_tokens(2)[:, 9:])
  la = fwd(model, a, helpers.dropout_key(1))
  assert not np.allclose(la, fwd(model, a, helpers.dropout_key(2)))
  np.testing.assert_allclose(la[:, :9], fwd(model, b, helpers.dropout_key(1))[:, :9],
                             atol=1e-5)
  model.eval()
  assert not np.allclose(la, fwd(model, a, None))
