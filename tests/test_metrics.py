"""MetricsLog: resume cuts the log back to the checkpoint, including a torn last line."""
import json

from optcompare import metrics


def _lines(path):
  return [json.loads(line) for line in path.read_text().splitlines()]


def test_resume_drops_lines_after_the_checkpoint_and_a_torn_line(tmp_path):
  path = tmp_path / "metrics.jsonl"
  rows = [{"step": s, "split": "train", "loss": 1.0 / s, "wall_time_s": float(s)}
          for s in (5, 10, 15)]
  path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 20, "spl')
  log = metrics.MetricsLog(str(tmp_path), tensorboard=False)
  wall, kept = log.resume(10)
  assert wall == 10.0 and kept == rows[:2]
  log.write(15, "train", {"loss": float("nan")}, 16.0)
  log.close()
  assert _lines(path) == rows[:2] + [{"step": 15, "split": "train", "loss": None,
                                      "wall_time_s": 16.0}]


def test_tensorboard_events_are_written_without_tensorflow(tmp_path):
  """The event file holds the scalars; TensorBoard's reader (TF-free) reads them back."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  log = metrics.MetricsLog(str(tmp_path))
  log.resume(0)
  log.write(10, "validation", {"error": 0.25, "loss": 0.5}, 1.0)
  log.close()
  acc = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
  acc.Reload()
  assert [(e.step, e.value) for e in acc.Scalars("validation/error")] == [(10, 0.25)]
