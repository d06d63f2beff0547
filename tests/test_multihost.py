"""Two processes on localhost (CPU collectives) train like one process on the same global batch."""
import json
import os
import socket
import subprocess

import pytest

from tests.conftest import REPO, SMOKE, optcompare_cmd, optcompare_env, run_optcompare


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [((r["step"], r["split"]), r["loss"]) for r in map(json.loads, f)]


def test_two_processes_match_one(tmp_path):
  port = _free_port()
  multi = tmp_path / "two_processes"
  procs = [subprocess.Popen(
      optcompare_cmd("train", f"--config={SMOKE}", f"--workdir={multi}",
                     f"--coordinator_address=localhost:{port}", "--num_processes=2",
                     f"--process_id={i}"),
      cwd=REPO, env=optcompare_env(num_devices=2), stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True) for i in range(2)]
  for p in procs:
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
  run_optcompare("train", f"--config={SMOKE}", f"--workdir={tmp_path / 'one'}", num_devices=4)
  two, one = _losses(multi), _losses(tmp_path / "one")
  assert [k for k, _ in two] == [k for k, _ in one]
  for (_, a), (_, b) in zip(two, one):
    assert a == pytest.approx(b, rel=1e-4)
