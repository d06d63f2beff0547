"""The per-optimizer hyperparameter figure: validation metric versus each tuned
hyperparameter, on its search scale (Choi et al., Appendix E's check, drawn).

Search bounds and natural limits are drawn apart: a bound that is the hyperparameter's
natural limit (optcompare.hparams: λ = 1 is no decay, γ = 0 no momentum) is a solid dark
line labelled as such, since no search space can grow past it; another bound is dashed
grey. Only a top trial near a bound that could be widened is ringed red (the report asks
for no action at a natural limit). The axes hold every point with a margin: x spans the
bounds and every trial, y the completed trials' range (a long tail of poor trials drawn as
^ on a row at the top, and diverged / failed ones on a "lost" row above it).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from optcompare import hparams
from optcompare.analysis import diagnostics
from optcompare.analysis import style
from optcompare.analysis.bootstrap import metric_column
from optcompare.search import spaces

X_MARGIN = 0.06  # of the x range (on the search scale) beyond the outermost bound or point
NATURAL = {"color": "0.15", "ls": "-", "lw": 1.3}   # a natural limit of the hyperparameter
BOUND = {"color": "0.5", "ls": "--", "lw": 0.9}     # a search bound that could be widened


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
  return _YLayout(ylo, ytop, pad, (ylo - 1.5 * pad, ytop + (3.5 if any_lost else 1.8) * pad))


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
  optimizer: str
  done: pd.DataFrame   # completed, with a finite metric
  lost: pd.DataFrame   # diverged, failed, or completed without a metric
  top: pd.DataFrame    # the top fraction
  col: str             # the validation metric's column
  flagged: frozenset   # (hparam, trial_id) of top trials near a bound that could be widened

  def all(self) -> pd.DataFrame:
    return pd.concat([self.done, self.lost])


def _draw_trials(ax, xs, name: str, t: _HparamTrials, yl: _YLayout,
                 top_fraction: float) -> None:
  """One panel's points: completed (^ above the range), top ringed, those near a bound that
  could be widened ringed red, lost ones as x on their row above a thin line."""
  y = t.done[t.col].to_numpy(float)
  yy, clipped = np.where(y > yl.top, yl.clip, y), y > yl.top
  lk, gid = style.look(t.optimizer), style.gid(t.optimizer)
  ax.scatter(xs(t.done)[~clipped], yy[~clipped], color=lk.color, marker=lk.marker, alpha=0.6,
             s=12, lw=0, label="completed", gid=gid)
  if clipped.any():
    ax.scatter(xs(t.done)[clipped], yy[clipped], color=lk.color, marker="^", s=14, alpha=0.6,
               lw=0, label="completed, above the range", gid=gid)
  ax.scatter(xs(t.top), t.top[t.col], facecolor="none", edgecolor="k", s=40, lw=0.9,
             label=f"top {top_fraction:.0%}")
  near = t.top[[(name, i) in t.flagged for i in t.top["trial_id"]]]
  if len(near):
    ax.scatter(xs(near), near[t.col], facecolor="none", edgecolor="red", s=80, lw=1.2,
               label="top trial near a bound that could be widened")
  if len(t.lost):
    ax.scatter(xs(t.lost), np.full(len(t.lost), yl.lost), marker="x", color="red", s=20,
               lw=1.0, label="diverged / failed (row \"lost\": no metric)")
    ax.axhline(yl.top + 1.75 * yl.pad, color="gray", lw=0.6,
               label="below: completed trials; above: the lost row")


def _natural_label(name: str, value: float) -> str:
  return f"natural limit, cannot be widened ({hparams.TABLE[name].symbol} = {value:g})"


def _bound_lines(ax, name: str, spec: Mapping[str, Any], scale: spaces.Scale) -> list[float]:
  """The search bounds: dashed, or solid where the bound is a natural limit of `name`;
  returns them as shown."""
  shown = []
  for bound in ("min", "max"):
    value = float(spec[bound])
    x = float(scale.shown(value))
    if hparams.is_natural_limit(name, bound, value):
      ax.axvline(x, **NATURAL, label=_natural_label(name, value))
    else:
      ax.axvline(x, **BOUND, label="search bound")
    shown.append(x)
  return shown


def _natural_lines_inside(ax, name: str, spec: Mapping[str, Any], scale: spaces.Scale) -> None:
  """Natural limits of `name` that are not bounds but lie within the axis (a space that
  ends just short of λ = 1, say), solid as at a bound."""
  h = hparams.TABLE.get(name)
  lo, hi = ax.get_xlim()
  for value in (h.natural if h else ()):
    x = float(scale.shown(value)) if value is not None else math.nan
    if (math.isfinite(x) and (x > 0 or not scale.log) and lo < x < hi
        and value not in (spec["min"], spec["max"])):
      ax.axvline(x, **NATURAL, label=_natural_label(name, value))


def _span(values: np.ndarray, log: bool) -> tuple[float, float]:
  """Limits that hold `values` with X_MARGIN of their range on each side (in log10 when
  `log`); values that the axis cannot show (≤ 0 on a log axis, NaN) are left out."""
  v = values[np.isfinite(values) & ((values > 0) if log else True)]
  if log:
    lo, hi = math.log10(v.min()), math.log10(v.max())
    m = X_MARGIN * max(hi - lo, 0.1)
    return 10 ** (lo - m), 10 ** (hi + m)
  lo, hi = float(v.min()), float(v.max())
  m = X_MARGIN * max(hi - lo, 1e-12)
  return lo - m, hi + m


def _x_axis(ax, name: str, spec: Mapping[str, Any], xs_all: np.ndarray) -> None:
  """A choice's values as ticks, or the search scale with its bounds and natural limits,
  the limits holding every bound and every trial (`xs_all`) with a margin."""
  if spec["scale"] == "choice":
    values = list(spec["values"])
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(f"{name} (choice)")
    return
  scale = spaces.BOUNDED[spec["scale"]]
  bounds = _bound_lines(ax, name, spec, scale)
  if scale.log:
    ax.set_xscale("log")
  ax.set_xlim(*_span(np.concatenate([np.asarray(bounds, float), xs_all]), scale.log))
  _natural_lines_inside(ax, name, spec, scale)
  ax.set_xlabel(diagnostics.scale_label(name, spec))


def _y_axis(ax, yl: _YLayout, any_lost: bool, metric: str) -> None:
  ax.set_ylim(*yl.lim)
  if any_lost:  # no metric tick beside the diverged row: it is labelled as such
    ticks = [t for t in MaxNLocator(6).tick_values(yl.low, yl.top) if yl.lim[0] <= t <= yl.top]
    ax.yaxis.set_major_locator(FixedLocator(ticks + [yl.lost]))
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _, y_lost=yl.lost: "lost" if v == y_lost else f"{v:.3g}"))
  ax.set_ylabel(f"validation {metric}")


def _shared_legend(fig: Figure, axes, ncols: int) -> None:
  """One legend below the panels (outside them), each label once."""
  by_label: dict[str, Any] = {}
  for ax in axes:
    for hd, lb in zip(*ax.get_legend_handles_labels()):
      by_label.setdefault(lb, hd)
  fig.legend(list(by_label.values()), list(by_label), loc="outside lower center",
             ncol=min(len(by_label), max(2, ncols)))


def _hparam_trials(df: pd.DataFrame, optimizer: str, metric: str,
                   warnings: Sequence[diagnostics.BoundaryWarning],
                   top_fraction: float) -> _HparamTrials:
  rows = df[df["optimizer"] == optimizer]
  col = metric_column(metric, "validation")
  finite = np.isfinite(rows[col].to_numpy(float))
  completed = rows["status"] == "completed"
  return _HparamTrials(
      optimizer=optimizer, done=rows[completed & finite],
      lost=rows[rows["status"].isin(("diverged", "failed")) | (completed & ~finite)],
      top=diagnostics.top_trials(df, optimizer, metric, top_fraction), col=col,
      flagged=frozenset((w.hparam, w.trial_id) for w in warnings
                        if w.optimizer == optimizer and not w.natural))


def _panel(ax, name: str, spec: Mapping[str, Any], t: _HparamTrials, yl: _YLayout,
           warned: bool, metric: str, top_fraction: float) -> None:
  xs = _x_of(name, spec)
  _draw_trials(ax, xs, name, t, yl, top_fraction)
  _x_axis(ax, name, spec, xs(t.all()) if spec["scale"] != "choice" else np.zeros(0))
  _y_axis(ax, yl, bool(len(t.lost)), metric)
  ax.set_title(("⚠ top trial near a bound: " if warned else "") + name,
               color="red" if warned else "black")
  ax.grid(True)


@style.styled
def hparam_figure(df: pd.DataFrame, optimizer: str, space: Mapping[str, Any], metric: str,
                  warnings: Sequence[diagnostics.BoundaryWarning] = (),
                  top_fraction: float = 0.1) -> Figure | None:
  """For each tuned hyperparameter of one optimizer: validation metric versus the value
  on the search scale, search bounds and natural limits drawn apart, top trials ringed,
  diverged / failed trials on a row of their own. A title line warns of top trials near a
  bound that could be widened (one at a natural limit needs no action)."""
  tuned = {n: s for n, s in diagnostics.tuned_hparams(space).items() if f"hp.{n}" in df.columns}
  if not tuned:
    return None
  t = _hparam_trials(df, optimizer, metric, warnings, top_fraction)
  yl = _y_layout(t.done[t.col].to_numpy(float), bool(len(t.lost)))
  n = len(tuned)
  ncols = min(3, n)
  nrows = math.ceil(n / ncols)
  fig = Figure(figsize=(max(2.6 * ncols, 3.6), 2.3 * nrows + 1.0), layout="constrained")
  axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
  warned = {w.hparam for w in warnings if w.optimizer == optimizer and not w.natural}
  for ax, (name, spec) in zip(axes, tuned.items()):
    _panel(ax, name, spec, t, yl, name in warned, metric, top_fraction)
  for ax in axes[n:]:
    ax.set_visible(False)
  _shared_legend(fig, axes[:n], ncols)
  suffix = (f" — {len(warned)} hyperparameter(s) with top trials near a bound that could be "
            "widened" if warned else "")
  fig.suptitle(f"{optimizer}: validation {metric} versus hyperparameters\n"
               f"({len(t.done)} completed, {len(t.lost)} diverged/failed){suffix}",
               color="red" if warned else "black")
  return fig
