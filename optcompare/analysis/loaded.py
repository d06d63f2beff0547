"""One study as the report reads it: `LoadedStudy`, everything derived from its directory.

A study directory, or a directory holding only study.json and trials.csv (a committed study
table; with curves.csv, per-step evaluations too). Files only, no JAX.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from etils import epath

from optcompare import study_manifest
from optcompare import studydir
from optcompare.analysis import bootstrap as bootstrap_lib
from optcompare.analysis import diagnostics
from optcompare.analysis import load
from optcompare.analysis import markdown
from optcompare.analysis import robustness
from optcompare.analysis import seed_noise
from optcompare.analysis import selection
from optcompare.analysis.study_facts import max_k, study_metric, study_target

_f = markdown.fmt
_band = markdown.band
_table = markdown.table


def _finished_cell(n_finished: int, n_lost: int, statuses: pd.Series) -> str:
  """The headline's "finished" cell: the trials that finished, of them lost (diverged), and
  what became of the others: failed (left out of best-of-K), unfinished (no result yet, or
  an unreadable one). An optimizer whose every trial failed is "0 (4 failed)", not "0 (0
  lost)" as if it had none."""
  failed = int((statuses == studydir.FAILED).sum())
  unfinished = int((~statuses.isin(studydir.RESULT_STATUSES)).sum())
  parts = [f"{n} {what}" for n, what in ((n_lost, "lost"), (failed, "failed"),
                                         (unfinished, "unfinished")) if n]
  return f"{n_finished} ({', '.join(parts or ['0 lost'])})"


class LoadedStudy:
  """Everything the report's sections read of one study directory (or committed table): the
  manifest, the trial table, the best-of-K bootstrap, the diagnostics and the seed re-runs."""

  def __init__(self, directory: epath.PathLike, num_resamples: int, seed: int,
               select: str | None = None):
    self.dir = epath.Path(directory)
    self.manifest = study_manifest.StudyManifest.read(self.dir)
    self.config = self.manifest.config
    self.table = load.load_table(self.dir)  # as loaded: what trials.csv holds
    self.df = self.table.copy()
    self.issues = list(self.df.attrs.get("issues", []))
    self.has_curves = load.has_trials(self.dir)
    self.metric = study_metric(self.config, self.df)
    self.selection = selection.parse(select, self.table, self.metric, f"study {self.dir}")
    for split in ("validation", "test"):  # before any trial finished there are no finals
      col = bootstrap_lib.metric_column(self.metric, split)
      if col not in self.df.columns:
        self.df[col] = np.nan
    self.target = study_target(self.dir, self.config, self.df)
    self.spaces = self.manifest.search_spaces
    self.schedule = str(self.manifest.schedule or "")
    self.optimizers = diagnostics.order_optimizers(self.df["optimizer"])
    self.ks = bootstrap_lib.k_values(max_k(self.df))  # 1, 2, 4, ... up to the trial count
    self.kmax = self.ks[-1]
    self.num_resamples, self.seed = num_resamples, seed
    self.boot = bootstrap_lib.bootstrap_best(self.df, self.metric, self.ks, num_resamples,
                                             seed, optimizers=self.optimizers,
                                             select=self.selection.column)
    self.warnings = diagnostics.boundary_warnings(self.df, self.spaces, self.metric)
    self.inclusion = diagnostics.inclusion_check(self.boot)
    self.weak = diagnostics.weak_inclusions(self.inclusion, self.df, self.metric)
    # The directory's name labels the study in a protocol comparison (results/<workload>/
    # <protocol>/ names the protocol; report.md must not depend on where it was run).
    self.label = self.dir.name
    self.rerun_rows = seed_noise.load(self.dir, self.manifest)
    self.noise = seed_noise.stds(self.rerun_rows, self.metric)  # {} without seed re-runs

  def curves(self) -> pd.DataFrame | None:
    """Every trial's metrics.jsonl rows (trial directories), else a committed curves.csv;
    None without either. Read once."""
    if not hasattr(self, "_curves"):
      self._curves = None
      if self.has_curves:  # (load_curves names each damaged metrics file: load_study does not)
        self._curves = load.load_curves(self.dir)
      elif (self.dir / robustness.CURVES_TABLE).exists():
        self._curves = robustness.read_curves_table(self.dir / robustness.CURVES_TABLE)
    return self._curves

  @property
  def rule(self) -> str:
    """How trials are chosen, for the report's text."""
    return f"lowest {self.selection.text}"

  @property
  def workload(self) -> str:
    return str(self.manifest.base.get("workload") or "unknown workload")

  def best_rows(self) -> dict[str, pd.Series]:
    out = {}
    for opt in self.optimizers:
      best = diagnostics.best_trials(self.df, opt, self.selection.column, 1)
      if len(best):
        out[opt] = best.iloc[0]
    return out

  def rank_split(self) -> str:
    return "test" if self.boot["test_median"].notna().any() else "validation"

  def headline(self) -> str:
    k = int(self.boot["K"].max())
    at_k = self.boot[self.boot["K"] == k].set_index("optimizer")
    best = self.best_rows()
    vcol = bootstrap_lib.metric_column(self.metric, "validation")
    tcol = bootstrap_lib.metric_column(self.metric, "test")
    scol, sel = self.selection.column, self.selection
    rows = []
    for opt in self.optimizers:
      r = at_k.loc[opt]
      b = best.get(opt)
      s = self.df.loc[self.df["optimizer"] == opt, "steps_to_target"].to_numpy(float)
      s = s[np.isfinite(s)]
      rows.append([
          opt, _finished_cell(int(r["n_finished"]), int(r["n_lost"]),
                              self.df.loc[self.df["optimizer"] == opt, "status"]),
          _band(r["validation_median"], r["validation_p5"], r["validation_p95"]),
          _band(r["test_median"], r["test_p5"], r["test_p95"]),
          b["trial_id"] if b is not None else "—"] + (
          [] if sel.default else [_f(b[scol]) if b is not None else "—"]) + [
          _f(b[vcol]) if b is not None else "—",
          _f(b[tcol]) if b is not None and tcol in b else "—",
          _f(s.min(), ".0f") if s.size else "—",
      ] + ([_f(self.noise.get(opt))] if self.noise else []))
    m = self.metric
    head = (f"{self.workload}: best-of-{k} {m} (median [5%, 95%], {self.num_resamples} "
            f"bootstrap resamples); trials chosen by {self.rule}")
    table = _table(["optimizer", "finished", f"validation {m}", f"test {m}", "best trial"] +
                   ([] if sel.default else [f"its {sel.text}"]) +
                   [f"its validation {m}", f"its test {m}", "fewest steps to target"] +
                   ([f"seed std of validation {m}"] if self.noise else []), rows)
    return head + "\n\n" + table
