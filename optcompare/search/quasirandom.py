"""Reproducible quasi-random points: scrambled Halton sequences from scipy.stats.qmc.

Each (study seed, optimizer) pair gets its own scrambling, seeded by a SHA-256 digest of the
pair (never Python's salted `hash()`), so every machine derives the same points. Point i is
the i-th point of that sequence: it does not depend on how many points are drawn, so growing a
study from 16 to 32 trials keeps the first 16.
"""
from __future__ import annotations

import hashlib

import numpy as np


def stable_seed(seed: int, name: str) -> int:
  """A 63-bit integer that depends only on (seed, name), stable across processes."""
  digest = hashlib.sha256(f"optcompare.search/{int(seed)}/{name}".encode()).digest()
  return int.from_bytes(digest[:8], "little") >> 1


def halton(dims: int, num_points: int, seed: int, start: int = 0) -> np.ndarray:
  """Points start, ..., start + num_points − 1 of a scrambled Halton sequence in [0, 1)^dims."""
  from scipy.stats import qmc  # pylint: disable=g-import-not-at-top
  if dims < 1:
    raise ValueError(f"dims must be >= 1, got {dims}")
  sampler = qmc.Halton(dims, scramble=True, rng=np.random.default_rng(seed))
  if start:
    sampler.fast_forward(start)
  return sampler.random(num_points)
