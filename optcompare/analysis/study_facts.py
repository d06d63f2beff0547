"""What a study is, read from its manifest and trial table: the metric it is judged on, which
workload variant ran, its target, and the rankings of a bootstrap table. Files only."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from etils import epath

from optcompare import studydir
from optcompare.analysis import load
from optcompare.analysis import markdown

_f = markdown.fmt


def study_metric(config: Mapping[str, Any], df: pd.DataFrame) -> str:
  """The metric the study is judged on: the target's metric, else error, else loss."""
  target = (config.get("base") or {}).get("target") or {}
  candidates = [target.get("metric"), "error", "loss"]
  for m in candidates:
    if m and f"final.validation.{m}" in df.columns:
      return m
  finals = [c for c in df.columns if c.startswith("final.validation.")]
  if finals:
    return finals[0].split(".", 2)[2]
  return target.get("metric") or "error"


def _setting(x: Any) -> str:
  """A config value as the workload line writes it: (8, 16) for a list."""
  if isinstance(x, (list, tuple)):
    return "(" + ", ".join(_setting(v) for v in x) + ")"
  return _f(x)


def workload_text(config: Mapping[str, Any], target: Mapping[str, Any] | None = None) -> str:
  """Which variant of the workload ran, from the study's base trial config: "fashion_mnist_
  simple_cnn; model simple_cnn (conv_features (8, 16), dense_features 64); batch 64; 400
  steps, evaluated every 200; target validation error ≤ 0.2". `target`: the study's target
  (default the base config's)."""
  base = config.get("base") or {}
  parts = [str(base.get("workload") or "unknown workload")]
  model = dict(base.get("model") or {})
  if model:
    name = model.pop("name", None)
    fields = ", ".join(f"{k} {_setting(v)}" for k, v in sorted(model.items()))
    parts.append("model" + (f" {name}" if name else "") + (f" ({fields})" if fields else ""))
  dataset = base.get("dataset") or {}
  if dataset.get("synthetic"):
    parts.append("synthetic random data (a smoke run)")
  if base.get("batch_size") is not None:
    parts.append(f"batch {_setting(base['batch_size'])}")
  if base.get("num_train_steps") is not None:
    steps = f"{_setting(base['num_train_steps'])} steps"
    if base.get("eval_every_steps"):
      steps += f", evaluated every {_setting(base['eval_every_steps'])}"
    parts.append(steps)
  target = target if target is not None else base.get("target")
  parts.append("target " + (f"{target.get('split')} {target.get('metric')} ≤ "
                            f"{target.get('value')}" if target else "none given"))
  return "; ".join(parts)


def study_target(directory: epath.Path, config: Mapping[str, Any], df: pd.DataFrame
                 ) -> Mapping[str, Any] | None:
  target = (config.get("base") or {}).get("target")
  if target:
    return target
  if load.has_trials(directory) and len(df):  # fall back on the first trial's config.json
    r = df.iloc[0]
    try:
      cfg = studydir.read_json(studydir.trial_path(directory, r["trial_id"]) / studydir.CONFIG)
      return cfg.get("target") if isinstance(cfg, dict) else None
    except (OSError, ValueError):  # absent or damaged (DamagedFileError is a ValueError)
      return None
  return None


def max_k(df: pd.DataFrame) -> int:
  counts = df.groupby("optimizer").size()
  return int(max(1, counts.max())) if len(counts) else 1


def ranking(boot: pd.DataFrame, split: str = "test") -> pd.DataFrame:
  """Optimizers ranked (1 = best) by the best-of-K median at the largest K on `split`;
  ties broken by the 95th percentile, then name. Columns: optimizer, rank, value, p95."""
  k = int(boot["K"].max())
  at_k = boot[boot["K"] == k].copy()
  col = f"{split}_median"
  at_k["value"] = at_k[col].astype(float)
  at_k["p95"] = at_k[col.replace("median", "p95")].astype(float)
  at_k = at_k.assign(_v=at_k["value"].fillna(np.inf), _p=at_k["p95"].fillna(np.inf))
  at_k = at_k.sort_values(["_v", "_p", "optimizer"], kind="stable")
  at_k["rank"] = np.arange(1, len(at_k) + 1)
  return at_k[["optimizer", "rank", "value", "p95"]].reset_index(drop=True)
