"""Two processes on localhost (CPU collectives) train like one process on the same global batch."""
import json
import os
import socket
import subprocess

import pytest

from optcompare import train
from tests.conftest import REPO, SMOKE, optcompare_cmd, optcompare_env


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [((r["step"], r["split"]), r["loss"]) for r in map(json.loads, f)]


# The smallest run that still compares training lines and evaluations at two steps: process
# start-up and compiles, not steps, are most of this test's time.
SHORT = {"num_train_steps": 4, "eval_every_steps": 2, "log_every_steps": 2,
         "checkpoint_every_steps": 4}


def test_two_processes_match_one(tmp_path, smoke_config):
  port = _free_port()
  multi = tmp_path / "two_processes"
  procs = [subprocess.Popen(
      optcompare_cmd("train", f"--config={SMOKE}", f"--workdir={multi}",
                     *(f"--config.{k}={v}" for k, v in SHORT.items()),
                     f"--coordinator_address=localhost:{port}", "--num_processes=2",
                     f"--process_id={i}"),
      cwd=REPO, env=optcompare_env(num_devices=2), stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True) for i in range(2)]
  # The one-process reference trains here, on this process's device(s), while they run.
  with smoke_config.unlocked():
    smoke_config.update(SHORT)
  train.train_and_evaluate(smoke_config, str(tmp_path / "one"))
  for p in procs:
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
  two, one = _losses(multi), _losses(tmp_path / "one")
  assert [k for k, _ in two] == [k for k, _ in one]
  assert {k for k, _ in one} == {(s, split) for s in (2, 4)
                                 for split in ("train", "validation", "train_eval", "test")}
  for (_, a), (_, b) in zip(two, one):
    assert a == pytest.approx(b, rel=1e-4)
