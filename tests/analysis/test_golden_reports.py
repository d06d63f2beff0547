"""The committed reports under results/ are what `optcompare analyze` makes of their files.

Each results/<workload>/<protocol>/ holds study.json, trials.csv and report.md from the
Makefile's `analyze` step: choi2019 (and its other choi2019_* runs) alone, every other
protocol with --compare against the same workload's choi2019_final (choi2019 where there is
none). Analyzing the committed files
again must give the same report.md byte for byte but for figure (e)'s line: the training curves
need the per-step logs, which are not committed, so a re-analysis notes the curves as skipped
where the original run (from its trial directories) listed curves.png.
"""
import glob
import os

import pytest

from optcompare.analysis import analyze
from tests.conftest import REPO

RESULTS = os.path.join(REPO, "results")
COMMITTED = ("study.json", "trials.csv", "report.md")
# Figure (e)'s line, as listed by a run with trial directories or noted by one without.
CURVES_LINES = ("- [curves.png](curves.png): (e) ", "- Training curves (figure e) skipped")


def committed_studies() -> list[str]:
  """results/<workload>/<protocol> of every study committed with its report."""
  dirs = sorted(glob.glob(os.path.join(RESULTS, "*", "*", "")))
  return [os.path.relpath(d, RESULTS) for d in dirs
          if all(os.path.isfile(os.path.join(d, name)) for name in COMMITTED)]


def compare_with(study: str) -> str | None:
  """The study the Makefile compares `study` against: its workload's final choi2019 study
  (refined spaces), or its choi2019 study where no final one is committed; none for choi2019
  studies themselves."""
  workload, protocol = study.split(os.sep)
  if protocol.startswith("choi2019"):
    return None
  final = os.path.join(RESULTS, workload, "choi2019_final")
  return final if os.path.isdir(final) else os.path.join(RESULTS, workload, "choi2019")


def without_curves_line(report: str) -> str:
  """report.md less figure (e)'s line, of which it has exactly one."""
  lines = report.split("\n")
  kept = [line for line in lines if not line.startswith(CURVES_LINES)]
  assert len(lines) - len(kept) == 1, "expected one figure (e) line"
  return "\n".join(kept)


def test_every_results_directory_is_checked():
  """A study committed without one of its files would silently drop out of the golden test."""
  assert len(committed_studies()) >= 6
  for d in glob.glob(os.path.join(RESULTS, "*", "*", "study.json")):
    study = os.path.relpath(os.path.dirname(d), RESULTS)
    assert study in committed_studies(), f"results/{study} lacks one of {COMMITTED}"


@pytest.mark.parametrize("study", committed_studies())
def test_committed_report_is_reproduced(study, tmp_path):
  workdir = os.path.join(RESULTS, study)
  analyze(workdir, out=tmp_path, compare=compare_with(study))
  with open(os.path.join(workdir, "report.md"), encoding="utf-8") as f:
    committed = f.read()
  produced = (tmp_path / "report.md").read_text()
  assert without_curves_line(produced) == without_curves_line(committed)
