"""Final search spaces from an initial study: `optcompare refine` (Choi et al. 2019, App. D).

The paper chose each workload's final search spaces by running an initial study over a wide
space and narrowing it around the good trials. `refine(workdir, out, ...)` does that and writes
a study config file (`get_config(arg)`, the args of configs/studies: None, 'reduced', 'demo',
'smoke') with the narrowed spaces.

For each optimizer of the initial study and each searched coordinate of its space (log,
linear, one_minus_log), in that coordinate's search scale (`Spec.search_coordinate`: log10 x,
x, log10(1 − x)):
  1. top trials: the best ceil(top · n) of the optimizer's n completed trials by the study's
     target metric on validation (`diagnostics.best_trials`), at least 2 (all, if fewer);
  2. their span [lo, hi], widened by `margin` · (hi − lo) on each side, and to at least
     MIN_WIDTH_FRACTION of the initial range's width (so one trial, or top trials that agree,
     do not give an empty range);
  3. clipped at the initial range's bounds — except at a bound where the study's own boundary
     check (`diagnostics.boundary_warnings`, Appendix E) flags a top trial and the bound is no
     natural limit: there the range may grow past it (the report's advice, "widen the search
     space") — and always at the hyperparameter's natural limits and domain
     (optcompare.hparams) and the scale's domain;
  4. `contain`: each other study's best trial of each optimizer (by that study's target metric
     on validation) is written in this space's coordinates (a derived spec inverted, a
     constant schedule as λ = 1, as optcompare.analysis.containment does) and every bounded
     coordinate grows to hold it, with CONTAIN_PAD of the grown width beyond it (never past
     a natural limit, where it ends on the limit), so that the point is not on the new
     boundary. A point that a fixed or choice spec (or a constant schedule here) excludes
     grows nothing: no range can bring it in;
  5. the bounds are rounded outward to SIGNIFICANT_DIGITS significant digits of x (of 1 − x on
     one_minus_log, written `1 - s`; integers outward to integers).
Fixed, choice and derived specs are copied unchanged; an optimizer without completed trials
keeps its space. Whether each contained point is inside the result is then checked with
`containment.best_trial_containment` itself; a point left outside (a fixed or choice spec
cannot grow) or undetermined (a coordinate the trial does not set) is reported in the file's
docstring and in the summary refine returns (the command prints it, with a warning line),
and the file is still written.

The written file: the module docstring records the provenance (initial study, date, the
command line, top, margin, the --contain studies, per optimizer the initial → refined ranges,
the containment of each contained point, and how the initial study's base trial config
compares with the workload config); `get_config(arg)` builds the base from the workload config
(configs/workloads/<workload>.py, with the arg, as the protocol configs do) with the initial
study's schedule, the refined spaces, the initial study's seed, and its num_trials for args
None and 'reduced' (configs/studies/common.study sets 'demo' and 'smoke'). The base is not
copied from study.json: a data directory set on the sweep's command line, or a field that the
workload config has changed since, is listed in the docstring, not pinned.

Determinism: the file is a function of the inputs (the study directories, top, margin,
contain, the command line as the values give it) and the date (UTC; SOURCE_DATE_EPOCH when set,
as reproducible builds use). A rerun that would change only the date leaves the file as it is.
Bad input (BadInputError, nothing written): no study at --workdir or a --contain, a study
without completed trials, --top outside (0, 1], a negative --margin, an --out that is not a
.py path, that exists and was not written by refine, or whose directory is not writable.
A study too small to refine from (evidence.py: an optimizer with fewer than 16 completed
trials, or top trials no better than the untrained level) is refused the same way, in one line
naming each optimizer short and by how much, unless `force` (--force): then the file is
written, its docstring says so after its first line, and the summary ends with a warning.
Before writing, the file is executed and `study.manifest_of(get_config(arg))` run for
every arg the workload accepts.

The package: ranges.py (the range arithmetic: steps 1-5, `refine_spaces`), writer.py (the
file, its docstring, its check, the summary), base_config.py (the initial study's base against
the workload config), checks.py (input checks), evidence.py (whether the study can support
refined spaces); here, the command.
"""
from __future__ import annotations

import datetime
import os
from typing import Sequence

from optcompare import studydir
from optcompare.analysis import diagnostics
from optcompare.errors import BadInputError
from optcompare.refine import evidence
from optcompare.refine.base_config import base_differences
from optcompare.refine.base_config import MODES
from optcompare.refine.base_config import workload_module
from optcompare.refine.checks import check_options
from optcompare.refine.checks import is_refine_output
from optcompare.refine.checks import load_study
from optcompare.refine.ranges import Bound
from optcompare.refine.ranges import Change
from optcompare.refine.ranges import CONTAIN_PAD
from optcompare.refine.ranges import Contained
from optcompare.refine.ranges import DEFAULT_MARGIN
from optcompare.refine.ranges import DEFAULT_TOP
from optcompare.refine.ranges import MIN_TRIALS
from optcompare.refine.ranges import MIN_WIDTH_FRACTION
from optcompare.refine.ranges import Refinement
from optcompare.refine.ranges import refine_spaces
from optcompare.refine.ranges import SIGNIFICANT_DIGITS
from optcompare.refine.writer import load_config_module
from optcompare.refine.writer import MARKER
from optcompare.refine.writer import only_date_differs
from optcompare.refine.writer import render
from optcompare.refine.writer import summary
from optcompare.refine.writer import validate_source

__all__ = [
    "Bound", "Change", "check_options", "command_line", "CONTAIN_PAD", "Contained",
    "DEFAULT_MARGIN", "DEFAULT_TOP", "is_refine_output", "load_config_module", "MARKER",
    "MIN_TRIALS", "MIN_WIDTH_FRACTION", "MODES", "refine", "refine_spaces", "Refinement",
    "render", "SIGNIFICANT_DIGITS", "summary", "today", "validate_source",
]


def command_line(workdir: str, out: str, top: float, margin: float,
                 contain: Sequence[str], force: bool = False) -> str:
  """The command, written from the values (not sys.argv): the same inputs, the same text."""
  parts = ["optcompare refine", f"--workdir={workdir}", f"--out={out}", f"--top={top:g}",
           f"--margin={margin:g}"] + [f"--contain={c}" for c in contain]
  return " ".join(parts + (["--force"] if force else []))


def today() -> str:
  """The UTC date; that of SOURCE_DATE_EPOCH when set (reproducible builds)."""
  epoch = os.environ.get("SOURCE_DATE_EPOCH")
  if epoch and epoch.strip().isdigit():
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
  else:
    moment = datetime.datetime.now(datetime.timezone.utc)
  return moment.date().isoformat()


def refine(workdir: str, out: str, *, top: float | None = None, margin: float | None = None,
           contain: Sequence[str] = (), date: str | None = None, force: bool = False) -> str:
  """Writes the refined study config `out` from the study at `workdir`; returns a summary
  (a few lines). BadInputError for bad input, with nothing written; also for a study too
  small to refine from (evidence.py) unless `force`, and then the file says so."""
  top = DEFAULT_TOP if top is None else top
  margin = DEFAULT_MARGIN if margin is None else margin
  contain = list(contain)
  check_options(workdir, out, top, margin, contain)
  manifest, df = load_study(workdir, "workdir")
  workload_module(manifest.base.get("workload"))
  _, metric = manifest.target
  if not any(len(diagnostics.best_trials(df, o, metric)) for o in manifest.optimizers):
    raise BadInputError(f"--workdir: {workdir}: no completed trials to refine from")
  forced = evidence.refuse(manifest, df, top, workdir, force)
  others = []
  for c in contain:
    other, other_df = load_study(c, "contain")
    others.append((c, other, other_df))
  ref = refine_spaces(manifest, df, top=top, margin=margin, contain=others)
  mode, differences = base_differences(manifest.config)
  command = command_line(workdir, out, top, margin, contain, force)
  source = render(ref, manifest, workdir=workdir, date=date or today(), command=command,
                  top=top, margin=margin, contain=contain, mode=mode, differences=differences,
                  forced=forced)
  accepted = validate_source(source, out)
  unchanged = False
  if os.path.exists(out):
    with open(out, encoding="utf-8") as f:
      old = f.read()
    unchanged = only_date_differs(old, source)
  if not unchanged:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    studydir.write_text_atomic(out, source)
  return summary(ref, out, unchanged=unchanged, accepted=accepted, forced=forced)
