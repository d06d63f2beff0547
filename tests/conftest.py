"""Shared test helpers: run the `optcompare` command in a fresh process."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(REPO, "configs", "workloads", "fashion_mnist_simple_cnn.py") + ":smoke"
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


def optcompare_env(num_devices: int = 1) -> dict:
  env = dict(os.environ)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={num_devices}"
  env["PYTHONUNBUFFERED"] = "1"
  return env


def optcompare_cmd(*args) -> list[str]:
  return [sys.executable, "-m", "optcompare.cli", *args]


def run_optcompare(*args, num_devices: int = 1, check: bool = True, timeout: int = 300):
  proc = subprocess.run(optcompare_cmd(*args), cwd=REPO, env=optcompare_env(num_devices),
                        capture_output=True, text=True, timeout=timeout)
  if check and proc.returncode != 0:
    raise AssertionError(f"optcompare {' '.join(args)} exited {proc.returncode}:\n"
                         f"{proc.stderr[-3000:]}")
  return proc


@pytest.fixture
def smoke_config():
  from configs.workloads import fashion_mnist_simple_cnn  # pylint: disable=g-import-not-at-top
  return fashion_mnist_simple_cnn.get_config("smoke")
