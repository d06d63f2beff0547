"""Max pooling as reduce_window (nnx.max_pool) against max_pool_2x2, in one run.

  python benchmarks/pooling.py [--batch=256] [--reps=5]

One training step (loss and gradients) of the full Simple CNN on a batch with a zero
background (Fashion-MNIST-like: after the first ReLU whole windows tie), with each pooling:
whether the gradients are bit-equal, XLA's cost analysis of the compiled step (FLOPs, bytes
accessed) and the median wall time of --reps steps; printed as ratios of the same run, with the
load average. accelerator_check.py runs `compare` as its part (f) on the device it finds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from optcompare.models import simple_cnn
from optcompare.models.pooling import max_pool_2x2

POOLINGS = {
    "reduce_window": lambda x: nnx.max_pool(x, (2, 2), strides=(2, 2)),
    "max_pool_2x2": max_pool_2x2,
}


def _loss(params, graphdef, images, labels, pool):
  """The Simple CNN's cross entropy with `pool` in both pooling layers (its own layers)."""
  model = nnx.merge(graphdef, params)
  x = pool(jax.nn.relu(model.conv1(images)))
  x = pool(jax.nn.relu(model.conv2(x)))
  x = jax.nn.relu(model.dense1(x.reshape(x.shape[0], -1)))
  logp = jax.nn.log_softmax(model.dense2(x))
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


def _batch(batch: int):
  images = jax.nn.relu(jax.random.normal(jax.random.key(1), (batch, 28, 28, 1)))
  images = images.at[:, :6].set(0.0).at[:, :, 22:].set(0.0)  # a background, as in the data
  return images, jax.random.randint(jax.random.key(2), (batch,), 0, 10)


def _cost(compiled) -> dict:
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  return {"gflop": cost.get("flops", 0.0) / 1e9,
          "gb_accessed": cost.get("bytes accessed", 0.0) / 1e9}


def compare(batch: int = 256, reps: int = 5) -> dict:
  """Per pooling: cost analysis and ms per step; the ratios; whether the gradients agree."""
  graphdef, params = nnx.split(simple_cnn.SimpleCNN(rngs=nnx.Rngs(0)))
  images, labels = _batch(batch)
  out, grads = {}, {}
  for name, pool in POOLINGS.items():
    step = jax.jit(jax.value_and_grad(lambda p, x, y, pool=pool: _loss(p, graphdef, x, y, pool)))
    compiled = step.lower(params, images, labels).compile()
    grads[name] = jax.block_until_ready(compiled(params, images, labels))
    times = []
    for _ in range(reps):
      t0 = time.perf_counter()
      jax.block_until_ready(compiled(params, images, labels))
      times.append(time.perf_counter() - t0)
    out[name] = {**_cost(compiled), "ms_per_step": 1e3 * float(np.median(times))}
  a, b = (jax.tree.leaves(grads[n]) for n in POOLINGS)
  out["grads_bit_equal"] = all(np.array_equal(np.asarray(x).view(np.uint32),
                                              np.asarray(y).view(np.uint32)) for x, y in zip(a, b))
  old, new = out["reduce_window"], out["max_pool_2x2"]
  out["bytes_ratio"] = new["gb_accessed"] / old["gb_accessed"]
  out["speedup"] = old["ms_per_step"] / new["ms_per_step"]
  return out


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=256, help="images per step")
  parser.add_argument("--reps", type=int, default=5, help="timed steps per pooling")
  args = parser.parse_args(argv)  # (no absl flags: accelerator_check imports this module)
  load = os.getloadavg()
  result = compare(args.batch, args.reps)
  print(f"device {jax.devices()[0].device_kind}, batch {args.batch}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end")
  for name in POOLINGS:
    r = result[name]
    print(f"  {name:14s} {r['gflop']:.2f} GFLOP, {r['gb_accessed']:.3f} GB accessed, "
          f"{r['ms_per_step']:.1f} ms per step")
  print(f"  gradients bit-equal: {result['grads_bit_equal']}; max_pool_2x2 / reduce_window: "
        f"bytes {result['bytes_ratio']:.2f}x; reduce_window / max_pool_2x2 step time "
        f"{result['speedup']:.2f}x")
  return 0 if result["grads_bit_equal"] else 1


if __name__ == "__main__":
  sys.exit(main())
