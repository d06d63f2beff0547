"""Timing of analysis.bootstrap_best: 6 optimizers x 100 trials, K = 1..64, 1000 resamples.

Usage: python benchmarks/bootstrap_speed.py [--repeats N]
Prints the median wall-clock seconds of one bootstrap_best call (the target is < 1 s).
"""
import argparse
import time

import numpy as np
import pandas as pd

from optcompare.analysis import bootstrap_best


def synthetic_table(num_optimizers: int = 6, num_trials: int = 100, seed: int = 0
                    ) -> pd.DataFrame:
  rng = np.random.default_rng(seed)
  rows = []
  for o in ["sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam"][:num_optimizers]:
    for i in range(num_trials):
      status = "diverged" if rng.random() < 0.15 else "completed"
      val = rng.uniform(0.07, 0.3) if status == "completed" else np.nan
      rows.append({"trial_id": f"{o}/{i}", "optimizer": o, "index": i, "status": status,
                   "final.validation.error": val,
                   "final.test.error": val + rng.normal(0, 0.003) if status == "completed"
                   else np.nan})
  return pd.DataFrame(rows)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()
  df = synthetic_table()
  bootstrap_best(df, "error", 64, num_resamples=1000, seed=0)  # warm up
  times = []
  for _ in range(args.repeats):
    t0 = time.perf_counter()
    out = bootstrap_best(df, "error", 64, num_resamples=1000, seed=0)
    times.append(time.perf_counter() - t0)
  assert len(out) == 6 * 7, len(out)
  print(f"bootstrap_best 6 optimizers x 100 trials, K=1..64, 1000 resamples: "
        f"{np.median(times):.3f} s (median of {args.repeats}; min {min(times):.3f} s)")


if __name__ == "__main__":
  main()
