"""All-CNN-C (DeepOBS cifar100_allcnnc): count, layers, shapes, dropout; and the train-step
pattern with dropout (rngs made inside the differentiated function)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optcompare.models import allcnn


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.fixture(scope="module")
def model():
  return allcnn.AllCNNC(rngs=nnx.Rngs(params=jax.random.key(0, impl="rbg")))


def test_parameter_count_and_layers():
  abstract = nnx.eval_shape(lambda: allcnn.AllCNNC(rngs=nnx.Rngs(params=0)))
  assert _num_params(abstract) == 1_387_108
  assert _num_params(nnx.eval_shape(lambda: allcnn.AllCNNC(10, rngs=nnx.Rngs(params=0)))) \
      == 1_369_738
  convs = [m for _, m in nnx.iter_modules(abstract) if isinstance(m, nnx.Conv)]
  assert [(c.out_features, c.kernel_size, c.strides) for c in convs] == [
      (96, (3, 3), (1, 1)), (96, (3, 3), (1, 1)), (96, (3, 3), (2, 2)),
      (192, (3, 3), (1, 1)), (192, (3, 3), (1, 1)), (192, (3, 3), (2, 2)),
      (192, (3, 3), (1, 1)), (192, (1, 1), (1, 1)), (100, (1, 1), (1, 1))]
  rates = [m.rate for _, m in nnx.iter_modules(abstract) if isinstance(m, nnx.Dropout)]
  assert rates == [0.2, 0.5, 0.5]
  kinds = {type(v) for v in jax.tree.leaves(nnx.state(abstract),
                                            is_leaf=lambda v: isinstance(v, nnx.Variable))}
  assert kinds == {nnx.Param}  # no batch norm, no stored RNG state


def test_bfloat16_option_shapes():
  abstract = nnx.eval_shape(
      lambda: allcnn.AllCNNC(dtype=jnp.bfloat16, rngs=nnx.Rngs(params=0)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(abstract)))
  graphdef, state = nnx.split(abstract)
  out = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x, rngs=nnx.Rngs(dropout=0)),
                       state, jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32))
  assert out.shape == (2, 100) and out.dtype == jnp.float32


def test_dropout_train_and_eval(model):
  x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  model.eval()
  e = model(x)
  assert e.shape == (2, 100) and e.dtype == jnp.float32
  np.testing.assert_array_equal(e, model(x, rngs=nnx.Rngs(dropout=5)))
  model.train()
  k1, k2 = jax.random.key(1, impl="rbg"), jax.random.key(2, impl="rbg")
  a = model(x, rngs=nnx.Rngs(dropout=k1))
  np.testing.assert_array_equal(a, model(x, rngs=nnx.Rngs(dropout=k1)))
  assert not np.allclose(a, model(x, rngs=nnx.Rngs(dropout=k2)))
  assert not np.allclose(a, e)


def test_train_step_pattern_with_dropout(model):
  """As the train loop: merge inside value_and_grad; Rngs built inside the loss function
  (an Rngs built outside cannot be advanced inside the gradient trace)."""
  model.train()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))

  @jax.jit
  def loss_and_grad(params, key):
    def loss_fn(params):
      m = nnx.merge(graphdef, params, rest, copy=True)
      return jnp.mean(m(x, rngs=nnx.Rngs(dropout=key)) ** 2)
    return jax.value_and_grad(loss_fn)(params)

  base = jax.random.key(0, impl="rbg")
  l0, g0 = loss_and_grad(params, jax.random.fold_in(base, 0))
  l1, _ = loss_and_grad(params, jax.random.fold_in(base, 1))
  assert np.isfinite(l0) and l0 != l1
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(g0))
