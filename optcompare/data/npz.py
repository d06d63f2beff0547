"""A dataset's train/validation/test arrays in one .npz file.

For machines without TFDS (an accelerator image, say): `benchmarks/export_npz.py` writes the
very arrays a workload trains on, validation already held out, and `load_splits` reads them
back as the ArraySplits that `tfds_images.load_splits` returns. Keys are `<split>_inputs` and
`<split>_labels`; dtypes and shapes are kept as they are, so the round trip is exact.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from optcompare.data import in_memory
from optcompare.errors import BadInputError

SPLITS = ("train", "validation", "test")
FIELDS = ("inputs", "labels")


def save_splits(path: str, splits: dict) -> None:
  """Writes {'train', 'validation', 'test'} -> ArraySplit to `path`, compressed, atomically."""
  arrays = {f"{name}_{field}": getattr(splits[name], field)
            for name in SPLITS for field in FIELDS}
  tmp = f"{path}.tmp.{os.getpid()}.npz"  # np.savez_compressed adds .npz unless it is there
  np.savez_compressed(tmp, **arrays)
  os.replace(tmp, path)


def load_splits(path: str) -> dict:
  """{'train', 'validation', 'test'} -> ArraySplit, as `save_splits` wrote them to `path`."""
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {key: data[key] for key in data.files}
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise BadInputError(f"{path}: cannot read split arrays ({e})") from e
  missing = [f"{n}_{f}" for n in SPLITS for f in FIELDS if f"{n}_{f}" not in arrays]
  if missing:
    raise BadInputError(f"{path}: not a split arrays file; missing {', '.join(missing)}")
  try:
    return {name: in_memory.ArraySplit(arrays[f"{name}_inputs"], arrays[f"{name}_labels"])
            for name in SPLITS}
  except ValueError as e:  # ArraySplit: inputs and labels of different lengths
    raise BadInputError(f"{path}: {e}") from e
