"""`analyze` and `summary`: from a study directory to figures, a Markdown report and a table.

The report is a pure function of the trial table, the manifest and (for the curves figure)
the metrics files: no time stamps, no absolute paths, so running `analyze` twice gives the
same report.md byte for byte. A directory holding only study.json and a trials.csv (a
committed study table) gives the same tables; only the curves figure is skipped, and the
budget and target robustness sections, which need the per-step logs, are left out unless the
directory also holds the curves.csv that `analyze` writes beside trials.csv.
"""
from __future__ import annotations

import logging
from typing import Sequence
import warnings

import numpy as np
import pandas as pd
from etils import epath

from optcompare import errors
from optcompare import studydir
from optcompare.analysis import bootstrap as bootstrap_lib
from optcompare.analysis import comparison
from optcompare.analysis import diagnostics
from optcompare.analysis import figures
from optcompare.analysis import load
from optcompare.analysis import markdown
from optcompare.analysis import robustness
from optcompare.analysis import robustness_report
from optcompare.analysis import seed_noise
from optcompare.analysis import selection
# Re-exported: the notebook and the tests read these from the report module.
from optcompare.analysis.study_facts import (max_k, ranking, study_metric,  # pylint: disable=unused-import
                                             study_target, workload_text)

_log = logging.getLogger(__name__)

NUM_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
SETTLE_TOLERANCE = 0.002  # absolute change of the best-of-K median that counts as settled


_f = markdown.fmt
_band = markdown.band
_table = markdown.table


class _Study:
  """Everything derived from one study directory (or table) for the report."""

  def __init__(self, directory: epath.PathLike, num_resamples: int, seed: int,
               select: str | None = None):
    self.dir = epath.Path(directory)
    self.manifest = studydir.read_manifest(self.dir)
    self.config = self.manifest.get("config") or {}
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
    self.spaces = self.config.get("search_spaces") or {}
    base_optimizer = (self.config.get("base") or {}).get("optimizer") or {}
    self.schedule = str((base_optimizer.get("schedule") or {}).get("name") or "")
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
    # The protocol's name if the study config gives one; the directory name otherwise (used
    # only to label a protocol comparison: report.md must not depend on where it was run).
    self.protocol = str(self.config.get("protocol") or self.config.get("name") or "")
    self.label = self.protocol or self.dir.name
    self.rerun_rows = seed_noise.load(self.dir, self.manifest)
    self.noise = seed_noise.stds(self.rerun_rows, self.metric)  # {} without seed re-runs

  def curves(self) -> pd.DataFrame | None:
    """Every trial's metrics.jsonl rows (trial directories), else a committed curves.csv;
    None without either. Read once."""
    if not hasattr(self, "_curves"):
      self._curves = None
      if self.has_curves:
        with warnings.catch_warnings():
          warnings.simplefilter("ignore", load.StudyFileWarning)  # reported by load_study
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
    return str((self.config.get("base") or {}).get("workload") or "unknown workload")

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
          opt, f"{int(r['n_finished'])} ({int(r['n_lost'])} lost)",
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


def _status_table(df: pd.DataFrame, optimizers: Sequence[str]) -> str:
  statuses = ["completed", "diverged", "failed", "running", "pending", "corrupt"]
  counts = df.groupby(["optimizer", "status"]).size()
  present = [s for s in statuses if s in set(df["status"])] or ["completed"]
  rows = [[opt] + [int(counts.get((opt, s), 0)) for s in present] +
          [int((df["optimizer"] == opt).sum())] for opt in optimizers]
  return _table(["optimizer"] + present + ["total"], rows)


def _best_table(study: _Study) -> str:
  vcol = bootstrap_lib.metric_column(study.metric, "validation")
  tcol = bootstrap_lib.metric_column(study.metric, "test")
  sel = study.selection
  rows = []
  for opt, r in study.best_rows().items():
    space = study.spaces.get(opt) or {}
    names = [n for n in space if f"hp.{n}" in r.index] or [
        c[3:] for c in r.index if c.startswith("hp.")]
    hps = ", ".join(f"{n}={markdown.hparam_value(r[f'hp.{n}'], '.3g')}" for n in names)
    rows.append([opt, r["trial_id"]] + ([] if sel.default else [_f(r[sel.column])]) +
                [_f(r[vcol]), _f(r.get(tcol, np.nan)),
                 _f(r.get("steps_to_target", np.nan), ".0f"), hps])
  return _table(["optimizer", "trial"] + ([] if sel.default else [sel.text]) +
                [f"validation {study.metric}", f"test {study.metric}",
                 "steps to target", "hyperparameters"], rows)


def _bootstrap_table(study: _Study) -> str:
  rows = []
  sel = study.selection
  for opt in study.optimizers:
    for _, r in study.boot[study.boot["optimizer"] == opt].iterrows():
      rows.append([opt, int(r["K"])] + ([] if sel.default else [
          _band(r["selected_median"], r["selected_p5"], r["selected_p95"])]) +
                  [_band(r["validation_median"], r["validation_p5"], r["validation_p95"]),
                   _band(r["test_median"], r["test_p5"], r["test_p95"]),
                   _f(r["frac_all_lost"], ".3f")])
  m = study.metric
  head = ([f"best-of-K validation {m}"] if sel.default else
          [f"best-of-K {sel.text}", f"its validation {m}"])
  return _table(["optimizer", "K"] + head + [f"its test {m}", "P(all K lost)"], rows)


def _settling_text(study: _Study, tolerance: float) -> str:
  """When the bootstrap settles (bootstrap.settling_k), per optimizer, in one paragraph."""
  settled = bootstrap_lib.settling_k(study.boot, tolerance)
  parts = []
  for opt in study.optimizers:
    k = settled.get(opt)
    med = study.boot.loc[study.boot["optimizer"] == opt].sort_values("K")[
        "validation_median"].to_numpy(float)
    if k is not None:
      parts.append(f"{opt} K = {k}")
    elif len(med) > 1 and np.isfinite(med[-2:]).all():
      parts.append(f"{opt} not settled by K = {study.kmax} (last change "
                   f"{_f(abs(med[-1] - med[-2]))})")
    else:
      parts.append(f"{opt} —")
  return (f"Settling (figure b): the smallest K after which the best-of-K validation "
          f"{study.metric} median changes by less than {tolerance:g} (absolute) from each K "
          f"to the next: {'; '.join(parts)}.")


_NOISE_RULE = (" Seed noise: the larger of the two optimizers' standard deviations of the "
               "validation metric over their best trials' re-runs; a verdict resting on a "
               "difference within it could flip with the seed.")


def _inclusion_section(study: _Study) -> str:
  if not study.inclusion:
    return "No inclusion pair (SGD ⊆ Momentum ⊆ RMSProp/Adam, SGD ⊆ Nesterov ⊆ NAdam) " \
           "has both optimizers in this study."
  caveat = markdown.inclusion_caveat(study.weak, study.inclusion,
                                     min_k=diagnostics.MIN_EVIDENCE_K)
  return ((caveat + "\n\n" if caveat else "")
          + markdown.inclusion_table(study.inclusion, study.metric, extra=[
              ("difference of medians vs seed noise",
               seed_noise.inclusion_cells(study.inclusion, study.noise))] if study.noise else [])
          + "\n\n" + markdown.INCLUSION_RULE + (_NOISE_RULE if study.noise else "")
          + _budget_text(study))


def _budget_text(study: _Study) -> str:
  """What budget would close each pair that is not held (diagnostics.closing_budget)."""
  lines = [b for r in study.inclusion
           if (b := diagnostics.closing_budget(study.boot, r)) is not None]
  if not lines:
    return ""
  return ("\n\nBudget to close, extrapolating the general optimizer's best-of-K median at its "
          "last doubling's rate (best-of-K curves flatten: a lower bound):\n\n"
          + "\n".join(f"- {line}" for line in lines))


def _boundary_section(study: _Study) -> str:
  if not study.spaces:
    return "The manifest has no search spaces; nothing checked."
  if not study.warnings:
    return ("No top-10% trial lies within 5% (on the search scale) of a search bound.")
  widen = [f"- ⚠ {w.message()}" for w in study.warnings if not w.natural]
  natural = [f"- {w.message()}" for w in study.warnings if w.natural]
  parts = []
  if widen:
    parts.append("Top-10% trials within 5% (on the search scale) of a search bound — the best "
                 "settings may lie outside the space:\n\n" + "\n".join(widen))
  else:
    parts.append("No top-10% trial lies within 5% (on the search scale) of a search bound "
                 "that could be widened.")
  if natural:
    parts.append("Top-10% trials within 5% of a bound that is the hyperparameter's natural "
                 "limit (λ = 1 is no decay, γ = 0 no momentum): no setting lies beyond it, "
                 "so these need no wider space:\n\n" + "\n".join(natural))
  return "\n\n".join(parts)


def analyze(workdir: epath.PathLike, out: epath.PathLike | None = None,
            compare: epath.PathLike | None = None, *, num_resamples: int = NUM_RESAMPLES,
            seed: int = BOOTSTRAP_SEED, select: str | None = None,
            targets: Sequence[float] | None = None,
            num_targets: int = robustness.DEFAULT_NUM_TARGETS,
            settle_tolerance: float = SETTLE_TOLERANCE) -> str:
  """Figures, report.md and trials.csv for a study; returns the headline table (Markdown).

  `workdir`: a study directory, or a directory with only study.json + trials.csv (and
  optionally curves.csv).
  `out`: where to write (default <workdir>/analysis); it also receives a copy of study.json,
  and curves.csv when per-step logs exist, so `analyze(out)` reproduces the tables from the
  committed files alone.
  `compare`: a second study of the same workload (another protocol): adds a ranking table
  and protocol_comparison.png.
  `select`: SPLIT.METRIC that chooses the best trials (analysis/selection.py); default the
  study's metric on validation. BadInputError naming --select if a study lacks it.
  `targets` (default `num_targets` evenly spaced between the best and the median final
  validation metric) and `settle_tolerance`: see analysis/robustness.py and
  bootstrap.settling_k.
  """
  workdir = epath.Path(workdir)
  study = _Study(workdir, num_resamples, seed, select)
  other = (_Study(epath.Path(compare), num_resamples, seed, select) if compare is not None
           else None)
  if other is not None and f"final.validation.{study.metric}" not in other.df.columns:
    raise errors.BadInputError(
        f"{other.dir / studydir.MANIFEST}: no final.validation.{study.metric} to compare on")
  for w in study.warnings:
    _log.warning("search-space boundary: %s", w.message())
  out = epath.Path(out) if out is not None else workdir / "analysis"
  out.mkdir(parents=True, exist_ok=True)

  load.save_table(study.table, out / studydir.TABLE)
  if (out / studydir.MANIFEST) != (workdir / studydir.MANIFEST):
    (out / studydir.MANIFEST).write_text((workdir / studydir.MANIFEST).read_text())

  m = study.metric
  figs: list[tuple[str, str]] = []

  def put(name: str, fig, caption: str) -> None:
    if fig is None:
      return
    figures.save(fig, out / name)
    figs.append((name, caption))

  put("best_trials.png", figures.best_trials_figure(study.df, study.boot, m),
      f"(a) best-of-{study.kmax} validation and test {m} per optimizer, 5–95% bootstrap bars")
  put("best_of_k.png", figures.best_of_k_figure(
      study.boot, m, settled=bootstrap_lib.settling_k(study.boot, settle_tolerance)),
      f"(b) best-of-K {m} versus K, median and 5–95% band")
  put("steps_to_target.png", figures.steps_to_target_figure(study.df, study.target),
      "(c) steps to reach the target")
  for opt in study.optimizers:
    space = study.spaces.get(opt)
    if space:
      put(f"hparams_{opt}.png",
          figures.hparam_figure(study.df, opt, space, m, study.warnings),
          f"(d) {opt}: validation {m} versus each tuned hyperparameter")
  curves_note = ""
  curves = study.curves()
  if curves is not None:
    robustness.save_curves_table(curves, out / robustness.CURVES_TABLE)
    put("curves.png", figures.curves_figure(curves, study.df, m),
        f"(e) validation {m} versus step, best {figures.CURVES_NUM_BEST} trials per optimizer")
  else:
    curves_note = ("Training curves (figure e) skipped: this directory holds the trial table "
                   "only (no trials/ directory with metrics.jsonl files).")

  sections = [f"# Study report: {study.workload}", ""]
  seed_text = _f(study.manifest.get("seed", study.config.get("seed")))
  caveat = markdown.inclusion_caveat(study.weak, study.inclusion, short=True,
                                     min_k=diagnostics.MIN_EVIDENCE_K)
  sections += [
      f"- Workload: {workload_text(study.config, study.target)}.",
      (f"- Protocol: {study.protocol}; s" if study.protocol else "- S") +
      f"tudy seed {seed_text}; {len(study.df)} trials in the "
      f"manifest; optimizers: {', '.join(study.optimizers)}.",
      (f"- Judged on validation {m} (lower is better); the test {m} reported is that of the "
       "trial chosen by validation." if study.selection.default else
       f"- Trials chosen by {study.rule} (`--select={study.selection.name}`); judged on the "
       f"validation {m} of the chosen trial (lower is better), and the test {m} reported is "
       "that of the same trial."),
      f"- Bootstrap: {num_resamples} resamples, seed {seed}, K = "
      f"{', '.join(str(k) for k in study.ks)}. Diverged trials count as lost (never "
      "chosen unless all K lost; such a resample scores inf). Failed (the infrastructure's, "
      "not the optimizer's), running, pending and corrupt trials are left out.",
  ] + ([f"- {caveat}"] if caveat else []) + [
      "", "## Headline", "", study.headline(), "",
      "## Trial status", "", _status_table(study.df, study.optimizers), "",
      "## Best trial per optimizer", "", _best_table(study), "",
      "## Bootstrap: best-of-K", "", _bootstrap_table(study), "",
      _settling_text(study, settle_tolerance), "",
      "## Inclusion check", "", _inclusion_section(study), "",
  ]
  by_training_loss = None if study.selection.column == selection.TRAIN_LOSS else (
      selection.training_loss_section(study.df, m, study.ks, num_resamples, seed,
                                      study.optimizers, study.inclusion, study.rule))
  if by_training_loss is not None:  # (the whole report is that when --select chose it)
    sections += ["## Selection by training loss", "", by_training_loss, ""]
  rerun_rows = study.rerun_rows
  noise = seed_noise.section(rerun_rows, m, study.optimizers) if len(rerun_rows) else None
  if noise is not None:
    seed_noise.save(rerun_rows, out / seed_noise.TABLE)
    sections += ["## Seed noise", "", noise, ""]
  sections += ["## Search-space boundaries", "", _boundary_section(study), ""]
  if study.issues:
    sections += ["## Data issues", "", "Skipped while loading:", ""]
    sections += [f"- {i}" for i in study.issues] + [""]
  if other is not None:
    lines, fig, caption = comparison.section(study, other)
    put("protocol_comparison.png", fig, caption)
    sections += lines
  robust = robustness_report.compute(
      curves, study.df, m, study.ks, select_split=study.selection.split,
      select_metric=study.selection.metric, selection_text=study.selection.text,
      schedule=study.schedule, num_resamples=num_resamples, seed=seed,
      optimizers=study.optimizers, targets=targets, num_targets=num_targets)
  if robust is not None:
    sections += ["## Budget robustness", "", robustness_report.budget_section(
        robust, study.optimizers), "",
                 "## Target robustness", "", robustness_report.target_section(
                     robust, study.optimizers), ""]
    put("robustness_verdicts.png", robustness_report.verdict_figure(robust),
        "(g) inclusion verdicts per step budget and per target, K = "
        f"{robust.kmax}")
    put("steps_to_targets.png", robustness_report.steps_figure(robust),
        f"(h) best-of-{robust.kmax} steps to reach each target validation {m}")
  sections += ["## Figures", ""]
  sections += [f"- [{name}]({name}): {caption}" for name, caption in figs]
  if curves_note:
    sections += [f"- {curves_note}"]
  sections += [""]
  (out / "report.md").write_text("\n".join(sections))
  return study.headline()


def summary(workdir: epath.PathLike) -> str:
  """A few lines for the end of a sweep: status counts, best per optimizer, warnings."""
  workdir = epath.Path(workdir)
  manifest = studydir.read_manifest(workdir)
  config = manifest.get("config") or {}
  df = load.load_table(workdir)
  metric = study_metric(config, df)
  counts = df["status"].value_counts()
  parts = [f"{int(counts[s])} {s}" for s in ("completed", "diverged", "failed", "running",
                                             "pending", "corrupt") if s in counts]
  lines = [f"{len(df)} trials: " + ", ".join(parts)]
  vcol = bootstrap_lib.metric_column(metric, "validation")
  tcol = bootstrap_lib.metric_column(metric, "test")
  for opt in diagnostics.order_optimizers(df["optimizer"]):
    top = diagnostics.best_trials(df, opt, metric, 1)
    if top.empty:
      lines.append(f"  {opt:<10} no completed trial")
      continue
    r = top.iloc[0]
    test = f", test {metric} {_f(r[tcol])}" if tcol in r.index else ""
    lines.append(f"  {opt:<10} best {r['trial_id']}: validation {metric} {_f(r[vcol])}{test}")
  warns = diagnostics.boundary_warnings(df, config.get("search_spaces") or {}, metric)
  widen = [w for w in warns if not w.natural]
  if widen:
    lines.append(f"  {len(widen)} top trial(s) near a search bound that could be widened "
                 "(see `optcompare analyze`)")
  return "\n".join(lines)
