"""train_and_evaluate(config, workdir): one trial, end to end, resumable bit for bit.

The loop is plain `jax.jit` over pytrees: the NNX model is split once into a static graph
definition and its state, and `nnx.merge` rebuilds it inside the compiled step. Data order is
a function of (seed, step) and every random key is `fold_in(key, step)`, so a trial resumed
from a checkpoint recomputes exactly what an uninterrupted run computes.

One compiled program per (workload, optimizer, schedule kind): the steps are keyed on the
workload (a hashable dataclass), the graph definition and the optimizer's *name*; every
hyperparameter value, schedule settings included, is an argument (traced, in the optimizer
state), and model and optimizer initialisation is one jitted function too. A worker that
trains trial after trial of one optimizer compiles nothing after the first.

Train lines (metrics.jsonl split "train", and TensorBoard's train/*): the workload's metrics
as running means since the previous train line, and, from the last step of that interval
(step s, the update that produced the parameters of step s): `learning_rate` (η_{s−1}, the
value that update applied, read from the optimizer state, schedule included), `grad_norm`,
`update_norm` and `param_norm` (global L2 norms of the gradient, of the update the optimizer
added to the parameters, and of the parameters θ_s after it). The train step returns them
with the loss; the host fetches them in the train line's one `device_get` (no extra sync).
"""
from __future__ import annotations

import functools
import json
import os
import time
from typing import Any

from absl import logging
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from optcompare import checkpointing, hparams_board, metrics, optimizers, studydir, workloads
from optcompare.data import train_eval
from optcompare.errors import BadInputError


@flax.struct.dataclass
class TrainState:
  step: jax.Array            # number of completed updates
  params: nnx.State          # nnx.Param leaves
  model_state: nnx.State     # everything else the model carries (batch-norm statistics)
  opt_state: optax.OptState  # includes the optimizer's hyperparameters (traced)
  rng: jax.Array             # base key; step t uses fold_in(rng, t)
  train_sums: dict           # metric sums since the last train log line


@functools.partial(jax.jit, static_argnums=0)
def init_model(workload, seed) -> tuple[nnx.State, nnx.State]:
  """(params, model_state) of the workload's model initialised from `seed` (traced)."""
  model = workload.build_model(jax.random.key(seed))  # nnx.Rngs(int) makes this very key
  model.train()
  _, params, model_state = nnx.split(model, nnx.Param, ...)
  return params, model_state


@functools.partial(jax.jit, static_argnums=0)
def init_optimizer(optimizer: str, params, hparams: dict):
  """The optimizer state of `create(optimizer, **hparams)` (values traced) for `params`."""
  return optimizers.create(optimizer, **hparams).init(params)


def init_state(workload, optimizer: str, seed: int, hparams: dict) -> TrainState:
  """The step-0 state of a trial. Model and optimizer are initialised by two programs, so a
  worker compiles the model's initialisation once, whatever the optimizers."""
  params, model_state = init_model(workload, seed)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, model_state=model_state,
                    opt_state=init_optimizer(optimizer, params, _traced_values(hparams)),
                    rng=jax.random.PRNGKey(seed), train_sums=_zero_sums(workload))


@functools.lru_cache(maxsize=None)
def graph_defs(workload) -> tuple[Any, Any]:
  """(train, eval) graph definitions of the workload's model, from an abstract model."""
  model = nnx.eval_shape(lambda: workload.build_model(jax.random.key(0)))
  model.eval()
  eval_graphdef = nnx.split(model, nnx.Param, ...)[0]
  model.train()
  return nnx.split(model, nnx.Param, ...)[0], eval_graphdef


def _traced_values(hparams: dict) -> dict:
  """Every number as a float32 array: equal avals (one trace) whatever the values' types."""
  return jax.tree.map(lambda x: np.asarray(x, np.float32), hparams)


# What the train step returns besides the loss; the train line carries the last step's.
STEP_STATS = ("learning_rate", "grad_norm", "update_norm", "param_norm")


def _step(graphdef, workload, optimizer: str, state: TrainState, batch):
  """One update: (state, batch) -> (state, out); un-jitted, so that `train_step` and the
  packed step (optcompare.packed, vmapped over trials) share one update rule.

  out: 'loss' (the objective on this batch) and STEP_STATS: the learning rate this update
  applied and the global norms of the gradient, the update and the new parameters.
  """
  step_key = jax.random.fold_in(state.rng, state.step)
  batch = workload.preprocess(batch, jax.random.fold_in(step_key, 0))  # data augmentation
  dropout_key = jax.random.fold_in(step_key, 1)

  def loss_fn(params, model_state):
    # Both are arguments (not closures) so that NNX sees them at this trace level and lets
    # batch norm update its statistics.
    model = nnx.merge(graphdef, params, model_state, copy=True)
    # Rngs are made inside the differentiated function: NNX forbids mutating an RNG
    # counter created at an outer trace level.
    logits = model(batch["inputs"], rngs=nnx.Rngs(dropout=dropout_key))
    _, _, model_state = nnx.split(model, nnx.Param, ...)
    return workload.loss(params, logits, batch), (logits, model_state)

  (loss, (logits, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params, state.model_state)
  updates, opt_state = optimizers.update_fn(optimizer)(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  sums = workload.metric_sums(jax.lax.stop_gradient(logits), batch)
  train_sums = jax.tree.map(jnp.add, state.train_sums, sums)
  new_state = state.replace(step=state.step + 1, params=params, model_state=model_state,
                            opt_state=opt_state, train_sums=train_sums)
  return new_state, {"loss": loss, "learning_rate": opt_state.hyperparams["learning_rate"],
                     "grad_norm": _global_norm(grads), "update_norm": _global_norm(updates),
                     "param_norm": _global_norm(params)}


# One update of one trial, compiled per (graph, workload, optimizer name); the state is donated.
train_step = jax.jit(_step, static_argnums=(0, 1, 2), donate_argnums=(3,))


def _global_norm(tree) -> jax.Array:
  """The L2 norm of all leaves together, accumulated in at least float32."""
  return optax.tree.norm(jax.tree.map(
      lambda x: x.astype(jnp.promote_types(x.dtype, jnp.float32)), tree))


def _eval_sums(graphdef, workload, params, model_state, batch):
  """Metric sums of one (padded, masked) evaluation batch (un-jitted; see _step)."""
  batch = workload.preprocess(batch, None)
  logits = nnx.merge(graphdef, params, model_state)(batch["inputs"])
  return workload.metric_sums(logits, batch)


eval_step = jax.jit(_eval_sums, static_argnums=(0, 1))


def _zero_sums(workload) -> dict:
  return {k: jnp.zeros((), jnp.float32) for k in (*workload.metric_names, "count")}


def _means(sums: dict) -> dict[str, float]:
  sums = jax.device_get(sums)
  count = float(sums.pop("count"))
  return {k: float(v) / count for k, v in sums.items()}


def _train_line(sums: dict, out: dict) -> dict[str, float]:
  """The train line's values: the running means of `sums` and the last step's STEP_STATS
  from its `out`, fetched together (one device_get)."""
  sums, stats = jax.device_get((sums, {k: out[k] for k in STEP_STATS}))
  return {**_means(sums), **{k: float(v) for k, v in stats.items()}}


def to_global(local_batch: dict, sharding: NamedSharding) -> dict:
  """This process's rows of a batch -> global arrays sharded over the 'data' axis."""
  n = jax.process_count()
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(
      sharding, x, (x.shape[0] * n,) + x.shape[1:]), local_batch)


def evaluate(graphdef, workload, state, split, data_sharding) -> dict[str, float]:
  total = None
  for batch in workload.eval_batches(split, jax.process_index(), jax.process_count()):
    out = eval_step(graphdef, workload, state.params, state.model_state,
                    to_global(batch, data_sharding))
    total = out if total is None else jax.tree.map(jnp.add, total, out)
  return _means(total)


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


_splits_cache: dict = {}  # (workload, n) -> its splits (one entry: a worker's memory stays flat)


def _load_splits(workload, num_train_eval: int) -> dict:
  """The workload's splits and its train_eval subset of `num_train_eval` examples (none for
  0), kept for the next trial of a worker that trains the same data."""
  key = (workload, num_train_eval)
  if key not in _splits_cache:
    _splits_cache.clear()
    splits = dict(workload.load_splits())
    if num_train_eval > len(splits["train"]):
      raise BadInputError(f"dataset.num_train_eval_examples: {num_train_eval} exceeds the "
                          f"{len(splits['train'])} training examples")
    if num_train_eval:
      splits[train_eval.SPLIT] = train_eval.subset(splits["train"], num_train_eval,
                                                   splits["validation"])
    _splits_cache[key] = splits
  return _splits_cache[key]


def _eval_schedule(config) -> tuple[int, int]:
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


def eval_splits(step: int, num_train_steps: int, test_every: int, splits: dict) -> list[str]:
  """The splits evaluated at evaluation step `step`: validation and train_eval always, the
  test split every `test_every` steps and at the end."""
  names = ["validation", train_eval.SPLIT]
  if step % test_every == 0 or step == num_train_steps:
    names.append("test")
  return [n for n in names if n in splits]


def _check_workdir(config, workdir: str) -> dict:
  """The resolved config, after checking that `workdir` can hold this trial.

  BadInputError if it is a study directory or holds a config.json of another config; a
  damaged config.json is set aside (reported), since the trial can still run.
  """
  if studydir.is_study_dir(workdir):
    raise BadInputError(f"--workdir: {workdir} is a study directory; train a trial in a "
                        "directory of its own (a study's trials are run by `optcompare sweep`)")
  resolved = json.loads(config.to_json_best_effort(sort_keys=True))
  path = os.path.join(workdir, studydir.CONFIG)
  try:
    existing = studydir.read_json(path)
  except FileNotFoundError:
    return resolved
  except studydir.DamagedFileError as e:
    logging.warning("%s; set aside as %s", e, os.path.basename(studydir.set_aside(path)))
    return resolved
  if existing != resolved:
    raise BadInputError(f"{path}: this workdir holds a trial of a different config "
                        f"({studydir.first_difference(existing, resolved)} differs)")
  return resolved


def _previous_result(workdir: str) -> studydir.Result | None:
  """The trial's result; a damaged result.json is set aside (reported): the trial resumes."""
  try:
    return studydir.read_result(workdir)
  except studydir.DamagedFileError as e:
    moved = studydir.set_aside(os.path.join(workdir, studydir.RESULT))
    logging.warning("%s; set aside as %s, resuming the trial", e, os.path.basename(moved))
    return None


def _steps_to_target(records: list[dict], target) -> int | None:
  for r in records:
    if r["split"] == target.split and (r.get(target.metric) is not None
                                       and r[target.metric] <= target.value):
      return r["step"]
  return None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains one trial in `workdir` (resuming if it was interrupted); returns result.json."""
  workload, settings = validate(config)
  resolved = _check_workdir(config, workdir)
  lead = jax.process_index() == 0  # the one process of a multi-host job that writes files
  previous = _previous_result(workdir) if lead else studydir.read_result(workdir)
  if previous is not None and previous.finished:
    logging.info("%s already finished (%s); nothing to do", workdir, previous.status)
    return previous.to_json()
  num_train_eval, test_every = _eval_schedule(config)
  splits = _load_splits(workload, num_train_eval)
  if lead and not os.path.exists(os.path.join(workdir, studydir.CONFIG)):
    os.makedirs(workdir, exist_ok=True)
    studydir.write_json_atomic(os.path.join(workdir, studydir.CONFIG), resolved)

  # Auto axes: XLA's sharding propagation places every intermediate (GSPMD), as in pjit.
  mesh = jax.make_mesh((jax.device_count(),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,))
  replicated, data_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
  graphdef, eval_graphdef = graph_defs(workload)
  optimizer = config.optimizer.name
  state = jax.device_put(init_state(workload, optimizer, config.seed, settings), replicated)

  ckpt = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"))
  start, state = ckpt.restore_newest(state)
  if start:
    logging.info("resumed %s at step %d", workdir, start)
  log = metrics.MetricsLog(workdir, lead=lead)
  log.write_hparams(hparams_board.trial_hparams(config))  # TensorBoard's HParams dashboard
  wall_offset, records = log.resume(start)
  target = workloads.target(config)
  steps_to_target = _steps_to_target(records, target)
  final = {r["split"]: {k: r[k] for k in workload.metric_names}
           for r in records if r["split"] != "train"}
  t0 = time.time()
  wall = lambda: wall_offset + time.time() - t0  # pylint: disable=unnecessary-lambda-assignment
  status, steps, pending = studydir.COMPLETED, config.num_train_steps, None

  def finite(loss) -> bool:
    return bool(np.isfinite(jax.device_get(loss)))

  try:
    for step in range(start, config.num_train_steps):
      batch = to_global(workload.train_batch(splits, step, jax.process_index(),
                                             jax.process_count()), data_sharding)
      state, out = train_step(graphdef, workload, optimizer, state, batch)
      # Divergence is checked one step late, so the host never waits on the step in flight.
      if pending is not None and not finite(pending[1]):
        status, steps = studydir.DIVERGED, pending[0]
        break
      s = step + 1
      pending = (s, out["loss"])
      boundary = (s == config.num_train_steps or s % config.log_every_steps == 0 or
                  s % config.eval_every_steps == 0 or s % config.checkpoint_every_steps == 0)
      if not boundary:
        continue
      if not finite(out["loss"]):
        status, steps = studydir.DIVERGED, s
        break
      pending = None
      if s % config.log_every_steps == 0 or s == config.num_train_steps:
        log.write(s, "train", _train_line(state.train_sums, out), wall())
        state = state.replace(train_sums=jax.device_put(_zero_sums(workload), replicated))
      if s % config.eval_every_steps == 0 or s == config.num_train_steps:
        for split in eval_splits(s, config.num_train_steps, test_every, splits):
          final[split] = evaluate(eval_graphdef, workload, state, splits[split], data_sharding)
          log.write(s, split, final[split], wall())
        if steps_to_target is None and target.reached(final):
          steps_to_target = s
      if s % config.checkpoint_every_steps == 0 or s == config.num_train_steps:
        ckpt.save(s, state)
    else:
      if pending is not None and not finite(pending[1]):  # only when no step ran after it
        status, steps = studydir.DIVERGED, pending[0]
    log.end_session(status)
  finally:
    ckpt.close()
    log.close()

  result = studydir.Result(status, int(steps), final, steps_to_target, wall())
  if lead:
    studydir.write_result(workdir, result)
  logging.info("%s: %s after %d steps", workdir, status, steps)
  return result.to_json()
