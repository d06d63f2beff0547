"""The report's budget and target robustness sections and their two figures
(analysis/robustness.py computes; this module writes Markdown and draws)."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from optcompare.analysis import figures
from optcompare.analysis import markdown as md
from optcompare.analysis import robustness
from optcompare.analysis import verdicts as verdict_rule

VERDICTS = verdict_rule.WORDS  # held, inconclusive, violated: one look (analysis/verdicts.py)


@dataclasses.dataclass
class Robustness:
  """Everything the two sections show, for one study."""
  metric: str
  kmax: int
  selection_text: str      # "validation error": what chooses the trial at each step
  schedule: str
  budget: pd.DataFrame     # robustness.budget_bootstrap
  budget_verdicts: dict
  targets: list[float]
  targets_given: bool
  target: pd.DataFrame     # robustness.target_bootstrap
  target_verdicts: dict
  best_final: float | None = None
  median_final: float | None = None


def compute(curves: pd.DataFrame | None, df: pd.DataFrame, metric: str, ks: Sequence[int],
            *, select_split: str, select_metric: str, selection_text: str, schedule: str,
            num_resamples: int, seed: int, optimizers: Sequence[str],
            targets: Sequence[float] | None = None,
            num_targets: int = robustness.DEFAULT_NUM_TARGETS) -> Robustness | None:
  """None when there are no curves (a committed table without curves.csv) or no finished
  trial evaluated the validation split."""
  if curves is None or not len(curves) or not robustness.eval_steps(curves, df, "validation"):
    return None
  kmax = max(ks)
  budget = robustness.budget_bootstrap(
      curves, df, metric, ks, select_split=select_split, select_metric=select_metric,
      num_resamples=num_resamples, seed=seed, optimizers=optimizers)
  given = targets is not None
  targets = sorted(float(t) for t in targets) if given else robustness.default_targets(
      df, metric, num_targets)
  target = robustness.target_bootstrap(curves, df, metric, ks, targets,
                                       num_resamples=num_resamples, seed=seed,
                                       optimizers=optimizers)
  finals = robustness.default_targets(df, metric, 2)
  return Robustness(metric, kmax, selection_text, schedule, budget,
                    robustness.verdicts(budget, "step", kmax), targets, given, target,
                    robustness.verdicts(target, "target", kmax),
                    finals[0] if finals else None, finals[-1] if finals else None)


def _verdict_table(verdicts: dict, labels: Sequence[str]) -> str:
  pairs = list(dict.fromkeys((r.general, r.special) for rs in verdicts.values() for r in rs))
  if not pairs:
    return "No inclusion pair has both optimizers in this study."
  rows = []
  for general, special in pairs:
    cells = []
    for rs in verdicts.values():
      v = next((r.verdict for r in rs if (r.general, r.special) == (general, special)), "—")
      cells.append(v)
    counts = " / ".join(str(cells.count(v)) for v in VERDICTS)
    rows.append([f"{special} ⊆ {general}"] + [verdict_rule.cell(v) for v in cells] + [counts])
  return md.table(["inclusion"] + list(labels) + ["held / inconclusive / violated"], rows)


def _by_key(table: pd.DataFrame, key: str, kmax: int, prefix: str, optimizers: Sequence[str],
            spec: str = ".4g") -> list[list[str]]:
  at_k = table[table["K"] == kmax]
  rows = []
  for value, group in at_k.groupby(key, sort=True):
    g = group.set_index("optimizer")
    rows.append([md.fmt(value, ".0f" if key == "step" else ".4g")] + [
        md.band(g.at[o, f"{prefix}_median"], g.at[o, f"{prefix}_p5"], g.at[o, f"{prefix}_p95"],
                spec) if o in g.index else "—" for o in optimizers])
  return rows


def budget_section(r: Robustness, optimizers: Sequence[str], verdicts_ref: str) -> str:
  """The budget robustness section's Markdown; `verdicts_ref`: how it names the verdict
  figure (e.g. "figure f")."""
  m, k = r.metric, r.kmax
  if r.schedule == "linear_decay":
    caveat = ("This is an approximation: the study's linear-decay schedule is tied to the full "
              "budget, so at an earlier step a trial had not finished decaying, and its value "
              "there is not what a trial tuned for that shorter budget would reach.")
  else:
    caveat = (f"With a linear-decay schedule tied to the full budget this would be an "
              f"approximation (a trial stopped early had not finished decaying); this study's "
              f"schedule is {r.schedule or 'not given'}.")
  steps = [md.fmt(s, ".0f") for s in r.budget_verdicts]
  return "\n".join([
      f"Best-of-{k} validation {m} (median [5%, 95%]) as if the step budget had ended at each "
      f"evaluation step: at each step every trial is chosen by its {r.selection_text} there "
      f"and reports its validation {m} there; a trial that diverged before the step counts "
      f"as lost. {caveat}", "",
      md.table(["step"] + list(optimizers), _by_key(r.budget, "step", k, "validation",
                                                    optimizers)), "",
      f"Inclusion verdicts per budget (the inclusion check's rule at K = {k}; {verdicts_ref}):",
      "",
      _verdict_table(r.budget_verdicts, steps)])


def target_section(r: Robustness, optimizers: Sequence[str], figures_ref: str) -> str:
  """The target robustness section's Markdown; `figures_ref`: how it names the verdict and
  steps figures (e.g. "figures f and g")."""
  m, k = r.metric, r.kmax
  if not r.targets:
    return "No completed trial has a final validation metric: no targets."
  values = ", ".join(md.fmt(t) for t in r.targets)
  how = ("as given" if r.targets_given else
         f"evenly spaced between the study's best final validation {m} "
         f"({md.fmt(r.best_final)}) and the median final validation {m} of its completed "
         f"trials ({md.fmt(r.median_final)})")
  labels = [md.fmt(t) for t in r.target_verdicts]
  return "\n".join([
      f"Steps for the fastest of K = {k} trials to reach validation {m} ≤ target (median "
      f"[5%, 95%]; inf: none of the K reached it), for targets {values} ({how}). A trial "
      f"counts from its first evaluation at or below the target, even if it diverged later; "
      f"the evaluation interval bounds the resolution.", "",
      md.table(["target"] + list(optimizers), _by_key(r.target, "target", k, "steps",
                                                      optimizers, ".0f")), "",
      f"Inclusion verdicts per target (fewer steps is better; the inclusion check's rule at "
      f"K = {k}; {figures_ref}):", "",
      _verdict_table(r.target_verdicts, labels)])


# ---- figures ----

def _grid(ax, verdicts: dict, labels: Sequence[str], pairs: Sequence[tuple[str, str]],
          xlabel: str) -> None:
  grid = np.full((len(pairs), len(labels)), np.nan)
  for j, rs in enumerate(verdicts.values()):
    for r in rs:
      grid[pairs.index((r.general, r.special)), j] = VERDICTS.index(r.verdict)
  ax.imshow(np.ma.masked_invalid(grid), vmin=-0.5, vmax=2.5, aspect="auto",
            cmap=ListedColormap([verdict_rule.COLORS[v] for v in VERDICTS]))
  for (i, j), v in np.ndenumerate(grid):
    if np.isfinite(v):
      ax.text(j, i, verdict_rule.MARKS[VERDICTS[int(v)]], ha="center", va="center", fontsize=8)
  ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
  ax.set_yticks(range(len(pairs)), [f"{s} ⊆ {g}" for g, s in pairs], fontsize=9)
  ax.set_xlabel(xlabel)


def verdict_figure(r: Robustness) -> Figure | None:
  """Inclusion verdicts per step budget and per target: pairs × budgets / targets."""
  panels = [(r.budget_verdicts, [md.fmt(s, ".0f") for s in r.budget_verdicts],
             "step budget"),
            (r.target_verdicts, [md.fmt(t, ".3g") for t in r.target_verdicts],
             f"target validation {r.metric}")]
  panels = [p for p in panels if p[0]]
  pairs = list(dict.fromkeys((x.general, x.special) for v, _, _ in panels
                             for rs in v.values() for x in rs))
  if not pairs:
    return None
  widths = [max(3.0, 0.45 * len(labels) + 1.0) for _, labels, _ in panels]
  fig = Figure(figsize=(sum(widths) + 2.5, 0.45 * len(pairs) + 2.4))
  axes = np.atleast_1d(fig.subplots(1, len(panels), gridspec_kw={"width_ratios": widths}))
  for ax, (verdicts, labels, xlabel) in zip(axes, panels):
    _grid(ax, verdicts, labels, pairs, xlabel)
  for ax in axes[1:]:
    ax.set_yticklabels([])
  handles = [Patch(color=verdict_rule.COLORS[v], label=f"{verdict_rule.MARKS[v]}: {v}")
             for v in VERDICTS]
  fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8)
  fig.suptitle(f"Inclusion verdicts at K = {r.kmax}, per step budget and per target")
  fig.tight_layout(rect=(0, 0.08, 1, 1))
  return fig


def steps_figure(r: Robustness) -> Figure | None:
  """Best-of-K steps to reach each target versus the target (figures.steps_to_targets_figure),
  its step axis ticked at the budget section's evaluation steps."""
  return figures.steps_to_targets_figure(r.target, r.kmax, r.metric,
                                         sorted(float(s) for s in r.budget["step"].unique()))
