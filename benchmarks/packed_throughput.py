"""Trials per second of packed trials (study field pack_size = K) against one trial per program.

For the reduced and the full Simple CNN (configs/workloads/fashion_mnist_simple_cnn.py, Adam,
synthetic data of the workload's shapes), in this process, on whatever devices JAX sees:
  unpacked  train.train_step, one trial per program (what pack_size 1 runs)
  K = 1, 2, 4, ... (up to --max_k)  packed.train_step over K trials (each its own learning
            rate; per-trial batches, stacked on the host, as a pack trains)
Each rate is timed over --steps steps after --warmup steps (compilation excluded), batches
included, and turned into trials/s with the variant's step budget (a trial = num_train_steps
steps; evaluation excluded). Ratios are against the unpacked rate measured in the same run;
the machine's load average (os.getloadavg) is printed before and after each variant, since
other programs on the machine change every rate.

  python benchmarks/packed_throughput.py [--max_k=64] [--steps=20] [--variants=reduced,full]

On CPU expect ratios below 1 (XLA:CPU runs a vmapped convolution as a grouped one); packs are
meant for GPUs and TPUs, where one small trial leaves most of the device idle.
"""
from __future__ import annotations

import os
import time

from absl import app, flags
import jax
import numpy as np

from configs.workloads import fashion_mnist_simple_cnn
from optcompare import packed, train

_MAX_K = flags.DEFINE_integer("max_k", 64, "Largest pack size (K = 1, 2, 4, ... up to it).")
_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps per measurement.")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation).")
_VARIANTS = flags.DEFINE_list("variants", ["reduced", "full"], "Simple CNN variants.")


def trial_configs(variant: str, k: int) -> list:
  """K Adam trials of the variant on synthetic data, learning rates 1e-4 ... 1e-3."""
  configs = []
  for i in range(k):
    c = fashion_mnist_simple_cnn.get_config("reduced" if variant == "reduced" else None)
    c.dataset.synthetic = True
    c.dataset.num_synthetic_examples = 8 * c.batch_size
    c.dataset.num_validation_examples = 128
    c.dataset.num_train_eval_examples = 0
    c.optimizer.hparams.learning_rate = float(np.geomspace(1e-4, 1e-3, max(k, 2))[i])
    configs.append(c)
  return configs


def _timed(run_step, warmup: int, steps: int) -> float:
  """Seconds per step of `run_step(step) -> an array to wait for`, after `warmup` steps."""
  for step in range(warmup):
    out = run_step(step)
  jax.block_until_ready(out)
  start = time.perf_counter()
  for step in range(warmup, warmup + steps):
    out = run_step(step)
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / steps


def unpacked_step_s(config, warmup: int, steps: int) -> float:
  workload, settings = train.validate(config)
  splits = train._load_splits(workload, 0)  # pylint: disable=protected-access
  graphdef, _ = train.graph_defs(workload)
  state = train.init_state(workload, config.optimizer.name, config.seed, settings)

  def run_step(step):
    nonlocal state
    batch = jax.device_put(workload.train_batch(splits, step, 0, 1))
    state, out = train.train_step(graphdef, workload, config.optimizer.name, state, batch)
    return out["loss"]

  return _timed(run_step, warmup, steps)


def packed_step_s(configs: list, warmup: int, steps: int) -> float:
  plan = packed.setup(configs)
  splits = train._load_splits(plan.program, 0)  # pylint: disable=protected-access
  graphdef, _ = train.graph_defs(plan.program)
  _, batched, _ = packed.shardings(plan.mesh)
  pack = packed.init_pack(plan, [c.seed for c in configs])

  def run_step(step):
    nonlocal pack
    batch = packed.stacked_batch(plan, splits, step, batched)
    pack, out = packed.train_step(graphdef, plan.program, plan.optimizer, pack, batch)
    return out["loss"]

  return _timed(run_step, warmup, steps)


def load() -> str:
  return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


def main(_):
  print(f"devices: {jax.device_count()} x {jax.devices()[0].platform}; {_STEPS.value} timed "
        f"steps after {_WARMUP.value}; {load()}")
  ks = [1]
  while ks[-1] * 2 <= _MAX_K.value:
    ks.append(ks[-1] * 2)
  for variant in _VARIANTS.value:
    first = trial_configs(variant, 1)[0]
    budget = first.num_train_steps
    print(f"\n{variant} Simple CNN (batch {first.batch_size}, a trial = {budget} steps); "
          f"before: {load()}")
    base = 1 / unpacked_step_s(first, _WARMUP.value, _STEPS.value) / budget
    print(f"  unpacked     {base:10.5f} trials/s   ratio 1.000")
    for k in ks:
      rate = k / packed_step_s(trial_configs(variant, k), _WARMUP.value, _STEPS.value) / budget
      print(f"  K = {k:<3d}      {rate:10.5f} trials/s   ratio {rate / base:.3f}")
    print(f"  after: {load()}")


if __name__ == "__main__":
  app.run(main)
