"""A TensorBoard event-file writer with CLU's `MetricWriter` methods, without TensorFlow.

CLU's `metric_writers` package imports TensorFlow on import (its SummaryWriter), which costs a
trial process about 10 s of start-up and seconds of teardown. Event files are TFRecord files
of `Event` protocol buffers; TensorBoard's own record writer and protos write them without TF.
The methods are CLU's (`write_scalars`, `write_hparams`, `flush`, `close`), so a CLU writer can
stand in wherever TF is loaded anyway.
"""
from __future__ import annotations

import itertools
import os
import socket
import time
from typing import Any, Mapping

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

_serial = itertools.count()


class EventFileWriter:
  """Writes scalars (and hparams as text) to one new event file under `logdir`."""

  def __init__(self, logdir: str):
    os.makedirs(logdir, exist_ok=True)
    name = (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_serial)}.v2")
    self._file = open(os.path.join(logdir, name), "wb")  # pylint: disable=consider-using-with
    self._records = RecordWriter(self._file)
    self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

  def _write(self, event: event_pb2.Event) -> None:
    self._records.write(event.SerializeToString())

  def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
    values = [summary_pb2.Summary.Value(tag=k, simple_value=float(v))
              for k, v in sorted(scalars.items())]
    self._write(event_pb2.Event(wall_time=time.time(), step=int(step),
                                summary=summary_pb2.Summary(value=values)))

  def write_hparams(self, hparams: Mapping[str, Any]) -> None:
    """The hyperparameters as one text summary at step 0 (readable in TensorBoard's Text tab)."""
    text = "\n".join(f"{k}: {v}" for k, v in sorted(hparams.items()))
    tensor = tensor_pb2.TensorProto(dtype=7, string_val=[text.encode()])  # 7 = DT_STRING
    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    value = summary_pb2.Summary.Value(tag="hparams", tensor=tensor, metadata=meta)
    self._write(event_pb2.Event(wall_time=time.time(), step=0,
                                summary=summary_pb2.Summary(value=[value])))

  def flush(self) -> None:
    self._file.flush()

  def close(self) -> None:
    if not self._file.closed:
      self._file.flush()
      self._file.close()
