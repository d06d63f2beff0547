"""Shared test helpers: run the `optcompare` command in a fresh process."""
import json
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


def run_cli(argv: list[str], monkeypatch) -> int:
  """`optcompare.cli.main(argv)` in this process, absl's flags reset after (a test's flags
  must not leak into the next: config_flags defines --config.FIELD flags as it parses)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from optcompare import cli  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(sys, "argv", argv)  # config_flags reads overrides from sys.argv
  try:
    return cli.main(argv)
  finally:
    flags.FLAGS.unparse_flags()
    for name in [n for n in flags.FLAGS if n.startswith("config.")]:
      delattr(flags.FLAGS, name)



def attempt_events(workdir, trial_id) -> list[dict]:
  """The trial's attempts.jsonl records."""
  from optcompare import studydir  # pylint: disable=g-import-not-at-top
  path = os.path.join(studydir.trial_dir(str(workdir), trial_id), studydir.ATTEMPTS)
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def trial_metrics(workdir, trial_id) -> list[dict]:
  """The trial's metrics.jsonl lines without their wall times (equal across backends)."""
  from optcompare import studydir  # pylint: disable=g-import-not-at-top
  path = os.path.join(studydir.trial_dir(str(workdir), trial_id), studydir.METRICS)
  with open(path, encoding="utf-8") as f:
    lines = [json.loads(line) for line in f]
  for line in lines:
    line.pop("wall_time_s")
  return lines


def trial_outcome(workdir, trial_id) -> tuple:
  """(status, steps, final, steps_to_target) of the trial's result.json."""
  from optcompare import studydir  # pylint: disable=g-import-not-at-top
  result = studydir.read_result(studydir.trial_dir(str(workdir), trial_id))
  return result.status, result.steps, result.final, result.steps_to_target
