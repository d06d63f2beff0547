"""All-CNN-C (DeepOBS cifar100_allcnnc): count, layers, shapes, dropout; and the train-step
pattern with dropout (the Rngs built inside the differentiated function)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import allcnn


@pytest.fixture(scope="module")
def abstract():
  return nnx.eval_shape(lambda: allcnn.AllCNNC(rngs=nnx.Rngs(params=0)))


@pytest.fixture(scope="module")
def model(helpers):
  return helpers.materialize(lambda: allcnn.AllCNNC(rngs=nnx.Rngs(params=0)))


def _images(seed, n=2):
  return jnp.asarray(np.random.default_rng(seed).standard_normal((n, 32, 32, 3)), jnp.float32)


def test_parameter_count_and_layers(helpers, abstract):
  assert helpers.num_params(abstract) == 1_387_108
  assert helpers.num_params(nnx.eval_shape(lambda: allcnn.AllCNNC(10, rngs=nnx.Rngs(params=0)))) \
      == 1_369_738
  convs = [m for _, m in nnx.iter_modules(abstract) if isinstance(m, nnx.Conv)]
  assert [(c.out_features, c.kernel_size[0], c.strides[0], c.padding) for c in convs] == [
      (96, 3, 1, "SAME"), (96, 3, 1, "SAME"), (96, 3, 2, "SAME"),
      (192, 3, 1, "SAME"), (192, 3, 1, "SAME"), (192, 3, 2, "SAME"),
      (192, 3, 1, "VALID"), (192, 1, 1, "SAME"), (100, 1, 1, "SAME")]
  assert [m.rate for m in abstract.layers if isinstance(m, nnx.Dropout)] == [0.2, 0.5, 0.5]
  assert isinstance(abstract.layers[0], nnx.Dropout)  # dropout on the input image
  assert helpers.variable_kinds(abstract) == {nnx.Param}  # no batch norm, no RNG state


def test_shapes_bfloat16_and_dropout_structure(helpers, abstract):
  abstract.train()
  out, jaxpr = helpers.abstract_apply(abstract, ((2, 32, 32, 3), jnp.float32))
  assert out.shape == (2, 100) and out.dtype == jnp.float32
  assert helpers.count_primitive(jaxpr, "random_bits") == 3
  abstract.eval()
  _, jaxpr = helpers.abstract_apply(abstract, ((2, 32, 32, 3), jnp.float32), train_rngs=False)
  assert helpers.count_primitive(jaxpr, "random_bits") == 0
  model16 = nnx.eval_shape(lambda: allcnn.AllCNNC(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model16)))
  out16, _ = helpers.abstract_apply(model16, ((2, 32, 32, 3), jnp.float32))
  assert out16.shape == (2, 100) and out16.dtype == jnp.float32


def test_dropout_train_and_eval(helpers, model):
  fwd, x = helpers.forward, _images(1)
  model.eval()
  e = fwd(model, x, None)
  assert e.shape == (2, 100) and e.dtype == jnp.float32
  np.testing.assert_array_equal(e, fwd(model, x, helpers.dropout_key(5)))  # rngs unused
  model.train()
  a = fwd(model, x, helpers.dropout_key(1))
  np.testing.assert_array_equal(a, fwd(model, x, helpers.dropout_key(1)))
  assert not np.allclose(a, fwd(model, x, helpers.dropout_key(2)))
  assert not np.allclose(a, e)


def test_train_step_pattern_with_dropout(helpers, model):
  """As the train loop, but with nnx.Rngs built inside the loss function: an Rngs built
  outside jax.value_and_grad cannot be advanced inside it (flax TraceContextError)."""
  model.train()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  x = _images(1)

  @jax.jit
  def loss_and_grad(params, key):
    def loss_fn(params):
      m = nnx.merge(graphdef, params, rest, copy=True)
      return jnp.mean(m(x, rngs=nnx.Rngs(dropout=key)) ** 2)
    return jax.value_and_grad(loss_fn)(params)

  l1, g1 = loss_and_grad(params, helpers.dropout_key(1))
  l2, _ = loss_and_grad(params, helpers.dropout_key(2))
  assert np.isfinite(l1) and l1 != l2
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(g1))
