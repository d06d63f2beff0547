"""Which parameters of a model are hidden weight matrices, read from the parameter pytree.

Muon (optimizers.muon) orthogonalises the updates of hidden weight matrices only; its authors
train every other parameter with Adam. This module decides, from the names on each leaf's
path and its shape alone (no model code), which leaves are which:

  adam   a leaf with fewer than 2 axes (biases, norm scales and offsets);
         an embedding: a path component containing "embed" (`embed/embedding`,
         `pos_embedding`);
         the output layer: every leaf under a module named "head"; in a model without one,
         a tied embedding is the output layer if the model has an embedding, else the module
         of the last ≥2-axis leaf in natural path order (numbers compared as numbers:
         Simple CNN `dense2`, VGG `fc2`, All-CNN `layers/11`; that leaf alone when it sits
         at the top level).
  muon   every other leaf: hidden dense kernels, LSTM input and recurrent kernels (the four
         gates side by side), attention projections, convolution kernels.

A muon leaf is orthogonalised as the matrix that maps its inputs to its outputs
(`muon_dimension_numbers`): flax kernels put the inputs first and the features last, so
the reduction axes are all but the last and the output axis is the last (a convolution
kernel (kh, kw, c_in, c_out) is the (kh·kw·c_in, c_out) matrix, as Keller Jordan's
CIFAR-10 Muon flattens filters); the query, key and value projections of flax's attention,
(d, heads, head_dim), map d to heads·head_dim (reduction axis 0, output axes 1 and 2).
"""
from __future__ import annotations

from typing import Any

import jax
from optax import contrib

MUON, ADAM = "muon", "adam"
OUTPUT_MODULE = "head"
SPLIT_OUTPUT_MODULES = ("query", "key", "value")  # flax attention: (d, heads, head_dim)


def path_names(path) -> tuple[str, ...]:
  """The names on a pytree path as strings, without the trailing `value` attribute of an
  nnx Variable (a dict key or sequence index named `value`, e.g. an attention module,
  stays)."""
  names = []
  for i, k in enumerate(path):
    if isinstance(k, jax.tree_util.GetAttrKey):
      if k.name == "value" and i == len(path) - 1:
        continue
      names.append(k.name)
    elif isinstance(k, jax.tree_util.SequenceKey):
      names.append(str(k.idx))
    else:
      names.append(str(getattr(k, "key", k)))
  return tuple(names)


def _natural(names: tuple[str, ...]) -> tuple:
  return tuple((0, int(n), "") if n.isdigit() else (1, 0, n) for n in names)


def _is_embedding(names: tuple[str, ...]) -> bool:
  return any("embed" in n for n in names)


def output_module(params) -> tuple[str, ...] | None:
  """The path of the output layer's module (the module docstring), or None when it is a
  tied embedding (Adam's already)."""
  leaves = [(path_names(p), x) for p, x in jax.tree_util.tree_flatten_with_path(params)[0]]
  heads = [n for n, _ in leaves if OUTPUT_MODULE in n]
  if heads:
    first = heads[0]
    return first[:first.index(OUTPUT_MODULE) + 1]
  if any(_is_embedding(n) for n, _ in leaves):
    return None
  kernels = sorted((n for n, x in leaves if x.ndim >= 2), key=_natural)
  if not kernels:
    return None
  last = kernels[-1]
  return last[:-1] if len(last) > 1 else last  # a top-level leaf is its own layer


def labels(params) -> Any:
  """A pytree like `params` with MUON or ADAM on every leaf (the module docstring)."""
  out = output_module(params)

  def label(path, x):
    names = path_names(path)
    in_output = out is not None and names[:len(out)] == out
    return MUON if x.ndim >= 2 and not _is_embedding(names) and not in_output else ADAM

  return jax.tree_util.tree_map_with_path(label, params)


def muon_dimension_numbers(updates) -> Any:
  """A pytree like `updates` with the MuonDimensionNumbers of every leaf (the module
  docstring): how Muon reshapes it to a matrix. Only Muon's leaves are ever read."""
  def dims(path, x):
    names = path_names(path)
    if x.ndim < 2:
      return None  # not a matrix: never Muon's
    if x.ndim == 3 and len(names) >= 2 and names[-2] in SPLIT_OUTPUT_MODULES:
      return contrib.MuonDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
    return contrib.MuonDimensionNumbers(reduction_axis=tuple(range(x.ndim - 1)),
                                        output_axis=x.ndim - 1)

  return jax.tree_util.tree_map_with_path(dims, updates)
