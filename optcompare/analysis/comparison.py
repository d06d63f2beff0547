"""The report's "Protocol comparison": one workload under two studies (two protocols).

Each study is ranked by its best-of-K median at its largest K (study_facts.ranking); the
table gives both ranks, the rank change, and (when the studies have seed re-runs) each
optimizer's seed noise, with the neighbouring ranks whose order could flip with the seed.
Containment says whether each study's best trial is a point of the other's search space: a
ranking change says something about tuning only where it is. Files only, no JAX.
"""
from __future__ import annotations

import math

from optcompare.analysis import containment
from optcompare.analysis import diagnostics
from optcompare.analysis import figures
from optcompare.analysis import markdown
from optcompare.analysis import seed_noise
from optcompare.analysis.section import FigureFile
from optcompare.analysis.section import Section
from optcompare.analysis.study_facts import ranking

_f = markdown.fmt


FIGURE = "protocol_comparison.png"


def section(a, b) -> Section:
  """The "Protocol comparison" section, with its rankings figure, for studies a and b
  (loaded.LoadedStudy objects)."""
  split = "test" if a.rank_split() == b.rank_split() == "test" else "validation"
  m = a.metric
  ra, rb = ranking(a.boot, split), ranking(b.boot, split)
  la, lb = a.label, b.label
  if la == lb:
    la, lb = f"{la} (A)", f"{lb} (B)"
  figure = figures.protocol_figure(ra, rb, la, lb, m, split)
  ia, ib = ra.set_index("optimizer"), rb.set_index("optimizer")
  noise = bool(a.noise or b.noise)
  rows = []
  for opt in sorted(diagnostics.order_optimizers(list(ia.index) + list(ib.index)),
                    key=lambda o: (ia["rank"].get(o, math.inf), o)):
    rank_a, rank_b = ia["rank"].get(opt), ib["rank"].get(opt)
    rows.append([opt, _f(rank_a), _f(ia["value"].get(opt)), _f(rank_b), _f(ib["value"].get(opt)),
                 "—" if rank_a is None or rank_b is None else f"{int(rank_b) - int(rank_a):+d}"]
                + ([_f(a.noise.get(opt)), _f(b.noise.get(opt))] if noise else []))
  header = ["optimizer", f"rank in {la}", f"{split} {m} ({la})", f"rank in {lb}",
            f"{split} {m} ({lb})", "rank change (B − A)"]
  header += [f"seed std ({la})", f"seed std ({lb})"] if noise else []
  notes = [n for n in (seed_noise.ranking_note(ra, a.noise, la),
                       seed_noise.ranking_note(rb, b.noise, lb)) if n]
  lines = [f"Same workload under two studies: A = {la}, B = {lb} (B: {b.workload}). Ranked by "
           f"best-of-K {split} {m} median at each study's largest K (A: K = {a.kmax}, B: K = "
           f"{b.kmax})" + ("." if a.selection.default else f"; trials chosen by {a.rule}."),
           "", markdown.table(header, rows), ""]
  if noise:
    lines += ["Seed std: of the validation " + m + " over each optimizer's best-trial re-runs "
              "(Seed noise section); neighbouring ranks closer than the larger std are not "
              "evidence of an order.", ""] + [f"- {n}" for n in notes] + [""]
  lines += ["### Search-space containment", "", _containment_section(a, b, la, lb)]
  return Section("Protocol comparison", "\n".join(lines),
                 (FigureFile(FIGURE, figure, f"rankings under {la} and {lb}"),))


def _containment_section(a, b, la: str, lb: str) -> str:
  """Whether each study's space holds the other's best trial (analysis/containment.py)."""
  if not (a.spaces and b.spaces):
    return "A study has no search spaces in its manifest; nothing checked."
  a_in_b = containment.best_trial_containment(a.df, a.schedule, a.metric, b.spaces, b.schedule)
  b_in_a = containment.best_trial_containment(b.df, b.schedule, b.metric, a.spaces, a.schedule)
  rows = [[opt, a_in_b[opt].text() if opt in a_in_b else "—",
           b_in_a[opt].text() if opt in b_in_a else "—"]
          for opt in diagnostics.order_optimizers(list(a_in_b) + list(b_in_a))]
  return ("Is each study's best trial a point of the other study's search space (its settings "
          "written in that space's coordinates, e.g. α0/ε; a constant schedule is λ = 1)? A "
          "ranking change says something about tuning only where the broader space holds the "
          "narrower one's best point.\n\n"
          + markdown.table(["optimizer", f"{la}'s best in {lb}'s space",
                            f"{lb}'s best in {la}'s space"], rows))
