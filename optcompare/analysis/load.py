"""Reading a study directory (or its committed table) into pandas. Files only.

A study directory (DESIGN.md §4) holds `study.json` (the manifest) and one trial directory per
manifest entry under `trials/<optimizer>/<index>/`. Its layout, trial ids, result.json and
status words are `optcompare.studydir`'s: this module only turns them into tables, so a
hand-edited study.json whose ids point outside the study is refused there (BadInputError).
All I/O goes through `etils.epath`, so local paths and gs:// (or other remote) paths both work.

Trial status, as reported by `load_study`:
  completed | diverged | failed   from the trial's result.json;
  unfinished started, not finished: no result.json, but a claim (claims/ or claim.json),
             attempts.jsonl or metrics.jsonl exists: running now, or stopped (a crash, an
             interrupt, a full disk) and resumed by the next sweep; which of the two is the
             ledger's business (`optcompare status` asks it);
  pending    none of these files;
  corrupt    result.json exists but cannot be parsed (the file is reported and skipped).
Damaged files never stop a load: each is reported once with a `StudyFileWarning` naming the
file, and also collected in `df.attrs["issues"]` (paths relative to the study directory).
"""
from __future__ import annotations

import collections
import concurrent.futures
import json
import math
import warnings
from typing import Any, Iterable, Sequence

import pandas as pd
from etils import epath

from optcompare import errors
from optcompare import study_manifest
from optcompare import studydir

MANIFEST = studydir.MANIFEST
TABLE = studydir.TABLE
# Statuses that count in best-of-K as lost draws (the bootstrap's, until failed is left out).
LOST = (studydir.DIVERGED,)  # counted as lost in best-of-K; failed trials are left out
# The analysis reads study.json as everyone else does (epath-capable, trial ids validated).
read_manifest = study_manifest.StudyManifest.read


class StudyFileWarning(UserWarning):
  """A file of a study directory is truncated or corrupt and was skipped."""


def _note(issues: list[str], root: epath.Path, path: epath.Path, what: str) -> None:
  """Records a damaged file (relative to the study root); `_warn` reports it later."""
  try:
    rel = str(path.relative_to(root))
  except ValueError:
    rel = str(path)
  issues.append(f"{rel}: {what}")


def _warn(root: epath.Path, issues: Sequence[str]) -> None:
  """One StudyFileWarning per damaged file, naming it; from the calling thread. (Not a log
  record too: the command line prints both, as the same line twice.)"""
  for issue in issues:
    warnings.warn(f"{root}/{issue}", StudyFileWarning, stacklevel=3)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
  if isinstance(value, dict):
    for k, v in value.items():
      _flatten(f"{prefix}.{k}", v, out)
  else:
    out[prefix] = value


def _number(x: Any) -> Any:
  """JSON scalar -> float for numbers (None -> NaN); other values unchanged."""
  if x is None:
    return math.nan
  if isinstance(x, bool):
    return x
  if isinstance(x, (int, float)):
    return float(x)
  return x


def _read_trial(root: epath.Path, entry: study_manifest.TrialEntry
                ) -> tuple[dict[str, Any], list[str]]:
  """One trial's row from its manifest entry and its directory (result.json, claim files)."""
  issues: list[str] = []
  row: dict[str, Any] = {"trial_id": entry.id, "optimizer": entry.optimizer,
                         "index": entry.index}
  hp: dict[str, Any] = {}
  _flatten("hp", dict(entry.hparams), hp)
  row.update(hp)
  tdir = studydir.trial_path(root, entry.id)
  try:
    result = studydir.read_result(tdir)
  except studydir.DamagedFileError as e:
    _note(issues, root, tdir / studydir.RESULT,
          f"corrupt or truncated result.json skipped ({e.reason})")
    row["status"] = "corrupt"
    return row, issues
  if result is None:
    started = any((tdir / name).exists() for name in studydir.STARTED)
    row["status"] = studydir.UNFINISHED if started else studydir.PENDING
    return row, issues
  row.update(_result_columns(result))
  return row, issues


def _result_columns(result: studydir.Result) -> dict[str, Any]:
  """status, final.<split>.<metric> (None -> NaN), steps_to_target, steps, wall_time_s and
  message of a result.json."""
  final: dict[str, Any] = {}
  _flatten("final", dict(result.final), final)
  columns = {k: _number(v) for k, v in final.items()}
  columns.update(status=result.status, steps_to_target=_number(result.steps_to_target),
                 steps=_number(result.steps), wall_time_s=_number(result.wall_time_s),
                 message=result.error or "")
  return columns


def _ordered_columns(columns: Iterable[str]) -> list[str]:
  columns = list(columns)
  head = ["trial_id", "optimizer", "index", "status"]
  hp = [c for c in columns if c.startswith("hp.")]
  final = sorted(c for c in columns if c.startswith("final."))
  tail = [c for c in ("steps_to_target", "steps", "wall_time_s", "message")]
  rest = sorted(set(columns) - set(head) - set(hp) - set(final) - set(tail))
  return head + hp + final + tail + rest


def load_study(directory: epath.PathLike, *, max_workers: int = 16) -> pd.DataFrame:
  """A row per manifest trial: trial_id, optimizer, index, status, hp.*, final.*, ...

  Trials without a result.json appear as unfinished / pending; a corrupt result.json is
  reported (StudyFileWarning naming the file) and its trial appears with status "corrupt".
  Final metrics of diverged / failed trials are NaN unless result.json gives them.
  `steps_to_target` is a float (NaN where the target was not reached). The manifest's config
  is attached as `df.attrs["config"]`, the damaged files as `df.attrs["issues"]`.
  """
  root = epath.Path(directory)
  manifest = read_manifest(root)
  entries = manifest.trials
  # Remote file systems are slow per file and fine with concurrent reads.
  workers = max(1, min(max_workers, len(entries)))
  if workers > 1 and len(entries) > 8:
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      read = list(pool.map(lambda e: _read_trial(root, e), entries))
  else:
    read = [_read_trial(root, e) for e in entries]
  rows, issues = [], []
  for row, trial_issues in read:
    rows.append(row)
    issues.extend(trial_issues)
  _warn(root, issues)
  df = _finish(pd.DataFrame(rows))
  df.attrs["config"] = manifest.config
  df.attrs["issues"] = issues
  return df


def _finish(df: pd.DataFrame) -> pd.DataFrame:
  for col in ("trial_id", "optimizer", "status", "message"):
    if col not in df.columns:
      df[col] = pd.Series(dtype=str)
  for col in ("index", "steps_to_target", "steps", "wall_time_s"):
    if col not in df.columns:
      df[col] = math.nan
  df = df[_ordered_columns(df.columns)]
  if len(df):
    df = df.astype({"index": int})
    # (a table whose messages are all empty reads them back as a float column of NaN)
    df["message"] = df["message"].astype(object).fillna("").astype(str)
  for col in ("steps_to_target", "steps", "wall_time_s"):
    df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
  return df.reset_index(drop=True)


def save_table(df: pd.DataFrame, path: epath.PathLike) -> None:
  """Writes the trial table as CSV; `read_table` reads it back bit for bit."""
  with epath.Path(path).open("w") as f:
    df.to_csv(f, index=False, lineterminator="\n")


def read_table(path: epath.PathLike) -> pd.DataFrame:
  """Reads a trials.csv written by `save_table` (floats round-trip exactly).

  BadInputError naming the file, and the column and row, for a cell that is not what its
  column holds (a number, a trial status, a trial id): a hand-edited or damaged table is
  refused before any analysis is computed or written.
  """
  path = epath.Path(path)
  try:
    with path.open("r") as f:
      # pandas >= 3 parses floats round-trip by default (float_precision is deprecated).
      df = pd.read_csv(f, keep_default_na=True)
  except FileNotFoundError as e:
    raise errors.BadInputError(f"{path}: trial table not found") from e
  except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
    raise errors.BadInputError(f"{path}: corrupt trial table "
                               f"({str(e).strip().splitlines()[0]})") from e
  missing = {"trial_id", "optimizer", "index", "status"} - set(df.columns)
  if missing:
    raise errors.BadInputError(f"{path}: trial table lacks columns {sorted(missing)}")
  df["status"] = df["status"].replace(_LEGACY_STATUSES)
  _check_cells(path, df)
  return _finish(df)


# The status words a trial table holds, in the order reports count them (those load_study
# writes; "running", which tables written before "unfinished" hold, reads as unfinished).
TABLE_STATUSES = studydir.RESULT_STATUSES + (studydir.UNFINISHED, studydir.PENDING, "corrupt")
_LEGACY_STATUSES = {studydir.RUNNING: studydir.UNFINISHED}
_NUMERIC = ("index", "steps_to_target", "steps", "wall_time_s")


def _is_numeric_column(column: str) -> bool:
  return column in _NUMERIC or column.startswith(("final.", "hp."))


def _check_cells(path: epath.Path, df: pd.DataFrame) -> None:
  """BadInputError naming the first cell (column, CSV line) that its column cannot hold."""
  line = lambda i: i + 2  # pylint: disable=unnecessary-lambda-assignment  (after the header)
  for col in df.columns:
    if not _is_numeric_column(col):
      continue
    numbers = pd.to_numeric(df[col], errors="coerce")
    bad = df[col].notna() & numbers.isna()
    if col == "index":
      bad |= numbers.isna() | (numbers % 1 != 0) | (numbers < 0)
    if bad.any():
      i = int(bad.to_numpy().argmax())
      cell = "an empty cell" if pd.isna(df[col].iloc[i]) else repr(df[col].iloc[i])
      raise errors.BadInputError(f"{path}: column {col}, line {line(i)}: {cell} is not "
                                 f"{'a trial index' if col == 'index' else 'a number'}")
  for i, status in enumerate(df["status"]):
    if status not in TABLE_STATUSES:
      raise errors.BadInputError(f"{path}: column status, line {line(i)}: {status!r} is not "
                                 f"one of {', '.join(TABLE_STATUSES)}")
  for i, (tid, opt, index) in enumerate(zip(df["trial_id"], df["optimizer"], df["index"])):
    try:
      studydir.check_trial_id(tid)
    except errors.BadInputError as e:
      raise errors.BadInputError(f"{path}: column trial_id, line {line(i)}: {tid!r} is not a "
                                 "trial id <optimizer>/<index>") from e
    if tid != f"{opt}/{int(float(index))}":
      raise errors.BadInputError(f"{path}: line {line(i)}: trial_id {tid!r} disagrees with "
                                 f"optimizer {opt!r} and index {index!r}")


def _ids_text(ids: list[str]) -> str:
  shown = ", ".join(ids[:5])
  return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def check_table_matches(path: epath.PathLike, df: pd.DataFrame,
                        manifest: study_manifest.StudyManifest) -> None:
  """BadInputError naming the table unless it holds exactly the manifest's trials, once
  each: a truncated table (rows or whole optimizers lost) would otherwise be analysed as a
  smaller study, silently."""
  wanted = manifest.search_ids
  counts = collections.Counter(df["trial_id"])
  twice = sorted(t for t, n in counts.items() if n > 1)
  if twice:
    raise errors.BadInputError(f"{path}: lists trials twice: {_ids_text(twice)}")
  lacking = [t for t in wanted if t not in counts]
  if lacking:
    raise errors.BadInputError(
        f"{path}: lacks {len(lacking)} of the {len(wanted)} trials of {MANIFEST} "
        f"({_ids_text(lacking)}); truncated? regenerate it with `optcompare analyze` on the "
        "study directory")
  listed = set(wanted)
  extra = [t for t in counts if t not in listed]
  if extra:
    raise errors.BadInputError(f"{path}: holds trials that {MANIFEST} does not list "
                               f"({_ids_text(extra)})")


def has_trials(directory: epath.PathLike) -> bool:
  return studydir.trials_root(directory).exists()


def load_table(directory: epath.PathLike) -> pd.DataFrame:
  """The trial table of a study directory, or of a directory holding only study.json and a
  committed trials.csv (then no curves are available)."""
  root = epath.Path(directory)
  manifest = read_manifest(root)
  if not has_trials(root) and (root / TABLE).exists():
    df = read_table(root / TABLE)
    check_table_matches(root / TABLE, df, manifest)
    df.attrs["config"] = manifest.config
    df.attrs["issues"] = []
    return df
  return load_study(root)


def _read_metrics(root: epath.Path, trial_id: str, opt: str, index: int
                  ) -> tuple[list[dict[str, Any]], list[str]]:
  issues: list[str] = []
  path = studydir.trial_path(root, trial_id) / studydir.METRICS
  if not path.exists():
    return [], issues
  try:
    text = path.read_text()
  except (OSError, UnicodeDecodeError) as e:
    _note(issues, root, path, f"unreadable metrics.jsonl skipped ({e})")
    return [], issues
  lines = text.split("\n")
  rows = []
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      rec = json.loads(line)
      if not isinstance(rec, dict) or "step" not in rec or "split" not in rec:
        raise ValueError("not a metrics record")
    except ValueError as e:
      truncated = number == len(lines) and not text.endswith("\n")
      what = ("truncated last line skipped" if truncated
              else f"corrupt line {number} skipped ({e})")
      _note(issues, root, path, what)
      continue
    rec = {k: _number(v) if k not in ("split",) else v for k, v in rec.items()}
    rec.update(trial_id=trial_id, optimizer=opt, index=index)
    rows.append(rec)
  return rows, issues


def load_curves(directory: epath.PathLike, trial_ids: Sequence[str] | None = None
                ) -> pd.DataFrame:
  """Long table of metrics.jsonl rows: trial_id, optimizer, index, step, split, <metrics>,
  wall_time_s. A truncated last line (a trial killed mid-write) or a corrupt line is skipped
  and reported. Should a (step, split) repeat, the last line wins."""
  root = epath.Path(directory)
  manifest = read_manifest(root)
  entries = [(t.id, t.optimizer, t.index) for t in manifest.trials]
  if trial_ids is not None:
    wanted = list(trial_ids)
    known = {e[0] for e in entries}
    unknown = [t for t in wanted if t not in known]
    if unknown:
      raise errors.BadInputError(f"{root / MANIFEST}: unknown trial ids {unknown}")
    entries = [e for e in entries if e[0] in set(wanted)]
  if len(entries) > 8:
    with concurrent.futures.ThreadPoolExecutor(min(16, len(entries))) as pool:
      read = list(pool.map(lambda e: _read_metrics(root, *e), entries))
  else:
    read = [_read_metrics(root, *e) for e in entries]
  rows, issues = [], []
  for r, i in read:
    rows.extend(r)
    issues.extend(i)
  _warn(root, issues)
  head = ["trial_id", "optimizer", "index", "step", "split"]
  if not rows:
    df = pd.DataFrame(columns=head + ["wall_time_s"])
  else:
    df = pd.DataFrame(rows)
    df = df.drop_duplicates(subset=["trial_id", "step", "split"], keep="last")
    metric_cols = sorted(c for c in df.columns if c not in head + ["wall_time_s"])
    df = df[head + metric_cols + (["wall_time_s"] if "wall_time_s" in df.columns else [])]
    df = df.astype({"step": int, "index": int})
    df = df.sort_values(["optimizer", "index", "split", "step"], kind="stable")
  df = df.reset_index(drop=True)
  df.attrs["issues"] = issues
  return df
