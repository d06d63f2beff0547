"""Decoder-only Transformer LM: counts, shapes, bf16 option, causal mask, dropout."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import transformer

SMALL = dict(num_layers=2, emb_dim=32, num_heads=4, mlp_dim=64, max_len=16)
VOCAB = 50


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _expected(v, l, d, m, *, tied=False, learned_len=0):
  n = v * d + l * (4 * d * d + 2 * d * m + m + 5 * d) + 2 * d + learned_len * d
  return n if tied else n + d * v + v


@pytest.fixture(scope="module")
def model():
  return transformer.TransformerLM(VOCAB, **SMALL,
                                    rngs=nnx.Rngs(params=jax.random.key(0, impl="rbg")))


def _tokens(seed, batch=2, length=16):
  return jax.random.randint(jax.random.key(seed), (batch, length), 0, VOCAB, jnp.int32)


def test_parameter_counts():
  base = nnx.eval_shape(lambda: transformer.TransformerLM(32_000, rngs=nnx.Rngs(params=0)))
  assert _num_params(base) == 51_703_040 == _expected(32_000, 6, 512, 2048)
  tied = nnx.eval_shape(lambda: transformer.TransformerLM(
      VOCAB, **SMALL, tie_embeddings=True, position_embedding="learned",
      rngs=nnx.Rngs(params=0)))
  assert _num_params(tied) == _expected(VOCAB, 2, 32, 64, tied=True, learned_len=16)
  kinds = {type(v) for v in jax.tree.leaves(nnx.state(base),
                                            is_leaf=lambda v: isinstance(v, nnx.Variable))}
  assert kinds == {nnx.Param}  # no stored RNG streams or caches


def test_shapes_and_bfloat16_option():
  for kw in ({}, {"dtype": jnp.bfloat16, "tie_embeddings": True}):
    abstract = nnx.eval_shape(lambda kw=kw: transformer.TransformerLM(
        VOCAB, **SMALL, **kw, rngs=nnx.Rngs(params=0)))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(abstract)))
    graphdef, state = nnx.split(abstract)
    fn = lambda s, t: nnx.merge(graphdef, s)(t, rngs=nnx.Rngs(dropout=0))  # pylint: disable=cell-var-from-loop
    out = jax.eval_shape(fn, state, jax.ShapeDtypeStruct((3, 16), jnp.int32))
    assert out.shape == (3, 16, VOCAB) and out.dtype == jnp.float32
    if kw:
      jaxpr = str(jax.make_jaxpr(fn)(state, jax.ShapeDtypeStruct((3, 16), jnp.int32)))
      assert "bf16[3,16,64]" in jaxpr  # the MLP computes in bfloat16


def test_causal_mask_and_eval_determinism(model):
  model.eval()
  a = _tokens(1)
  b = a.at[:, 9:].set(_tokens(2)[:, 9:])  # differs only from position 9 on
  la, lb = model(a), model(b)
  assert la.shape == (2, 16, VOCAB) and la.dtype == jnp.float32
  np.testing.assert_allclose(la[:, :9], lb[:, :9], atol=1e-5)
  assert not np.allclose(la[:, 9:], lb[:, 9:])
  np.testing.assert_array_equal(la, model(a))
  with pytest.raises(ValueError, match="max_len"):
    model(_tokens(1, length=17))


def test_train_dropout_depends_on_rngs(model):
  model.train()
  a = _tokens(1)
  k1, k2 = jax.random.key(1, impl="rbg"), jax.random.key(2, impl="rbg")
  la = model(a, rngs=nnx.Rngs(dropout=k1))
  np.testing.assert_array_equal(la, model(a, rngs=nnx.Rngs(dropout=k1)))
  assert not np.allclose(la, model(a, rngs=nnx.Rngs(dropout=k2)))
  model.eval()
  assert not np.allclose(la, model(a))
