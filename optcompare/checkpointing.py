"""Orbax behind one small interface, so Orbax's API churn stays in this file.

A checkpoint is the whole train state pytree at a step. Orbax writes each checkpoint to a
temporary directory and renames it when complete, so a process killed mid-save leaves the
previous checkpoint as the newest valid one. A checkpoint damaged afterwards (a truncated or
missing file, garbage metadata, an emptied directory) is not trusted either: `restore_newest`
tries the checkpoints newest first, sets each one that fails aside (`<step>.corrupt`, which
Orbax ignores) with a warning naming it and why, and falls back to the next; with none left the
trial starts again from step 0.

A restore or a save that fails on one array leaves TensorStore's reads or writes of the
others in flight: Orbax runs each operation in an event loop of its own (`run_sync`: a fresh
loop in the calling thread, closed when the coroutine ends, its pending tasks left as they
are), and `asyncio.gather` ends at the first error. When such a read or write completes,
TensorStore's thread calls the closed loop's `call_soon_threadsafe`, gets "Event loop is
closed", and reports it through `sys.unraisablehook`: a bare traceback on stderr, dozens per
failure. A restore's loop is the caller's; a background save's is made by Orbax's commit
thread (`array_type_handler`) after `save` returned, when no event loop policy scoped around
a call is in force (and a process-wide policy changes every later command's loops). So this
module's unraisable hook drops exactly those reports (`_is_late_tensorstore_wakeup`), from
whichever loop and whenever they come, and passes every other one on: nobody awaits that
read or write any more, and the operation's error is the one already raised. So too the
report of such a read's coroutine when the garbage collector closes it
(`_is_abandoned_orbax_coroutine`).

A save that fails for want of space fails in Orbax's background threads, which log it with
its traceback (three or four times) before `save` or `close` re-raise it; its writes that
failed after the first one (a failed restore's reads alike) are logged by asyncio when the
garbage collector meets them, possibly during a later command of the process. Those records
are dropped (`_drop_orbax_leftovers`), the manager's threads are stopped, the partial
`*.orbax-checkpoint-tmp` directory removed, and one DiskFullError raised naming the file
system and the checkpoint's size; the checkpoints already saved stay.
"""
from __future__ import annotations

import contextlib
import logging as py_logging
import os
import shutil
import sys
import traceback
from typing import Any

from absl import logging
import jax
import orbax.checkpoint as ocp
import tensorstore as ts

from optcompare import errors

TMP_SUFFIX = ".orbax-checkpoint-tmp"


def _from_orbax(record: py_logging.LogRecord) -> bool:
  """Whether Orbax logged `record`, or asyncio did for an exception raised in Orbax."""
  tb = record.exc_info[2] if record.exc_info else None
  return "/orbax/" in record.pathname or any(
      "/orbax/" in frame.f_code.co_filename for frame, _ in traceback.walk_tb(tb))


def _is_disk_full_copy(record: py_logging.LogRecord) -> bool:
  """Whether `record` is Orbax's logged copy of a disk-full failure (re-raised to the
  caller), or asyncio's of a write that failed with it after the first."""
  exc = record.exc_info[1] if record.exc_info else None
  return _from_orbax(record) and (errors.is_disk_full(exc) or errors.is_disk_full(
      Exception(record.getMessage())))


# The checkpoint directories in which a restore or a save failed in this process (the failure
# was reported): what asyncio says later of that operation's abandoned reads and writes names
# them. (Module state: the records come from the garbage collector, at any later moment.)
_FAILED_UNDER: set[str] = set()


def _is_abandoned_by_a_failure(record: py_logging.LogRecord) -> bool:
  """Whether `record` is asyncio's "... exception was never retrieved" of a read or write
  left behind by an Orbax operation that failed under one of `_FAILED_UNDER`."""
  text = record.getMessage()
  if "exception was never retrieved" not in text:
    return False
  error = record.exc_info[1] if record.exc_info else None
  while error is not None:  # (its cause names the file when its own message does not)
    text, error = text + str(error), error.__cause__
  return any(directory in text for directory in _FAILED_UNDER)


def _drop_orbax_leftovers(record: py_logging.LogRecord) -> bool:
  """False for the records of a failed Orbax operation that come after its error."""
  return record.levelno < py_logging.ERROR or not (
      _is_disk_full_copy(record) or _is_abandoned_by_a_failure(record))


# absl: Orbax's save threads log the failure. asyncio: the reads and writes that failed after
# the first one (nobody awaits them: see the module docstring) are "Task (or Future)
# exception was never retrieved" records, logged whenever the garbage collector meets them,
# in any thread, possibly during a later command of the same process.
py_logging.getLogger("absl").addFilter(_drop_orbax_leftovers)
py_logging.getLogger("asyncio").addFilter(_drop_orbax_leftovers)


def _is_late_tensorstore_wakeup(unraisable, future_type=ts.Future) -> bool:
  """Whether an unraisable error is TensorStore waking the closed event loop of an abandoned
  Orbax read or write (see the module docstring). `future_type` is bound here, not looked up
  when called: the report may come while the interpreter shuts down and clears modules."""
  if not (isinstance(unraisable.exc_value, RuntimeError)
          and str(unraisable.exc_value) == "Event loop is closed"):
    return False
  tb = unraisable.exc_traceback
  while tb is not None:
    if tb.tb_frame.f_code.co_name == "call_soon_threadsafe":
      loop, args = tb.tb_frame.f_locals.get("self"), tb.tb_frame.f_locals.get("args", ())
      return (hasattr(loop, "is_closed") and loop.is_closed()
              and any(isinstance(arg, future_type) for arg in args))
    tb = tb.tb_next
  return False


def _is_abandoned_orbax_coroutine(unraisable) -> bool:
  """Whether an unraisable error is an Orbax coroutine left pending in a closed loop, closed
  by the garbage collector: Orbax's `except BaseException` around a read turns the
  GeneratorExit thrown in by `close` into an error of its own, which nobody can catch."""
  code = getattr(unraisable.object, "cr_code", None)
  return (code is not None and "/orbax/" in code.co_filename
          and isinstance(getattr(unraisable.exc_value, "__cause__", None), GeneratorExit))


def without_abandoned_work(previous, predicates=(_is_late_tensorstore_wakeup,
                                                  _is_abandoned_orbax_coroutine)):
  """`previous` (the unraisable hook in use) less what an abandoned Orbax read or write
  reports after its operation failed (see the module docstring)."""

  def hook(unraisable) -> None:
    if not any(predicate(unraisable) for predicate in predicates):
      previous(unraisable)

  return hook


sys.unraisablehook = without_abandoned_work(sys.unraisablehook)


def _reason(error: BaseException) -> str:
  """Why a restore failed, in a few words: the innermost cause's first line (TensorStore's
  outer messages only point to the inner one)."""
  while (error.__cause__ or error.__context__) is not None:
    error = error.__cause__ or error.__context__
  text = str(error).strip()
  text = text.splitlines()[0] if text else type(error).__name__
  text = text.split(" See full TensorStore details")[0]
  return text if len(text) <= 200 else text[:200] + "..."


def _report_damaged(directory: str, damaged, instead: str) -> None:
  for step, reason, moved in damaged:
    logging.warning("checkpoint %s/%d does not restore (%s); set aside as %s, %s", directory,
                    step, reason, os.path.basename(moved), instead)


class Checkpointer:
  """Saves and restores train-state pytrees under `directory`, keeping the newest few."""

  def __init__(self, directory: str, *, max_to_keep: int = 2, async_save: bool = True):
    if "://" not in directory:  # Orbax's OCDBT store refuses relative local paths
      directory = os.path.abspath(directory)
    self.directory = directory
    self._options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                                 enable_async_checkpointing=async_save)
    self._manager = ocp.CheckpointManager(directory, options=self._options)
    self._state_bytes = 0
    self._disk_full: errors.DiskFullError | None = None  # a save's, once reported

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    """Starts saving `state`; returns once device buffers are copied (they may be donated).
    DiskFullError if this save, or the previous one still running, found no space."""
    self._state_bytes = sum(getattr(x, "nbytes", 0) for x in jax.tree.leaves(state))
    try:
      self._manager.save(step, args=ocp.args.StandardSave(state))
    except Exception as e:  # pylint: disable=broad-except  (Orbax re-raises its threads')
      if not errors.is_disk_full(e):
        raise
      self._disk_full = self._disk_full or self._disk_full_error()
      raise self._disk_full from None

  def restore(self, step: int, like: Any) -> Any:
    """Restores the checkpoint at `step` with the structure, dtypes and shardings of `like`."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    try:
      return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except Exception:  # pylint: disable=broad-except  (noted, and re-raised)
      _FAILED_UNDER.add(self.directory)  # (its abandoned reads: see _is_abandoned_by_a_failure)
      raise

  def restore_newest(self, like: Any) -> tuple[int, Any]:
    """(step, state) of the newest checkpoint that restores; (0, like) when none does.

    Damaged checkpoints are set aside, each reported in one line naming it, why, and what
    was used instead (see the module docstring).
    """
    damaged = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self.restore(step, like)
      except Exception as e:  # pylint: disable=broad-except  (any damage: tensorstore, JSON, IO)
        damaged.append((step, _reason(e), self._set_aside(step)))
        continue
      _report_damaged(self.directory, damaged, f"resuming from checkpoint {step}")
      return step, state
    _report_damaged(self.directory, damaged, "no older one restores: the trial starts again "
                    "from step 0")
    return 0, like

  def _set_aside(self, step: int) -> str:
    """Renames the step's directory out of Orbax's sight; starts a fresh manager (one that
    has seen a damaged step may have drawn conclusions from it about the layout)."""
    source = os.path.join(self.directory, str(step))
    target, n = f"{source}.corrupt", 1
    while os.path.exists(target):
      target, n = f"{source}.corrupt.{n}", n + 1
    if os.path.exists(source):
      os.replace(source, target)
    self._manager.close()
    self._manager = ocp.CheckpointManager(self.directory, options=self._options)
    return target

  def close(self) -> None:
    """Waits for pending saves, then releases the manager and its threads (also when a save
    failed). DiskFullError if a save found no space (once: not again after `save` said so)."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      if not errors.is_disk_full(e):
        with contextlib.suppress(Exception):  # (the save's error is the one to report)
          self._manager.close()
        raise
      reported, self._disk_full = self._disk_full, self._disk_full or self._disk_full_error()
    else:
      reported = self._disk_full
    with contextlib.suppress(Exception) if self._disk_full else contextlib.nullcontext():
      self._manager.close()
    if self._disk_full:
      self._remove_partial_saves()
      if reported is None:
        raise self._disk_full from None

  def _disk_full_error(self) -> errors.DiskFullError:
    _FAILED_UNDER.add(self.directory)  # (its abandoned writes: see _is_abandoned_by_a_failure)
    return errors.disk_full(self.directory, self._state_bytes,
                            f"a checkpoint under {self.directory}")

  def _remove_partial_saves(self) -> None:
    """Removes what the failed save left (Orbax would skip it, but it holds space)."""
    with contextlib.suppress(OSError):
      for name in os.listdir(self.directory):
        if TMP_SUFFIX in name:
          shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
