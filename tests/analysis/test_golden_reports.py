"""The committed reports under results/ are what `optcompare analyze` makes of their files.

Each results/<workload>/<protocol>/ holds study.json, trials.csv and report.md from the
Makefile's `analyze` step: choi2019 (and its other choi2019_* runs) alone, every other
protocol with --compare against the same workload's choi2019_final (choi2019 where there is
none); results/modern/<workload>/<stage>/ alone (`make reproduce_modern`). Analyzing the
committed files again must give the same report.md byte for byte. A
study committed with its per-step evaluations (curves.csv) is compared whole; one without
them (its original run read the trial directories, which are not committed) is compared but
for the training curves' line, which a re-analysis writes as skipped where the original run
listed curves.png.
"""
import glob
import os

import pytest

from optcompare.analysis import analyze
from tests.conftest import REPO

RESULTS = os.path.join(REPO, "results")
# results/<workload>/<protocol>/ and results/modern/<workload>/<stage>/
STUDY_GLOBS = (("*", "*"), ("modern", "*", "*"))
COMMITTED = ("study.json", "trials.csv", "report.md")
CURVES_TABLE = "curves.csv"
# The training curves' line, as listed by a run with per-step logs or noted by one without.
CURVES_LINES = ("- [curves.png](curves.png): ", "- Training curves skipped")


def committed_studies() -> list[str]:
  """results/<workload>/<protocol> of every study committed with its report."""
  dirs = sorted(d for g in STUDY_GLOBS for d in glob.glob(os.path.join(RESULTS, *g, "")))
  return [os.path.relpath(d, RESULTS) for d in dirs
          if all(os.path.isfile(os.path.join(d, name)) for name in COMMITTED)]


def has_curves(study: str) -> bool:
  """Whether the study was committed with its per-step evaluations (so its report whole)."""
  return os.path.isfile(os.path.join(RESULTS, study, CURVES_TABLE))


def compare_with(study: str) -> str | None:
  """The study the Makefile compares `study` against: its workload's final choi2019 study
  (refined spaces), or its choi2019 study where no final one is committed; none for choi2019
  studies themselves."""
  if study.startswith("modern" + os.sep):
    return None
  workload, protocol = study.split(os.sep)
  if protocol.startswith("choi2019"):
    return None
  final = os.path.join(RESULTS, workload, "choi2019_final")
  return final if os.path.isdir(final) else os.path.join(RESULTS, workload, "choi2019")


def without_curves_line(report: str) -> str:
  """report.md less the training curves' line, of which it has exactly one."""
  lines = report.split("\n")
  kept = [line for line in lines if not line.startswith(CURVES_LINES)]
  assert len(lines) - len(kept) == 1, "expected one training curves line"
  return "\n".join(kept)


def test_every_results_directory_is_checked():
  """A study committed without one of its files would silently drop out of the golden test."""
  assert len(committed_studies()) >= 6
  for d in [f for g in STUDY_GLOBS for f in glob.glob(os.path.join(RESULTS, *g, "study.json"))]:
    study = os.path.relpath(os.path.dirname(d), RESULTS)
    assert study in committed_studies(), f"results/{study} lacks one of {COMMITTED}"


def test_small_studies_are_held_whole():
  """The golden test holds the complete report.md of small committed studies (4 and 8 trials
  per optimizer, one alone and one compared), not only the reports less a line."""
  whole = [s for s in committed_studies() if has_curves(s)]
  assert {os.path.join("fashion_mnist", "choi2019_train_eval"),
          os.path.join("fashion_mnist", "wilson2017")} <= set(whole)


@pytest.mark.parametrize("study", committed_studies())
def test_committed_report_is_reproduced(study, tmp_path):
  workdir = os.path.join(RESULTS, study)
  analyze(workdir, out=tmp_path, compare=compare_with(study))
  with open(os.path.join(workdir, "report.md"), "rb") as f:
    committed = f.read()
  produced = (tmp_path / "report.md").read_bytes()
  if has_curves(study):
    assert produced == committed
  else:
    assert (without_curves_line(produced.decode("utf-8"))
            == without_curves_line(committed.decode("utf-8")))
