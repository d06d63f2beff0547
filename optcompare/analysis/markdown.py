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


def hparam_value(x: Any, spec: str = ".4g") -> str:
  """A hyperparameter value: `spec` digits; one within 0.01 below 1 as 1 − (1 − x), since
  β2 = 0.99995 would print as 1, and 0.99899 and 0.999 alike ("1 − 5e-05", "1 − 0.00101")."""
  if isinstance(x, (float, np.floating)) and math.isfinite(x) and 0.99 < x < 1.0:
    return f"1 − {format(1.0 - float(x), spec)}"
  return fmt(x, spec)


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


def inclusion_caveat(weak, results, short: bool = False, min_k: int = 8) -> str:
  """The warning that goes beside inclusion verdicts that are not evidence: `weak`, the
  (result, why) pairs of diagnostics.weak_inclusions out of all `results`; "" when none.
  `short`: one sentence for the top of the report; `min_k`: the K the verdicts need."""
  if not weak:
    return ""
  ks = {r.K for r, _ in weak}
  small_k = all(why.startswith("K = ") for _, why in weak)
  if small_k and len(ks) == 1 and len(weak) == len(results):
    k = ks.pop()
    if short:
      return (f"⚠ With K = {k} trials per optimizer the inclusion verdicts of this report are "
              "not evidence (see Inclusion check).")
    return (f"⚠ With K = {k} trials per optimizer these verdicts are not evidence: so few "
            "trials cannot tell the optimizers apart, and a verdict would read the same for "
            f"almost any result. Read them with K ≥ {min_k} trials per optimizer and bands "
            "narrower than the trials' spread.")
  if short:
    return ("⚠ Some inclusion verdicts of this report are not evidence (see Inclusion "
            "check).")
  pairs = "; ".join(f"{r.special} ⊆ {r.general} ({why})" for r, why in weak)
  return (f"⚠ Not evidence: {pairs}. With so few trials, or bands this wide, a verdict would "
          f"read the same for almost any result; read them with K ≥ {min_k} trials per optimizer "
          "and bands narrower than the trials' spread.")
