"""Orbax behind one small interface, so Orbax's API churn stays in this file.

A checkpoint is the whole train state pytree at a step. Orbax writes each checkpoint to a
temporary directory and renames it when complete, so a process killed mid-save leaves the
previous checkpoint as the newest valid one.
"""
from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Saves and restores train-state pytrees under `directory`, keeping the newest few."""

  def __init__(self, directory: str, *, max_to_keep: int = 2, async_save: bool = True):
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           enable_async_checkpointing=async_save)
    if "://" not in directory:  # Orbax's OCDBT store refuses relative local paths
      directory = os.path.abspath(directory)
    self._manager = ocp.CheckpointManager(directory, options=options)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    """Starts saving `state`; returns once device buffers are copied (they may be donated)."""
    self._manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, step: int, like: Any) -> Any:
    """Restores the checkpoint at `step` with the structure, dtypes and shardings of `like`."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

  def close(self) -> None:
    """Waits for pending saves, then releases the manager."""
    self._manager.wait_until_finished()
    self._manager.close()
