"""Trial metric logs: an append-only JSONL file plus CLU writers (TensorBoard + logging).

metrics.jsonl holds one JSON object per line, `{"step", "split", <metric>..., "wall_time_s"}`.
After a preemption the process may have written lines past its newest checkpoint; on resume
those lines describe a trajectory that is about to be recomputed, so `MetricsLog.resume(step)`
cuts the file back to the checkpoint (one `truncate`, and a torn last line goes too). The
recomputed lines are then appended: one line per (step, split), as in an uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os

from clu import metric_writers


def _jsonable(value):
  value = float(value)
  return value if math.isfinite(value) else None  # strict JSON has no NaN/inf: null


class MetricsLog:
  """Appends metric lines to `<workdir>/metrics.jsonl` and mirrors them to CLU writers."""

  def __init__(self, workdir: str, *, tensorboard: bool = True, lead: bool = True):
    """`lead=False` (every process but the first of a multi-host job) reads, never writes."""
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.lead = lead
    self.writer = metric_writers.create_default_writer(
        os.path.join(workdir, "tensorboard") if tensorboard and lead else None,
        just_logging=not (tensorboard and lead), asynchronous=False)
    self._file = None

  def resume(self, step: int) -> tuple[float, list[dict]]:
    """Drops lines after `step` (and a torn last line); returns (last wall time, kept lines)."""
    keep_bytes, wall_time, records = 0, 0.0, []
    if os.path.exists(self.path):
      with open(self.path, "rb") as f:
        for raw in f:
          if not raw.endswith(b"\n"):
            break  # torn write from a kill mid-line
          record = json.loads(raw)
          if record["step"] > step:
            break
          keep_bytes += len(raw)
          records.append(record)
          wall_time = record.get("wall_time_s", wall_time)
      if self.lead:
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
    self._file.write(json.dumps(record) + "\n")
    self._file.flush()
    self.writer.write_scalars(step, {f"{split}/{k}": v for k, v in metrics.items()})

  def close(self) -> None:
    if self._file is not None:
      self._file.close()
    self.writer.flush()
    self.writer.close()


def write_json_atomic(path: str, obj) -> None:
  """Writes `obj` as JSON to `path` via a temporary file and rename: never half-written."""
  tmp = f"{path}.tmp.{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(obj, f, indent=2, sort_keys=True)
    f.write("\n")
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
