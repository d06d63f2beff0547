"""Figures of a study (PNG, Agg). Every function returns a matplotlib Figure; `save` writes it.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot state), so they work in
scripts, threads and notebooks alike, whatever the selected backend. They share one style
(analysis/style.py: print settings; each optimizer's colour, marker and line style, the same
in every figure), keep legends outside the axes (constrained layout makes room for them),
and draw no data point outside the axes: a value beyond a panel's range is drawn as an arrow
at its edge with the value beside it. Axes of training steps are ticked at evaluation steps
only (the steps at which a value can exist). Every artist drawn for one optimizer carries
its `style.gid`, which the figure tests read.

The per-optimizer hyperparameter figure is in analysis/figures_hparams.py (re-exported here).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from etils import epath
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import ScaledTranslation

from optcompare.analysis import diagnostics
from optcompare.analysis import style
from optcompare.analysis.bootstrap import metric_column
from optcompare.analysis.figures_hparams import hparam_figure  # pylint: disable=unused-import  (re-exported)

CURVES_NUM_BEST = 3  # trials per optimizer in the curves figure (the report says so too)
MARKERS_BELOW = 12   # curves with fewer evaluation points than this are drawn with markers
# The best-of-K y range is set by the bands at K >= FOCUS_K (or the middle K of a smaller
# study): where tuned optimizers differ. Smaller K reach far higher and would squash it.
FOCUS_K = 8
RANK_STYLES = ("-", "--", ":", "-.")  # the curves figure's best, second, third ... trial
NOT_REACHED = "not reached"


def color(optimizer: str) -> str:
  """The optimizer's colour in every figure (style.look)."""
  return style.color(optimizer)


def save(fig: Figure, path: epath.PathLike, letter: str | None = None) -> None:
  """PNG, no time stamp in its metadata; `letter` (the report's "b" of "figure b") written
  in its top left corner, so that a figure copied into a paper keeps its name."""
  if letter:
    style.letter(fig, letter)
  style.save(fig, path)


def metric_label(metric: str, split: str) -> str:
  return f"{split} {metric}"


def _err(lo, mid, hi):
  """Error-bar half lengths; infinite / NaN ends are drawn as none."""
  lower = np.where(np.isfinite(lo) & np.isfinite(mid), np.asarray(mid) - lo, 0.0)
  upper = np.where(np.isfinite(hi) & np.isfinite(mid), np.asarray(hi) - mid, 0.0)
  return np.vstack([np.maximum(lower, 0), np.maximum(upper, 0)])


def _best_trial_value(df: pd.DataFrame, opt: str, metric: str, split: str) -> float:
  """`split` metric of the optimizer's best completed trial by validation (NaN if none)."""
  vcol, col = metric_column(metric, "validation"), metric_column(metric, split)
  rows = df[(df["optimizer"] == opt) & (df["status"] == "completed")]
  if vcol not in rows or col not in rows or not rows[vcol].notna().any():
    return np.nan
  return float(rows.loc[rows[vcol].idxmin(), col])


@style.styled
def best_trials_figure(df: pd.DataFrame, boot: pd.DataFrame, metric: str,
                       title: str = "") -> Figure:
  """Per optimizer: the best-of-K median with its bootstrap 5–95% bar at the largest K,
  and the single best trial (by validation) marked, for validation and test."""
  opts = diagnostics.order_optimizers(boot["optimizer"])
  k = int(boot["K"].max())
  at_k = boot[boot["K"] == k].set_index("optimizer")
  fig = Figure(figsize=(style.WIDTH, 3.2), layout="constrained")
  axes = fig.subplots(1, 2, sharey=True)
  for ax, split in zip(axes, ("validation", "test")):
    for i, opt in enumerate(opts):
      r, lk = at_k.loc[opt], style.look(opt)
      mid = r[f"{split}_median"]
      if np.isfinite(mid):
        ax.errorbar([i], [mid], yerr=_err(r[f"{split}_p5"], mid, r[f"{split}_p95"]),
                    fmt=lk.marker, color=lk.color, markersize=5, lw=1.5, gid=style.gid(opt))
      best = _best_trial_value(df, opt, metric, split)
      if np.isfinite(best):
        ax.plot([i + 0.22], [best], marker="x", color=lk.color, markersize=6, ls="none",
                gid=style.gid(opt))
    ax.set_xticks(np.arange(len(opts)), opts, rotation=20)
    ax.set_xlim(-0.6, len(opts) - 0.4)
    ax.set_title(split)
    ax.set_ylabel(metric_label(metric, split))
    ax.yaxis.set_tick_params(labelleft=True)  # shared y: the test panel labels its own axis
    ax.grid(axis="y")
  handles = [Line2D([], [], marker="o", color="k", ls="-",
                    label=f"best-of-{k} median, 5–95% bootstrap band"),
             Line2D([], [], marker="x", color="k", ls="none",
                    label="best trial (chosen by validation)")]
  fig.legend(handles=handles, loc="outside lower center", ncol=2)
  fig.suptitle(title or f"Best {metric} per optimizer (K = {k} trials)")
  return fig


# ---- best-of-K ----

def _focus_k(ks: Sequence[int]) -> int:
  """The smallest K whose bands set the y range: FOCUS_K, or the largest K of a smaller
  study."""
  return min(FOCUS_K, max(ks))


def _finite(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
  v = frame[list(cols)].to_numpy(float).ravel()
  return v[np.isfinite(v)]


def _best_of_k_ylim(boot: pd.DataFrame) -> tuple[float, float]:
  """The y range: the medians at K >= the focus K and the 5–95% bands at the largest K
  (where optimizers differ), every lower median and 5th percentile. The bands of smaller K
  reach far above it (at K = 8 of a 64-trial study, to 0.5 where the medians differ in the
  second decimal) and are cut at the top edge; medians above it are arrows with values."""
  splits = ("validation", "test")
  focus = boot[boot["K"] >= _focus_k(boot["K"].unique())]
  last = boot[boot["K"] == boot["K"].max()]
  high = np.concatenate([_finite(focus, [f"{s}_median" for s in splits]),
                         _finite(last, [f"{s}_{q}" for s in splits for q in ("p5", "p95")])])
  low = np.concatenate([high, _finite(boot, [f"{s}_{q}" for s in splits
                                             for q in ("median", "p5")])])
  if not high.size:
    return (0.0, 1.0)
  lo, hi = float(low.min()), float(high.max())
  pad = 0.1 * max(hi - lo, 1e-6)
  return (lo - pad, hi + pad)


def _above(ax, ks, values, ylim, lk: style.Look, opt: str, filled: bool) -> None:
  """Medians above the range (or infinite: every resample lost all K trials), as an arrow
  at the top edge with the value written under it: no point is silently clipped. The
  validation arrow sits a little left of its K and its value just under it, the test one
  (hollow) right of it and its value lower, so that both stay readable where both are
  above."""
  top = ylim[1] - 0.035 * (ylim[1] - ylim[0])
  shift, below = (1 / 1.2, -8) if filled else (1.2, -15)  # a quarter octave of K; points
  for k, v in zip(ks, values):
    ax.plot([k * shift], [top], marker="^", color=lk.color, ls="none", markersize=5,
            markerfacecolor=lk.color if filled else "white", gid=style.gid(opt))
    ax.annotate("inf" if not np.isfinite(v) else f"{v:.2f}", (k * shift, top),
                xytext=(0, below), textcoords="offset points", ha="center", fontsize=6,
                color=lk.color)


def _best_of_k_panel(ax, boot: pd.DataFrame, opt: str, ylim: tuple[float, float],
                     opts: Sequence[str]) -> None:
  """One optimizer's panel: the others' validation medians thin and grey behind; its
  validation median with its 5–95% band (filled and outlined), its test median dashed."""
  for other in opts:
    if other != opt:
      o = boot[boot["optimizer"] == other].sort_values("K")
      ax.plot(o["K"], o["validation_median"], color="0.8", lw=0.8, zorder=1)
  r = boot[boot["optimizer"] == opt].sort_values("K")
  ks, lk = r["K"].to_numpy(float), style.look(opt)
  lo, hi = r["validation_p5"].to_numpy(float), r["validation_p95"].to_numpy(float)
  band = np.isfinite(lo)
  ax.fill_between(ks[band], lo[band], np.minimum(hi, ylim[1])[band], color=lk.color,
                  alpha=0.15, lw=0, gid=style.gid(opt))
  for edge in (lo, np.minimum(hi, ylim[1])):
    ax.plot(ks[band], edge[band], color=lk.color, lw=0.6, gid=style.gid(opt))
  for split, filled, ls in (("validation", True, "-"), ("test", False, "--")):
    med = r[f"{split}_median"].to_numpy(float)
    inside = np.isfinite(med) & (med <= ylim[1])
    ax.plot(ks[inside], med[inside], color=lk.color, marker=lk.marker, ls=ls, zorder=3,
            markerfacecolor=lk.color if filled else "white", gid=style.gid(opt))
    _above(ax, ks[~inside], med[~inside], ylim, lk, opt, filled)


def _settled_ring(ax, boot: pd.DataFrame, opt: str, k: int | None, ylim) -> None:
  r = boot[(boot["optimizer"] == opt) & (boot["K"] == k)]
  if k is None or not len(r):
    return
  v = float(r["validation_median"].iloc[0])
  if np.isfinite(v) and v <= ylim[1]:
    ax.plot([k], [v], marker="o", markersize=11, markerfacecolor="none", ls="none",
            markeredgecolor="k", zorder=4)


def _best_of_k_legend(fig: Figure, settled: bool) -> None:
  handles = [Line2D([], [], color="k", marker="o", label="validation median"),
             Patch(facecolor="0.85", edgecolor="k", lw=0.6, label="its 5–95% band"),
             Line2D([], [], color="k", marker="o", ls="--", markerfacecolor="white",
                    label="test median (of the trial chosen by validation)"),
             Line2D([], [], color="0.8", lw=0.8, label="other optimizers' validation medians"),
             Line2D([], [], color="k", marker="^", ls="none",
                    label="median above the range (value written)")]
  if settled:
    handles.append(Line2D([], [], marker="o", markersize=9, markerfacecolor="none",
                          markeredgecolor="k", ls="none",
                          label="settled: median changes < tolerance"))
  fig.legend(handles=handles, loc="outside lower center", ncol=3)


@style.styled
def best_of_k_figure(boot: pd.DataFrame, metric: str, title: str = "",
                     settled: Mapping[str, int | None] | None = None) -> Figure:
  """Best-of-K versus K, one panel per optimizer (log2 K axis, shared y): the validation
  median with its 5–95% band, the test median, the others' validation medians for
  reference; `settled` (optimizer -> K, from bootstrap.settling_k) ringed. The y range is
  that of K >= FOCUS_K, where optimizers differ; medians above it are arrows with values."""
  opts = diagnostics.order_optimizers(boot["optimizer"])
  ncols = min(3, len(opts))
  nrows = -(-len(opts) // ncols)
  fig = Figure(figsize=(style.WIDTH, 1.9 * nrows + 1.3), layout="constrained")
  axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True,
                                    squeeze=False)).ravel()
  ks = sorted(int(k) for k in boot["K"].unique())
  ylim = _best_of_k_ylim(boot)
  for i, (ax, opt) in enumerate(zip(axes, opts)):
    _best_of_k_panel(ax, boot, opt, ylim, opts)
    _settled_ring(ax, boot, opt, (settled or {}).get(opt), ylim)
    ax.set_title(opt, color=style.color(opt))
    ax.set_ylim(*ylim)
    ax.set_xscale("log", base=2)
    ax.set_xlim(min(ks) / 1.4, max(ks) * 1.4)
    ax.xaxis.set_major_locator(FixedLocator(ks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v)}" if v >= 1 else ""))
    ax.grid(True)
    if i % ncols == 0:
      ax.set_ylabel(f"best-of-K {metric}")
    if i >= len(opts) - ncols:
      ax.set_xlabel("K (trials, log₂)")
      ax.xaxis.set_tick_params(labelbottom=True)
  for ax in axes[len(opts):]:
    ax.set_visible(False)
  _best_of_k_legend(fig, any(k is not None for k in (settled or {}).values()))
  fig.suptitle(title or f"Best-of-K {metric} (bootstrap, {max(ks)} trials max)")
  return fig


# ---- steps to target ----

def _dodge(values: np.ndarray, width: float = 0.5) -> np.ndarray:
  """Horizontal offsets that set equal values side by side (the k-th of n equal values at
  (k − (n−1)/2) · step), so that trials reaching the target at the same evaluation step
  stay visible one beside the other; deterministic, no random jitter."""
  out = np.zeros(len(values))
  for v in np.unique(values):
    idx = np.flatnonzero(values == v)
    step = min(0.12, width / max(len(idx), 1))
    out[idx] = (np.arange(len(idx)) - (len(idx) - 1) / 2) * step
  return out


def _step_axis(axis, steps: Sequence[float]) -> None:
  """Ticks at (a thinned set of) evaluation steps only, none between them (on a log axis
  too, where matplotlib would tick at powers of ten and their multiples)."""
  axis.set_major_locator(FixedLocator(style.thin_ticks(steps)))
  axis.set_minor_locator(NullLocator())
  axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _steps_strip(ax, df: pd.DataFrame, opts: Sequence[str]) -> tuple[list[str], np.ndarray]:
  """Each optimizer's trials that reached the target, at their steps (side by side where
  equal) and the fastest as a bar; returns the x tick labels and every step drawn."""
  labels, drawn = [], []
  for i, opt in enumerate(opts):
    rows = df[df["optimizer"] == opt]
    finished = rows[rows["status"].isin(("completed", "diverged", "failed"))]
    s = rows["steps_to_target"].to_numpy(float)
    s = np.sort(s[np.isfinite(s)])
    lk = style.look(opt)
    if s.size:
      ax.hlines(s.min(), i - 0.32, i + 0.32, color=lk.color, lw=2.5, gid=style.gid(opt))
      ax.scatter(i + _dodge(s), s, color=lk.color, marker=lk.marker, s=16, zorder=3,
                 edgecolors="white", linewidths=0.4, gid=style.gid(opt))
    labels.append(f"{opt}\n{s.size}/{len(finished)}")
    drawn.append(s)
  return labels, np.concatenate(drawn) if drawn else np.zeros(0)


@style.styled
def steps_to_target_figure(df: pd.DataFrame, target: Mapping[str, Any] | None,
                           title: str = "") -> Figure:
  """Steps to reach the target, every completed trial that reached it (markers at its
  evaluation step, equal ones side by side), the fastest (bar), and how many trials reached
  it. The step axis is ticked at steps that trials reached the target at."""
  opts = diagnostics.order_optimizers(df["optimizer"])
  fig = Figure(figsize=(min(style.WIDTH, 0.75 * len(opts) + 2.2), 3.0), layout="constrained")
  ax = fig.subplots()
  labels, s = _steps_strip(ax, df, opts)
  ax.set_xticks(np.arange(len(opts)), labels)
  ax.set_xlim(-0.6, len(opts) - 0.4)
  s = s[s > 0]
  if s.size:
    log = s.max() / s.min() > 10  # log only when it spans a decade
    if log:
      ax.set_yscale("log")
    _step_axis(ax.yaxis, s)
    lo, hi = s.min(), s.max()
    pad = 0.08 * (hi - lo) if hi > lo else 0.1 * hi
    ax.set_ylim(lo / 1.3 if log else lo - pad, hi * 1.3 if log else hi + pad)
  else:
    ax.text(0.5, 0.5, "no trial reached the target", transform=ax.transAxes, ha="center")
  ax.set_xlabel("optimizer (trials reaching the target / finished trials)")
  ax.set_ylabel("steps to target (evaluation steps)")
  ax.grid(axis="y")
  handles = [Line2D([], [], marker="o", color="gray", ls="none", label="trial reaching target"),
             Line2D([], [], color="gray", lw=2.5, label="fastest trial")]
  fig.legend(handles=handles, loc="outside right center")
  t = target or {}
  what = (f"{t.get('split', 'validation')} {t.get('metric', '?')} ≤ {t.get('value', '?')}"
          if target else "target")
  fig.suptitle(title or f"Steps to reach {what}")
  return fig


def _not_reached_row(eval_steps: Sequence[float]) -> float:
  """Where "not reached" is drawn: one evaluation interval above the last evaluation."""
  steps = sorted(eval_steps)
  gap = steps[-1] - steps[-2] if len(steps) > 1 else 0.25 * steps[-1]
  return steps[-1] + 1.5 * gap


def _steps_point(ax, x: float, med: float, lo: float, hi: float, row: float,
                 lk: style.Look, opt: str) -> None:
  """One optimizer at one target: the median's marker (at the "not reached" row when
  infinite, hollow) and its 5–95% bar (to the row where the 95th percentile is infinite)."""
  top = hi if np.isfinite(hi) else row
  if np.isfinite(lo):
    ax.vlines(x, lo, top, color=lk.color, lw=1.0, gid=style.gid(opt),
              linestyles="-" if np.isfinite(hi) else ":")
  y = med if np.isfinite(med) else row
  ax.plot([x], [y], marker=lk.marker, color=lk.color, ls="none", markersize=5, zorder=3,
          markerfacecolor=lk.color if np.isfinite(med) else "white", gid=style.gid(opt))


@style.styled
def steps_to_targets_figure(table: pd.DataFrame, kmax: int, metric: str,
                            eval_steps: Sequence[float]) -> Figure | None:
  """Best-of-`kmax` steps to reach each target (robustness.target_bootstrap's table):
  markers at the median's evaluation step with the 5–95% bar, optimizers side by side at
  each target (no lines: between two evaluations no step is measured), a row above the last
  evaluation for "not reached". The step axis is ticked at `eval_steps` only."""
  at_k = table[table["K"] == kmax]
  if not len(at_k) or not np.isfinite(at_k["steps_median"].to_numpy(float)).any():
    return None
  opts = diagnostics.order_optimizers(at_k["optimizer"])
  targets = sorted(at_k["target"].unique())
  row = _not_reached_row(eval_steps)
  fig = Figure(figsize=(style.WIDTH, 3.4), layout="constrained")
  ax = fig.subplots()
  offsets = (np.arange(len(opts)) - (len(opts) - 1) / 2) * min(0.12, 0.8 / len(opts))
  for dx, opt in zip(offsets, opts):
    g = at_k[at_k["optimizer"] == opt].set_index("target")
    for j, t in enumerate(targets):
      if t in g.index:
        r = g.loc[t]
        _steps_point(ax, j + dx, float(r["steps_median"]), float(r["steps_p5"]),
                     float(r["steps_p95"]), row, style.look(opt), opt)
  ax.set_xticks(range(len(targets)), [f"{t:.3g}" for t in targets])
  ax.set_xlim(-0.6, len(targets) - 0.4)
  _not_reached_axis(ax, at_k, eval_steps, row)
  ax.set_xlabel(f"target validation {metric} (lower is harder)")
  ax.set_ylabel(f"steps to reach it, fastest of K = {kmax}")
  ax.grid(axis="y")
  _steps_legend(fig, opts)
  fig.suptitle(f"Best-of-{kmax} steps to target versus target")
  return fig


def _not_reached_axis(ax, at_k: pd.DataFrame, eval_steps: Sequence[float], row: float) -> None:
  """The step axis: from one evaluation interval below the fewest steps drawn to the "not
  reached" row (a thin line sets it apart), ticked at evaluation steps and that row."""
  v = at_k[["steps_median", "steps_p5"]].to_numpy(float)
  gap = row - max(eval_steps)
  low = float(v[np.isfinite(v)].min()) - gap / 1.5 if np.isfinite(v).any() else 0.0
  shown = [s for s in eval_steps if s >= low]
  ax.yaxis.set_major_locator(FixedLocator(style.thin_ticks(shown) + [row]))
  ax.yaxis.set_minor_locator(NullLocator())
  ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: NOT_REACHED if y == row else f"{y:g}"))
  ax.set_ylim(max(low, 0.0), row + gap / 3)
  ax.axhline(row - gap / 3, color="0.6", lw=0.6)


def _steps_legend(fig: Figure, opts: Sequence[str]) -> None:
  handles = [Line2D([], [], ls="none", color=style.color(o), marker=style.look(o).marker,
                    label=o) for o in opts]
  handles += [Line2D([], [], color="k", lw=1.0, label="5–95% (bootstrap)"),
              Line2D([], [], color="k", lw=1.0, ls=":", label="95th percentile: not reached"),
              Line2D([], [], marker="o", color="k", markerfacecolor="white", ls="none",
                     label="median: not reached")]
  fig.legend(handles=handles, loc="outside right center")


# ---- training curves ----

def _curve_panel(ax, c_split: pd.DataFrame, best: pd.DataFrame, opt: str, metric: str) -> int:
  """The best trials' curves of one optimizer (line style by rank); returns how many."""
  vcol = metric_column(metric, "validation")
  drawn = 0
  for j, (_, r) in enumerate(best.iterrows()):
    cur = c_split[c_split["trial_id"] == r["trial_id"]] if len(c_split) else c_split
    if len(cur) == 0 or metric not in cur.columns:
      continue
    cur = cur.sort_values("step")
    few = cur[metric].notna().sum() < MARKERS_BELOW
    ax.plot(cur["step"], cur[metric], ls=RANK_STYLES[j % len(RANK_STYLES)],
            color=style.color(opt), lw=1.3, marker=style.look(opt).marker if few else None,
            markersize=3.5, label=f"{r['trial_id']} ({r[vcol]:.4g})", gid=style.gid(opt))
    drawn += 1
  return drawn


def _below_legend(ax, fig: Figure, title: str) -> None:
  """The panel's legend under its x label (outside the data; constrained layout makes room)."""
  below = ax.transAxes + ScaledTranslation(0, -26 / 72, fig.dpi_scale_trans)
  ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, title=title)


@style.styled
def curves_figure(curves: pd.DataFrame, df: pd.DataFrame, metric: str,
                  num_best: int = CURVES_NUM_BEST, split: str = "validation") -> Figure:
  """`split` metric versus step for the best `num_best` trials of each optimizer (all its
  completed ones where it has fewer, as the panel's title says); a curve of fewer than
  MARKERS_BELOW evaluations is drawn with a marker at each. Steps ticked at evaluations."""
  opts = diagnostics.order_optimizers(df["optimizer"])
  ncols = min(3, max(1, len(opts)))
  nrows = -(-max(1, len(opts)) // ncols)
  fig = Figure(figsize=(style.WIDTH, 2.7 * nrows + 0.4), layout="constrained")
  axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
  c_split = curves[curves["split"] == split] if len(curves) else curves
  steps = sorted(c_split["step"].unique()) if len(c_split) else []
  for ax, opt in zip(axes, opts):
    best = diagnostics.best_trials(df, opt, metric, num_best)
    drawn = _curve_panel(ax, c_split, best, opt, metric)
    if not drawn:
      ax.text(0.5, 0.5, "no curves", transform=ax.transAxes, ha="center")
    ax.set_title(f"{opt}: best {num_best} trials" + (
        f" ({len(best)} completed)" if len(best) < num_best else ""), color=style.color(opt))
    ax.set_xlabel("step")
    if steps:
      _step_axis(ax.xaxis, steps)
      ax.set_xlim(min(steps) - 0.05 * max(steps), max(steps) * 1.05)
    ax.set_ylabel(metric_label(metric, split))
    ax.grid(True)
    if drawn:
      _below_legend(ax, fig, "trial (final validation)")
  for ax in axes[len(opts):]:
    ax.set_visible(False)
  fig.suptitle(f"Training curves: {split} {metric} of the best {num_best} trials per "
               "optimizer")
  return fig


# ---- protocol comparison ----

@style.styled
def protocol_figure(rank_a: pd.DataFrame, rank_b: pd.DataFrame, label_a: str, label_b: str,
                    metric: str, split: str = "test") -> Figure:
  """Rankings of the same workload under two protocols, side by side: a slope chart of
  rank (1 = best) with the best-of-K median annotated. `rank_*`: columns optimizer, rank,
  value (from `report.ranking`)."""
  fig = Figure(figsize=(5.0, 0.35 * max(len(rank_a), len(rank_b), 3) + 1.6),
               layout="constrained")
  ax = fig.subplots()
  a = rank_a.set_index("optimizer")
  b = rank_b.set_index("optimizer")
  opts = diagnostics.order_optimizers(list(a.index) + list(b.index))
  for opt in opts:
    lk = style.look(opt)
    ra = a["rank"].get(opt, np.nan)
    rb = b["rank"].get(opt, np.nan)
    if np.isfinite(ra) and np.isfinite(rb):
      ax.plot([0, 1], [ra, rb], color=lk.color, ls=lk.linestyle, lw=1.5, gid=style.gid(opt))
    for xpos, r, frame, ha, dx in ((0, ra, a, "right", -8), (1, rb, b, "left", 8)):
      if np.isfinite(r):
        ax.plot([xpos], [r], marker=lk.marker, color=lk.color, markersize=6,
                gid=style.gid(opt))
        v = frame["value"].get(opt, np.nan)
        ax.annotate(f"{opt}  {v:.4g}" if ha == "left" else f"{v:.4g}  {opt}", (xpos, r),
                    xytext=(dx, 0), textcoords="offset points", ha=ha, va="center",
                    color=lk.color, gid=style.gid(opt))
  n = len(opts)
  ax.set_ylim(n + 0.5, 0.5)
  ax.set_yticks(range(1, n + 1))
  ax.set_ylabel("rank (1 = best)")
  ax.set_xlim(-0.9, 1.9)
  ax.set_xticks([0, 1], [label_a, label_b])
  ax.set_xlabel("protocol / study")
  ax.grid(axis="y")
  ax.set_title(f"Optimizer rankings by best-of-K {split} {metric} (median)")
  return fig
