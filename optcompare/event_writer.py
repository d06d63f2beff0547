"""A TensorBoard event-file writer with CLU's `MetricWriter` methods, without TensorFlow.

CLU's `metric_writers` package imports TensorFlow on import (its SummaryWriter), which costs a
trial process about 10 s of start-up and seconds of teardown. Event files are TFRecord files
of `Event` protocol buffers; TensorBoard's own record writer and protos write them without TF.
The methods are CLU's (`write_scalars`, `write_hparams`, `flush`, `close`), so a CLU writer can
stand in wherever TF is loaded anyway; `write_session_end` and `write_summary` are this
module's. Hyperparameters go to TensorBoard's HParams dashboard as that plugin's protos
(`tensorboard.plugins.hparams`: its pure-proto helpers, which import no TF either); what a
study's dashboard holds is described in `optcompare.hparams_board`.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import socket
import time
from typing import Any, Mapping

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.summary.writer.record_writer import RecordWriter

_serial = itertools.count()

# A trial's status word (optcompare.studydir) -> the HParams plugin's session status.
SESSION_STATUS = {"completed": api_pb2.STATUS_SUCCESS, "diverged": api_pb2.STATUS_FAILURE,
                  "failed": api_pb2.STATUS_FAILURE}


def hparams_plugin_summary(tag: str, data: plugin_data_pb2.HParamsPluginData
                           ) -> summary_pb2.Summary:
  """A summary holding HParams plugin data under `tag` (metadata.EXPERIMENT_TAG, ...), as
  the plugin's own summary functions write it: the data in the metadata, an empty tensor."""
  value = summary_pb2.Summary.Value(tag=tag, tensor=hparams_metadata.NULL_TENSOR,
                                    metadata=hparams_metadata.create_summary_metadata(data))
  return summary_pb2.Summary(value=[value])


class EventFileWriter:
  """Writes scalars and hparams to one new event file under `logdir` (named `filename`, by
  default a new TensorBoard event-file name)."""

  def __init__(self, logdir: str, filename: str | None = None):
    os.makedirs(logdir, exist_ok=True)
    name = filename or (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
                        f"{os.getpid()}.{next(_serial)}.v2")
    self.path = os.path.join(logdir, name)
    self._file = open(self.path, "wb")  # pylint: disable=consider-using-with
    self._records = RecordWriter(self._file)
    self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

  def _write(self, event: event_pb2.Event) -> None:
    self._records.write(event.SerializeToString())

  def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
    values = [summary_pb2.Summary.Value(tag=k, simple_value=float(v))
              for k, v in sorted(scalars.items())]
    self._write(event_pb2.Event(wall_time=time.time(), step=int(step),
                                summary=summary_pb2.Summary(value=values)))

  def write_summary(self, step: int, summary: summary_pb2.Summary) -> None:
    self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

  def write_hparams(self, hparams: Mapping[str, Any]) -> None:
    """The hyperparameters (str, bool, int or float values) at step 0: as the HParams plugin's
    session start (this event file's run is one session of the HParams dashboard, its group
    named by a hash of the values, as `hparams_pb` does), and as one text summary (the Text
    tab)."""
    self.write_summary(0, hparams_summary.hparams_pb(dict(hparams)))
    text = "\n".join(f"{k}: {v}" for k, v in sorted(hparams.items()))
    tensor = tensor_pb2.TensorProto(dtype=7, string_val=[text.encode()])  # 7 = DT_STRING
    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    value = summary_pb2.Summary.Value(tag="hparams", tensor=tensor, metadata=meta)
    self.write_summary(0, summary_pb2.Summary(value=[value]))

  def write_session_end(self, status: str) -> None:
    """The HParams plugin's session end: the trial's status word (SESSION_STATUS)."""
    end = plugin_data_pb2.SessionEndInfo(
        status=SESSION_STATUS.get(status, api_pb2.STATUS_UNKNOWN), end_time_secs=time.time())
    self.write_summary(0, hparams_plugin_summary(
        hparams_metadata.SESSION_END_INFO_TAG,
        plugin_data_pb2.HParamsPluginData(session_end_info=end)))

  def flush(self) -> None:
    self._file.flush()

  def close(self) -> None:
    """Flushes and closes the file; closed also when the flush fails (a full disk), whose
    OSError is raised. (Left open, the file would be flushed again when Python collects the
    writer, at exit say, and print that failure after the command's error line.)"""
    if self._file.closed:
      return
    try:
      self._file.flush()
    except OSError:
      with contextlib.suppress(OSError):  # (close flushes again, fails again, but closes)
        self._file.close()
      raise
    self._file.close()
