"""`analyze` and `summary`: from a study directory to figures, a Markdown report and a table.

The report is a list of sections (analysis/section.py): `SECTIONS` holds one function per
section, each making one `Section` (title, Markdown, figures) from the loaded study, or None
where the section does not apply; `analyze` renders them in order and letters the figures.
Adding a section is adding a function to `SECTIONS`.

The report is a pure function of the trial table, the manifest and (for the curves figure)
the metrics files: no time stamps, no absolute paths, so running `analyze` twice gives the
same report.md byte for byte. A directory holding only study.json and a trials.csv (a
committed study table) gives the same tables; only the curves figure is skipped, and the
budget and target robustness sections, which need the per-step logs, are left out unless the
directory also holds the curves.csv that `analyze` writes beside trials.csv.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from etils import epath

from optcompare import errors
from optcompare import study_manifest
from optcompare import studydir
from optcompare.analysis import bootstrap as bootstrap_lib
from optcompare.analysis import comparison
from optcompare.analysis import diagnostics
from optcompare.analysis import figures
from optcompare.analysis import load
from optcompare.analysis import loaded
from optcompare.analysis import markdown
from optcompare.analysis import robustness
from optcompare.analysis import robustness_report
from optcompare.analysis import section as section_lib
from optcompare.analysis import seed_noise
from optcompare.analysis import selection
from optcompare.analysis import versus_reference
from optcompare.analysis.section import FigureFile
from optcompare.analysis.section import Section
# Re-exported: the notebook and the tests read these from the report module.
from optcompare.analysis.study_facts import (max_k, ranking, study_metric,  # pylint: disable=unused-import
                                             study_target, workload_text)

_log = logging.getLogger(__name__)

NUM_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
SETTLE_TOLERANCE = 0.002  # absolute change of the best-of-K median that counts as settled
REPORT = "report.md"
# The figures that sections refer to by name.
BEST_OF_K = "best_of_k.png"
VERDICTS = "robustness_verdicts.png"
STEPS_TO_TARGETS = "steps_to_targets.png"


_f = markdown.fmt
_band = markdown.band
_table = markdown.table


@dataclasses.dataclass(frozen=True)
class Inputs:
  """What the sections are made from: the study, the one it is compared with (--compare),
  the settling tolerance and the robustness analysis (None without per-step curves)."""
  study: loaded.LoadedStudy
  other: loaded.LoadedStudy | None
  settle_tolerance: float
  robust: robustness_report.Robustness | None


def _status_table(df: pd.DataFrame, optimizers: Sequence[str]) -> str:
  counts = df.groupby(["optimizer", "status"]).size()
  present = [s for s in load.TABLE_STATUSES if s in set(df["status"])] or ["completed"]
  rows = [[opt] + [int(counts.get((opt, s), 0)) for s in present] +
          [int((df["optimizer"] == opt).sum())] for opt in optimizers]
  return _table(["optimizer"] + present + ["total"], rows)


def _best_table(study: loaded.LoadedStudy) -> str:
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


def _bootstrap_table(study: loaded.LoadedStudy) -> str:
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


def _settling_text(study: loaded.LoadedStudy, tolerance: float) -> str:
  """When the bootstrap settles (bootstrap.settling_k), per optimizer, in one paragraph."""
  settled = bootstrap_lib.settling_k(study.boot, tolerance)
  parts = []
  for opt in study.optimizers:
    med = study.boot.loc[study.boot["optimizer"] == opt].sort_values("K")[
        "validation_median"].to_numpy(float)
    parts.append(_settling_part(opt, settled.get(opt), med, study.ks, tolerance))
  return (f"Settling ({section_lib.ref(BEST_OF_K)}): the smallest K > 1 after which the "
          f"best-of-K validation {study.metric} median changes by less than {tolerance:g} "
          f"(absolute) from each K to the next, for at least {bootstrap_lib.SETTLE_STEPS} "
          f"further doublings of K: {'; '.join(parts)}.")


def _settling_part(opt: str, k: int | None, med: np.ndarray, ks: Sequence[int],
                   tolerance: float) -> str:
  """One optimizer's part of the settling paragraph: where it settled, the last change when
  it did not, or that too few doublings followed an unchanged stretch to claim it."""
  if k is not None:
    return f"{opt} K = {k}"
  if len(med) < 2 or not np.isfinite(med[-2:]).all():
    return f"{opt} —"
  if abs(med[-1] - med[-2]) >= tolerance:
    return f"{opt} not settled by K = {ks[-1]} (last change {_f(abs(med[-1] - med[-2]))})"
  flat = bootstrap_lib.unchanged_steps(med, tolerance)
  first = len(flat) - int(np.argmin(flat[::-1])) if not flat.all() else 0
  return (f"{opt} unchanged from K = {ks[first]} to {ks[-1]}, too few doublings to call it "
          "settled")


_NOISE_RULE = (" Seed noise: the larger of the two optimizers' standard deviations of the "
               "validation metric over their best trials' re-runs; a verdict resting on a "
               "difference within it could flip with the seed.")


def _inclusion_text(study: loaded.LoadedStudy) -> str:
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


def _budget_text(study: loaded.LoadedStudy) -> str:
  """What budget would close each pair that is not held (diagnostics.closing_budget)."""
  lines = [b for r in study.inclusion
           if (b := diagnostics.closing_budget(study.boot, r)) is not None]
  if not lines:
    return ""
  return ("\n\nBudget to close, extrapolating the general optimizer's best-of-K median at its "
          "last doubling's rate (best-of-K curves flatten: a lower bound):\n\n"
          + "\n".join(f"- {line}" for line in lines))


def _boundary_text(study: loaded.LoadedStudy) -> str:
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




# ---- the sections, in the report's order ----

def _study_figures(study: loaded.LoadedStudy, settle_tolerance: float
                   ) -> tuple[FigureFile, ...]:
  """The figures every study has: best trials, best-of-K, steps to target, one per
  optimizer's hyperparameters, and the training curves where there are per-step logs."""
  m = study.metric
  hparams = [FigureFile(f"hparams_{opt}.png",
                        figures.hparam_figure(study.df, opt, study.spaces[opt], m,
                                              study.warnings),
                        f"{opt}: validation {m} versus each tuned hyperparameter", "hparams")
             for opt in study.optimizers if study.spaces.get(opt)]
  curves = study.curves()
  return section_lib.figure_files(
      FigureFile("best_trials.png", figures.best_trials_figure(study.df, study.boot, m),
                 f"best-of-{study.kmax} validation and test {m} per optimizer, 5–95% "
                 "bootstrap bars"),
      FigureFile(BEST_OF_K, figures.best_of_k_figure(
          study.boot, m, settled=bootstrap_lib.settling_k(study.boot, settle_tolerance)),
                 f"best-of-K {m} versus K, median and 5–95% band"),
      FigureFile("steps_to_target.png",
                 figures.steps_to_target_figure(study.df, study.target),
                 "steps to reach the target"),
      *hparams,
      FigureFile("curves.png", figures.curves_figure(curves, study.df, m),
                 f"validation {m} versus step, best {figures.CURVES_NUM_BEST} trials per "
                 "optimizer") if curves is not None else None)


def _judged_on(study: loaded.LoadedStudy) -> str:
  m = study.metric
  if study.selection.default:
    return (f"- Judged on validation {m} (lower is better); the test {m} reported is that of "
            "the trial chosen by validation.")
  return (f"- Trials chosen by {study.rule} (`--select={study.selection.name}`); judged on the "
          f"validation {m} of the chosen trial (lower is better), and the test {m} reported is "
          "that of the same trial.")


def top(inputs: Inputs) -> Section:
  """The report's title and what was analysed, with the study's figures."""
  study = inputs.study
  seed_text = _f(study.manifest.seed)
  caveat = markdown.inclusion_caveat(study.weak, study.inclusion, short=True,
                                     min_k=diagnostics.MIN_EVIDENCE_K)
  lines = [
      f"# Study report: {study.workload}", "",
      f"- Workload: {workload_text(study.config, study.target)}.",
      f"- Study seed {seed_text}; {len(study.df)} trials in the manifest; optimizers: "
      f"{', '.join(study.optimizers)}.",
      _judged_on(study),
      f"- Bootstrap: {study.num_resamples} resamples, seed {study.seed}, K = "
      f"{', '.join(str(k) for k in study.ks)}. Diverged trials count as lost (never "
      "chosen unless all K lost; such a resample scores inf). Failed (the infrastructure's, "
      "not the optimizer's), unfinished, pending and corrupt trials are left out.",
  ] + ([f"- {caveat}"] if caveat else [])
  notes = () if study.curves() is not None else (
      "Training curves skipped: this directory holds the trial table only (no trials/ "
      "directory with metrics.jsonl files).",)
  return Section("", "\n".join(lines), _study_figures(study, inputs.settle_tolerance), notes)


def headline(inputs: Inputs) -> Section:
  return Section("Headline", inputs.study.headline())


def trial_status(inputs: Inputs) -> Section:
  return Section("Trial status", _status_table(inputs.study.df, inputs.study.optimizers))


def best_trial(inputs: Inputs) -> Section:
  return Section("Best trial per optimizer", _best_table(inputs.study))


def bootstrap(inputs: Inputs) -> Section:
  return Section("Bootstrap: best-of-K", _bootstrap_table(inputs.study) + "\n\n"
                 + _settling_text(inputs.study, inputs.settle_tolerance))


def inclusion(inputs: Inputs) -> Section:
  return Section("Inclusion check", _inclusion_text(inputs.study))


def against_references(inputs: Inputs) -> Section | None:
  """Each optimizer outside the paper's six against tuned Adam and Nesterov."""
  study = inputs.study
  text = versus_reference.section_text(study.boot, study.optimizers, study.noise, study.metric)
  return None if text is None else Section("Against tuned Adam and Nesterov", text)


def training_loss_selection(inputs: Inputs) -> Section | None:
  """Best trials chosen by training loss beside the report's own choice (none when the
  report itself chose by training loss, or no trial has a train_eval loss)."""
  study = inputs.study
  if study.selection.column == selection.TRAIN_LOSS:
    return None
  text = selection.training_loss_section(study.df, study.metric, study.ks, study.num_resamples,
                                         study.seed, study.optimizers, study.inclusion,
                                         study.rule)
  return None if text is None else Section("Selection by training loss", text)


def _seed_noise_text(study: loaded.LoadedStudy) -> str | None:
  if not len(study.rerun_rows):
    return None
  return seed_noise.section(study.rerun_rows, study.metric, study.optimizers)


def seed_noise_spread(inputs: Inputs) -> Section | None:
  text = _seed_noise_text(inputs.study)
  return None if text is None else Section("Seed noise", text)


def boundaries(inputs: Inputs) -> Section:
  return Section("Search-space boundaries", _boundary_text(inputs.study))


def data_issues(inputs: Inputs) -> Section | None:
  issues = inputs.study.issues
  if not issues:
    return None
  return Section("Data issues", "\n".join(["Skipped while loading:", ""]
                                          + [f"- {i}" for i in issues]))


def protocol_comparison(inputs: Inputs) -> Section | None:
  if inputs.other is None:
    return None
  return comparison.section(inputs.study, inputs.other)


def budget_robustness(inputs: Inputs) -> Section | None:
  r = inputs.robust
  if r is None:
    return None
  return Section("Budget robustness", robustness_report.budget_section(
      r, inputs.study.optimizers, section_lib.ref(VERDICTS)), section_lib.figure_files(
          FigureFile(VERDICTS, robustness_report.verdict_figure(r),
                     f"inclusion verdicts per step budget and per target, K = {r.kmax}")))


def target_robustness(inputs: Inputs) -> Section | None:
  r = inputs.robust
  if r is None:
    return None
  return Section("Target robustness", robustness_report.target_section(
      r, inputs.study.optimizers, section_lib.ref(VERDICTS, STEPS_TO_TARGETS)),
                 section_lib.figure_files(FigureFile(
                     STEPS_TO_TARGETS, robustness_report.steps_figure(r),
                     f"best-of-{r.kmax} steps to reach each target validation {r.metric}")))


SECTIONS: tuple[Callable[[Inputs], Section | None], ...] = (
    top, headline, trial_status, best_trial, bootstrap, inclusion, against_references,
    training_loss_selection, seed_noise_spread, boundaries, data_issues, protocol_comparison,
    budget_robustness, target_robustness)


# ---- analyze ----

def _compared(study: loaded.LoadedStudy, compare: epath.PathLike | None,
              select: str | None) -> loaded.LoadedStudy | None:
  """The --compare study, loaded as `study` was; BadInputError if it lacks the metric."""
  if compare is None:
    return None
  other = loaded.LoadedStudy(compare, study.num_resamples, study.seed, select)
  if f"final.validation.{study.metric}" not in other.df.columns:
    raise errors.BadInputError(
        f"{other.dir / studydir.MANIFEST}: no final.validation.{study.metric} to compare on")
  return other


def _robustness(study: loaded.LoadedStudy, targets: Sequence[float] | None,
                num_targets: int) -> robustness_report.Robustness | None:
  return robustness_report.compute(
      study.curves(), study.df, study.metric, study.ks, select_split=study.selection.split,
      select_metric=study.selection.metric, selection_text=study.selection.text,
      schedule=study.schedule, num_resamples=study.num_resamples, seed=study.seed,
      optimizers=study.optimizers, targets=targets, num_targets=num_targets)


def _write(out: epath.Path, study: loaded.LoadedStudy, sections: Sequence[Section]) -> None:
  """Everything `analyze` writes into `out`: the tables that reproduce the report (trials.csv,
  a copy of study.json, curves.csv and reruns.csv where they exist), the figures, report.md."""
  out.mkdir(parents=True, exist_ok=True)
  load.save_table(study.table, out / studydir.TABLE)
  if (out / studydir.MANIFEST) != (study.dir / studydir.MANIFEST):
    (out / studydir.MANIFEST).write_text((study.dir / studydir.MANIFEST).read_text())
  if study.curves() is not None:
    robustness.save_curves_table(study.curves(), out / robustness.CURVES_TABLE)
  if _seed_noise_text(study) is not None:
    seed_noise.save(study.rerun_rows, out / seed_noise.TABLE)
  letter_of = section_lib.letters(sections)
  for s in sections:
    for f in s.figures:
      figures.save(f.figure, out / f.name, letter=letter_of[f.name])
  (out / REPORT).write_text(section_lib.render(sections))


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
  study = loaded.LoadedStudy(workdir, num_resamples, seed, select)
  inputs = Inputs(study, _compared(study, compare, select), settle_tolerance,
                  _robustness(study, targets, num_targets))
  for w in study.warnings:
    _log.warning("search-space boundary: %s", w.message())
  sections = [s for make in SECTIONS if (s := make(inputs)) is not None]
  _write(epath.Path(out) if out is not None else study.dir / studydir.ANALYSIS, study, sections)
  return study.headline()


def _reruns_line(workdir: epath.Path, manifest: study_manifest.StudyManifest) -> str:
  """The seed re-runs' count, apart from the search's trials: how many finished (a
  damaged result.json counts as not finished: the sweep sets it aside and re-runs it)."""
  finished = 0
  for r in manifest.reruns:
    try:
      result = studydir.read_result(studydir.trial_path(workdir, r.id))
    except studydir.DamagedFileError:
      result = None
    finished += bool(result and result.finished)
  return f"{finished} of {len(manifest.reruns)} seed re-runs finished"


def summary(workdir: epath.PathLike) -> str:
  """A few lines for the end of a sweep: status counts, best per optimizer, warnings."""
  workdir = epath.Path(workdir)
  manifest = study_manifest.StudyManifest.read(workdir)
  df = load.load_table(workdir)
  metric = study_metric(manifest.config, df)
  counts = df["status"].value_counts()
  parts = [f"{int(counts[s])} {s}" for s in load.TABLE_STATUSES if s in counts]
  lines = [f"{len(df)} trials: " + ", ".join(parts)]
  if manifest.reruns:
    lines[0] += f"; {_reruns_line(workdir, manifest)}"
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
  warns = diagnostics.boundary_warnings(df, manifest.search_spaces, metric)
  widen = [w for w in warns if not w.natural]
  if widen:
    lines.append(f"  {len(widen)} top trial(s) near a search bound that could be widened "
                 "(see `optcompare analyze`)")
  return "\n".join(lines)
