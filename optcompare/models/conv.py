"""Convolution as im2col + matrix product: the formulation packed trials use.

Vmapping `lax.conv_general_dilated` over K trials (each its own kernel) gives XLA a grouped
convolution (feature_group_count = K), which GPU libraries run far below the rate of one
dense convolution. Written as patches @ kernel, the same convolution vmaps to a *batched
matrix product* (K independent GEMMs of shape [B·H'·W', kh·kw·C] x [kh·kw·C, F]), which runs
at matrix-unit rate, with exactly the FLOPs of the direct convolution (no block-diagonal
waste). Patches are gathered with kh·kw strided slices of the padded input, so the gradient
with respect to the input is a sum of padded slices (cheap, elementwise), not a scatter.

`im2col_conv` has the signature of `lax.conv_general_dilated` (Flax NNX calls it through
`nnx.Conv.conv_general_dilated`); `use_im2col(model)` makes every `nnx.Conv` of a model use
it. It covers what the project's models use: channels-last inputs, HWIO kernels, any
strides, explicit or 'SAME'/'VALID' padding, no dilation, one feature group. Anything else
raises NotImplementedError (never a silent switch of formulation).
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax


def _channels_last(dimension_numbers, ndim: int) -> bool:
  """Whether `dimension_numbers` is NH..WC x H..WIO -> NH..WC (what nnx.Conv passes)."""
  spatial = tuple(range(1, ndim - 1))
  want = lax.ConvDimensionNumbers(lhs_spec=(0, ndim - 1, *spatial),
                                  rhs_spec=(ndim - 1, ndim - 2, *range(ndim - 2)),
                                  out_spec=(0, ndim - 1, *spatial))
  return dimension_numbers is None or tuple(dimension_numbers) == tuple(want)


def _pads(padding, in_shape: Sequence[int], window: Sequence[int],
          strides: Sequence[int]) -> list[tuple[int, int]]:
  if isinstance(padding, str):
    return list(lax.padtype_to_pads(in_shape, window, strides, padding))
  return [tuple(p) for p in padding]


def patches(x: jax.Array, window: Sequence[int], strides: Sequence[int],
            pads: Sequence[tuple[int, int]]) -> jax.Array:
  """[N, *spatial_out, prod(window)·C]: for each output position, the input window it reads,
  ordered (window offset, channel) as a HWIO kernel reshaped to [prod(window)·C, O]."""
  x = jnp.pad(x, [(0, 0), *pads, (0, 0)])
  out_shape = [(x.shape[1 + d] - window[d]) // strides[d] + 1 for d in range(len(window))]
  slices = []
  for offset in itertools.product(*(range(w) for w in window)):
    start = (0, *offset, 0)
    limit = (x.shape[0], *(o + (n - 1) * s + 1 for o, n, s in zip(offset, out_shape, strides)),
             x.shape[-1])
    slices.append(lax.slice(x, start, limit, (1, *strides, 1)))
  return jnp.concatenate(slices, axis=-1)


def im2col_conv(lhs: jax.Array, rhs: jax.Array, window_strides: Sequence[int], padding: Any,
                lhs_dilation: Sequence[int] | None = None,
                rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                feature_group_count: int = 1, batch_group_count: int = 1,
                precision: Any = None, preferred_element_type: Any = None,
                out_sharding: Any = None) -> jax.Array:
  """`lax.conv_general_dilated` computed as patches(lhs) @ rhs (see the module docstring)."""
  del out_sharding  # placement is left to XLA's propagation, as for the other layers
  window = rhs.shape[:-2]
  dilated = any(d != 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
  if (dilated or feature_group_count != 1 or batch_group_count != 1
      or not _channels_last(dimension_numbers, lhs.ndim)):
    raise NotImplementedError(
        "im2col_conv covers channels-last, undilated, ungrouped convolutions; got "
        f"dimension_numbers={dimension_numbers}, lhs_dilation={lhs_dilation}, rhs_dilation="
        f"{rhs_dilation}, feature_group_count={feature_group_count}")
  strides = tuple(window_strides) if window_strides else (1,) * len(window)
  cols = patches(lhs, window, strides, _pads(padding, lhs.shape[1:-1], window, strides))
  kernel = rhs.reshape(-1, rhs.shape[-1])
  return jnp.einsum("...k,ko->...o", cols, kernel, precision=precision,
                    preferred_element_type=preferred_element_type)


# The convolution formulations a model can be built with (name -> conv_general_dilated).
FORMULATIONS = {"direct": lax.conv_general_dilated, "im2col": im2col_conv}


def use(model: nnx.Module, formulation: str) -> nnx.Module:
  """`model` with every nnx.Conv computing its convolution by `formulation` (FORMULATIONS);
  the parameters are untouched, so both formulations give the same function."""
  if formulation not in FORMULATIONS:
    raise ValueError(f"unknown convolution formulation {formulation!r}; known: "
                     f"{sorted(FORMULATIONS)}")
  for _, module in nnx.iter_modules(model):
    if isinstance(module, nnx.Conv):
      module.conv_general_dilated = FORMULATIONS[formulation]
  return model
