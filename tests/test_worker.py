"""The long-lived worker: trial after trial in one process, compiling each optimizer once.

Run in a fresh process (a pytest process has imported TensorFlow and compiled programs of its
own): it trains smoke trials through `worker.run_trial`, as a sweep's worker does, and reports
JAX traces and compiles per trial, whether TensorFlow was imported, and the resident memory.
"""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = r"""
import json, os, sys
import jax
from jax import monitoring
from optcompare import study, studydir
from optcompare.backends import worker
from tests.test_study import smoke_study

events = {"trace": 0, "compile": 0}
def listen(name, *args, **kwargs):
  if name == "/jax/core/compile/jaxpr_trace_duration":
    events["trace"] += 1
  elif name == "/jax/core/compile/backend_compile_duration":
    events["compile"] += 1
monitoring.register_event_duration_secs_listener(listen)

def rss_mib():
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

workdir, n = sys.argv[1], int(sys.argv[2])
c = smoke_study(optimizers=("adam", "sgd"), num_trials=n, steps=10)
manifest = study.write_manifest(workdir, study.manifest_of(c))
order = [f"adam/{i}" for i in range(n)] + ["sgd/0", "sgd/1"]
rows = []
for tid in order:
  before = dict(events)
  code, status = worker.run_trial(workdir, manifest, tid, retry=False, lease_seconds=30,
                                  owner="test")
  rows.append({"trial": tid, "code": code, "status": status,
               "trace": events["trace"] - before["trace"],
               "compile": events["compile"] - before["compile"], "rss_mib": rss_mib(),
               "tensorflow": "tensorflow" in sys.modules})
print(json.dumps(rows))
"""


@pytest.fixture(scope="module")
def worker_rows(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("worker") / "study"
  proc = subprocess.run([sys.executable, "-c", SCRIPT, str(workdir), "20"], cwd=REPO,
                        capture_output=True, text=True, timeout=900,
                        env={"JAX_PLATFORMS": "cpu", **_env()})
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _env():
  import os  # pylint: disable=g-import-not-at-top
  env = dict(os.environ)
  env.pop("JAX_COMPILATION_CACHE_DIR", None)  # count real compiles, not cache loads
  return env


def test_every_trial_ends_with_a_result(worker_rows):
  assert all(r["code"] == 0 and r["status"] in ("completed", "diverged") for r in worker_rows)


def test_later_trials_of_an_optimizer_trace_and_compile_nothing(worker_rows):
  adam = [r for r in worker_rows if r["trial"].startswith("adam/")]
  sgd = [r for r in worker_rows if r["trial"].startswith("sgd/")]
  assert adam[0]["compile"] > 0 and sgd[0]["compile"] > 0  # the counters do count
  for r in adam[1:] + sgd[1:]:
    assert (r["trace"], r["compile"]) == (0, 0), r


def test_no_tensorflow_in_a_trial_process(worker_rows):
  assert not any(r["tensorflow"] for r in worker_rows)


def test_worker_memory_stays_flat_over_twenty_trials(worker_rows):
  adam = [r for r in worker_rows if r["trial"].startswith("adam/")]
  assert len(adam) == 20
  first, last = adam[0]["rss_mib"], adam[-1]["rss_mib"]
  assert last <= 1.10 * first, (first, last)
