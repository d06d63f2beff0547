"""Seed noise: the spread of the seed re-runs of each optimizer's best trials (study.json
`reruns`, optcompare/reruns.py), and which differences between optimizers lie within it.

A re-run trains a search trial's exact hyperparameters with another base seed (model
initialisation and data order). Per optimizer the table gives the mean, standard deviation,
minimum and maximum of the final validation and test metric over the re-runs and the original
trial. A difference between two optimizers' best validation metrics smaller than the larger
of their two standard deviations is called within seed noise: a ranking or an inclusion
verdict that rests on it could flip with the seed. Files only, no JAX.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from etils import epath

from optcompare import studydir
from optcompare.analysis import diagnostics, markdown

TABLE = studydir.RERUNS_TABLE


def load(directory: epath.PathLike, manifest) -> pd.DataFrame:
  """A row per re-run and per re-run search trial: optimizer, of, seed, status, final.*.

  From the trial directories, or from a committed reruns.csv beside study.json. `manifest`:
  the study's StudyManifest.
  """
  root = epath.Path(directory)
  if not manifest.reruns:
    return pd.DataFrame()
  if not studydir.trials_root(root).exists() and (root / TABLE).exists():
    with (root / TABLE).open("r") as f:
      return pd.read_csv(f)
  seed0 = manifest.base_seed
  rows = []
  for tid, of, seed in sorted({(r.of, r.of, seed0) for r in manifest.reruns}) + [
      (r.id, r.of, r.seed) for r in manifest.reruns]:
    try:
      result = studydir.read_result(studydir.trial_path(root, tid))
    except studydir.DamagedFileError:
      result = None
    row = {"trial_id": tid, "optimizer": studydir.optimizer_of(of), "of": of, "seed": seed,
           "status": result.status if result else "pending"}
    for split, values in (result.final.items() if result else []):
      row.update({f"final.{split}.{k}": v for k, v in values.items()})
    rows.append(row)
  return pd.DataFrame(rows)


def save(df: pd.DataFrame, path: epath.PathLike) -> None:
  with epath.Path(path).open("w") as f:
    df.to_csv(f, index=False, lineterminator="\n")


def spread(df: pd.DataFrame, metric: str) -> pd.DataFrame:
  """Per (optimizer, original trial): n, and mean/std/min/max of validation and test."""
  rows = []
  done = df[df["status"] == studydir.COMPLETED] if len(df) else df
  for (opt, of), g in done.groupby(["optimizer", "of"], sort=False):
    row = {"optimizer": opt, "of": of, "n": len(g)}
    for split in ("validation", "test"):
      x = g.get(f"final.{split}.{metric}", pd.Series(dtype=float)).astype(float).dropna()
      row.update({f"{split}_mean": x.mean(), f"{split}_std": x.std(ddof=1) if len(x) > 1
                  else math.nan, f"{split}_min": x.min(), f"{split}_max": x.max()})
    rows.append(row)
  return pd.DataFrame(rows)


def within_noise(spread_df: pd.DataFrame, a: str, b: str) -> tuple[float, float] | None:
  """(|difference of mean validation|, the larger std) of two optimizers' best re-run
  trials; None unless both have a spread."""
  rows = {r["optimizer"]: r for _, r in spread_df.iterrows()}
  if a not in rows or b not in rows:
    return None
  noise = np.nanmax([rows[a]["validation_std"], rows[b]["validation_std"]])
  if not np.isfinite(noise):
    return None
  return abs(rows[a]["validation_mean"] - rows[b]["validation_mean"]), float(noise)


def section(df: pd.DataFrame, metric: str, optimizers: list[str]) -> str | None:
  """The report's "Seed noise" section (None without completed re-runs)."""
  table = spread(df, metric) if len(df) else pd.DataFrame()
  if table.empty:
    return None
  fmt = lambda r, s: (f"{markdown.fmt(r[f'{s}_mean'])} ± {markdown.fmt(r[f'{s}_std'])} "  # noqa: E731
                      f"[{markdown.fmt(r[f'{s}_min'])}, {markdown.fmt(r[f'{s}_max'])}]")
  order = {o: i for i, o in enumerate(optimizers)}
  table = table.sort_values("optimizer", key=lambda s: s.map(order), kind="stable")
  lines = [f"Each optimizer's best trial(s) trained again with other seeds (model "
           f"initialisation and data order); the original trial included. {metric} mean ± "
           "std [min, max]:", "",
           markdown.table(["optimizer", "trial", "runs", f"validation {metric}",
                           f"test {metric}"],
                          [[r["optimizer"], r["of"], int(r["n"]), fmt(r, "validation"),
                            fmt(r, "test")] for _, r in table.iterrows()]), ""]
  pairs = []
  for general, special in diagnostics.INCLUSIONS:
    got = within_noise(table, general, special)
    if got is not None:
      diff, noise = got
      word = "within" if diff < noise else "beyond"
      pairs.append(f"- {special} ⊆ {general}: mean validation {metric} differ by "
                   f"{markdown.fmt(diff)}, {word} seed noise (larger std {markdown.fmt(noise)})")
  if pairs:
    lines += ["Inclusion pairs against seed noise (a verdict on a difference within it could "
              "flip with the seed):", ""] + pairs
  return "\n".join(lines)


def stds(df: pd.DataFrame, metric: str) -> dict[str, float]:
  """Per optimizer, the standard deviation of the final validation metric over its best
  trial's re-runs (the largest, if several trials were re-run); {} without re-runs."""
  table = spread(df, metric) if len(df) else pd.DataFrame()
  out: dict[str, float] = {}
  for _, r in table.iterrows():
    if np.isfinite(r["validation_std"]):
      out[r["optimizer"]] = max(out.get(r["optimizer"], 0.0), float(r["validation_std"]))
  return out


def versus(diff: float, a: str, b: str, noise: dict[str, float]) -> str:
  """A difference between optimizers a and b against the larger of their seed stds."""
  known = [noise[o] for o in (a, b) if o in noise]
  if not known or not np.isfinite(diff):
    return "—"
  word = "within" if abs(diff) < max(known) else "beyond"
  return f"{word} (Δ {markdown.fmt(abs(diff))}, std {markdown.fmt(max(known))})"


def inclusion_cells(results, noise: dict[str, float]) -> list[str]:
  """For the inclusion table: each pair's difference of best-of-K medians against seed
  noise (diagnostics.InclusionResult rows)."""
  return [versus(r.general_band[1] - r.special_band[1], r.general, r.special, noise)
          for r in results]


def ranking_note(ranked: pd.DataFrame, noise: dict[str, float], label: str) -> str | None:
  """The neighbouring ranks of a ranking (study_facts.ranking) whose values differ by less
  than the larger seed std of the two: their order could flip with the seed."""
  if not noise:
    return None
  rows = ranked.sort_values("rank").to_dict("records")
  pairs = [(a, b, versus(b["value"] - a["value"], a["optimizer"], b["optimizer"], noise))
           for a, b in zip(rows, rows[1:])]
  close = [f"{a['optimizer']} ({int(a['rank'])}) and {b['optimizer']} ({int(b['rank'])}): "
           f"{verdict}" for a, b, verdict in pairs if verdict.startswith("within")]
  if not close:
    return f"{label}: every pair of neighbouring ranks differs by more than seed noise."
  return (f"{label}: neighbouring ranks within seed noise (their order could flip with the "
          "seed): " + "; ".join(close) + ".")
