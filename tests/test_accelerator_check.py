"""benchmarks/accelerator_check.py --quick: the loop's equality checks, on the CPU.

Device-gathered batches bit-equal to host batches, a scan of steps equal to one step per
dispatch, a pack (im2col convolutions) equal to its trials unpacked within 1e-5, device
evaluation equal to host evaluation; and the report files it writes.
"""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, optcompare_env


def test_quick_check_passes_and_writes_its_report(tmp_path):
  proc = subprocess.run([sys.executable, "benchmarks/accelerator_check.py", "--quick",
                         f"--out={tmp_path}"], cwd=REPO, env=optcompare_env(),
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  [path] = tmp_path.glob("accelerator-cpu-*.json")
  report = json.loads(path.read_text())
  checks = {c["check"]: c for c in report["equality"]}
  assert all(c["ok"] for c in checks.values()), checks
  assert checks["device batches == host batches (K=3, 4 steps)"]["bit_equal"]
  assert checks["device evaluation == host evaluation (validation)"]["bit_equal"]
  pack = checks["pack of 4 (im2col) == unpacked (direct)"]
  assert pack["params_rel_diff_1"] < 1e-5 and pack["params_rel_diff_10"] < 1e-5
  scan = checks["scan of 10 steps == 10 dispatches (K=1)"]
  assert scan["params_rel_diff"] < 1e-5 and scan["loss_sums_rel_diff"] < 1e-5
  assert 0 < scan["one_ulp_spread"] < 1e-4  # (the yardstick on real images: ~3e-3)
  assert "| device batches == host batches (K=3, 4 steps) | yes | yes |" in \
      path.with_suffix(".md").read_text()


def test_pooling_part_compares_on_one_step():
  """Part (f): max_pool_2x2's gradients are reduce_window's bit for bit and its compiled step
  accesses fewer bytes (XLA's cost analysis: a count, not a timing); the markdown shows it."""
  sys.path.insert(0, REPO)
  from benchmarks import accelerator_report, pooling  # pylint: disable=g-import-not-at-top
  result = pooling.compare(batch=8, reps=1)
  assert result["grads_bit_equal"]
  assert result["max_pool_2x2"]["gflop"] == pytest.approx(result["reduce_window"]["gflop"],
                                                          rel=0.01)
  assert result["bytes_ratio"] < 0.8
  text = accelerator_report.markdown({"environment": {
      "device": "cpu", "platform": "cpu", "devices": 1, "jax": "x", "date": "d",
      "load_average": [0.0, 0.0, 0.0]}, "equality": [], "pooling": result})
  assert "## (f) Max pooling" in text and "Gradients bit-equal: yes" in text
