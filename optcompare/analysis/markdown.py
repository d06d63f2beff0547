"""Markdown pieces of the report: numbers, bands and tables (no analysis here)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def fmt(x: Any, spec: str = ".4g") -> str:
  """A number as the report writes it: 4 significant digits, — for None/NaN, inf as inf."""
  if x is None:
    return "—"
  if isinstance(x, (float, np.floating)):
    if math.isnan(x):
      return "—"
    if math.isinf(x):
      return "inf" if x > 0 else "-inf"
    return format(float(x), spec)
  if isinstance(x, (int, np.integer)):
    return str(int(x))
  return str(x)


def band(mid, lo, hi, spec: str = ".4g") -> str:
  """median [5%, 95%]."""
  return f"{fmt(mid, spec)} [{fmt(lo, spec)}, {fmt(hi, spec)}]"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
  out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
  out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
  return "\n".join(out)


def inclusion_table(results, metric: str, extra: Sequence[tuple[str, Sequence[str]]] = ()
                    ) -> str:
  """The inclusion check's table (diagnostics.InclusionResult rows); `extra`: more columns,
  (header, one cell per result), appended."""
  rows = []
  for i, r in enumerate(results):
    rows.append([f"{r.special} ⊆ {r.general}", r.K, f"**{r.verdict}**",
                 band(r.general_band[1], r.general_band[0], r.general_band[2]),
                 band(r.special_band[1], r.special_band[0], r.special_band[2]), r.reason]
                + [cells[i] for _, cells in extra])
  return table(["inclusion", "K", "verdict", f"general: best-of-K validation {metric}",
                f"included: best-of-K validation {metric}", "why"]
               + [h for h, _ in extra], rows)


INCLUSION_RULE = ("Rule: held if the general optimizer's median is at or below the 95th "
                  "percentile of the included one's; violated if the general optimizer's 5th "
                  "percentile is above the included one's 95th; inconclusive otherwise.")
