"""Markdown pieces of the report: numbers, bands and tables (no analysis here)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from optcompare.analysis import verdicts


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
    rows.append([f"{r.special} ⊆ {r.general}", r.K, verdicts.cell(r.verdict),
                 band(r.general_band[1], r.general_band[0], r.general_band[2]),
                 band(r.special_band[1], r.special_band[0], r.special_band[2]), r.reason]
                + [cells[i] for _, cells in extra])
  return table(["inclusion", "K", "verdict", f"general: best-of-K validation {metric}",
                f"included: best-of-K validation {metric}", "why"]
               + [h for h, _ in extra], rows)


INCLUSION_RULE = verdicts.rule_text()


def inclusion_caveat(weak, results, short: bool = False, min_k: int = 8) -> str:
  """The warnings that go beside inclusion verdicts: those inconclusive because the study is
  too small (`results` with too_few), then `weak`, the (result, why) pairs of
  diagnostics.weak_inclusions (held or violated on bands too wide to say much); "" when
  neither. `short`: one sentence each, for the top of the report; `min_k`: the K the
  verdicts need."""
  parts = [_too_few_caveat([r for r in results if r.too_few], results, short, min_k),
           _weak_caveat(weak, short, min_k)]
  return " ".join(p for p in parts if p)


def _trial_counts(results) -> str:
  """"2 trials per optimizer", or "as few as 3 trials of an optimizer" when they differ."""
  counts = {int(n) for r in results for n in r.trials if math.isfinite(n)}
  if len(counts) == 1:
    return f"{counts.pop()} trials per optimizer"
  return f"as few as {min(counts)} trials of an optimizer" if counts else "so few trials"


def _too_few_caveat(few, results, short: bool, min_k: int) -> str:
  if not few:
    return ""
  if len(few) < len(results):
    return ("⚠ Some inclusion verdicts are inconclusive only because the study is too small "
            "to tell" + (" (see Inclusion check)." if short else
                         f": {'; '.join(f'{r.special} ⊆ {r.general}' for r in few)}."))
  ks = sorted({r.K for r in few})
  at = f"{_trial_counts(few)} and K = {', '.join(str(k) for k in ks)}"
  if short:
    return (f"⚠ With {at}, every inclusion verdict of this report is inconclusive: too few "
            "trials to tell (see Inclusion check).")
  return (f"⚠ With {at}, the study cannot tell the optimizers apart: every verdict below is "
          f"inconclusive. A verdict needs at least {min_k} finished trials of each optimizer.")


def _weak_caveat(weak, short: bool, min_k: int) -> str:
  if not weak:
    return ""
  if short:
    return ("⚠ Some inclusion verdicts of this report are not evidence (see Inclusion "
            "check).")
  pairs = "; ".join(f"{r.special} ⊆ {r.general} ({why})" for r, why in weak)
  return (f"⚠ Not evidence: {pairs}. With so few trials, or bands this wide, a verdict would "
          f"read the same for almost any result; read them with K ≥ {min_k} trials per optimizer "
          "and bands narrower than the trials' spread.")
