"""The file that `optcompare refine` writes: a study config (`get_config(arg)`) whose module
docstring records the provenance; its check (executed, and `study.manifest_of` run for every
arg the workload takes); and the summary that the command prints."""
from __future__ import annotations

import re
import textwrap
import types
from typing import Any, Mapping, Sequence

from optcompare import study_manifest
from optcompare.analysis import diagnostics
from optcompare.errors import BadInputError
from optcompare.refine import evidence
from optcompare.refine.base_config import MODES
from optcompare.refine.ranges import Bound
from optcompare.refine.ranges import MIN_TRIALS
from optcompare.refine.ranges import MIN_WIDTH_FRACTION
from optcompare.refine.ranges import Refinement
from optcompare.refine.ranges import SIGNIFICANT_DIGITS
from optcompare.search import spaces as spaces_lib

# The second line of every file refine writes: an existing --out is overwritten only if its
# head holds this line.
MARKER = "# Written by `optcompare refine`; a rerun of refine may overwrite this file."
_DATE_LINE = re.compile(r"^  date +.*$", re.MULTILINE)


def only_date_differs(old: str, new: str) -> bool:
  """Whether two sources of the file are the same but for the provenance's date line."""
  return _DATE_LINE.sub("", old) == _DATE_LINE.sub("", new)


def _fmt(x: float) -> str:
  return diagnostics.format_value(x)


_WIDTH = 96  # docstring lines are wrapped at this width


def _wrap(text: str, indent: str = "", hang: str = "") -> list[str]:
  return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + hang,
                       break_long_words=False, break_on_hyphens=False)


def _provenance(workdir: str, manifest: study_manifest.StudyManifest, *, date: str, command: str,
                top: float, margin: float, contain: Sequence[str]) -> list[str]:
  """The docstring's "Provenance" block: the initial study, the date, the command and what
  each option did."""
  _, metric = manifest.target
  hang = " " * 14
  lines = ["Provenance"]
  lines += _wrap(f"initial study {workdir} ({manifest.num_trials} trials per optimizer, seed "
                 f"{manifest.seed}, schedule {manifest.schedule})", "  ", hang)
  lines.append(f"  date          {date}")
  lines += _wrap(f"command       {command}", "  ", hang)
  lines += _wrap(f"top           {top:g}: the best ceil({top:g} n) of each optimizer's n "
                 f"completed trials by validation {metric} (at least {MIN_TRIALS})", "  ", hang)
  lines += _wrap(f"margin        {margin:g} of the top trials' span on each side, at least "
                 f"{MIN_WIDTH_FRACTION:g} of the initial width in all, on the search scale "
                 "(log10 x, x, log10(1 − x)); clipped at the initial bounds (past one only where "
                 "the boundary check flags a top trial at it) and at natural limits; bounds "
                 f"rounded outward to {SIGNIFICANT_DIGITS} significant digits", "  ", hang)
  lines += _wrap(f"contain       {', '.join(contain) if contain else '(none)'}", "  ", hang)
  return lines


def _optimizer_ranges(ref: Refinement, opt: str, metric: str) -> list[str]:
  """One optimizer's lines of the ranges block: its top trials, notes and changes."""
  k, n = ref.counts[opt]
  best = ref.best.get(opt)
  head = f"{opt}: top {k} of {n} completed trials"
  if best:
    head += f"; best {best[0]} (validation {metric} {best[1]:.4g})"
  lines = _wrap(head, "  ", "  ")
  for note in ref.notes[opt]:
    lines += _wrap(f"({note})", "    ", " ")
  for c in ref.changes[opt]:
    old = f"[{_fmt(c.old[0])}, {_fmt(c.old[1])}]"
    new = f"[{_fmt(c.new[0].value)}, {_fmt(c.new[1].value)}]"
    lines.append(f"    {c.name} ({c.scale}) {old} → {new}, width {c.width_ratio:.2f}")
    if c.notes:
      lines += _wrap("; ".join(c.notes), "      ")
  unchanged = [name for name, spec in ref.spaces[opt].items()
               if spec.get("scale") not in spaces_lib.BOUNDED]
  if unchanged:
    lines += _wrap(f"unchanged (fixed, choice, derived): {', '.join(unchanged)}", "    ")
  return lines


def _args_text(manifest: study_manifest.StudyManifest) -> list[str]:
  """What each arg of the written get_config gives."""
  return _wrap(
      "Args as in configs/studies (None, 'reduced', 'demo', 'smoke'): the base trial config is "
      f"configs/workloads/{manifest.base['workload']}.py's with the arg and schedule "
      f"{manifest.schedule!r}; num_trials {manifest.num_trials} (the initial study's) for None "
      "and 'reduced', 2 for 'demo', 4 for 'smoke' (configs/studies/common.study); seed "
      f"{manifest.seed}. More trials: --config.num_trials=N.")


def _base_text(mode: str | None, differences: Sequence[str]) -> list[str]:
  """How the initial study's base trial config compares with the workload config now."""
  if mode is None and not differences:
    return []
  where = "the workload config" + (f" with arg {mode!r}" if mode else "")
  if not differences:
    return _wrap(f"The initial study's base trial config is {where}.")
  lines = _wrap(f"The initial study's base trial config differs from {where}, as it is "
                "now, in (initial → now; not pinned here):")
  for d in differences[:20]:
    lines += _wrap(d, "  ", "  ")
  if len(differences) > 20:
    lines.append(f"  and {len(differences) - 20} more")
  return lines


def _docstring(ref: Refinement, *, workdir: str, manifest: study_manifest.StudyManifest,
               date: str, command: str, top: float, margin: float, contain: Sequence[str],
               mode: str | None, differences: Sequence[str], forced: str = "") -> str:
  """The written file's docstring (escaped for a triple-quoted string): what refine would
  have refused where --force overrode it (`forced`, first, where a reader looks), provenance,
  the ranges initial → refined, the --contain studies' best trials, the args."""
  _, metric = manifest.target
  lines = [f"{manifest.base['workload']}: search spaces refined from an initial study by "
           "`optcompare refine`.", ""]
  if forced:
    lines += _wrap(evidence.forced_text(forced)) + [""]
  lines += _provenance(workdir, manifest, date=date, command=command, top=top, margin=margin,
                       contain=contain)
  lines += ["", "Ranges of x, initial → refined (width: refined / initial, on the search scale)"]
  for opt in manifest.optimizers:
    lines += _optimizer_ranges(ref, opt, metric)
  if contain:
    lines += ["", "Best trials of the --contain studies in these spaces "
              "(optcompare.analysis.containment)"]
    for c in ref.contained:
      lines += _wrap(c.text(), "  ", "  ")
  lines += [""] + _args_text(manifest) + _base_text(mode, differences)
  text = "\n".join(line.rstrip() for line in lines)
  return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _space_source(space: Mapping[str, Any], indent: str) -> list[str]:
  out = []
  for name, spec in space.items():
    items = ", ".join(f"{k!r}: {v.expr if isinstance(v, Bound) else repr(v)}"
                      for k, v in spec.items())
    out.append(f"{indent}{name!r}: {{{items}}},")
  return out


def render(ref: Refinement, manifest: study_manifest.StudyManifest | Mapping, *, workdir: str,
           date: str, command: str, top: float, margin: float, contain: Sequence[str],
           mode: str | None = None, differences: Sequence[str] = (), forced: str = "") -> str:
  """The source of the study config file (`manifest`: the initial study's);
  `forced`: what refine would have refused without --force (evidence.refuse), or ""."""
  workload = manifest.base["workload"]
  doc = _docstring(ref, workdir=workdir, manifest=manifest, date=date, command=command,
                   top=top, margin=margin, contain=contain, mode=mode, differences=differences,
                   forced=forced)
  lines = [f'"""{doc}', '"""', MARKER,
           "from configs.studies import common",
           f"from configs.workloads import {workload} as workload", "",
           f"SCHEDULE = {manifest.schedule!r}",
           f"NUM_TRIALS = {manifest.num_trials!r}",
           f"SEED = {int(manifest.seed)!r}",
           "SEARCH_SPACES = {"]
  for opt in manifest.optimizers:
    lines.append(f"    {opt!r}: {{")
    lines += _space_source(ref.spaces[opt], "        ")
    lines.append("    },")
  lines += [
      "}", "", "",
      "def get_config(arg=None):",
      "  mode = common.check_arg(arg)",
      "  base = workload.get_config(common.workload_arg(mode))",
      "  base.optimizer.schedule.name = SCHEDULE",
      "  config = common.study(base, SEARCH_SPACES, num_trials=NUM_TRIALS,",
      "                        reduced_trials=NUM_TRIALS, mode=mode)",
      "  config.seed = SEED",
      "  return config",
      ""]
  return "\n".join(lines)


def load_config_module(source: str, path: str) -> types.ModuleType:
  """Executes config file source as a fresh module (not registered in sys.modules)."""
  module = types.ModuleType("optcompare_refined_config")
  module.__file__ = path
  code = compile(source, path, "exec", dont_inherit=True)
  exec(code, module.__dict__)  # pylint: disable=exec-used
  return module


def validate_source(source: str, path: str) -> list[str | None]:
  """Runs `study.manifest_of(get_config(arg))` for every arg the workload accepts; returns
  those args. An error here is refine's fault (RuntimeError), not the user's."""
  from optcompare import study  # pylint: disable=g-import-not-at-top  (JAX)
  module = load_config_module(source, path)
  accepted = []
  for mode in MODES:
    try:
      config = module.get_config(mode)
    except ValueError:
      continue  # the workload does not take this arg (as with any study config on it)
    try:
      study.manifest_of(config)
    except BadInputError as e:
      raise RuntimeError(f"refine: the generated config fails with arg {mode!r}: {e}") from e
    accepted.append(mode)
  if not accepted:
    raise RuntimeError("refine: the generated config accepts no arg")
  return accepted


def summary(ref: Refinement, out: str, *, unchanged: bool = False,
            accepted: Sequence[str | None] = (), forced: str = "") -> str:
  args = ", ".join("None" if a is None else repr(a) for a in accepted)
  lines = [f"{out}: {'unchanged (only the date would differ)' if unchanged else 'written'}"
           + (f"; get_config accepts {args}" if accepted else "")]
  for opt, changes in ref.changes.items():
    k, n = ref.counts[opt]
    parts = [f"{c.name} [{_fmt(c.new[0].value)}, {_fmt(c.new[1].value)}]" for c in changes]
    lines.append(f"  {opt} (top {k} of {n}): {', '.join(parts)}")
  for c in ref.contained:
    lines.append(f"  contain {c.text()}")
  outside = [c for c in ref.contained if c.inside is not True]
  if outside:
    lines.append(f"optcompare refine: warning: {len(outside)} best trial(s) of the --contain "
                 "studies are not inside the refined spaces (fixed or choice specs cannot grow, "
                 "or a coordinate is not determined); see above")
  if forced:
    lines.append(f"optcompare refine: warning: written with --force from a study too small to "
                 f"refine from ({forced}); its docstring says so")
  return "\n".join(lines)
