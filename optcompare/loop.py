"""The trial loop: K ≥ 1 trials of one optimizer and schedule kind in one compiled program.

There is one loop. An unpacked trial is K = 1: its state has no trials axis and the update
rule (optcompare.update.step) runs as it is; a pack (K > 1) stacks its trials' states along
a leading axis and vmaps the same rule, each trial with its own hyperparameters (traced, in
its optimizer state), seed (initialisation and data order) and batches.

**Many steps per dispatch.** The steps between two boundaries (a train line, an evaluation,
a checkpoint, the end) run as one compiled `lax.scan` whose input is the chunk's batches or,
for device-resident data, their example indices (optcompare.feeds); the host looks at the
state only at boundaries. The train line's running sums live in the state; its step
statistics are the chunk's last step's.

**Divergence.** Each trial carries an `alive` flag through the step: its first non-finite
loss clears it and records the step (`diverged_at`), and `jnp.where` keeps its state as it
was from then on, so the others go on. At the next boundary the trial ends `diverged` at that
step (the first step whose loss is not finite), with the lines written before it.

**Convolutions of a pack** are computed by im2col + batched matrix product
(models/conv.py): vmapped, a direct convolution becomes a grouped one that accelerators run
far below matrix rate. K = 1 keeps the direct convolution.

**Precision** (trial field `precision`): the matmul and convolution precision the programs
are traced and compiled under (`jax.default_matmul_precision`): float32 (default), tf32 or
bfloat16 passes. XLA:CPU computes float32 whatever it is asked.

**Checkpoints**: K = 1 saves the trial's TrainState (as before packing existed); a pack saves
the stacked state with its flags. Files: optcompare.trial_files, one record per trial.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

from absl import logging
import flax
import jax
import jax.numpy as jnp
import numpy as np

from optcompare import checkpointing, feeds, plugins, studydir, trial_files, update

# Trial field `precision` -> jax.default_matmul_precision.
PRECISIONS = {"float32": "float32", "tf32": "tensorfloat32", "bfloat16": "bfloat16"}


@flax.struct.dataclass
class PackState:
  trials: update.TrainState  # K > 1: every leaf stacked along a leading axis of K trials
  alive: jax.Array           # [K] bool: every loss so far was finite
  diverged_at: jax.Array     # [K] int32: the step of the first non-finite loss; 0: none


@dataclasses.dataclass(frozen=True)
class Program:
  """What the compiled steps are keyed on (a static argument: hashable)."""
  graphdef: Any
  eval_graphdef: Any
  workload: Any              # seed 0: the trials' own seeds are in their states and feeds
  optimizer: Any             # a built-in's name, or a plugins.Plugin (hashed by its content)
  packed: bool               # a leading trials axis, vmapped
  batch_sharding: Any        # where a gathered batch lives


class Plan(NamedTuple):
  """The checked trials of one loop run (from optcompare.train.plan)."""
  configs: list
  workloads: list            # each trial's own (its seed: its data order)
  settings: list             # each trial's optimizer settings (traced)
  resolved: list             # each trial's resolved config (config.json)
  num_train_eval: int
  test_every: int
  mesh: jax.sharding.Mesh


def make_mesh(num_trials: int) -> jax.sharding.Mesh:
  """Axes ("trials", "data"): gcd(K, devices) devices along trials, the rest along data."""
  n = jax.device_count()
  t = math.gcd(num_trials, n)
  return jax.make_mesh((t, n // t), ("trials", "data"),
                       axis_types=(jax.sharding.AxisType.Auto,) * 2)


def advance(program: Program, pack: PackState, batch) -> tuple[PackState, dict]:
  """One update of every live trial. In a pack, a trial whose loss is not finite keeps its
  state (the others go on); an unpacked trial ends at the next boundary anyway, so its state
  is not frozen (its update is then exactly update.step's, as compiled alone)."""
  def one(state, alive, diverged_at, batch):
    new, out = update.step(program.graphdef, program.workload, program.optimizer, state, batch)
    ok = alive & jnp.isfinite(out["loss"])
    if program.packed:
      new = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, state)
    return new, ok, jnp.where(alive & ~ok, state.step + 1, diverged_at), out

  fn = jax.vmap(one) if program.packed else one
  trials, alive, diverged_at, out = fn(pack.trials, pack.alive, pack.diverged_at, batch)
  return PackState(trials, alive, diverged_at), out


# One step of every trial per dispatch (steps_per_dispatch 1: the default on CPU).
run_step = jax.jit(advance, static_argnums=0, donate_argnums=1)


@functools.partial(jax.jit, static_argnums=0, donate_argnums=1)
def run_steps(program: Program, pack: PackState, xs, data) -> tuple[PackState, dict]:
  """The steps of a chunk (one per leading row of `xs`: batches, or example indices into
  `data`) as one scan; returns the state and the last step's output."""
  def body(pack, x):
    batch = x if data is None else jax.tree.map(lambda a: a[x], data)
    batch = jax.lax.with_sharding_constraint(batch, program.batch_sharding)
    return advance(program, pack, batch)

  pack, outs = jax.lax.scan(body, pack, xs)
  return pack, jax.tree.map(lambda o: o[-1], outs)


def _eval_sums(program: Program, trials: update.TrainState, batch) -> dict:
  """Metric sums of one batch, each trial evaluated where its optimizer says
  (optimizers.eval_params: its parameters, or schedule-free AdamW's averaged iterate)."""
  fn = lambda state: update.eval_sums(program.eval_graphdef, program.workload,
                                      program.optimizer, state, batch)
  return jax.vmap(fn)(trials) if program.packed else fn(trials)


@functools.partial(jax.jit, static_argnums=0)
def eval_batch(program: Program, trials: update.TrainState, batch) -> dict:
  """Metric sums of one evaluation batch, per trial."""
  return _eval_sums(program, trials, batch)


@functools.partial(jax.jit, static_argnums=0)
def eval_stack(program: Program, trials: update.TrainState, batches) -> dict:
  """Metric sums over stacked evaluation batches (one scan), added in batch order."""
  def body(total, batch):
    return jax.tree.map(jnp.add, total, _eval_sums(program, trials, batch)), None
  first = _eval_sums(program, trials, jax.tree.map(lambda b: b[0], batches))
  rest = jax.tree.map(lambda b: b[1:], batches)
  return jax.lax.scan(body, first, rest)[0]


def per_trial_means(sums: dict, stats: dict | None = None) -> list[dict[str, float] | None]:
  """Per trial: sums / count and that trial's `stats` (one fetch); None for a trial with no
  count (frozen since its sums were reset: nothing to write)."""
  sums, stats = jax.device_get((sums, stats or {}))
  sums = jax.tree.map(np.atleast_1d, sums)
  stats = jax.tree.map(np.atleast_1d, stats)
  count = sums.pop("count")
  return [{**{k: float(v[i]) / float(count[i]) for k, v in sums.items()},
           **{k: float(v[i]) for k, v in stats.items()}} if count[i] else None
          for i in range(len(count))]


def precision_scope(config):
  """The matmul precision the trial's programs are traced and compiled under."""
  return jax.default_matmul_precision(PRECISIONS[config.get("precision", "float32")])


def _boundary(c, s: int) -> bool:
  return (s == c.num_train_steps or s % c.log_every_steps == 0 or
          s % c.eval_every_steps == 0 or s % c.checkpoint_every_steps == 0)


def _next_boundary(c, s: int) -> int:
  return next(t for t in range(s + 1, c.num_train_steps + 1) if _boundary(c, t))


def eval_splits(step: int, num_train_steps: int, test_every: int, splits) -> list[str]:
  """The splits evaluated at evaluation step `step`: validation and train_eval always, the
  test split every `test_every` steps and at the end."""
  from optcompare.data import train_eval  # pylint: disable=g-import-not-at-top
  names = ["validation", train_eval.SPLIT]
  if step % test_every == 0 or step == num_train_steps:
    names.append("test")
  return [n for n in names if n in splits]


def init_pack(plan: Plan, program: Program, shardings: feeds.Shardings) -> PackState:
  """The step-0 state: each trial's update.init_state (its seed and settings; the very
  arrays an unpacked trial starts from), stacked for a pack, then placed."""
  states = [update.init_state(program.workload, program.optimizer, c.seed, s)
            for c, s in zip(plan.configs, plan.settings)]
  if not program.packed:
    return PackState(jax.device_put(states[0], shardings.state), jnp.ones((), bool),
                     jnp.zeros((), jnp.int32))
  k = len(states)
  stacked = jax.tree.map(lambda *xs: np.stack(xs), *jax.device_get(states))
  return jax.device_put(PackState(stacked, np.ones(k, bool), np.zeros(k, np.int32)),
                        shardings.state)


def restore(ckpt: checkpointing.Checkpointer, program: Program, pack: PackState
            ) -> tuple[int, PackState]:
  """(step, state) from the newest checkpoint that restores (see `save`)."""
  if program.packed:
    return ckpt.restore_newest(pack)
  start, trial = ckpt.restore_newest(pack.trials)
  return start, pack.replace(trials=trial)


def save(ckpt: checkpointing.Checkpointer, program: Program, step: int, pack: PackState):
  """K = 1: the TrainState alone (alive at every checkpoint); a pack: all of it."""
  ckpt.save(step, pack if program.packed else pack.trials)


def program_for(plan: Plan) -> tuple[Program, feeds.Shardings]:
  packed = len(plan.configs) > 1
  shardings = feeds.Shardings(plan.mesh, packed)
  workload = dataclasses.replace(plan.workloads[0], seed=0)
  graphdef, eval_graphdef = update.graph_defs(workload, "im2col" if packed else "direct")
  optimizer = plugins.of_config(plan.configs[0].optimizer)
  return Program(graphdef, eval_graphdef, workload, optimizer, packed,
                 shardings.batch), shardings


@dataclasses.dataclass
class Run:
  """One run of the loop: the compiled program, its data and its trials' records."""
  plan: Plan
  program: Program
  shardings: feeds.Shardings
  feed: feeds.Feed
  records: list[trial_files.TrialRecord]
  ckpt: checkpointing.Checkpointer
  steps_per_dispatch: int    # 0: up to the next boundary

  def end_diverged(self, pack: PackState) -> None:
    """result.json `diverged` (at its first non-finite step) of each trial that has died."""
    at = np.atleast_1d(jax.device_get(pack.diverged_at))
    for r, step in zip(self.records, at):
      if r.running and step:
        r.end(studydir.DIVERGED, int(step))

  def write_train_lines(self, s: int, pack: PackState, last: dict) -> PackState:
    lines = per_trial_means(pack.trials.train_sums, {k: last[k] for k in update.STEP_STATS})
    for r, line in zip(self.records, lines):
      if r.running and line is not None:
        r.write(s, "train", line)
    zero = jax.tree.map(jnp.zeros_like, pack.trials.train_sums)
    return pack.replace(trials=pack.trials.replace(train_sums=zero))

  def evaluate(self, split: str, trials: update.TrainState) -> list[dict[str, float]]:
    batches = self.feed.eval_batches(split)
    if self.feed.device is not None:
      return per_trial_means(eval_stack(self.program, trials, batches))
    total = None
    for batch in batches:
      out = eval_batch(self.program, trials, batch)
      total = out if total is None else jax.tree.map(jnp.add, total, out)
    return per_trial_means(total)

  def evaluate_all(self, s: int, pack: PackState) -> None:
    c = self.plan.configs[0]
    for split in eval_splits(s, c.num_train_steps, self.plan.test_every, self.feed.splits):
      for r, values in zip(self.records, self.evaluate(split, pack.trials)):
        if r.running:
          r.write(s, split, values)
    for r in self.records:
      if r.running:
        r.note_evaluation(s)

  def at_boundary(self, s: int, pack: PackState, last: dict) -> PackState:
    """Ends the diverged trials, then writes what step `s` is a boundary of."""
    c = self.plan.configs[0]
    self.end_diverged(pack)
    if not any(r.running for r in self.records):
      return pack
    if s % c.log_every_steps == 0 or s == c.num_train_steps:
      pack = self.write_train_lines(s, pack, last)
    if s % c.eval_every_steps == 0 or s == c.num_train_steps:
      self.evaluate_all(s, pack)
    if s % c.checkpoint_every_steps == 0 or s == c.num_train_steps:
      save(self.ckpt, self.program, s, pack)
    return pack

  def train(self, start: int, pack: PackState) -> None:
    """Steps `start` to the end, chunk by chunk; the next chunk's input is made while the
    device runs the current one."""
    c = self.plan.configs[0]
    step = start
    xs = self._chunk(step) if step < c.num_train_steps else None
    while step < c.num_train_steps and any(r.running for r in self.records):
      if self.per_step:
        stop = step + 1
        pack, last = run_step(self.program, pack, xs)
      else:
        stop = step + len(jax.tree.leaves(xs)[0])
        pack, last = run_steps(self.program, pack, xs, self.feed.data)
      xs = self._chunk(stop) if stop < c.num_train_steps else None
      if _boundary(c, stop):
        pack = self.at_boundary(stop, pack, last)
      step = stop
    self.end_diverged(pack)
    for r in self.records:
      if r.running:
        r.end(studydir.COMPLETED, c.num_train_steps)

  @property
  def per_step(self) -> bool:
    return self.steps_per_dispatch == 1

  def _chunk(self, start: int):
    """The next dispatch's input: one step's batch, or a chunk up to the next boundary (at
    most steps_per_dispatch steps; host data: at most feeds.HOST_CHUNK_BYTES)."""
    if self.per_step:
      return self.feed.batch(start)
    stop = _next_boundary(self.plan.configs[0], start)
    if self.steps_per_dispatch:
      stop = min(stop, start + self.steps_per_dispatch)
    return self.feed.chunk(start, self.feed.chunk_end(start, stop))


def steps_per_dispatch(config) -> int:
  """The trial's steps per dispatch; 0 (auto): 1 on CPU (the step-at-a-time loop, whose
  results the committed CPU studies hold bit for bit: XLA:CPU compiles a step inside a
  scan with other roundings), else every step up to the next boundary."""
  n = config.get("steps_per_dispatch", 0)
  if n:
    return n
  return 1 if jax.default_backend() == "cpu" else 0


def run(plan: Plan, workdirs: list[str], checkpoint_dir: str, *,
        writes: list[bool] | None = None, lead: bool = True) -> list[dict]:
  """Trains the plan's trials (each with its workdir) as one program, resuming from the
  newest checkpoint under `checkpoint_dir`; returns their result.json.

  writes: which trials this run trains and writes (default: all); the others, and trials
  already finished, are carried along unwritten (their result: what their result.json says).
  """
  writes = [True] * len(plan.configs) if writes is None else list(writes)
  records = [trial_files.TrialRecord(c, w, _finished(w, lead) if write else
                                     trial_files.any_result(w), lead=lead)
             for c, w, write in zip(plan.configs, workdirs, writes)]
  running = [write and r.result is None for r, write in zip(records, writes)]
  if not any(running):
    return [r.result for r in records]
  with precision_scope(plan.configs[0]):
    return _run(plan, records, running, checkpoint_dir)


def _finished(workdir: str, lead: bool) -> dict | None:
  previous = trial_files.previous_result(workdir) if lead else studydir.read_result(workdir)
  return previous.to_json() if previous is not None and previous.finished else None


def _run(plan: Plan, records, running, checkpoint_dir: str) -> list[dict]:
  program, shardings = program_for(plan)
  splits = feeds.load_splits(program.workload, plan.num_train_eval)
  per_dispatch = steps_per_dispatch(plan.configs[0])
  feed = feeds.make_feed(plan.workloads, splits, shardings, device=per_dispatch != 1)
  ckpt = checkpointing.Checkpointer(checkpoint_dir)
  run_ = Run(plan, program, shardings, feed, records, ckpt, per_dispatch)
  try:
    start, pack = restore(ckpt, program, init_pack(plan, program, shardings))
    if start:
      logging.info("resumed %s at step %d", checkpoint_dir, start)
    for r, resolved, run_it in zip(records, plan.resolved, running):
      if run_it:
        r.open(resolved, start, program.workload.metric_names)
    run_.train(start, pack)
  finally:
    for r in records:
      r.close()
    ckpt.close()
  return [r.result for r in records]

