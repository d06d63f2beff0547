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
          smoke: bool) -> ml_collections.ConfigDict:
  """A locked study config; `smoke` keeps the spaces and runs 4 trials per optimizer."""
  c = ml_collections.ConfigDict()
  c.base = base
  c.seed = 0
  c.num_trials = 4 if smoke else num_trials
  c.optimizers = list(search_spaces)
  # Separate copies: ConfigDict keeps shared dicts shared, and an override of one
  # optimizer's spec (--config.search_spaces.adam.learning_rate.max=...) must not move another's.
  c.search_spaces = {o: copy.deepcopy(space) for o, space in search_spaces.items()}
  c.devices_per_trial = 0  # 0: no restriction (every device; CPU-only machines)
  c.threads_per_trial = 1  # CPU threads per trial process
  c.lease_seconds = 120.0  # a claim outlives its holder's last heartbeat this long
  c.lock()
  return c


def check_arg(arg) -> bool:
  """True for the `smoke` arg; ValueError for anything but '' / None / 'smoke'."""
  if arg not in (None, "", "smoke"):
    raise ValueError(f"config arg must be empty or 'smoke', got {arg!r}")
  return arg == "smoke"
