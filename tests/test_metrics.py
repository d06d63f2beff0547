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


def test_write_json_atomic_leaves_no_temporary_file(tmp_path):
  metrics.write_json_atomic(str(tmp_path / "r.json"), {"a": 1})
  assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
  assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
