"""Pieces shared by the study configs (DESIGN.md §4): the study fields around a workload."""
import copy

import ml_collections

TABLE_1 = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")


def log(low: float, high: float) -> dict:
  return {"scale": "log", "min": low, "max": high}


def one_minus_log(low: float, high: float) -> dict:
  """x in [low, high] with 1 - x log-uniform (momentum, beta1, beta2, rho)."""
  return {"scale": "one_minus_log", "min": low, "max": high}


def linear(low: float, high: float) -> dict:
  return {"scale": "linear", "min": low, "max": high}


def fixed(value) -> dict:
  return {"scale": "fixed", "value": value}


def derived(of: str, times: str, power: float = 1.0) -> dict:
  return {"scale": "derived", "of": of, "times": times, "power": power}


def study(base: ml_collections.ConfigDict, search_spaces: dict, *, num_trials: int,
          reduced_trials: int, mode: str | None) -> ml_collections.ConfigDict:
  """A locked study config. `mode` (see check_arg) sets the trials per optimizer."""
  c = ml_collections.ConfigDict()
  if mode == "demo":  # a quick look: two evaluations (the test split at both), not eight
    base.eval_every_steps = base.checkpoint_every_steps = base.num_train_steps // 2
    base.test_every_steps = None
  c.base = base
  c.seed = 0
  c.num_trials = {None: num_trials, "reduced": reduced_trials, "demo": 2, "smoke": 4}[mode]
  c.optimizers = list(search_spaces)
  # Copies: optimizers that share a template (momentum, nesterov) must not share its dicts,
  # or a --config override of one would change the other.
  c.search_spaces = {o: copy.deepcopy(space) for o, space in search_spaces.items()}
  c.devices_per_trial = 0  # 0: no restriction (every device; CPU-only machines)
  c.threads_per_trial = 1  # CPU threads per trial process
  c.lease_seconds = 120.0  # a claim outlives its holder's last heartbeat this long
  # Trials of one optimizer trained in one compiled program, vmapped and sharded over the
  # devices (optcompare/packed.py): for accelerators; 1 (one trial per program) on CPU.
  c.pack_size = 1
  # Processes (hosts) that train one trial together as one JAX job, process 0 writing its
  # files (optcompare/multihost.py): for a workload that needs a pod slice per trial. The
  # local backend starts them on this machine; 1 (one process per trial) otherwise.
  c.processes_per_trial = 1
  # Seed re-runs of each optimizer's `top` best trials with `seeds` new seeds, after the search
  # (optcompare/reruns.py); 0: none. May be changed on a finished study to add them.
  c.reruns = ml_collections.ConfigDict({"top": 0, "seeds": 0})
  c.lock()
  return c


MODES = (None, "smoke", "reduced", "demo")


def check_arg(arg) -> str | None:
  """The config arg as a mode.

  None: the paper-scale study. 'reduced': the CPU-sized workload (the workload config's
  `reduced` arg, declared there) with the protocol's reduced trial count, for the
  reproduction on a 2-core machine. 'demo': the same workload, 2 trials per optimizer
  (`make demo`). 'smoke': 20-step trials on synthetic data, 4 per optimizer (tests).
  """
  arg = arg or None
  if arg not in MODES:
    raise ValueError(f"config arg must be empty, 'smoke', 'reduced' or 'demo', got {arg!r}")
  return arg


def workload_arg(mode: str | None) -> str | None:
  """The workload config arg that goes with a study mode."""
  return {"demo": "reduced"}.get(mode, mode)
