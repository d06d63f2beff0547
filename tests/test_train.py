"""End-to-end tests of one trial: files, multi-device equality, divergence, kill and resume."""
import json
import os
import signal
import subprocess
import time

import pytest

from optcompare import train, update
from tests.conftest import SMOKE, optcompare_cmd, optcompare_env, run_optcompare, REPO


def read_metrics(workdir, drop_wall_time=True):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    lines = [json.loads(line) for line in f]
  if drop_wall_time:
    for line in lines:
      line.pop("wall_time_s")
  return lines


def read_result(workdir, drop_wall_time=True):
  with open(os.path.join(workdir, "result.json")) as f:
    result = json.load(f)
  if drop_wall_time:
    result.pop("wall_time_s")
  return result


def test_smoke_trial_writes_the_trial_directory(smoke_config, tmp_path):
  result = train.train_and_evaluate(smoke_config, str(tmp_path))
  assert result["status"] == "completed" and result["steps"] == 20 and result["error"] is None
  assert sorted(os.listdir(tmp_path)) == ["checkpoints", "config.json", "metrics.jsonl",
                                          "result.json", "tensorboard"]
  lines = read_metrics(tmp_path)
  keys = [(r["step"], r["split"]) for r in lines]
  assert len(keys) == len(set(keys))
  assert [k for k in keys if k[1] == "train"] == [(s, "train") for s in (5, 10, 15, 20)]
  assert [k for k in keys if k[1] != "train"] == [
      (10, "validation"), (10, "train_eval"), (10, "test"),
      (20, "validation"), (20, "train_eval"), (20, "test")]
  assert all(set(r) == {"step", "split", "loss", "error"} for r in lines if r["split"] != "train")
  assert all(set(r) == {"step", "split", "loss", "error", *update.STEP_STATS}
             for r in lines if r["split"] == "train")
  assert result["final"]["validation"] == {k: lines[-3][k] for k in ("loss", "error")}
  assert result["final"]["train_eval"] == {k: lines[-2][k] for k in ("loss", "error")}
  assert read_result(tmp_path) == {k: v for k, v in result.items() if k != "wall_time_s"}
  with open(os.path.join(tmp_path, "config.json")) as f:
    assert json.load(f)["optimizer"]["name"] == "adam"
  # The training data are learnable: loss goes down on the synthetic set.
  train_losses = [r["loss"] for r in lines if r["split"] == "train"]
  assert train_losses[-1] < train_losses[0]


def test_test_split_every_n_steps_and_no_train_eval(smoke_config, tmp_path):
  """test_every_steps thins out the test evaluations (the last step keeps one);
  num_train_eval_examples=0 turns the training-set evaluation off."""
  smoke_config.num_train_steps, smoke_config.eval_every_steps = 30, 10
  smoke_config.test_every_steps = 20
  smoke_config.dataset.num_train_eval_examples = 0
  result = train.train_and_evaluate(smoke_config, str(tmp_path))
  keys = [(r["step"], r["split"]) for r in read_metrics(tmp_path) if r["split"] != "train"]
  assert keys == [(10, "validation"), (20, "validation"), (20, "test"), (30, "validation"),
                  (30, "test")]
  assert sorted(result["final"]) == ["test", "validation"]


def test_train_eval_subset_is_fixed_and_seeded():
  from optcompare.data import train_eval  # pylint: disable=g-import-not-at-top
  a, b = train_eval.indices(1000, 100), train_eval.indices(1000, 100)
  assert (a == b).all() and len(set(a)) == 100 and (a == sorted(a)).all()
  assert not (a == range(100)).all()  # a random subset, not the first examples


def test_finished_trial_is_not_rerun(smoke_config, tmp_path):
  train.train_and_evaluate(smoke_config, str(tmp_path))
  before = os.path.getmtime(tmp_path / "metrics.jsonl"), (tmp_path / "result.json").read_text()
  assert train.train_and_evaluate(smoke_config, str(tmp_path))["status"] == "completed"
  assert before == (os.path.getmtime(tmp_path / "metrics.jsonl"),
                    (tmp_path / "result.json").read_text())


def test_workdir_of_another_config_is_rejected(smoke_config, tmp_path):
  train.train_and_evaluate(smoke_config, str(tmp_path))
  (tmp_path / "result.json").unlink()
  smoke_config.unlock()
  smoke_config.seed = 7
  with pytest.raises(ValueError, match="config.json"):
    train.train_and_evaluate(smoke_config, str(tmp_path))


def test_huge_learning_rate_diverges(smoke_config, tmp_path):
  smoke_config.optimizer.name = "sgd"
  for name in ("beta1", "beta2", "epsilon"):
    smoke_config.optimizer.hparams[name] = None
  smoke_config.optimizer.hparams.learning_rate = 1e12
  result = train.train_and_evaluate(smoke_config, str(tmp_path))
  assert result["status"] == "diverged"
  assert 1 <= result["steps"] < 20
  assert not os.path.exists(tmp_path / "checkpoints" / "20")


def test_eight_devices_match_one_device(tmp_path):
  args = ["train", f"--config={SMOKE}", "--config.optimizer.schedule.name=linear_decay",
          "--config.optimizer.schedule.decay_factor=0.1",
          "--config.optimizer.schedule.decay_steps_fraction=1.0",
          "--config.num_train_steps=4", "--config.eval_every_steps=2",
          "--config.log_every_steps=2", "--config.checkpoint_every_steps=4"]
  run_optcompare(*args, f"--workdir={tmp_path / 'one'}", num_devices=1)
  run_optcompare(*args, f"--workdir={tmp_path / 'eight'}", num_devices=8)
  one, eight = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "eight")
  assert [(r["step"], r["split"]) for r in one] == [(r["step"], r["split"]) for r in eight]
  for a, b in zip(one, eight):
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("steps_per_dispatch", [1, 100], ids=["step", "scan"])
def test_kill_and_resume_matches_uninterrupted_run(smoke_config, steps_per_dispatch, tmp_path):
  """SIGKILL after checkpoint 20, rerun: the same metrics and result, bit for bit, both one
  step per dispatch and as scans up to each boundary (which then start at the checkpoint)."""
  fields = {"num_train_steps": 40, "checkpoint_every_steps": 10, "eval_every_steps": 10,
            "log_every_steps": 4, "steps_per_dispatch": steps_per_dispatch}
  c = smoke_config.copy_and_resolve_references()
  c.update(fields)
  train.train_and_evaluate(c, str(tmp_path / "whole"))
  workdir = tmp_path / "killed"
  args = ["train", f"--config={SMOKE}", f"--workdir={workdir}",
          *(f"--config.{k}={v}" for k, v in fields.items())]
  proc = subprocess.Popen(optcompare_cmd(*args), cwd=REPO, env=optcompare_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
  deadline = time.time() + 120
  while not os.path.exists(workdir / "checkpoints" / "20") and time.time() < deadline:
    time.sleep(0.02)
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  assert not os.path.exists(workdir / "result.json"), "killed too late to test a resume"
  train.train_and_evaluate(c, str(workdir))
  assert read_metrics(workdir) == read_metrics(tmp_path / "whole")
  assert read_result(workdir) == read_result(tmp_path / "whole")
  # The training-set evaluation resumes bit for bit too (it is in both comparisons above).
  assert [r["step"] for r in read_metrics(workdir) if r["split"] == "train_eval"] == [
      10, 20, 30, 40]
  assert "train_eval" in read_result(workdir)["final"]


def test_relative_workdir_checkpoints(smoke_config, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  result = train.train_and_evaluate(smoke_config, "trial")
  assert result["status"] == "completed"
  assert sorted(os.listdir(tmp_path / "trial" / "checkpoints")) == ["10", "20"]


def test_train_lines_carry_the_learning_rate_and_norms(smoke_config, tmp_path):
  """A train line at step s carries η_{s−1}, the schedule's value at the update that made
  step s (bit for bit in float32), and the global norms of that update's gradient, update and
  new parameters; for SGD the update is η g, so update_norm = η · grad_norm. TensorBoard's
  train/* scalars hold the same values."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top
  c = smoke_config
  c.optimizer.name = "sgd"
  for name in ("beta1", "beta2", "epsilon"):
    c.optimizer.hparams[name] = None
  c.optimizer.hparams.learning_rate = 0.05
  c.optimizer.schedule.name = "linear_decay"
  c.optimizer.schedule.decay_factor = 0.1
  c.optimizer.schedule.decay_steps = 12
  c.log_every_steps = 3  # train lines at 3, 6, ..., 18, 20: on the decay and past its end
  result = train.train_and_evaluate(c, str(tmp_path))
  assert result["status"] == "completed"
  lines = [r for r in read_metrics(tmp_path) if r["split"] == "train"]
  assert [r["step"] for r in lines] == [3, 6, 9, 12, 15, 18, 20]

  schedule = optimizers.settings_from_config(c.optimizer, c.num_train_steps)["learning_rate"]
  schedule = update.traced_values(schedule)  # float32 leaves, as in the optimizer state
  at = jax.jit(lambda sched, t: sched(t))
  for r in lines:
    s = r["step"]
    assert r["learning_rate"] == float(np.float32(at(schedule, np.int32(s - 1)))), s
    # η_{s−1} = η0 (1 − (1 − λ) min(s−1, T)/T), not η_s (they differ by 3.75% per step)
    assert r["learning_rate"] == pytest.approx(0.05 * (1 - 0.9 * min(s - 1, 12) / 12),
                                               rel=1e-6)
    for key in ("grad_norm", "update_norm", "param_norm"):
      assert np.isfinite(r[key]) and r[key] > 0, (s, key)
    assert r["update_norm"] == pytest.approx(r["learning_rate"] * r["grad_norm"], rel=1e-5)
  assert lines[-1]["learning_rate"] == pytest.approx(0.005, rel=1e-6)  # λ η0 after T steps

  acc = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
  acc.Reload()
  for key in update.STEP_STATS:
    assert [(e.step, e.value) for e in acc.Scalars(f"train/{key}")] == [
        (r["step"], pytest.approx(r[key], rel=1e-7)) for r in lines], key
