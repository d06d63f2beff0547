"""Character-level text as fixed-length windows for next-character prediction."""
from __future__ import annotations

import numpy as np

from optcompare.data import in_memory


def vocabulary(*texts: str) -> dict[str, int]:
  """Character -> id, the sorted characters of all the texts."""
  return {c: i for i, c in enumerate(sorted(set("".join(texts))))}


def encode(text: str, vocab: dict[str, int]) -> np.ndarray:
  return np.fromiter((vocab[c] for c in text), np.int32, len(text))


def windows(ids: np.ndarray, seq_len: int) -> in_memory.ArraySplit:
  """Non-overlapping windows: inputs ids[k·L:(k+1)·L], labels shifted one character on."""
  n = (len(ids) - 1) // seq_len
  inputs = ids[:n * seq_len].reshape(n, seq_len)
  labels = ids[1:n * seq_len + 1].reshape(n, seq_len)
  return in_memory.ArraySplit(inputs, labels)
