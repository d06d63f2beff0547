"""Helpers for the model tests, as fixtures.

XLA compiles are slow on the 2-core CI machine, so the numeric tests avoid running the models'
random initialisers (one compile per parameter shape): `materialize` builds the model
abstractly with `nnx.eval_shape` (which still traces the real constructor) and fills the
parameters with NumPy random values; forward passes go through one `nnx.jit` per mode.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx


def _fill(path, leaf, rng):
  name = [str(k.key) for k in path if hasattr(k, "key")][-1]  # the variable's name
  shape, dtype = leaf.shape, leaf.dtype
  if name == "mean":  # batch-norm running statistics start at their usual values
    return jnp.zeros(shape, dtype)
  if name == "var":
    return jnp.ones(shape, dtype)
  if name == "scale":
    return jnp.asarray(1.0 + 0.1 * rng.standard_normal(shape), dtype)
  if name == "bias":
    return jnp.asarray(0.1 * rng.standard_normal(shape), dtype)
  fan_in = max(1, math.prod(shape[:-1]))
  return jnp.asarray(rng.standard_normal(shape) / math.sqrt(fan_in), dtype)


def materialize_model(constructor, seed=0):
  """A concrete model from `constructor()` without running its initialisers."""
  graphdef, state = nnx.split(nnx.eval_shape(constructor))
  rng = np.random.default_rng(seed)
  state = jax.tree_util.tree_map_with_path(lambda p, leaf: _fill(p, leaf, rng), state)
  return nnx.merge(graphdef, state)


def num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def variable_kinds(model) -> set:
  return {type(v) for v in jax.tree.leaves(nnx.state(model),
                                           is_leaf=lambda v: isinstance(v, nnx.Variable))}


def abstract_apply(model, *shapes_and_dtypes, train_rngs=True):
  """(output ShapeDtypeStruct, ClosedJaxpr) of model(*inputs) without compiling anything."""
  graphdef, state = nnx.split(model)

  def fn(s, *xs):
    rngs = nnx.Rngs(dropout=0) if train_rngs else None
    return nnx.merge(graphdef, s)(*xs, rngs=rngs)

  args = [jax.ShapeDtypeStruct(s, d) for s, d in shapes_and_dtypes]
  jaxpr = jax.make_jaxpr(fn)(state, *args)
  (out,) = jaxpr.out_avals
  return jax.ShapeDtypeStruct(out.shape, out.dtype), jaxpr


def count_primitive(jaxpr, name: str) -> int:
  """How many times primitive `name` runs, counting every call of nested jaxprs."""
  jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
  n = 0
  for eqn in jaxpr.eqns:
    n += eqn.primitive.name == name
    for param in eqn.params.values():
      for sub in param if isinstance(param, (tuple, list)) else (param,):
        if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
          n += count_primitive(sub, name)
  return n


def _fwd(m, x, key):
  return m(x, rngs=None if key is None else nnx.Rngs(dropout=key))


_FORWARD = nnx.jit(_fwd)


class Helpers:
  materialize = staticmethod(materialize_model)
  num_params = staticmethod(num_params)
  variable_kinds = staticmethod(variable_kinds)
  abstract_apply = staticmethod(abstract_apply)
  count_primitive = staticmethod(count_primitive)

  # Jitted `(model, x, dropout_key or None) -> output`: one compile per model, mode and shape;
  # train-mode batch-norm updates come back into the model.
  forward = staticmethod(_FORWARD)

  @staticmethod
  def dropout_key(seed):
    return jax.random.key(seed, impl="rbg")  # compiles faster than threefry on CPU


@pytest.fixture(scope="session")
def helpers():
  return Helpers
