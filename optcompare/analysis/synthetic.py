"""A synthetic study directory, laid out exactly as `optcompare sweep` writes one.

For tests, the notebook's demo mode and documentation: no training happens. Each trial's final
validation error is a smooth function of its hyperparameters (a bowl in log learning rate with
its minimum inside the search space) plus noise; trials whose learning rate is far too large
diverge. Curves decay towards the final value. Layout (DESIGN.md §4, "Study directory"):

  <dir>/study.json
  <dir>/trials/<optimizer>/<index>/config.json
  <dir>/trials/<optimizer>/<index>/metrics.jsonl
  <dir>/trials/<optimizer>/<index>/result.json
"""
from __future__ import annotations

import copy
import json
import math
from typing import Any, Sequence

import numpy as np
from etils import epath

# Search spaces in the study-config format (see optcompare/analysis/diagnostics.py).
_LR = {"scale": "log", "min": 1e-4, "max": 10.0}
_DECAY = {"scale": "linear", "min": 0.001, "max": 0.1}
SEARCH_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "sgd": {"learning_rate": _LR, "decay_factor": _DECAY},
    "momentum": {
        "learning_rate": _LR,
        "momentum": {"scale": "one_minus_log", "min": 0.9, "max": 0.999},
        "decay_factor": _DECAY,
    },
    "nesterov": {
        "learning_rate": _LR,
        "momentum": {"scale": "one_minus_log", "min": 0.9, "max": 0.999},
        "decay_factor": _DECAY,
    },
    "rmsprop": {
        "learning_rate_over_sqrt_epsilon": {"scale": "log", "min": 1e-2, "max": 1e4},
        "epsilon": {"scale": "log", "min": 1e-10, "max": 1e-2},
        "learning_rate": {"scale": "derived", "of": "learning_rate_over_sqrt_epsilon",
                          "times": "epsilon", "power": 0.5},
        "momentum": {"scale": "one_minus_log", "min": 0.9, "max": 0.999},
        "rho": {"scale": "choice", "values": [0.9, 0.99, 0.999]},
        "decay_factor": _DECAY,
    },
    "adam": {
        "learning_rate_over_epsilon": {"scale": "log", "min": 1e-2, "max": 1e4},
        "epsilon": {"scale": "log", "min": 1e-10, "max": 1e-2},
        "learning_rate": {"scale": "derived", "of": "learning_rate_over_epsilon",
                          "times": "epsilon", "power": 1.0},
        "beta1": {"scale": "one_minus_log", "min": 0.9, "max": 0.999},
        "beta2": {"scale": "fixed", "value": 0.999},
        "decay_factor": _DECAY,
    },
}
SEARCH_SPACES["nadam"] = copy.deepcopy(SEARCH_SPACES["adam"])

# Where each optimizer's synthetic optimum of log10(learning_rate) lies, and its floor error.
_OPTIMA = {"sgd": (-0.5, 0.090), "momentum": (-1.5, 0.082), "nesterov": (-1.5, 0.081),
           "rmsprop": (-3.0, 0.080), "adam": (-3.0, 0.079), "nadam": (-3.0, 0.078)}


def _sample(space: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
  hp: dict[str, Any] = {}
  for name, spec in space.items():
    scale = spec["scale"]
    if scale == "log":
      hp[name] = float(10 ** rng.uniform(math.log10(spec["min"]), math.log10(spec["max"])))
    elif scale == "linear":
      hp[name] = float(rng.uniform(spec["min"], spec["max"]))
    elif scale == "one_minus_log":
      lo, hi = math.log10(1 - spec["max"]), math.log10(1 - spec["min"])
      hp[name] = float(1 - 10 ** rng.uniform(lo, hi))
    elif scale == "choice":
      hp[name] = spec["values"][int(rng.integers(len(spec["values"])))]
    elif scale == "fixed":
      hp[name] = spec["value"]
  for name, spec in space.items():
    if spec["scale"] == "derived":
      hp[name] = float(hp[spec["of"]] * hp[spec["times"]] ** spec.get("power", 1.0))
  return hp


def base_config(num_train_steps: int = 100, target_value: float = 0.12) -> dict[str, Any]:
  """A trial config (the resolved ConfigDict as a dict), as in configs/workloads/."""
  return {
      "workload": "synthetic_image", "seed": 0, "batch_size": 32, "eval_batch_size": 128,
      "num_train_steps": num_train_steps, "eval_every_steps": max(1, num_train_steps // 10),
      "checkpoint_every_steps": num_train_steps, "log_every_steps": max(1, num_train_steps // 10),
      "optimizer": {"name": "adam", "hparams": {}, "schedule": {"name": "linear_decay"}},
      "dataset": {"name": "synthetic", "data_dir": None, "synthetic": True},
      "target": {"metric": "error", "split": "validation", "value": target_value},
  }


def write_synthetic_study(
    directory: epath.PathLike,
    optimizers: Sequence[str] = ("sgd", "momentum", "adam"),
    num_trials: int = 12,
    seed: int = 0,
    num_train_steps: int = 100,
    *,
    noise: float = 0.004,
    curves: bool = True,
) -> epath.Path:
  """Writes a complete synthetic study directory; returns its path."""
  directory = epath.Path(directory)
  rng = np.random.default_rng(seed)
  base = base_config(num_train_steps)
  spaces = {o: copy.deepcopy(SEARCH_SPACES[o]) for o in optimizers}
  trials = []
  (directory / "trials").mkdir(parents=True, exist_ok=True)
  for opt in optimizers:
    lr_opt, floor = _OPTIMA[opt]
    for index in range(num_trials):
      hp = _sample(spaces[opt], rng)
      trials.append({"id": f"{opt}/{index}", "optimizer": opt, "index": index, "hparams": hp})
      log_lr = math.log10(hp["learning_rate"])
      config = copy.deepcopy(base)
      config["optimizer"]["name"] = opt
      config["optimizer"]["hparams"] = {k: v for k, v in hp.items()
                                        if k in ("learning_rate", "momentum", "rho", "beta1",
                                                 "beta2", "epsilon")}
      config["optimizer"]["schedule"]["decay_factor"] = hp.get("decay_factor")
      tdir = directory / "trials" / opt / str(index)
      tdir.mkdir(parents=True, exist_ok=True)
      tdir.joinpath("config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
      diverged = log_lr > lr_opt + 2.0
      final_val = floor + 0.02 * (log_lr - lr_opt) ** 2 + abs(rng.normal(0.0, noise))
      final_val = min(final_val, 0.9)
      final_test = final_val + rng.normal(0.002, noise / 2)
      every = base["eval_every_steps"]
      lines, steps_to_target, last_step = [], None, num_train_steps
      for step in range(every, num_train_steps + 1, every):
        frac = step / num_train_steps
        if diverged and frac > 0.3:
          lines.append({"step": step, "split": "train", "loss": float("nan"),
                        "wall_time_s": 0.01 * step})
          last_step = step
          break
        val = final_val + (0.9 - final_val) * math.exp(-5 * frac) - 0.9 * math.exp(-5)
        val = max(val, final_val)
        tst = val + (final_test - final_val)
        lines.append({"step": step, "split": "train", "loss": 2.3 * val, "error": 0.9 * val,
                      "wall_time_s": 0.01 * step})
        lines.append({"step": step, "split": "validation", "loss": 2.5 * val, "error": val,
                      "wall_time_s": 0.01 * step})
        lines.append({"step": step, "split": "test", "loss": 2.5 * tst, "error": tst,
                      "wall_time_s": 0.01 * step})
        if steps_to_target is None and val <= base["target"]["value"]:
          steps_to_target = step
      if curves:
        tdir.joinpath("metrics.jsonl").write_text(
            "".join(json.dumps(line) + "\n" for line in lines))
      if diverged:
        result = {"status": "diverged", "steps": last_step, "final": {},
                  "steps_to_target": None, "wall_time_s": 0.01 * last_step,
                  "error": f"non-finite training loss at step {last_step}"}
      else:
        result = {"status": "completed", "steps": num_train_steps,
                  "final": {"validation": {"loss": 2.5 * final_val, "error": final_val},
                            "test": {"loss": 2.5 * final_test, "error": final_test}},
                  "steps_to_target": steps_to_target, "wall_time_s": 0.01 * num_train_steps,
                  "error": None}
      tdir.joinpath("result.json").write_text(json.dumps(result, indent=2, sort_keys=True))
  study_config = {"base": base, "seed": seed, "num_trials": num_trials,
                  "search_spaces": spaces}
  manifest = {"config": study_config, "seed": seed, "trials": trials}
  directory.joinpath("study.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
  return directory
