"""Every figure of a report, checked from its matplotlib objects (issue 26, "figures fit for
a paper"): one colour per optimizer in every figure, step axes ticked at evaluation steps,
legends outside the axes, no data point outside an axes' limits, the best-of-K range on the
large K, natural limits drawn apart from search bounds, figure letters consecutive.

The report is that of a small synthetic study (six optimizers, 8 trials, evaluations every 10
of 100 steps), compared with itself so that the protocol figure is drawn too; the figures are
caught where they would be written (style.save), before any PNG is encoded.
"""
import math
import os
import re
import subprocess
import sys

import matplotlib.colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
import numpy as np
import pytest

from optcompare.analysis import figures
from optcompare.analysis import report
from optcompare.analysis import style
from optcompare.analysis import synthetic
from tests.conftest import REPO

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam")
EVAL_STEPS = {float(s) for s in range(10, 101, 10)}  # synthetic: every 10 of 100 steps


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
  """(figures by file name, the letter each was saved with, report.md) of the report."""
  root = tmp_path_factory.mktemp("figures_style")
  study = synthetic.write_synthetic_study(root / "study", optimizers=OPTIMIZERS, num_trials=8)
  caught = {}
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(style, "save", lambda fig, path: caught.__setitem__(os.path.basename(path), fig))
    report.analyze(study, out=root / "out", compare=study, num_resamples=50)
  for fig in caught.values():
    FigureCanvasAgg(fig).draw()  # lay out, as savefig would
  return caught, (root / "out" / report.REPORT).read_text()


def _hex(c) -> str:
  return mcolors.to_hex(mcolors.to_rgba(c)[:3])


def _colors(artist) -> set[str]:
  """The colours an optimizer's artist is drawn in (white marker faces, for hollow markers,
  and transparent edges left out)."""
  if hasattr(artist, "get_facecolor"):  # a collection; lines and texts have one colour
    faces = [c for c in np.atleast_2d(artist.get_facecolor()) if c[3] > 0]
    edges = [c for c in np.atleast_2d(artist.get_edgecolor()) if c[3] > 0]
    cs = faces or edges
  else:
    cs = [artist.get_color()]
  return {_hex(c) for c in cs} - {"#ffffff"}


def _optimizer_artists(fig):
  for artist in fig.findobj():
    opt = style.optimizer_of_gid(artist.get_gid())
    if opt is not None:
      yield opt, artist


def test_every_figure_of_the_report_is_drawn(rendered):
  figs, _ = rendered
  assert {"best_trials.png", "best_of_k.png", "steps_to_target.png", "curves.png",
          "protocol_comparison.png", "robustness_verdicts.png", "steps_to_targets.png",
          } | {f"hparams_{o}.png" for o in OPTIMIZERS} == set(figs)


def test_an_optimizer_has_one_colour_in_every_figure_and_optimizers_differ(rendered):
  figs, _ = rendered
  seen: dict[str, set[str]] = {}
  in_figures: dict[str, set[str]] = {}
  for name, fig in figs.items():
    for opt, artist in _optimizer_artists(fig):
      seen.setdefault(opt, set()).update(_colors(artist))
      in_figures.setdefault(opt, set()).add(name)
  assert set(seen) == set(OPTIMIZERS)
  for opt in OPTIMIZERS:
    assert seen[opt] == {style.color(opt)}, opt
    # Drawn in every figure but the verdict grid (pairs, not optimizers) and the other
    # optimizers' hyperparameter figures.
    assert in_figures[opt] >= set(figs) - {"robustness_verdicts.png"} - {
        f"hparams_{o}.png" for o in OPTIMIZERS if o != opt}, opt
  assert len({style.color(o) for o in OPTIMIZERS}) == len(OPTIMIZERS)


def _axes(fig):
  return [ax for ax in fig.axes if ax.get_visible()]


def test_step_axes_are_ticked_at_evaluation_steps_only(rendered):
  """Read from the tick labels, so that a categorical axis (the verdict grid's budgets) is
  held to it as a numeric one: each is an evaluation step or the "not reached" row."""
  figs, _ = rendered
  checked = 0
  for name, fig in figs.items():
    for ax in _axes(fig):
      for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
        if not label.startswith("step"):
          continue
        texts = {t.get_text() for t in axis.get_ticklabels()} - {"", figures.NOT_REACHED}
        assert texts and {float(t) for t in texts} <= EVAL_STEPS, (name, label, texts)
        assert not axis.get_minorticklocs().size, (name, label)
        checked += 1
  assert checked >= len(OPTIMIZERS) + 3  # curves' panels, both steps figures, the budgets


def test_steps_to_targets_draws_markers_only(rendered):
  """No line sloping between two evaluations: every optimizer's line is one point."""
  fig = rendered[0]["steps_to_targets.png"]
  lines = [a for _, a in _optimizer_artists(fig) if hasattr(a, "get_xydata")]
  assert lines and all(len(a.get_xydata()) == 1 for a in lines)


def test_coinciding_trials_and_optimizers_stay_apart(rendered):
  """Equal steps are set side by side: no two markers of one figure at the same place."""
  for name in ("steps_to_target.png", "steps_to_targets.png"):
    points = []
    for _, a in _optimizer_artists(rendered[0][name]):
      if isinstance(a, PathCollection):
        points += [tuple(p) for p in a.get_offsets()]
      elif hasattr(a, "get_xydata") and a.get_marker() not in (None, "None", ""):
        points += [tuple(p) for p in a.get_xydata()]
    assert len(points) == len(set(points)) > 10, name


def _extents(fig):
  renderer = fig.canvas.get_renderer()
  legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
  return ([lg.get_window_extent(renderer) for lg in legends],
          [ax.get_window_extent(renderer) for ax in _axes(fig)])


def test_legends_lie_outside_every_axes(rendered):
  for name, fig in rendered[0].items():
    legends, axes = _extents(fig)
    for box in legends:
      for ax_box in axes:
        overlap = (min(box.x1, ax_box.x1) - max(box.x0, ax_box.x0) > 1
                   and min(box.y1, ax_box.y1) - max(box.y0, ax_box.y0) > 1)
        assert not overlap, name


def _marker_points(ax):
  """Display coordinates of every marker and scatter point drawn in `ax`."""
  for line in ax.lines:
    if line.get_marker() not in (None, "None", "") and line.get_visible():
      xy = line.get_xydata()
      yield from line.get_transform().transform(xy[np.isfinite(xy).all(axis=1)])
  for coll in ax.collections:
    if isinstance(coll, PathCollection) and len(coll.get_offsets()):
      xy = np.asarray(coll.get_offsets(), float)
      yield from coll.get_offset_transform().transform(xy[np.isfinite(xy).all(axis=1)])


def test_no_data_point_lies_outside_its_axes(rendered):
  for name, fig in rendered[0].items():
    renderer = fig.canvas.get_renderer()
    for ax in _axes(fig):
      box = ax.get_window_extent(renderer)
      for x, y in _marker_points(ax):
        assert box.x0 - 0.5 <= x <= box.x1 + 0.5 and box.y0 - 0.5 <= y <= box.y1 + 0.5, (
            name, ax.get_title())


def test_best_of_k_range_shows_the_large_k_and_writes_the_medians_above_it(rendered):
  fig = rendered[0]["best_of_k.png"]
  panels = {ax.get_title(): ax for ax in _axes(fig)}
  assert set(panels) == set(OPTIMIZERS)
  ylim = panels["sgd"].get_ylim()
  written = [t.get_text() for ax in panels.values() for t in ax.texts]
  assert written, "the study's small-K medians reach above the K = 8 bands: some are written"
  assert all(float(t) > ylim[1] for t in written)
  # The whole y range is below the largest small-K median: it is not squashed by K = 1.
  assert all(math.isclose(ax.get_ylim()[1], ylim[1]) for ax in panels.values())


def _vlines(ax):
  return [ln for ln in ax.lines if len(set(ln.get_xdata())) == 1
          and tuple(ln.get_ydata()) == (0, 1)]


def test_hparams_natural_limits_are_drawn_apart_from_search_bounds(rendered):
  fig = rendered[0]["hparams_sgd.png"]
  decay = next(ax for ax in _axes(fig) if ax.get_title() == "decay_factor")
  by_x = {float(ln.get_xdata()[0]): ln for ln in _vlines(decay)}
  natural, bound = by_x[1.0], by_x[1e-3]  # λ ∈ [1e-3, 1]: λ = 1 is no decay
  assert "natural limit" in natural.get_label() and "λ = 1" in natural.get_label()
  assert bound.get_label() == "search bound"
  assert natural.get_linestyle() != bound.get_linestyle()


def test_hparams_ring_red_only_a_bound_that_could_be_widened(rendered):
  red = "top trial near a bound that could be widened"
  labels = {name: {c.get_label() for ax in _axes(fig) for c in ax.collections}
            for name, fig in rendered[0].items() if name.startswith("hparams_")}
  # The synthetic study's top sgd trial sits at λ = 1 (a natural limit), rmsprop's at the
  # lower bound 0.5 of its decay_steps_fraction (one that could be widened).
  assert red not in labels["hparams_sgd.png"]
  assert red in labels["hparams_rmsprop.png"]


def test_figure_letters_are_consecutive_and_written_on_the_figures(rendered):
  figs, text = rendered
  listed = re.findall(r"^- \[([^\]]+)\]\([^)]+\): \((\w)\)", text.split("## Figures")[1], re.M)
  letters = list(dict.fromkeys(letter for _, letter in listed))
  assert letters == [chr(ord("a") + i) for i in range(len(letters))]
  for name, letter in listed:
    written = [t.get_text() for t in figs[name].texts if t.get_gid() == style.LETTER_GID]
    assert written == [f"({letter})"], name


def test_built_in_looks_are_those_of_every_registered_optimizer_and_differ():
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top  (JAX)
  assert set(style.BUILT_IN) == set(optimizers.REGISTRY)
  looks = list(style.BUILT_IN.values())
  for field in ("color", "marker", "linestyle"):
    values = [str(getattr(lk, field)) for lk in looks]
    assert len(set(values)) == len(values), field
  assert not set(style.PLUGIN_COLORS) & {lk.color for lk in looks}
  assert not set(style.PLUGIN_MARKERS) & {lk.marker for lk in looks}


def test_a_plugin_colour_is_stable_across_processes_and_not_a_built_in():
  names = ("adabelief", "my_sgd", "shampoo", "sophia", "lamb")
  code = ("from optcompare.analysis import style; "
          f"print(' '.join(style.color(n) + style.look(n).marker for n in {names!r}))")
  runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed}
                         ).stdout for seed in ("1", "2")}
  assert len(runs) == 1  # not Python's hash, which the seed changes
  here = " ".join(style.color(n) + style.look(n).marker for n in names)
  assert runs == {here + "\n"}
  assert {style.color(n) for n in names} <= set(style.PLUGIN_COLORS)
  assert len({style.color(n) for n in names}) > 1  # spread over the palette


def test_thin_ticks_keeps_the_last_step_and_at_most_the_maximum():
  steps = list(range(50, 401, 50))
  assert style.thin_ticks(steps) == [float(s) for s in steps]
  many = list(range(10, 1001, 10))
  thinned = style.thin_ticks(many, max_ticks=8)
  assert len(thinned) <= 8 and thinned[-1] == 1000.0 and set(thinned) <= set(map(float, many))
