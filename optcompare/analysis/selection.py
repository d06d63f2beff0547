"""Which trial a tuner picks: the selection rule, and the check of Choi et al.'s Fig. 9.

`optcompare analyze --select=SPLIT.METRIC` chooses each best-of-K trial by the lowest final
value of any evaluated split and metric (lower is better: every metric the workloads report,
loss and error, is); the default is the study's metric on the validation split (the target's
metric, else error, else loss). The choice drives best-of-K, the inclusion check and the
rankings; the validation and test values reported are those of the chosen trial.

Section "Selection by training loss" (Fig. 9 of the paper): the inclusion check again, with
trials chosen by their final loss on `train_eval` (a fixed subset of the training split),
shown only where trials evaluated that split.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from optcompare import errors
from optcompare.analysis import bootstrap as bootstrap_lib
from optcompare.analysis import diagnostics
from optcompare.analysis import markdown as md
from optcompare.analysis import verdicts

TRAIN_EVAL = "train_eval"
TRAIN_LOSS = f"final.{TRAIN_EVAL}.loss"
_SPLIT_ORDER = ("validation", "test", TRAIN_EVAL)


@dataclasses.dataclass(frozen=True)
class Selection:
  """Trials are chosen by the lowest final `split` `metric`."""
  split: str
  metric: str
  default: bool = True  # the study's own rule (validation, the study's metric)

  @property
  def column(self) -> str:
    return f"final.{self.split}.{self.metric}"

  @property
  def name(self) -> str:
    return f"{self.split}.{self.metric}"

  @property
  def text(self) -> str:
    return f"{self.split} {self.metric}"


def available(df: pd.DataFrame) -> list[str]:
  """SPLIT.METRIC of every final.<split>.<metric> column with a finite value."""
  out = []
  for col in df.columns:
    parts = col.split(".")
    if len(parts) != 3 or parts[0] != "final":
      continue
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.isfinite(values).any():
      out.append((parts[1], parts[2]))
  def order(split_metric):
    split = split_metric[0]
    rank = _SPLIT_ORDER.index(split) if split in _SPLIT_ORDER else len(_SPLIT_ORDER)
    return rank, split_metric
  return [f"{s}.{m}" for s, m in sorted(out, key=order)]


def parse(select: str | None, df: pd.DataFrame, metric: str, where: str = "the study"
          ) -> Selection:
  """The selection rule of `--select` (None: validation `metric`, the study's default).

  BadInputError naming --select and the SPLIT.METRIC choices of `where` for a value that is
  not SPLIT.METRIC or names a column the trial table lacks (or holds no finite value of)."""
  if select is None:
    return Selection("validation", metric, True)
  text = select.strip()
  if text.startswith("final."):
    text = text[len("final."):]
  split, _, name = text.partition(".")
  choices = available(df)
  listed = ", ".join(choices) if choices else "none (no trial has finished)"
  if not split or not name or "." in name:
    raise errors.BadInputError(f"--select={select}: expected SPLIT.METRIC, for example "
                               f"validation.error; {where} has {listed}")
  if f"{split}.{name}" not in choices:
    raise errors.BadInputError(f"--select={select}: {where} has no final {split} {name}; "
                               f"it has {listed}")
  return Selection(split, name, split == "validation" and name == metric)


def has_training_loss(df: pd.DataFrame) -> bool:
  return f"{TRAIN_EVAL}.loss" in available(df)


def training_loss_section(df: pd.DataFrame, metric: str, ks: Sequence[int],
                          num_resamples: int, seed: int, optimizers: Sequence[str],
                          main_inclusion: Sequence[diagnostics.InclusionResult],
                          main_rule: str) -> str | None:
  """The Markdown of "Selection by training loss"; None when no trial has a final
  train_eval loss. `main_inclusion`: the report's own inclusion check (chosen by
  `main_rule`), whose verdicts are shown beside."""
  if not has_training_loss(df):
    return None
  boot = bootstrap_lib.bootstrap_best(df, metric, ks, num_resamples, seed,
                                      optimizers=optimizers, select=TRAIN_LOSS)
  kmax = int(boot["K"].max())
  at_k = boot[boot["K"] == kmax].set_index("optimizer")
  vcol = bootstrap_lib.metric_column(metric, "validation")
  tcol = bootstrap_lib.metric_column(metric, "test")
  rows = []
  for opt in optimizers:
    r = at_k.loc[opt]
    best = diagnostics.best_trials(df, opt, TRAIN_LOSS, 1)
    b = best.iloc[0] if len(best) else None
    rows.append([
        opt, md.band(r["selected_median"], r["selected_p5"], r["selected_p95"]),
        md.band(r["validation_median"], r["validation_p5"], r["validation_p95"]),
        md.band(r["test_median"], r["test_p5"], r["test_p95"]),
        b["trial_id"] if b is not None else "—",
        md.fmt(b[TRAIN_LOSS]) if b is not None else "—",
        md.fmt(b.get(vcol, np.nan)) if b is not None else "—",
        md.fmt(b.get(tcol, np.nan)) if b is not None else "—",
    ])
  m = metric
  parts = [
      f"Each optimizer's trials chosen by the lowest final training loss (split "
      f"`{TRAIN_EVAL}`, a fixed subset of the training set) instead of by {main_rule}, as in "
      f"Choi et al.'s Fig. 9; the validation and test {m} are those of the chosen trial. "
      f"Best-of-{kmax} median [5%, 95%], bootstrap as above.",
      "",
      md.table(["optimizer", f"best-of-{kmax} training loss", f"its validation {m}",
                f"its test {m}", "lowest-training-loss trial", "its training loss",
                f"its validation {m}", f"its test {m}"], rows),
      "",
  ]
  inclusion = diagnostics.inclusion_check(boot)
  if not inclusion:
    parts.append("No inclusion pair has both optimizers in this study.")
    return "\n".join(parts)
  main = {(r.general, r.special): r.verdict for r in main_inclusion}
  beside = [verdicts.cell(main.get((r.general, r.special), "—")) for r in inclusion]
  parts += [f"Inclusion check on the validation {m} of the trials chosen by training loss:",
            "", md.inclusion_table(inclusion, m, [(f"verdict by {main_rule}", beside)]), "",
            md.INCLUSION_RULE]
  return "\n".join(parts)
