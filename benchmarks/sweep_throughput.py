"""Sweep throughput: long-lived workers against one process per trial, in one run.

Runs the 12 trials of the choi2019 Fashion-MNIST `demo` study (2 per optimizer) twice per
`--parallel` value: the old way, from a git worktree of `--old` (the commit before the
long-lived workers: one process per trial), and the new way, from this tree. Same venv, same
data, same machine, interleaved so that a change of load hits both. Prints, for each:
trials/s, the ratio new/old, and the per-trial overhead — sweep wall time per trial minus the
mean train-loop `wall_time_s` of the trials' result.json — as a share of the sweep time per
trial. Also prints the machine's load average before and after (the machine may be shared).

  python benchmarks/sweep_throughput.py --data_dir=DIR [--parallel=1,2] [--old=ddc4f81]
  python benchmarks/sweep_throughput.py --synthetic      # no prepared data needed

DIR: a TFDS data directory with fashion_mnist prepared (`optcompare data prepare`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDY = "configs/studies/choi2019/fashion_mnist_simple_cnn.py:demo"


def sweep(tree: str, workdir: str, parallel: int, data: list[str]) -> dict:
  """Runs the demo study with the optcompare of `tree`; returns its timing."""
  env = dict(os.environ, PYTHONPATH=tree)
  env.pop("JAX_COMPILATION_CACHE_DIR", None)
  # A cache per run: neither way reuses programs compiled by an earlier run.
  env["XDG_CACHE_HOME"] = os.path.join(workdir + ".cache")
  t0 = time.time()
  proc = subprocess.run(
      [sys.executable, "-m", "optcompare.cli", "sweep", f"--config={tree}/{STUDY}",
       *data, f"--workdir={workdir}", f"--parallel={parallel}"],
      cwd=tree, env=env, capture_output=True, text=True, check=False)
  wall = time.time() - t0
  if proc.returncode != 0:
    raise SystemExit(f"sweep in {tree} failed:\n{proc.stderr[-3000:]}")
  loops = []
  for root, _, files in os.walk(os.path.join(workdir, "trials")):
    if "result.json" in files:
      with open(os.path.join(root, "result.json"), encoding="utf-8") as f:
        loops.append(json.load(f)["wall_time_s"])
  assert len(loops) == 12, f"{len(loops)} results in {workdir}"
  per_trial = wall / len(loops)
  loop = sum(loops) / len(loops)
  # With p workers, p trials' loops overlap: the sweep's time per trial is per_trial, and a
  # trial's own loop accounts for loop / p of it.
  overhead = per_trial - loop / parallel
  return {"wall_s": wall, "trials_per_s": len(loops) / wall, "loop_s": loop,
          "overhead_share": overhead / per_trial}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
  parser.add_argument("--data_dir", help="TFDS data directory with fashion_mnist prepared")
  parser.add_argument("--synthetic", action="store_true", help="random data of the same shapes")
  parser.add_argument("--parallel", default="1,2")
  parser.add_argument("--old", default="ddc4f81", help="commit of the one-process-per-trial way")
  args = parser.parse_args()
  if bool(args.data_dir) == args.synthetic:
    parser.error("give --data_dir=DIR or --synthetic")
  data = (["--config.base.dataset.synthetic=True"] if args.synthetic else
          [f"--config.base.dataset.data_dir={os.path.abspath(args.data_dir)}"])
  with tempfile.TemporaryDirectory() as tmp:
    old_tree = os.path.join(tmp, "old")
    subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", old_tree, args.old],
                   check=True, capture_output=True)
    try:
      print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
      for p in [int(x) for x in args.parallel.split(",")]:
        old = sweep(old_tree, os.path.join(tmp, f"old{p}"), p, data)
        new = sweep(REPO, os.path.join(tmp, f"new{p}"), p, data)
        for name, r in (("one process per trial", old), ("long-lived workers", new)):
          print(f"parallel={p} {name:22s} {r['trials_per_s']:.4f} trials/s  sweep "
                f"{r['wall_s']:.1f} s  mean train loop {r['loop_s']:.2f} s  overhead "
                f"{100 * r['overhead_share']:.1f}% of the sweep time per trial")
        print(f"parallel={p} ratio new/old: {new['trials_per_s'] / old['trials_per_s']:.2f}x")
      print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
      subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", old_tree],
                     check=False, capture_output=True)


if __name__ == "__main__":
  main()
