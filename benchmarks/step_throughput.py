"""Steps per second of `optcompare train` against a plain hand-written jax.jit loop.

Both train the Simple CNN with Adam at batch 256 on the same in-memory data, in this process,
on whatever devices JAX sees. optcompare's rate is read from its own metrics.jsonl (wall time
between two train log lines, so compilation and the final evaluation are excluded); the plain
loop is timed over the same steps. Prints both rates and their ratio (optcompare / plain).

  python benchmarks/step_throughput.py [--steps=300] [--batch_size=256]
"""
from __future__ import annotations

import json
import os
import tempfile
import time

from absl import app, flags
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from configs.workloads import fashion_mnist_simple_cnn
from optcompare import train
from optcompare.data import in_memory, synthetic
from optcompare.models import simple_cnn

_STEPS = flags.DEFINE_integer("steps", 300, "Timed steps (after 20 warm-up steps).")
_BATCH = flags.DEFINE_integer("batch_size", 256, "Batch size.")
WARMUP = 20


def optcompare_rate(steps: int, batch_size: int) -> float:
  config = fashion_mnist_simple_cnn.get_config()
  config.dataset.synthetic = True
  config.dataset.num_synthetic_examples = 50_000
  config.dataset.num_validation_examples = 1000
  config.batch_size = batch_size
  config.num_train_steps = WARMUP + steps
  config.log_every_steps = WARMUP
  config.eval_every_steps = config.checkpoint_every_steps = config.num_train_steps
  with tempfile.TemporaryDirectory() as workdir:
    train.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      times = {r["step"]: r["wall_time_s"] for r in map(json.loads, f) if r["split"] == "train"}
  # The line at the last step is written after a device sync; so is the one at WARMUP.
  return steps / (times[WARMUP + steps] - times[WARMUP])


def plain_rate(steps: int, batch_size: int) -> float:
  data = synthetic.image_classification(0, 50_000, (28, 28, 1), 10)
  model = simple_cnn.SimpleCNN(rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(model)
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, images, labels):
    def loss_fn(p):
      logits = nnx.merge(graphdef, p)(images.astype(jnp.float32) / 255.0)
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  def run(first, last):
    nonlocal params, opt_state
    loss = None
    for t in range(first, last):
      batch = in_memory.train_batch(data, 0, t, batch_size)
      params, opt_state, loss = step(params, opt_state, batch["inputs"], batch["labels"])
    return float(loss)

  run(0, WARMUP)
  start = time.perf_counter()
  run(WARMUP, WARMUP + steps)
  return steps / (time.perf_counter() - start)


def main(_):
  print(f"devices: {jax.device_count()} x {jax.devices()[0].platform}; batch {_BATCH.value}; "
        f"{_STEPS.value} timed steps")
  plain = plain_rate(_STEPS.value, _BATCH.value)
  ours = optcompare_rate(_STEPS.value, _BATCH.value)
  plain_again = plain_rate(_STEPS.value, _BATCH.value)  # bracket ours: load drifts over time
  plain = (plain + plain_again) / 2
  print(f"plain jax.jit loop: {plain:.2f} steps/s")
  print(f"optcompare train:   {ours:.2f} steps/s")
  print(f"ratio (optcompare / plain): {ours / plain:.3f}")


if __name__ == "__main__":
  app.run(main)
