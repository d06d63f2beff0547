"""Figures of a study (PNG, Agg). Every function returns a matplotlib Figure; `save` writes it.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot state), so they work in
scripts, threads and notebooks alike, whatever the selected backend.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from etils import epath
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from optcompare.analysis import diagnostics
from optcompare.analysis.bootstrap import metric_column
from optcompare.search import spaces

_FAMILY_COLORS = {"sgd": "#1f77b4", "momentum": "#ff7f0e", "nesterov": "#2ca02c",
                  "rmsprop": "#d62728", "adam": "#9467bd", "nadam": "#8c564b"}
_OTHER_COLORS = ("#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939")
DPI = 120
CURVES_NUM_BEST = 3  # trials per optimizer in the curves figure (the report says so too)
MARKERS_BELOW = 12   # curves with fewer evaluation points than this are drawn with markers


def color(optimizer: str, others: Sequence[str] = ()) -> str:
  if optimizer in _FAMILY_COLORS:
    return _FAMILY_COLORS[optimizer]
  others = sorted(o for o in others if o not in _FAMILY_COLORS)
  i = others.index(optimizer) if optimizer in others else sum(map(ord, optimizer))
  return _OTHER_COLORS[i % len(_OTHER_COLORS)]


def save(fig: Figure, path: epath.PathLike) -> None:
  """PNG, no time stamp in its metadata."""
  with epath.Path(path).open("wb") as f:
    fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None})


def metric_label(metric: str, split: str) -> str:
  return f"{split} {metric}"


def _err(lo, mid, hi):
  """Error-bar half lengths; infinite / NaN ends are drawn as none."""
  lower = np.where(np.isfinite(lo) & np.isfinite(mid), np.asarray(mid) - lo, 0.0)
  upper = np.where(np.isfinite(hi) & np.isfinite(mid), np.asarray(hi) - mid, 0.0)
  return np.vstack([np.maximum(lower, 0), np.maximum(upper, 0)])


def best_trials_figure(df: pd.DataFrame, boot: pd.DataFrame, metric: str,
                       title: str = "") -> Figure:
  """Per optimizer: the best-of-K median with its bootstrap 5–95% bar at the largest K,
  and the single best trial (by validation) marked, for validation and test."""
  opts = diagnostics.order_optimizers(boot["optimizer"])
  k = int(boot["K"].max())
  at_k = boot[boot["K"] == k].set_index("optimizer")
  fig = Figure(figsize=(max(6.0, 1.2 * len(opts) + 3), 4.2))
  axes = fig.subplots(1, 2, sharey=True)
  x = np.arange(len(opts))
  vcol = metric_column(metric, "validation")
  for ax, split in zip(axes, ("validation", "test")):
    col = metric_column(metric, split)
    for i, opt in enumerate(opts):
      r = at_k.loc[opt]
      c = color(opt, opts)
      mid = r[f"{split}_median"]
      if np.isfinite(mid):
        ax.errorbar([i], [mid], yerr=_err(r[f"{split}_p5"], mid, r[f"{split}_p95"]), fmt="o",
                    color=c, capsize=5, markersize=7, lw=2)
      rows = df[(df["optimizer"] == opt) & (df["status"] == "completed")]
      if vcol in rows and rows[vcol].notna().any() and col in rows:
        best = rows.loc[rows[vcol].idxmin()]
        ax.plot([i + 0.18], [best[col]], marker="x", color=c, markersize=8, ls="none")
    ax.set_xticks(x, opts, rotation=20)
    ax.set_xlim(-0.6, len(opts) - 0.4)
    ax.set_title(f"{split}")
    ax.set_ylabel(metric_label(metric, split))
    ax.yaxis.set_tick_params(labelleft=True)  # shared y: the test panel labels its own axis
    ax.set_xlabel("optimizer")
    ax.grid(axis="y", alpha=0.3)
  handles = [Line2D([], [], marker="o", color="k", ls="-", label=f"best-of-{k} median, 5–95% "
                    "bootstrap band"),
             Line2D([], [], marker="x", color="k", ls="none",
                    label="best trial (chosen by validation)")]
  fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8,
             bbox_to_anchor=(0.5, 0.0))  # below the axes: covers no data
  fig.suptitle(title or f"Best {metric} per optimizer (K = {k} trials)")
  fig.tight_layout(rect=(0, 0.07, 1, 1))
  return fig


def best_of_k_figure(boot: pd.DataFrame, metric: str, title: str = "",
                     settled: Mapping[str, int | None] | None = None) -> Figure:
  """Best-of-K validation and test metric versus K, median and 5–95% band, log2 K axis;
  `settled` (optimizer -> K, from bootstrap.settling_k) ringed on the validation median."""
  opts = diagnostics.order_optimizers(boot["optimizer"])
  fig = Figure(figsize=(13, 4.4))
  axes = fig.subplots(1, 2, sharey=True)
  ks = sorted(boot["K"].unique())
  # The y range follows the medians (and the lower ends); an upper band end beyond it, or
  # infinite (more than 5% of resamples lost every trial), is drawn to the top edge.
  meds = boot[["validation_median", "test_median"]].to_numpy(float)
  lows = boot[["validation_p5", "test_p5"]].to_numpy(float)
  finite = np.concatenate([meds[np.isfinite(meds)], lows[np.isfinite(lows)]])
  if finite.size:
    ylo, yhi = float(finite.min()), float(meds[np.isfinite(meds)].max(initial=finite.max()))
    pad = 0.08 * max(yhi - ylo, 1e-12)
    ylim = (ylo - pad, yhi + pad)
  else:
    ylim = (0.0, 1.0)
  for ax, split in zip(axes, ("validation", "test")):
    for opt in opts:
      r = boot[boot["optimizer"] == opt].sort_values("K")
      c = color(opt, opts)
      med = r[f"{split}_median"].to_numpy(float)
      lo, hi = r[f"{split}_p5"].to_numpy(float), r[f"{split}_p95"].to_numpy(float)
      ok = np.isfinite(med)
      ax.plot(r["K"][ok], med[ok], marker="o", color=c, label=opt, lw=1.8)
      band = np.isfinite(lo)
      ax.fill_between(r["K"][band], lo[band], np.minimum(hi, ylim[1])[band],
                      color=c, alpha=0.15, lw=0)
    ax.set_ylim(*ylim)
    ax.set_xscale("log", base=2)
    ax.set_xlim(min(ks) / 1.3, max(ks) * 1.3)
    ax.xaxis.set_major_locator(FixedLocator(ks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v)}" if v >= 1 else ""))
    ax.set_xlabel("K (trials tuned over, log₂ scale)")
    ax.set_ylabel(f"best-of-K {metric_label(metric, split)}")
    ax.yaxis.set_tick_params(labelleft=True)  # shared y: each panel labels its own axis
    ax.set_title(split)
    ax.grid(alpha=0.3)
  for opt, k in (settled or {}).items():
    r = boot[(boot["optimizer"] == opt) & (boot["K"] == k)]
    if k is not None and len(r) and np.isfinite(r["validation_median"].iloc[0]):
      axes[0].plot([k], [r["validation_median"].iloc[0]], marker="o", markersize=13,
                   markerfacecolor="none", markeredgecolor=color(opt, opts), lw=0)
  handles, labels = axes[0].get_legend_handles_labels()
  if settled:
    handles.append(Line2D([], [], marker="o", markersize=10, markerfacecolor="none",
                          markeredgecolor="k", lw=0))
    labels.append("settled: median\nchanges < tolerance")
  # Outside the axes, on the right: a legend inside would cover curves.
  fig.legend(handles, labels, title="optimizer (median,\n5–95% band)", fontsize=8,
             title_fontsize=8, loc="center left", bbox_to_anchor=(0.83, 0.5))
  fig.suptitle(title or f"Best-of-K {metric} (bootstrap, {int(boot['K'].max())} trials max)")
  fig.tight_layout(rect=(0, 0, 0.83, 1))
  return fig


def steps_to_target_figure(df: pd.DataFrame, target: Mapping[str, Any] | None,
                           title: str = "") -> Figure:
  """Steps to reach the target, every completed trial that reached it (dots), the fastest
  (bar), and how many trials reached it."""
  opts = diagnostics.order_optimizers(df["optimizer"])
  fig = Figure(figsize=(max(6.0, 1.1 * len(opts) + 3), 4.4))
  ax = fig.subplots()
  rng = np.random.default_rng(0)
  ticks = []
  for i, opt in enumerate(opts):
    rows = df[df["optimizer"] == opt]
    finished = rows[rows["status"].isin(("completed", "diverged", "failed"))]
    s = rows["steps_to_target"].to_numpy(float)
    s = s[np.isfinite(s)]
    c = color(opt, opts)
    if s.size:
      ax.scatter(i + rng.uniform(-0.15, 0.15, s.size), s, color=c, alpha=0.6, s=18)
      ax.hlines(s.min(), i - 0.3, i + 0.3, color=c, lw=3)
    ticks.append(f"{opt}\n{s.size}/{len(finished)} reached")
  ax.set_xticks(np.arange(len(opts)), ticks)
  ax.set_xlim(-0.6, len(opts) - 0.4)
  all_s = df["steps_to_target"].to_numpy(float)
  all_s = all_s[np.isfinite(all_s) & (all_s > 0)]
  if all_s.size and all_s.max() / all_s.min() > 10:  # log only when it spans a decade
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
  elif not all_s.size:
    ax.text(0.5, 0.5, "no trial reached the target", transform=ax.transAxes, ha="center")
  ax.set_xlabel("optimizer (trials reaching the target / finished trials)")
  ax.set_ylabel("steps to target")
  ax.grid(axis="y", alpha=0.3)
  handles = [Line2D([], [], marker="o", color="gray", ls="none", label="trial reaching target"),
             Line2D([], [], color="gray", lw=3, label="fastest trial")]
  ax.legend(handles=handles, fontsize=8, loc="upper right")
  t = target or {}
  what = (f"{t.get('split', 'validation')} {t.get('metric', '?')} ≤ {t.get('value', '?')}"
          if target else "target")
  ax.set_title(title or f"Steps to reach {what}")
  fig.tight_layout()
  return fig


@dataclasses.dataclass(frozen=True)
class _YLayout:
  """The y axis of an hparam figure: the completed trials' range [low, top] (a long tail of
  poor ones cut off at `top`, drawn as ^ at `clip`), and the row `lost` above it where
  diverged / failed trials are drawn."""
  low: float
  top: float
  pad: float
  lim: tuple[float, float]

  @property
  def clip(self) -> float:
    return self.top + self.pad

  @property
  def lost(self) -> float:
    return self.top + 2.5 * self.pad


def _y_layout(y: np.ndarray, any_lost: bool) -> _YLayout:
  """The y layout for completed trials' metrics `y`; the lost row only when `any_lost`."""
  if y.size:
    ylo, q90 = float(y.min()), float(np.quantile(y, 0.9))
    ytop = min(float(y.max()), q90 + max(q90 - ylo, 1e-12) * 0.5)
    pad = 0.06 * max(ytop - ylo, 1e-12)
  else:
    ylo, ytop, pad = 0.0, 1.0, 0.06
  return _YLayout(ylo, ytop, pad, (ylo - pad, ytop + (3.5 if any_lost else 1.8) * pad))


def _x_of(name: str, spec: Mapping[str, Any]):
  """Trials (a frame) -> their x positions in the panel of `name`: the search scale as shown,
  or a choice's index with a deterministic jitter per trial."""
  h = f"hp.{name}"
  if spec["scale"] == "choice":
    pos = {v: i for i, v in enumerate(spec["values"])}

    def xs(frame):
      # Deterministic jitter per trial, the same for a trial in every layer.
      jitter = ((frame["index"].to_numpy(float) * 0.618034) % 1.0 - 0.5) * 0.3
      return np.array([pos.get(v, np.nan) for v in frame[h]], float) + jitter
    return xs
  scale = spaces.BOUNDED[spec["scale"]]
  return lambda frame: scale.shown(frame[h].to_numpy(float))


@dataclasses.dataclass(frozen=True)
class _HparamTrials:
  """The trials of one optimizer as an hparam figure draws them."""
  done: pd.DataFrame   # completed, with a finite metric
  lost: pd.DataFrame   # diverged, failed, or completed without a metric
  top: pd.DataFrame    # the top fraction
  col: str             # the validation metric's column
  color: str
  flagged: frozenset   # (hparam, trial_id) of top trials near a bound


def _draw_trials(ax, xs, name: str, t: _HparamTrials, yl: _YLayout,
                 top_fraction: float) -> None:
  """One panel's points: completed (^ above the range), top ringed, those near a bound
  ringed red, lost ones as x on their row above a thin line."""
  y = t.done[t.col].to_numpy(float)
  yy, clipped = np.where(y > yl.top, yl.clip, y), y > yl.top
  c = t.color
  ax.scatter(xs(t.done)[~clipped], yy[~clipped], color=c, alpha=0.55, s=18, label="completed")
  if clipped.any():
    ax.scatter(xs(t.done)[clipped], yy[clipped], color=c, marker="^", s=22, alpha=0.55,
               label="completed, above the range")
  ax.scatter(xs(t.top), t.top[t.col], facecolor="none", edgecolor="k", s=60, lw=1.2,
             label=f"top {top_fraction:.0%}")
  near = t.top[[(name, i) in t.flagged for i in t.top["trial_id"]]]
  if len(near):
    ax.scatter(xs(near), near[t.col], facecolor="none", edgecolor="red", s=110, lw=1.6,
               label="top trial near a bound")
  if len(t.lost):
    ax.scatter(xs(t.lost), np.full(len(t.lost), yl.lost), marker="x", color="red", s=30,
               label="diverged / failed (row \"lost\": no metric)")
    ax.axhline(yl.top + 1.75 * yl.pad, color="gray", lw=0.8,
               label="below: completed trials; above: the lost row")


def _x_axis(ax, name: str, spec: Mapping[str, Any]) -> None:
  """A choice's values as ticks, or the search scale with its bounds dashed, 5% beyond."""
  if spec["scale"] == "choice":
    values = list(spec["values"])
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(f"{name} (choice)")
    return
  scale = spaces.BOUNDED[spec["scale"]]
  bounds = (scale.shown(spec["min"]), scale.shown(spec["max"]))
  if scale.flipped:
    bounds = bounds[::-1]
  for b in bounds:
    ax.axvline(b, color="gray", ls="--", lw=1, label="search bounds")
  if scale.log:
    ax.set_xscale("log")
    lo, hi = math.log10(min(bounds)), math.log10(max(bounds))
    m = 0.05 * (hi - lo)
    ax.set_xlim(10 ** (lo - m), 10 ** (hi + m))
  else:
    lo, hi = min(bounds), max(bounds)
    m = 0.05 * (hi - lo)
    ax.set_xlim(lo - m, hi + m)
  ax.set_xlabel(diagnostics.scale_label(name, spec))


def _y_axis(ax, yl: _YLayout, any_lost: bool, metric: str) -> None:
  ax.set_ylim(*yl.lim)
  if any_lost:  # no metric tick beside the diverged row: it is labelled as such
    ticks = [t for t in MaxNLocator(6).tick_values(yl.low, yl.top) if yl.lim[0] <= t <= yl.top]
    ax.yaxis.set_major_locator(FixedLocator(ticks + [yl.lost]))
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _, y_lost=yl.lost: "lost" if v == y_lost else f"{v:.3g}"))
  ax.set_ylabel(metric_label(metric, "validation"))


def _shared_legend(fig: Figure, axes, ncols: int) -> int:
  """One legend below the panels, each label once; returns its number of rows."""
  by_label: dict[str, Any] = {}
  for ax in axes:
    for hd, lb in zip(*ax.get_legend_handles_labels()):
      by_label.setdefault(lb, hd)
  per_row = min(len(by_label), 2 * ncols)  # about 2 entries per panel's width
  fig.legend(list(by_label.values()), list(by_label), loc="lower center", ncol=per_row,
             fontsize=8, bbox_to_anchor=(0.5, 0.0))
  return math.ceil(len(by_label) / max(per_row, 1))


def _hparam_trials(df: pd.DataFrame, optimizer: str, metric: str,
                   warnings: Sequence[diagnostics.BoundaryWarning],
                   top_fraction: float) -> _HparamTrials:
  rows = df[df["optimizer"] == optimizer]
  col = metric_column(metric, "validation")
  finite = np.isfinite(rows[col].to_numpy(float))
  completed = rows["status"] == "completed"
  return _HparamTrials(
      done=rows[completed & finite],
      lost=rows[rows["status"].isin(("diverged", "failed")) | (completed & ~finite)],
      top=diagnostics.top_trials(df, optimizer, metric, top_fraction), col=col,
      color=color(optimizer),
      flagged=frozenset((w.hparam, w.trial_id) for w in warnings if w.optimizer == optimizer))


def hparam_figure(df: pd.DataFrame, optimizer: str, space: Mapping[str, Any], metric: str,
                  warnings: Sequence[diagnostics.BoundaryWarning] = (),
                  top_fraction: float = 0.1) -> Figure | None:
  """For each tuned hyperparameter of one optimizer: validation metric versus the value
  on the search scale, search bounds dashed, top trials highlighted, diverged / failed trials
  marked along the top edge. A title line warns of top trials near a bound that could be
  widened."""
  tuned = {n: s for n, s in diagnostics.tuned_hparams(space).items() if f"hp.{n}" in df.columns}
  if not tuned:
    return None
  t = _hparam_trials(df, optimizer, metric, warnings, top_fraction)
  yl = _y_layout(t.done[t.col].to_numpy(float), bool(len(t.lost)))
  n = len(tuned)
  ncols = min(3, n)
  nrows = math.ceil(n / ncols)
  fig = Figure(figsize=(4.3 * ncols, 3.6 * nrows + 0.6))
  axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
  # Red titles only where the space could grow; a natural limit (λ = 1) is ringed, not red.
  warned = {w.hparam for w in warnings if w.optimizer == optimizer and not w.natural}
  for ax, (name, spec) in zip(axes, tuned.items()):
    _draw_trials(ax, _x_of(name, spec), name, t, yl, top_fraction)
    _x_axis(ax, name, spec)
    _y_axis(ax, yl, bool(len(t.lost)), metric)
    ax.set_title(("⚠ top trial near a bound: " if name in warned else "") + name,
                 color="red" if name in warned else "black", fontsize=10)
    ax.grid(alpha=0.3)
  for ax in axes[n:]:
    ax.set_visible(False)
  legend_rows = _shared_legend(fig, axes[:n], ncols)
  suffix = f" — {len(warned)} hyperparameter(s) with top trials near a bound" if warned else ""
  sep = " " if ncols > 1 else "\n"  # one panel is too narrow for the title on one line
  fig.suptitle(f"{optimizer}: validation {metric} versus hyperparameters{sep}"
               f"({len(t.done)} completed, {len(t.lost)} diverged/failed){suffix}",
               color="red" if warned else "black")
  legend_h = 0.1 + 0.22 * legend_rows  # inches
  fig.set_figheight(3.6 * nrows + 0.4 + legend_h)
  fig.tight_layout(rect=(0, legend_h / fig.get_figheight(), 1, 1))
  return fig


def curves_figure(curves: pd.DataFrame, df: pd.DataFrame, metric: str,
                  num_best: int = CURVES_NUM_BEST, split: str = "validation") -> Figure:
  """`split` metric versus step for the best `num_best` trials of each optimizer (all its
  completed ones where it has fewer, as the panel's title says); a curve of fewer than
  MARKERS_BELOW evaluations is drawn with a marker at each."""
  opts = diagnostics.order_optimizers(df["optimizer"])
  n = max(1, len(opts))
  ncols = min(3, n)
  nrows = math.ceil(n / ncols)
  fig = Figure(figsize=(4.6 * ncols, 3.6 * nrows))
  axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
  vcol = metric_column(metric, "validation")
  styles = ("-", "--", ":", "-.")
  c_split = curves[curves["split"] == split] if len(curves) else curves
  for ax, opt in zip(axes, opts):
    best = diagnostics.best_trials(df, opt, metric, num_best)
    drawn = 0
    for j, (_, r) in enumerate(best.iterrows()):
      cur = c_split[c_split["trial_id"] == r["trial_id"]] if len(c_split) else c_split
      if len(cur) == 0 or metric not in cur.columns:
        continue
      cur = cur.sort_values("step")
      few = cur[metric].notna().sum() < MARKERS_BELOW
      ax.plot(cur["step"], cur[metric], ls=styles[j % len(styles)], color=color(opt, opts),
              lw=1.6, marker="o" if few else None, markersize=4,
              label=f"{r['trial_id']} ({r[vcol]:.4g})")
      drawn += 1
    if not drawn:
      ax.text(0.5, 0.5, "no curves", transform=ax.transAxes, ha="center")
    ax.set_title(f"{opt}: best {num_best} trials" + (
        f" ({len(best)} completed)" if len(best) < num_best else ""))
    ax.set_xlabel("step")
    ax.set_ylabel(metric_label(metric, split))
    ax.grid(alpha=0.3)
    if drawn:
      ax.legend(fontsize=8, title="trial (final validation)", title_fontsize=8)
  for ax in axes[len(opts):]:
    ax.set_visible(False)
  fig.suptitle(f"Training curves: {split} {metric} of the best {num_best} trials per "
               "optimizer")
  fig.tight_layout()
  return fig


def protocol_figure(rank_a: pd.DataFrame, rank_b: pd.DataFrame, label_a: str, label_b: str,
                    metric: str, split: str = "test") -> Figure:
  """Rankings of the same workload under two protocols, side by side: a slope chart of
  rank (1 = best) with the best-of-K median annotated. `rank_*`: columns optimizer, rank,
  value (from `report.ranking`)."""
  fig = Figure(figsize=(7.5, 0.55 * max(len(rank_a), len(rank_b), 3) + 2.2))
  ax = fig.subplots()
  a = rank_a.set_index("optimizer")
  b = rank_b.set_index("optimizer")
  opts = diagnostics.order_optimizers(list(a.index) + list(b.index))
  for opt in opts:
    c = color(opt, opts)
    ra = a["rank"].get(opt, np.nan)
    rb = b["rank"].get(opt, np.nan)
    if np.isfinite(ra) and np.isfinite(rb):
      ax.plot([0, 1], [ra, rb], color=c, lw=2, marker="o", markersize=8)
    for xpos, r, frame, ha, dx in ((0, ra, a, "right", -8), (1, rb, b, "left", 8)):
      if np.isfinite(r):
        ax.plot([xpos], [r], marker="o", color=c, markersize=8)
        v = frame["value"].get(opt, np.nan)
        ax.annotate(f"{opt}  {v:.4g}" if ha == "left" else f"{v:.4g}  {opt}", (xpos, r),
                    xytext=(dx, 0), textcoords="offset points", ha=ha, va="center",
                    fontsize=9, color=c)
  n = len(opts)
  ax.set_ylim(n + 0.5, 0.5)
  ax.set_yticks(range(1, n + 1))
  ax.set_ylabel("rank (1 = best)")
  ax.set_xlim(-0.6, 1.6)
  ax.set_xticks([0, 1], [label_a, label_b])
  ax.set_xlabel("protocol / study")
  ax.grid(axis="y", alpha=0.3)
  ax.set_title(f"Optimizer rankings by best-of-K {split} {metric} (median)")
  fig.tight_layout()
  return fig
