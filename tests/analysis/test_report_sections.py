"""The report as a list of sections (analysis/section.py): figure letters are computed from
the figures present, and references to figures are written with those letters."""
import pytest

from optcompare.analysis import report
from optcompare.analysis import section
from optcompare.analysis.section import FigureFile
from optcompare.analysis.section import Section

FIG = object()  # stands for a matplotlib Figure: section.py only carries it


def _sections(with_comparison: bool) -> list[Section]:
  top = Section("", "# Report\n\n- a line", (
      FigureFile("best.png", FIG, "best trials"),
      FigureFile("hparams_sgd.png", FIG, "sgd", "hparams"),
      FigureFile("hparams_adam.png", FIG, "adam", "hparams")),
      notes=("Training curves skipped: no logs.",))
  comparison = Section("Comparison", "A table.", (FigureFile("rank.png", FIG, "rankings"),))
  robust = Section("Robustness", f"Verdicts ({section.ref('verdicts.png', 'steps.png')}).",
                   (FigureFile("verdicts.png", FIG, "verdicts"),
                    FigureFile("steps.png", FIG, f"steps (see {section.ref('best.png')})")))
  return [top] + ([comparison] if with_comparison else []) + [robust]


def test_letters_follow_the_figures_present():
  assert section.letters(_sections(True)) == {
      "best.png": "a", "hparams_sgd.png": "b", "hparams_adam.png": "b", "rank.png": "c",
      "verdicts.png": "d", "steps.png": "e"}
  # Without the comparison the later figures move up: no letter is left unused.
  assert section.letters(_sections(False))["verdicts.png"] == "c"


def test_render_writes_sections_figure_list_and_references():
  text = section.render(_sections(False))
  assert text == "\n".join([
      "# Report", "", "- a line", "",
      "## Robustness", "", "Verdicts (figures c and d).", "",
      "## Figures", "",
      "- [best.png](best.png): (a) best trials",
      "- [hparams_sgd.png](hparams_sgd.png): (b) sgd",
      "- [hparams_adam.png](hparams_adam.png): (b) adam",
      "- Training curves skipped: no logs.",
      "- [verdicts.png](verdicts.png): (c) verdicts",
      "- [steps.png](steps.png): (d) steps (see figure a)", ""])


@pytest.mark.parametrize("names, written", [
    (("verdicts.png",), "figure c"),
    (("verdicts.png", "absent.png", "steps.png"), "figures c and d"),
    (("best.png", "hparams_sgd.png", "hparams_adam.png", "steps.png"), "figures a, b and d"),
    (("absent.png",), "no figure"),
])
def test_a_reference_names_only_figures_present(names, written):
  letters = section.letters(_sections(False))
  assert section.resolve(f"({section.ref(*names)})", letters) == f"({written})"


def test_figure_files_leave_out_figures_not_drawn():
  drawn = FigureFile("a.png", FIG, "a")
  assert section.figure_files(drawn, None, FigureFile("b.png", None, "b")) == (drawn,)


def test_a_section_added_to_the_list_is_reported_and_letters_follow(monkeypatch, tmp_path):
  """Adding a section is adding a function to report.SECTIONS: its text lands in its place,
  its figure takes the next letter, and the figures after it (and the references to them)
  move on by one."""
  from matplotlib.figure import Figure
  from tests.conftest import REPO

  def extra(inputs):
    return Section("Extra", f"{len(inputs.study.optimizers)} optimizers.",
                   (FigureFile("extra.png", Figure(figsize=(1, 1)), "an extra figure"),))

  at = report.SECTIONS.index(report.top) + 1
  monkeypatch.setattr(report, "SECTIONS", report.SECTIONS[:at] + (extra,)
                      + report.SECTIONS[at:])
  report.analyze(f"{REPO}/results/fashion_mnist/choi2019_train_eval", out=tmp_path,
                 num_resamples=20)
  text = (tmp_path / "report.md").read_text()
  assert "\n\n## Extra\n\n6 optimizers.\n\n## Headline\n" in text
  # After the top's figures (a-e), before the robustness ones (f and g without it).
  assert "- [curves.png](curves.png): (e) " in text and "Settling (figure b):" in text
  assert "- [extra.png](extra.png): (f) an extra figure" in text
  assert "- [steps_to_targets.png](steps_to_targets.png): (h) " in text
  assert "; figures g and h):" in text
  assert (tmp_path / "extra.png").exists()
