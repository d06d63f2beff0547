"""End-to-end tests of one trial: files, multi-device equality, divergence, kill and resume."""
import json
import os
import signal
import subprocess
import time

import pytest

from optcompare import train
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
  assert all(set(r) == {"step", "split", "loss", "error"} for r in lines)
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
          "--config.optimizer.schedule.decay_steps_fraction=1.0"]
  run_optcompare(*args, f"--workdir={tmp_path / 'one'}", num_devices=1)
  run_optcompare(*args, f"--workdir={tmp_path / 'eight'}", num_devices=8)
  one, eight = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "eight")
  assert [(r["step"], r["split"]) for r in one] == [(r["step"], r["split"]) for r in eight]
  for a, b in zip(one, eight):
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
  args = ["train", f"--config={SMOKE}", "--config.num_train_steps=60",
          "--config.checkpoint_every_steps=10", "--config.eval_every_steps=15",
          "--config.log_every_steps=4"]
  run_optcompare(*args, f"--workdir={tmp_path / 'whole'}")
  workdir = tmp_path / "killed"
  proc = subprocess.Popen(optcompare_cmd(*args, f"--workdir={workdir}"), cwd=REPO,
                          env=optcompare_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  deadline = time.time() + 120
  while not os.path.exists(workdir / "checkpoints" / "30") and time.time() < deadline:
    time.sleep(0.05)
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  assert not os.path.exists(workdir / "result.json"), "killed too late to test a resume"
  run_optcompare(*args, f"--workdir={workdir}")
  assert read_metrics(workdir) == read_metrics(tmp_path / "whole")
  assert read_result(workdir) == read_result(tmp_path / "whole")
  # The training-set evaluation resumes bit for bit too (it is in both comparisons above).
  assert [r["step"] for r in read_metrics(workdir) if r["split"] == "train_eval"] == [15, 30,
                                                                                      45, 60]
  assert "train_eval" in read_result(workdir)["final"]


def test_relative_workdir_checkpoints(smoke_config, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  result = train.train_and_evaluate(smoke_config, "trial")
  assert result["status"] == "completed"
  assert sorted(os.listdir(tmp_path / "trial" / "checkpoints")) == ["10", "20"]
