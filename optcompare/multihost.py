"""One trial over several processes (hosts): joining the JAX job, and what process 0 tells
the others.

`optcompare train --multihost` and a sweep's worker processes of a multi-process trial
(study field `processes_per_trial`, backends/local.py) join the job through `initialize`;
process 0 alone writes the trial's files (train.train_and_evaluate: `jax.process_index() ==
0`). In a sweep, process 0 claims the trial and tells the others which trials of the job it
claimed (`share_trials` / `shared_trials`, a broadcast over the job's devices), so every
process trains the same trials or none.
"""
from __future__ import annotations

import socket

from optcompare.errors import BadInputError


def check_args(coordinator_address: str | None, num_processes: int | None,
               process_id: int | None) -> None:
  """BadInputError unless the three are all given or none is (none: the cluster is
  detected, as on Cloud TPU and SLURM/Kubernetes)."""
  explicit = (coordinator_address, num_processes, process_id)
  if any(v is not None for v in explicit) and None in explicit:
    raise BadInputError("--coordinator_address, --num_processes and --process_id go together")


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Joins the multi-process JAX job (jax.distributed.initialize), before any other JAX
  call of this process; blocks until every process has joined."""
  check_args(coordinator_address, num_processes, process_id)
  import jax  # pylint: disable=g-import-not-at-top
  jax.distributed.initialize(coordinator_address, num_processes, process_id)


def free_port() -> int:
  """A TCP port on localhost that nothing listens on now (for a job's coordinator)."""
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def share_trials(trial_ids: list[str], claimed: list[str]) -> None:
  """Process 0: tells the others which of the job's `trial_ids` it claimed (maybe none).
  Every process of the job must call this or `shared_trials` for each job, in turn."""
  _broadcast([int(t in claimed) for t in trial_ids])


def shared_trials(trial_ids: list[str]) -> list[str]:
  """Any other process: the trials of the job that process 0 claimed (see share_trials)."""
  mask = _broadcast([0] * len(trial_ids))
  return [t for t, m in zip(trial_ids, mask) if m]


def _broadcast(values: list[int]) -> list[int]:
  """Process 0's `values` in every process (a collective: all must call it)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  out = multihost_utils.broadcast_one_to_all(np.asarray(values, np.int32))
  return [int(v) for v in np.asarray(out)]
