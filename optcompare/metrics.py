"""Trial metric logs: an append-only JSONL file, TensorBoard event files and log lines.

metrics.jsonl holds one JSON object per line, `{"step", "split", <metric>..., "wall_time_s"}`.
After a preemption the process may have written lines past its newest checkpoint; on resume
those lines describe a trajectory that is about to be recomputed, so `MetricsLog.resume(step)`
cuts the file back to the checkpoint (one `truncate`, and a torn last line goes too). The
recomputed lines are then appended: one line per (step, split), as in an uninterrupted run.
A line that is not a metrics record (damage on disk, not a torn last line) is dropped: the
file as it was is set aside (`metrics.jsonl.corrupt`, reported) and the good lines kept.
Train lines carry, beside the running means, the last step's learning rate and norms
(optcompare.train). The trial's hyperparameters and status go to TensorBoard only, for its
HParams dashboard (`write_hparams`, `end_session`; optcompare.hparams_board).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys

from absl import logging

from optcompare import errors
from optcompare import event_writer
from optcompare import studydir


def _jsonable(value):
  value = float(value)
  return value if math.isfinite(value) else None  # strict JSON has no NaN/inf: null


def _record(raw: bytes) -> dict | None:
  """A metrics line as a dict with an integer step and a split, else None."""
  try:
    record = json.loads(raw)
  except (ValueError, UnicodeDecodeError):
    return None
  if (not isinstance(record, dict) or isinstance(record.get("step"), bool)
      or not isinstance(record.get("step"), int) or not isinstance(record.get("split"), str)):
    return None
  return record


@contextlib.contextmanager
def _disk_full_named(path: str):
  """A full disk met in the block as DiskFullError naming `path`'s file system."""
  try:
    yield
  except OSError as e:
    if errors.is_disk_full(e):
      raise errors.disk_full(path) from None
    raise


class MetricsLog:
  """Appends metric lines to `<workdir>/metrics.jsonl`, mirrored to TensorBoard and the log.

  TensorBoard events go through `event_writer` (CLU's MetricWriter methods, no TensorFlow).
  """

  def __init__(self, workdir: str, *, tensorboard: bool = True, lead: bool = True):
    """`lead=False` (every process but the first of a multi-host job) reads, never writes."""
    self.path = os.path.join(workdir, studydir.METRICS)
    self.lead = lead
    self.writer = (event_writer.EventFileWriter(os.path.join(workdir, studydir.TENSORBOARD))
                   if tensorboard and lead else None)
    self._file = None

  def resume(self, step: int) -> tuple[float, list[dict]]:
    """Drops lines after `step` (and a torn last line); returns (last wall time, kept lines)."""
    keep_bytes, wall_time, records, kept, damaged = 0, 0.0, [], [], []
    if os.path.exists(self.path):
      with open(self.path, "rb") as f:
        for number, raw in enumerate(f, start=1):
          if not raw.endswith(b"\n"):
            break  # torn write from a kill mid-line
          record = _record(raw)
          if record is None:
            damaged.append(number)
            continue
          if record["step"] > step:
            break
          keep_bytes += len(raw)
          kept.append(raw)
          records.append(record)
          wall_time = record.get("wall_time_s", wall_time)
      if self.lead and damaged:
        moved = studydir.set_aside(self.path)
        logging.warning("%s: lines %s are not metrics records; dropped (the file as it was is "
                        "%s)", self.path, ", ".join(map(str, damaged)), os.path.basename(moved))
        with open(self.path, "wb") as f:
          f.writelines(kept)
      elif self.lead:
        os.truncate(self.path, keep_bytes)
    if self.lead:
      self._file = open(self.path, "a", encoding="utf-8")
    return wall_time, records

  def write(self, step: int, split: str, metrics: dict, wall_time_s: float) -> None:
    if not self.lead:
      return
    record = {"step": int(step), "split": split}
    record.update({k: _jsonable(v) for k, v in sorted(metrics.items())})
    record["wall_time_s"] = round(float(wall_time_s), 3)
    with _disk_full_named(self.path):  # (a torn last line is dropped on resume)
      self._file.write(json.dumps(record) + "\n")
      self._file.flush()
    logging.info("step %d %s: %s", step, split,
                 ", ".join(f"{k}={v:.6g}" for k, v in sorted(metrics.items())))
    if self.writer is not None:
      with _disk_full_named(self.writer.path):
        self.writer.write_scalars(step, {f"{split}/{k}": v for k, v in metrics.items()})

  def write_hparams(self, hparams: dict) -> None:
    """The trial's hyperparameters: the HParams dashboard's session start (TensorBoard)."""
    if self.writer is not None:
      with _disk_full_named(self.writer.path):
        self.writer.write_hparams(hparams)

  def end_session(self, status: str) -> None:
    """The trial's status word at its end: the HParams dashboard's session end."""
    if self.writer is not None:
      with _disk_full_named(self.writer.path):
        self.writer.write_session_end(status)

  def close(self) -> None:
    """Closes the files, each also when the other's close fails (a file left open is
    flushed again when collected, at exit, and prints that failure after the command's error
    line). A full disk is DiskFullError naming the file system, unless an error is already
    on its way up (this runs in `finally` blocks): that one is reported."""
    unwinding = sys.exc_info()[1] is not None
    failed = []  # (path, OSError): data past a failed flush is a torn line, dropped on resume
    for file, path in ((self._file, self.path), (self.writer, self.writer and self.writer.path)):
      try:
        if file is not None:
          file.close()  # (closed even when its flush fails: TextIOWrapper, EventFileWriter)
      except OSError as e:
        failed.append((path, e))
    self._file = None
    for path, e in failed:
      if not errors.is_disk_full(e):
        raise e
    if failed and not unwinding:
      raise errors.disk_full(failed[0][0]) from None
