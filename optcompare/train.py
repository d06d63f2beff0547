"""train_and_evaluate(config, workdir): one trial, end to end, resumable bit for bit.

This module checks trial configs (`validate`, `plan`) and hands them to the one trial loop,
optcompare.loop (an unpacked trial is its K = 1 case; optcompare.packed runs K > 1). The
update rule is optcompare.update; the trial's files are optcompare.trial_files.

Data order is a function of (seed, step) and every random key is `fold_in(key, step)`, so a
trial resumed from a checkpoint recomputes exactly what an uninterrupted run computes.
"""
from __future__ import annotations

import os

from absl import logging
import jax
import ml_collections

from optcompare import loop, optimizers, studydir, trial_files, workloads
from optcompare.errors import BadInputError


def validate(config: ml_collections.ConfigDict, *, num_devices: int | None = None):
  """Checks the config before anything is written; returns (workload, optimizer settings).

  num_devices: the devices the batches are split over (default: jax.device_count()); a sweep
  checks its trials with 1, since they run in workers that see devices of their own.
  """
  for field in ("batch_size", "eval_batch_size", "num_train_steps", "eval_every_steps",
                "checkpoint_every_steps", "log_every_steps"):
    if not isinstance(config[field], int) or config[field] <= 0:
      raise BadInputError(f"{field}: must be a positive integer, got {config[field]!r}")
  devices = jax.device_count() if num_devices is None else num_devices
  for field in ("batch_size", "eval_batch_size"):
    if config[field] % devices:
      raise BadInputError(f"{field}: {config[field]} is not divisible by the "
                          f"{devices} devices")
  _check_finite(config)
  _check_example_counts(config)
  _check_precision(config)
  workload = workloads.create(config)
  if config.target.split not in ("validation", "test"):
    raise BadInputError(f"target.split: must be 'validation' or 'test', got "
                        f"{config.target.split!r}")
  if config.target.metric not in workload.metric_names:
    raise BadInputError(f"target.metric: {config.target.metric!r} is not one of "
                        f"{workload.metric_names}")
  settings = optimizers.settings_from_config(config.optimizer, config.num_train_steps)
  return workload, settings


def _check_finite(config: ml_collections.ConfigDict) -> None:
  """No NaN or infinity in any field (a NaN target is never reached, a NaN loss
  coefficient diverges at step 1; config.json cannot store either)."""
  from optcompare import inputs  # pylint: disable=g-import-not-at-top
  inputs.check_finite(config)


def _check_example_counts(config: ml_collections.ConfigDict) -> None:
  """dataset.num_validation_examples (always read) and num_synthetic_examples (read on
  synthetic data) are positive integers: a zero or negative count otherwise fails only
  after config.json, metrics and checkpoints are written. Whether the synthetic examples
  make a training batch is the workload's check (what an example is differs)."""
  dataset = config.get("dataset") or {}
  fields = ["num_validation_examples"]
  if dataset.get("synthetic"):
    fields.append("num_synthetic_examples")
  for field in fields:
    value = dataset.get(field)
    if field in dataset and (isinstance(value, bool) or not isinstance(value, int)
                             or value <= 0):
      raise BadInputError(f"dataset.{field}: must be a positive integer, got {value!r}")


def _check_precision(config: ml_collections.ConfigDict) -> None:
  """`precision` is a known name; `steps_per_dispatch` an integer >= 0 (0: automatic)."""
  precision = config.get("precision", "float32")
  if precision not in loop.PRECISIONS:
    raise BadInputError(f"precision: {precision!r} is not one of {sorted(loop.PRECISIONS)}")
  n = config.get("steps_per_dispatch", 0)
  if isinstance(n, bool) or not isinstance(n, int) or n < 0:
    raise BadInputError(f"steps_per_dispatch: must be an integer >= 0 (0: automatic), got "
                        f"{n!r}")


def eval_schedule(config) -> tuple[int, int]:
  """(examples of train_eval, test_every_steps), checked: None means the defaults (as many
  as the validation split; the test split at every evaluation)."""
  n = config.dataset.get("num_train_eval_examples")
  n = config.dataset.num_validation_examples if n is None else n
  if isinstance(n, bool) or not isinstance(n, int) or n < 0:
    raise BadInputError(f"dataset.num_train_eval_examples: must be an integer >= 0 (0: no "
                        f"train_eval split), got {n!r}")
  every = config.get("test_every_steps")
  every = config.eval_every_steps if every is None else every
  if isinstance(every, bool) or not isinstance(every, int) or every <= 0 or \
      every % config.eval_every_steps:
    raise BadInputError(f"test_every_steps: must be a positive multiple of eval_every_steps "
                        f"({config.eval_every_steps}), got {every!r}")
  return n, every


def plan(configs: list, *, num_devices: int | None = None) -> loop.Plan:
  """The checked trials of one loop run: every config validated (train's checks), their
  evaluation schedule (the first config's: a pack shares one) and the mesh."""
  mesh = loop.make_mesh(len(configs))
  devices = mesh.shape["data"] if num_devices is None else num_devices
  checked = [validate(c, num_devices=devices) for c in configs]
  num_train_eval, test_every = eval_schedule(configs[0])
  resolved = [trial_files.resolved_config(c) for c in configs]
  return loop.Plan(list(configs), [w for w, _ in checked], [s for _, s in checked], resolved,
                   num_train_eval, test_every, mesh)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains one trial in `workdir` (resuming if it was interrupted); returns result.json."""
  checked = plan([config])
  trial_files.check_workdir(config, workdir)
  lead = jax.process_index() == 0  # the one process of a multi-host job that writes files
  return loop.run(checked, [workdir], os.path.join(workdir, studydir.CHECKPOINTS),
                  lead=lead)[0]
