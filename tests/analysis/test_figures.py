"""Figures: axis labels, legends, markers and titles say what the report says."""
import json
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg

from optcompare.analysis import bootstrap_best
from optcompare.analysis import figures
from optcompare.analysis import load_curves
from optcompare.analysis import load_study
from optcompare.analysis import style


def _study(make_study, **kw):
  d = make_study(**kw)
  return d, load_study(d)


def test_best_trials_figure_labels_the_test_panel_as_test(study_dir):
  df = load_study(study_dir)
  fig = figures.best_trials_figure(df, bootstrap_best(df, "error", 8), "error")
  validation, test = fig.axes[:2]
  assert validation.get_ylabel() == "validation error" and test.get_ylabel() == "test error"
  assert validation.get_legend() is None and fig.legends  # below the axes, not over data


def test_best_of_k_is_one_panel_per_optimizer_with_its_legend_below(study_dir):
  df = load_study(study_dir)
  boot = bootstrap_best(df, "error", [1, 2, 4, 8], num_resamples=50)
  fig = figures.best_of_k_figure(boot, "error", settled={"sgd": 4})
  assert [ax.get_title() for ax in fig.axes] == ["sgd", "momentum", "adam"]
  assert all(ax.get_legend() is None for ax in fig.axes)
  (legend,) = fig.legends
  labels = [t.get_text() for t in legend.get_texts()]
  assert labels[0] == "validation median" and "settled" in labels[-1]
  # Its box lies below every axes (their tick labels included).
  canvas = FigureCanvasAgg(fig)
  canvas.draw()
  renderer = canvas.get_renderer()
  box = legend.get_window_extent(renderer)
  assert all(box.y1 <= ax.get_tightbbox(renderer).y0 for ax in fig.axes)


def test_curves_figure_says_best_n_and_marks_sparse_curves(make_study, monkeypatch):
  d, df = _study(make_study, optimizers=("sgd", "momentum"), num_trials=2)
  curves = load_curves(d)  # 10 evaluations per trial
  few = curves[curves["step"].isin([50, 100])]  # two evaluations per trial
  fig = figures.curves_figure(few, df, "error")
  for ax in fig.axes:
    if not ax.get_visible():
      continue
    assert re.fullmatch(r"(sgd|momentum): best 3 trials \([12] completed\)", ax.get_title())
    assert ax.lines and all(line.get_marker() == style.look(ax.get_title().split(":")[0]).marker
                            for line in ax.lines)
  assert "best 3 trials per optimizer" in fig._suptitle.get_text()
  monkeypatch.setattr(figures, "MARKERS_BELOW", 5)
  dense = figures.curves_figure(curves, df, "error")
  assert all(line.get_marker() in (None, "None", "") for ax in dense.axes for line in ax.lines)


def test_hparam_figure_explains_the_diverged_row(make_study):
  d, df = _study(make_study, optimizers=("adam",), num_trials=10)
  space = json.loads((d / "study.json").read_text())["config"]["search_spaces"]["adam"]
  assert (df["status"] == "diverged").any()
  fig = figures.hparam_figure(df, "adam", space, "error")
  labels = [t.get_text() for t in fig.legends[0].get_texts()]
  assert any("above: the lost row" in x for x in labels)
  assert any("diverged / failed" in x for x in labels)
  ax = fig.axes[0]
  assert "lost" in [t.get_text() for t in ax.get_yticklabels()]
  completed = df[df["status"] == "completed"]
  fig = figures.hparam_figure(completed, "adam", space, "error")  # nothing lost: no row
  labels = [t.get_text() for t in fig.legends[0].get_texts()]
  assert not any("lost" in x or "diverged" in x for x in labels)
  assert not [ln for ln in fig.axes[0].lines if ln.get_color() == "gray"
              and list(ln.get_ydata())[0] == list(ln.get_ydata())[-1]
              and ln.get_linestyle() == "-"]
