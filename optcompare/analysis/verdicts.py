"""The three verdicts of an inclusion check, the rule that gives them, and how they are shown.

An inclusion verdict compares two best-of-K bands (5th percentile, median, 95th percentile of
the bootstrap): the general optimizer's and the included (special) one's, lower is better.

  held          the general optimizer's median is at or below the included one's 95th
                percentile (as good, within the included one's band);
  violated      the general optimizer's 5th percentile is above the included one's 95th
                (the bands separated the wrong way);
  inconclusive  otherwise, and always when the study is too small to tell: either optimizer
                has fewer than MIN_TRIALS finished trials, or K < MIN_TRIALS.

Why the size rule: a best-of-K band is drawn from the n trials the study ran. At K ≈ n ≤ 4 it
spans most of them ([min, max] at n = K = 2), so "held" (a median inside a band that wide)
and "violated" (best-of-few of a larger space beaten) would read the same for almost any
result; at K = n = 8 the 95th percentile is about the third-best trial. The same rule judges
every verdict: the inclusion table, the selection-by-training-loss table, and the budget and
target robustness grids (where "lower" is fewer steps).

One look everywhere: the words of `WORDS`, the colours of `COLORS` in figures, the squares of
`SQUARES` (the same three colours) beside the word in Markdown tables, and the letters of
`MARKS` inside figure cells (readable in grey print). No JAX, no other analysis module.
"""
from __future__ import annotations

import math
from typing import Sequence

HELD, INCONCLUSIVE, VIOLATED = "held", "inconclusive", "violated"
WORDS = (HELD, INCONCLUSIVE, VIOLATED)
COLORS = {HELD: "#4caf50", INCONCLUSIVE: "#d9d9d9", VIOLATED: "#e53935"}
MARKS = {HELD: "H", INCONCLUSIVE: "?", VIOLATED: "V"}
SQUARES = {HELD: "🟩", INCONCLUSIVE: "⬜", VIOLATED: "🟥"}
# Finished trials of each optimizer, and K, below which a verdict is always inconclusive.
MIN_TRIALS = 8

Band = Sequence[float]  # (p5, median, p95)


def cell(verdict: str) -> str:
  """A verdict as every Markdown table writes it: its coloured square and its word."""
  return f"{SQUARES[verdict]} {verdict}" if verdict in SQUARES else verdict


def rule_text(min_trials: int = MIN_TRIALS) -> str:
  """The rule as the report states it beside the verdicts (one paragraph)."""
  return (f"Rule: {cell(HELD)} if the general optimizer's best-of-K median is at or below the "
          f"95th percentile of the included one's; {cell(VIOLATED)} if the general "
          f"optimizer's 5th percentile is above the included one's 95th (the bands separated "
          f"the wrong way); {cell(INCONCLUSIVE)} otherwise, and always when either optimizer "
          f"has fewer than {min_trials} finished trials or K < {min_trials}: with so few, the "
          "best-of-K band stretches over most of an optimizer's trials ([min, max] at 2 "
          "trials and K = 2), and a verdict would read the same for almost any result. The "
          "figures use the same words and colours.")


def shortfall(general: str, special: str, k: int, n_general: float, n_special: float,
              min_trials: int = MIN_TRIALS) -> str | None:
  """Why the study is too small to judge the pair at K = `k`, or None when it is not."""
  counts = {general: n_general, special: n_special}
  few = [f"{o} {_count(n)}" for o, n in counts.items() if not n >= min_trials]
  if few:
    return (f"too few trials to tell: {', '.join(few)} finished (a verdict needs "
            f"{min_trials} of each)")
  if k < min_trials:
    return f"too few trials to tell: K = {k} < {min_trials}"
  return None


def _count(n: float) -> str:
  return str(int(n)) if isinstance(n, (int, float)) and math.isfinite(n) else "?"


def compare_bands(general: str, special: str, gb: Band, sb: Band) -> tuple[str, str]:
  """(verdict, why) from the two bands alone (`gb`, `sb`: p5, median, p95; lower is
  better); NaN: an optimizer without finished trials; inf: lost (diverged) resamples."""
  if any(math.isnan(x) for x in tuple(gb) + tuple(sb)):
    return INCONCLUSIVE, "an optimizer has no finished trials"
  if not (math.isfinite(gb[1]) or math.isfinite(sb[1])):
    return INCONCLUSIVE, "both optimizers lose (diverge) in most resamples"
  if gb[1] <= sb[2]:
    return HELD, (f"{general}'s median is no worse than {special}'s" if gb[1] <= sb[1] else
                  f"{general}'s median lies within {special}'s 5–95% band")
  if gb[0] > sb[2]:
    return VIOLATED, f"{general}'s whole 5–95% band is worse than {special}'s"
  return INCONCLUSIVE, f"{general}'s median is above {special}'s band, but the bands overlap"


def judge(general: str, special: str, k: int, gb: Band, sb: Band, n_general: float,
          n_special: float, min_trials: int = MIN_TRIALS) -> tuple[str, str, bool]:
  """(verdict, why, too_few): the bands' verdict (`compare_bands`), inconclusive instead
  where the study is too small to tell (`shortfall`; too_few is then True). A pair without
  finished trials claims nothing for its own reason, not for the study's size."""
  verdict, why = compare_bands(general, special, gb, sb)
  if any(math.isnan(x) for x in tuple(gb) + tuple(sb)):
    return verdict, why, False
  short = shortfall(general, special, k, n_general, n_special, min_trials)
  if short is not None:
    return INCONCLUSIVE, short, True
  return verdict, why, False
