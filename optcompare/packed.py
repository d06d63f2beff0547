"""Packed trials: K trials of one optimizer and schedule kind in one compiled program.

On an accelerator a small trial (the Simple CNN) keeps a device a few percent busy. A pack
stacks the train states of K trials along a leading axis and vmaps train.py's update rule
(`train._step`) over it: one program and one dispatch per step for K trials. Each trial
keeps its own hyperparameters (traced, in its optimizer state) and its own seed (model
initialisation and data order: its batches are exactly the ones it gets unpacked, stacked).

Devices: a mesh with axes ("trials", "data"), gcd(K, devices) devices along `trials` and the
rest along `data`: a pack of 8 on 8 devices runs one trial per device, a pack of 4 on 8 runs
each trial data-parallel on 2 (jax.make_mesh and NamedSharding, as train.py; XLA places the
intermediates).

Divergence: each trial carries an `alive` flag through the step. Its first non-finite loss
clears the flag and records the step (`diverged_at`); from then on `jnp.where` keeps its
state as it was (frozen) while the others go on. Its result is `diverged` at that step, the
step an unpacked run reports (train.py: the first step whose loss is not finite), with the
evaluations written before it.

Files: each trial's directory gets config.json, metrics.jsonl (and tensorboard/) and
result.json exactly as train.train_and_evaluate writes them, but no checkpoints/: the pack
checkpoints as one under `pack_dir` (a study's studydir.pack_dir) and resumes bit for bit.
A trial that has a finished result when the pack starts is carried along (the program's
shape is the pack's) and nothing of it is written. Packs run in one process (no multi-host).

On CPU, XLA turns a vmapped convolution into a grouped one, slower than K separate ones:
packs are for accelerators (benchmarks/packed_throughput.py measures the ratio).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, NamedTuple

from absl import logging
import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from optcompare import checkpointing, hparams_board, metrics, studydir, train, workloads
from optcompare.errors import BadInputError

# train.py's private pieces (the update rule, the eval sums, the checks of a trial) are this
# module's too: a pack is train_and_evaluate for K trials at once.
# pylint: disable=protected-access

AXES = ("trials", "data")


@flax.struct.dataclass
class PackState:
  trials: train.TrainState  # every leaf stacked along a leading axis of K trials
  alive: jax.Array          # (K,) bool: every loss so far was finite
  diverged_at: jax.Array    # (K,) int32: the step of the first non-finite loss; 0: none


def _step(graphdef, workload, optimizer: str, pack: PackState, batch):
  """train._step for every trial (batch: each trial's, stacked); a trial whose loss is not
  finite keeps the state it had. out: train._step's per trial, and `alive` after the step."""
  def one(state, alive, batch):
    new, out = train._step(graphdef, workload, optimizer, state, batch)
    ok = alive & jnp.isfinite(out["loss"])
    return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, state), ok, out

  trials, alive, out = jax.vmap(one)(pack.trials, pack.alive, batch)
  diverged_at = jnp.where(pack.alive & ~alive, pack.trials.step + 1, pack.diverged_at)
  return PackState(trials, alive, diverged_at), {**out, "alive": alive}


# One update of every trial of a pack, compiled per (graph, workload, optimizer name, K).
train_step = jax.jit(_step, static_argnums=(0, 1, 2), donate_argnums=(3,))


def _eval_sums(graphdef, workload, params, model_state, batch):
  """Metric sums of one evaluation batch (the same for every trial), per trial."""
  return jax.vmap(lambda p, m: train._eval_sums(graphdef, workload, p, m, batch))(
      params, model_state)


eval_step = jax.jit(_eval_sums, static_argnums=(0, 1))


class Setup(NamedTuple):
  """What a pack's program is keyed on and placed by; from `setup`."""
  mesh: jax.sharding.Mesh
  program: Any               # the workload the compiled steps are keyed on (seed 0)
  workloads: list            # each trial's own (its seed: its data order)
  optimizer: str
  settings: list             # each trial's optimizer settings (traced)
  resolved: list             # each trial's resolved config (config.json)


def make_mesh(num_trials: int) -> jax.sharding.Mesh:
  """Axes ("trials", "data"): gcd(K, devices) devices along trials, the rest along data."""
  n = jax.device_count()
  t = math.gcd(num_trials, n)
  return jax.make_mesh((t, n // t), AXES, axis_types=(jax.sharding.AxisType.Auto,) * 2)


def setup(configs: list) -> Setup:
  """Checks the trial configs (as train does, and that they make one program); BadInputError
  naming the field that differs between them, beside what is traced (hyperparameters,
  schedule numbers, seed)."""
  if jax.process_count() > 1:
    raise BadInputError("pack_size: packs run in one process; run multi-host trials unpacked")
  mesh = make_mesh(len(configs))
  checked = [train.validate(c, num_devices=mesh.shape["data"]) for c in configs]
  resolved = [json.loads(c.to_json_best_effort(sort_keys=True)) for c in configs]
  program = [_program_fields(r) for r in resolved]
  for i, p in enumerate(program[1:], start=1):
    if p != program[0]:
      raise BadInputError(f"pack_size: trials of a pack must differ only in hyperparameters "
                          f"and seed; trial {i} differs in "
                          f"{studydir.first_difference(program[0], p)}")
  trial_workloads = [w for w, _ in checked]
  return Setup(mesh, dataclasses.replace(trial_workloads[0], seed=0), trial_workloads,
               configs[0].optimizer.name, [s for _, s in checked], resolved)


def _program_fields(resolved: dict) -> dict:
  """A resolved trial config less what its program traces: the optimizer's hyperparameters,
  the schedule's numbers (its kind stays) and the seed."""
  out = {k: v for k, v in resolved.items() if k != "seed"}
  opt = dict(out["optimizer"])
  opt.pop("hparams", None)
  opt["schedule"] = (opt.get("schedule") or {}).get("name")
  out["optimizer"] = opt
  return out


def shardings(mesh) -> tuple[NamedSharding, NamedSharding, NamedSharding]:
  """(stacked state: trials, stacked batch: trials x data, shared eval batch: data)."""
  return (NamedSharding(mesh, P("trials")), NamedSharding(mesh, P("trials", "data")),
          NamedSharding(mesh, P("data")))


def init_pack(plan: Setup, seeds: list[int]) -> PackState:
  """The step-0 pack: each trial's train.init_state (its seed and settings; the very arrays
  an unpacked trial starts from), stacked on the host and placed one slice per trial."""
  states = [jax.device_get(train.init_state(plan.program, plan.optimizer, seed, settings))
            for seed, settings in zip(seeds, plan.settings)]
  k = len(states)
  stacked = jax.tree.map(lambda *xs: np.stack(xs), *states)
  return jax.device_put(PackState(stacked, np.ones(k, bool), np.zeros(k, np.int32)),
                        shardings(plan.mesh)[0])


def stacked_batch(plan: Setup, splits: dict, step: int, sharding) -> dict:
  """Each trial's training batch at `step` (loaded once per distinct seed), stacked."""
  by_seed = {}
  for w in plan.workloads:
    if w.seed not in by_seed:
      by_seed[w.seed] = w.train_batch(splits, step, 0, 1)
  batches = [by_seed[w.seed] for w in plan.workloads]
  return jax.device_put(jax.tree.map(lambda *xs: np.stack(xs), *batches), sharding)


def _per_trial_means(sums: dict, stats: dict | None = None) -> list[dict[str, float] | None]:
  """Per trial: sums / count (as train._means does) and that trial's `stats`; None for a
  trial with no count (frozen since its sums were reset: it is not written)."""
  sums, stats = jax.device_get((sums, stats or {}))
  count = sums.pop("count")
  return [{**{k: float(v[i]) / float(count[i]) for k, v in sums.items()},
           **{k: float(v[i]) for k, v in stats.items()}} if count[i] else None
          for i in range(len(count))]


def evaluate(graphdef, plan: Setup, pack: PackState, split, sharding
             ) -> list[dict[str, float]]:
  """Every trial's metrics on `split` (its batches shared by the trials)."""
  total = None
  for batch in plan.program.eval_batches(split, 0, 1):
    out = eval_step(graphdef, plan.program, pack.trials.params, pack.trials.model_state,
                    train.to_global(batch, sharding))
    total = out if total is None else jax.tree.map(jnp.add, total, out)
  return _per_trial_means(total)


@dataclasses.dataclass
class _Trial:
  """One trial of a pack as the host sees it; `log` is open while the pack writes it."""
  config: Any
  workdir: str
  result: dict | None
  log: metrics.MetricsLog | None = None
  final: dict = dataclasses.field(default_factory=dict)
  steps_to_target: int | None = None
  wall_offset: float = 0.0


def _open(t: _Trial, resolved: dict, start: int, metric_names) -> None:
  """Writes config.json if absent and opens the trial's metrics at the pack's `start`."""
  if not os.path.exists(os.path.join(t.workdir, studydir.CONFIG)):
    os.makedirs(t.workdir, exist_ok=True)
    studydir.write_json_atomic(os.path.join(t.workdir, studydir.CONFIG), resolved)
  t.log = metrics.MetricsLog(t.workdir)
  t.log.write_hparams(hparams_board.trial_hparams(t.config))
  t.wall_offset, records = t.log.resume(start)
  t.steps_to_target = train._steps_to_target(records, workloads.target(t.config))
  t.final = {r["split"]: {k: r[k] for k in metric_names} for r in records
             if r["split"] != "train"}


def _end(t: _Trial, status: str, steps: int, wall: float) -> None:
  """The trial's last TensorBoard event and its result.json (as train writes them)."""
  t.log.end_session(status)
  t.log.close()
  t.log = None
  result = studydir.Result(status, int(steps), t.final, t.steps_to_target, wall)
  studydir.write_result(t.workdir, result)
  t.result = result.to_json()
  logging.info("%s: %s after %d steps (packed)", t.workdir, status, steps)


def _boundary(c, s: int) -> bool:
  return (s == c.num_train_steps or s % c.log_every_steps == 0 or
          s % c.eval_every_steps == 0 or s % c.checkpoint_every_steps == 0)


def _finished(workdir: str) -> dict | None:
  previous = train._previous_result(workdir)
  return previous.to_json() if previous is not None and previous.finished else None


def train_pack(configs: list, workdirs: list[str], pack_dir: str, *,
               writes: list[bool] | None = None) -> list[dict]:
  """Trains `configs` (trials of one optimizer and schedule kind, each with its workdir) as
  one pack, resuming from its checkpoint under `pack_dir`; returns their result.json.

  writes: which trials this pack trains and writes (default: all); the others, and trials
  already finished, are carried along unwritten (their result: what their result.json says).
  """
  if not configs or len(configs) != len(workdirs):
    raise ValueError(f"a pack needs one workdir per config: {len(configs)} configs, "
                     f"{len(workdirs)} workdirs")
  plan = setup(configs)
  writes = [True] * len(configs) if writes is None else list(writes)
  for c, w, write in zip(configs, workdirs, writes):
    if write:
      train._check_workdir(c, w)
  trials = [_Trial(c, w, _finished(w) if write else _any_result(w))
            for c, w, write in zip(configs, workdirs, writes)]
  running = [write and t.result is None for t, write in zip(trials, writes)]
  if not any(running):
    return [t.result for t in trials]
  c0 = configs[0]
  num_train_eval, test_every = train._eval_schedule(c0)
  splits = train._load_splits(plan.program, num_train_eval)
  graphdef, eval_graphdef = train.graph_defs(plan.program)
  stacked, batched, shared = shardings(plan.mesh)
  ckpt = checkpointing.Checkpointer(os.path.join(pack_dir, "checkpoints"))
  try:
    start, pack = ckpt.restore_newest(init_pack(plan, [c.seed for c in configs]))
    if start:
      logging.info("resumed pack %s at step %d", pack_dir, start)
    for t, resolved, run in zip(trials, plan.resolved, running):
      if run:
        _open(t, resolved, start, plan.program.metric_names)
    t0 = time.time()

    def wall(t: _Trial) -> float:  # the trial's wall time, as train's: its earlier time + ours
      return t.wall_offset + time.time() - t0

    zero_sums = {k: np.zeros(len(trials), np.float32)
                 for k in (*plan.program.metric_names, "count")}
    pending = None  # `alive` after the previous step, looked at one step late (no host wait)
    for step in range(start, c0.num_train_steps):
      batch = stacked_batch(plan, splits, step, batched)
      pack, out = train_step(graphdef, plan.program, plan.optimizer, pack, batch)
      if pending is not None and not _any_alive(trials, pending):
        break  # every trial this pack writes has diverged
      s = step + 1
      pending = out["alive"]
      if not _boundary(c0, s):
        continue
      pending = None
      _end_diverged(trials, pack, wall)
      if all(t.log is None for t in trials):
        break
      if s % c0.log_every_steps == 0 or s == c0.num_train_steps:
        lines = _per_trial_means(pack.trials.train_sums, {k: out[k] for k in train.STEP_STATS})
        for t, line in zip(trials, lines):
          if t.log is not None:
            t.log.write(s, "train", line, wall(t))
        pack = pack.replace(trials=pack.trials.replace(
            train_sums=jax.device_put(zero_sums, stacked)))
      if s % c0.eval_every_steps == 0 or s == c0.num_train_steps:
        _evaluate_all(eval_graphdef, plan, pack, trials, s, splits, test_every, shared, wall)
      if s % c0.checkpoint_every_steps == 0 or s == c0.num_train_steps:
        ckpt.save(s, pack)
    _end_diverged(trials, pack, wall)
  except BaseException:
    for t in trials:
      if t.log is not None:
        t.log.close()
    raise
  finally:
    ckpt.close()
  for t in trials:
    if t.log is not None:
      _end(t, studydir.COMPLETED, c0.num_train_steps, wall(t))
  return [t.result for t in trials]


def _any_result(workdir: str) -> dict | None:
  """A carried trial's result.json as it is (None: none, or damaged)."""
  try:
    result = studydir.read_result(workdir)
  except studydir.DamagedFileError:
    return None
  return result.to_json() if result is not None else None


def _any_alive(trials: list[_Trial], alive) -> bool:
  """Whether a trial that this pack writes is still alive (`alive`: the step's flags)."""
  alive = np.asarray(jax.device_get(alive))
  return any(alive[i] for i, t in enumerate(trials) if t.log is not None)


def _end_diverged(trials: list[_Trial], pack: PackState, wall) -> None:
  """result.json `diverged` (at its first non-finite step) of each trial that has died."""
  at = np.asarray(jax.device_get(pack.diverged_at))
  for i, t in enumerate(trials):
    if t.log is not None and at[i]:
      _end(t, studydir.DIVERGED, int(at[i]), wall(t))


def _evaluate_all(graphdef, plan: Setup, pack, trials, step, splits, test_every, sharding,
                  wall) -> None:
  """The evaluation at `step` of every trial, written for the trials this pack writes."""
  for split in train.eval_splits(step, trials[0].config.num_train_steps, test_every, splits):
    values = evaluate(graphdef, plan, pack, splits[split], sharding)
    for t, v in zip(trials, values):
      if t.log is not None:
        t.final[split] = v
        t.log.write(step, split, v, wall(t))
  for t in trials:
    if t.log is not None and t.steps_to_target is None and \
        workloads.target(t.config).reached(t.final):
      t.steps_to_target = step
