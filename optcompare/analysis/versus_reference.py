"""Where each optimizer outside the paper's six lands against tuned Adam and Nesterov.

A modern built-in (lion, muon, sfadamw, adopt) or a plug-in is set against each reference the
study has, at the largest K both can be resampled at (the report's largest K), by the same
best-of-K bands as the inclusion check (5th percentile, median, 95th; lower is better):

  better        its 95th percentile is below the reference's 5th (the bands separated its way)
  worse         its 5th percentile is above the reference's 95th
  overlapping   otherwise: the study cannot order the two
  too few       either has fewer than verdicts.MIN_TRIALS finished trials, or K is below it

and the difference of the medians against seed noise (the larger seed std of the two, from
the seed re-runs), which says whether a gap is larger than what retraining one setting with
another seed moves. No JAX, no files.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from optcompare.analysis import markdown, seed_noise, verdicts

PAPER_SIX = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")
REFERENCES = ("adam", "nesterov")
BETTER, WORSE, OVERLAPPING, TOO_FEW = "better", "worse", "overlapping", "too few trials"
# (the inclusion verdicts' colours: separated one way, the other, or undecided)
SQUARES = {BETTER: verdicts.SQUARES[verdicts.HELD], WORSE: verdicts.SQUARES[verdicts.VIOLATED],
           OVERLAPPING: verdicts.SQUARES[verdicts.INCONCLUSIVE],
           TOO_FEW: verdicts.SQUARES[verdicts.INCONCLUSIVE]}


@dataclasses.dataclass(frozen=True)
class Comparison:
  optimizer: str
  reference: str
  k: int
  band: tuple[float, float, float]  # (p5, median, p95) of best-of-K validation metric
  reference_band: tuple[float, float, float]
  verdict: str
  noise: str  # seed_noise.versus of the medians' difference, or "—"


def _band(row: pd.Series) -> tuple[float, float, float]:
  return (float(row["validation_p5"]), float(row["validation_median"]),
          float(row["validation_p95"]))


def verdict(band, reference_band, n: float, n_reference: float, k: int,
            min_trials: int = verdicts.MIN_TRIALS) -> str:
  """The rule of the module docstring; NaN bands (no finished trials) are too few."""
  if (not (n >= min_trials and n_reference >= min_trials) or k < min_trials
      or any(math.isnan(x) for x in tuple(band) + tuple(reference_band))):
    return TOO_FEW
  if band[2] < reference_band[0]:
    return BETTER
  if band[0] > reference_band[2]:
    return WORSE
  return OVERLAPPING


def compare(boot: pd.DataFrame, optimizers, noise: dict[str, float]) -> list[Comparison]:
  """Every (optimizer outside the six, reference in the study) pair at the largest K."""
  k = int(boot["K"].max())
  at_k = boot[boot["K"] == k].set_index("optimizer")
  refs = [r for r in REFERENCES if r in at_k.index]
  out = []
  for opt in [o for o in optimizers if o not in PAPER_SIX and o in at_k.index]:
    for ref in refs:
      a, b = at_k.loc[opt], at_k.loc[ref]
      band, ref_band = _band(a), _band(b)
      out.append(Comparison(opt, ref, k, band, ref_band,
                            verdict(band, ref_band, a["n_finished"], b["n_finished"], k),
                            seed_noise.versus(band[1] - ref_band[1], opt, ref, noise)))
  return out


def section_text(boot: pd.DataFrame, optimizers, noise: dict[str, float],
                 metric: str) -> str | None:
  """The report section's Markdown, or None when the study has no optimizer outside the six
  or neither reference."""
  rows = compare(boot, optimizers, noise)
  if not rows:
    return None
  table = markdown.table(
      ["optimizer", "vs", "K", f"its best-of-K validation {metric}",
       f"reference's best-of-K validation {metric}", "verdict",
       "difference of medians vs seed noise"],
      [[c.optimizer, c.reference, c.k, markdown.band(c.band[1], c.band[0], c.band[2]),
        markdown.band(c.reference_band[1], c.reference_band[0], c.reference_band[2]),
        f"{SQUARES[c.verdict]} {c.verdict}", c.noise] for c in rows])
  rule = (f"Rule: {BETTER} if the optimizer's 95th percentile is below the reference's 5th, "
          f"{WORSE} if its 5th is above the reference's 95th, {OVERLAPPING} otherwise (the "
          f"study cannot order them); {TOO_FEW} when either has fewer than "
          f"{verdicts.MIN_TRIALS} finished trials or K < {verdicts.MIN_TRIALS}. Each "
          "optimizer was tuned by the same search over its own space. The last column sets "
          "the gap between the medians against the larger seed std of the two (seed re-runs "
          "of each optimizer's best trial).")
  if not noise:
    rule += " This study has no seed re-runs, so that column is empty."
  return table + "\n\n" + rule
