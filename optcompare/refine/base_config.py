"""The initial study's base trial config against the workload config that `optcompare refine`'s
file builds on (configs/workloads/<workload>.py, with a study arg): which arg matches it best,
and which fields differ (listed in the file's docstring, not pinned)."""
from __future__ import annotations

import importlib
import importlib.util
import re
from typing import Any, Mapping

from optcompare.errors import BadInputError

MODES = (None, "smoke", "reduced", "demo")  # configs.studies.common.MODES


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, Mapping):
    out = {}
    for k, v in tree.items():
      out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out
  return {prefix: tree}


def workload_module(workload: str) -> str:
  """The workload config's module name; BadInputError if there is none."""
  module = f"configs.workloads.{workload}"
  if not re.fullmatch(r"[a-z_][a-z0-9_]*", workload or "") or \
      importlib.util.find_spec(module) is None:
    raise BadInputError(f"config.base.workload: no workload config "
                        f"configs/workloads/{workload}.py to build the refined study on")
  return module


# Base fields that define the workload (its size and data), as against how it is evaluated.
_DEFINING = ("workload", "num_train_steps", "batch_size", "model.", "dataset.name",
             "dataset.synthetic")
_MODE_TRIALS = {"demo": 2, "smoke": 4}  # configs/studies/common.study


def base_differences(config: Mapping) -> tuple[str | None, list[str]]:
  """(the study arg whose base the initial study's base matches best, the differing fields
  as 'path: initial → now' lines). Best: fewest differences in the fields that define the
  workload, then in the trial count that the arg implies, then in all fields."""
  from configs.studies import common  # pylint: disable=g-import-not-at-top
  from optcompare import study  # pylint: disable=g-import-not-at-top
  workload = importlib.import_module(workload_module(config["base"]["workload"]))
  initial = _flatten(config["base"])
  best = None
  for mode in MODES:
    try:
      base = workload.get_config(common.workload_arg(mode))
      base.optimizer.schedule.name = config["base"]["optimizer"]["schedule"].get("name")
      base = study.config_dict(common.study(base, {}, num_trials=1, reduced_trials=1,
                                            mode=mode).base)
    except (ValueError, TypeError, AttributeError, KeyError):
      continue  # the workload does not take this arg
    now = _flatten(base)
    diffs = [p for p in sorted(set(initial) | set(now)) if initial.get(p, ...) != now.get(p, ...)]
    score = (sum(p.startswith(_DEFINING) for p in diffs),
             _MODE_TRIALS.get(mode, config.get("num_trials")) != config.get("num_trials"),
             len(diffs))
    if best is None or score < best[0]:
      best = (score, mode, now, diffs)
  if best is None:
    return None, []
  _, mode, now, diffs = best
  return mode, [f"{p}: {_short(initial, p)} → {_short(now, p)}" for p in diffs]


def _short(fields: Mapping[str, Any], path: str) -> str:
  text = repr(fields[path]) if path in fields else "(no such field)"
  return text if len(text) <= 40 else text[:39] + "…"
