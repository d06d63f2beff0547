"""The study directory and its trial directories: the one module that names their files and
writes them (study.json's content and validation: optcompare.study_manifest).

No JAX here: the sweep's scheduler, the analysis and the worker's bookkeeping all read and
write a study through this module, so the layout (DESIGN.md §4) is written down once:

  <study>/study.json                      the manifest (study_manifest.StudyManifest: config,
                                          seed, trials, reruns)
  <study>/logs/worker-<slot>.log          what each local worker process printed
  <study>/events.out.tfevents.hparams     the TensorBoard HParams experiment (hparams_board)
  <study>/trials/<optimizer>/<index>/     one trial directory per manifest entry
      config.json  metrics.jsonl  result.json  checkpoints/  tensorboard/
      claims/  attempts.jsonl  worker.log   (the ledger's and the worker's)
  <study>/packs/<optimizer>/<index>-<hash>/checkpoints/   a pack's (pack_size > 1; packed.py)
  <study>/analysis/                       `analyze`'s default output: report.md, trials.csv,
                                          curves.csv, reruns.csv, figures

Every file and folder name above is a constant of this module (MANIFEST, CHECKPOINTS, CLAIMS,
ATTEMPTS, WORKER_LOG, ...); no other module spells one. Trial ids are `<optimizer>/<index>`
(`<optimizer>/<index>s<seed>` for a seed re-run), parsed only by `TrialId.parse` and validated
wherever they are read, so a hand-edited study.json can never lead a read or a write outside
the study.

Reads go through `etils.epath` (local paths and gs:// alike); writes are local and atomic
(a temporary file, fsync, rename), so a reader never sees half a file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import threading
from typing import Any, Mapping

from etils import epath

from optcompare.errors import BadInputError

# ---- the names of the layout (the only place they are written) ----
# A study's:
MANIFEST = "study.json"
TRIALS = "trials"
PACKS = "packs"  # trials trained together in one program checkpoint as one (pack_size > 1)
LOGS = "logs"  # the local workers' logs, logs/worker-<slot>.log
ANALYSIS = "analysis"  # where `analyze` writes by default
TABLE = "trials.csv"  # the analysis's committed trial table
RERUNS_TABLE = "reruns.csv"  # the seed re-runs' committed table (beside trials.csv)
CURVES_TABLE = "curves.csv"  # the evaluation curves `analyze` writes beside trials.csv
HPARAMS_EVENTS = "events.out.tfevents.hparams"  # the study's TensorBoard HParams experiment
# A trial's (and a pack's CHECKPOINTS):
RESULT = "result.json"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"  # <step>/ per checkpoint (checkpointing.py)
TENSORBOARD = "tensorboard"  # the metrics' TensorBoard event files
CLAIMS = "claims"  # the ledger's claims, claims/<generation>.json
LEGACY_CLAIM = "claim.json"  # an older single claim file (read only: it marks a started trial)
ATTEMPTS = "attempts.jsonl"  # the ledger's log of attempts, one JSON line each
WORKER_LOG = "worker.log"  # the worker's log lines of the trial's attempts
# Files whose presence without a result.json means that a trial was started.
STARTED = (CLAIMS, LEGACY_CLAIM, ATTEMPTS, METRICS)
# Every name above: no other module spells one (tests/test_structure.py).
LAYOUT_NAMES = (MANIFEST, TRIALS, PACKS, LOGS, ANALYSIS, TABLE, RERUNS_TABLE, CURVES_TABLE,
                HPARAMS_EVENTS, RESULT, CONFIG, METRICS, CHECKPOINTS, TENSORBOARD, CLAIMS,
                LEGACY_CLAIM, ATTEMPTS, WORKER_LOG)

# ---- the status vocabulary ----
# A result.json says how a trial ended:
COMPLETED, DIVERGED, FAILED = "completed", "diverged", "failed"
RESULT_STATUSES = (COMPLETED, DIVERGED, FAILED)
# Outcomes of the optimizer: a trial with one of these results is never run again.
# `failed` is the infrastructure's (a raised exception, a killed process) and may be retried.
FINISHED = (COMPLETED, DIVERGED)
# Without a result, a trial is running (a live claim holds it) or pending.
RUNNING, PENDING = "running", "pending"
STATUSES = RESULT_STATUSES + (RUNNING, PENDING)
# What the files alone say of a trial with some of them (STARTED) but no result: running now,
# or stopped and resumable. The analysis (files only, any path) says this; the ledger can
# tell the two apart.
UNFINISHED = "unfinished"

HIGHER_IS_BETTER = ("accuracy",)

# <optimizer>/<index>, and for a seed re-run of that trial <optimizer>/<index>s<seed>.
_TRIAL_ID = re.compile(r"[a-z][a-z0-9_]*/(0|[1-9][0-9]*)(s(0|[1-9][0-9]*))?")


class DamagedFileError(ValueError):
  """A file of a study or trial directory exists but cannot be read as what it should be."""

  def __init__(self, path: Any, reason: str):
    super().__init__(f"{path}: {reason}")
    self.path, self.reason = str(path), reason


# ---- trial ids and paths ----

def is_int(x: Any) -> bool:
  """A JSON integer (a bool is not one), as trial ids and study.json hold them."""
  return isinstance(x, int) and not isinstance(x, bool)


def check_trial_id(trial_id: Any, where: str = "trial id") -> str:
  """`trial_id` if it is `<optimizer>/<index>`, else BadInputError naming `where`."""
  if not isinstance(trial_id, str) or not _TRIAL_ID.fullmatch(trial_id):
    raise BadInputError(f"{where}: {trial_id!r} is not a trial id <optimizer>/<index> (or "
                        "<optimizer>/<index>s<seed>, a seed re-run)")
  return trial_id


@dataclasses.dataclass(frozen=True)
class TrialId:
  """A trial id `<optimizer>/<index>`, or `<optimizer>/<index>s<seed>` for a seed re-run.

  The one parser of trial ids: everyone else reads the optimizer, index or directory from
  here (`str(TrialId)` is the id as study.json and the scheduler write it).
  """
  optimizer: str
  index: int
  seed: int | None = None

  def __post_init__(self):
    if not is_int(self.index) or (self.seed is not None and not is_int(self.seed)):
      raise BadInputError(f"trial id: index {self.index!r} and seed {self.seed!r} must be "
                          "integers")
    check_trial_id(str(self))

  @classmethod
  def parse(cls, text: Any, where: str = "trial id") -> "TrialId":
    """The TrialId of `text`; BadInputError naming `where` unless it is a trial id."""
    optimizer, rest = check_trial_id(text, where).split("/")
    index, _, seed = rest.partition("s")
    return cls(optimizer, int(index), int(seed) if seed else None)

  def __str__(self) -> str:
    return f"{self.optimizer}/{self.dir_name}"

  @property
  def search_id(self) -> str:
    """`<optimizer>/<index>`: the search trial (itself, or the trial a re-run repeats)."""
    return f"{self.optimizer}/{self.index}"

  @property
  def dir_name(self) -> str:
    """The last component of the trial's directory, trials/<optimizer>/<dir_name>."""
    return f"{self.index}" + ("" if self.seed is None else f"s{self.seed}")


def optimizer_of(trial_id_: str) -> str:
  """The optimizer of a trial id (validated), e.g. "adam" of "adam/3" or "adam/3s1"."""
  return TrialId.parse(trial_id_).optimizer


def trial_dir(study_dir: Any, trial_id_: str) -> str:
  """`<study_dir>/trials/<optimizer>/<index>` of a validated trial id (a str path)."""
  tid = TrialId.parse(trial_id_)
  return os.path.join(os.fspath(study_dir), TRIALS, tid.optimizer, tid.dir_name)


def trial_path(study_dir: epath.PathLike, trial_id_: str) -> epath.Path:
  """As trial_dir, as an epath.Path (for readers of remote studies)."""
  tid = TrialId.parse(trial_id_)
  return epath.Path(study_dir) / TRIALS / tid.optimizer / tid.dir_name


def trials_root(study_dir: epath.PathLike) -> epath.Path:
  return epath.Path(study_dir) / TRIALS


def pack_dir(study_dir: str, members: list[str]) -> str:
  """`<study>/packs/<optimizer>/<first index>-<hash of the member ids>` (a str path)."""
  first = TrialId.parse(members[0])
  digest = hashlib.sha1("+".join(map(check_trial_id, members)).encode()).hexdigest()[:12]
  return os.path.join(os.fspath(study_dir), PACKS, first.optimizer, f"{first.dir_name}-{digest}")


def is_study_dir(path: str) -> bool:
  """Whether `path` holds a study (its manifest or its trials/ directory)."""
  return (os.path.exists(os.path.join(path, MANIFEST))
          or os.path.isdir(os.path.join(path, TRIALS)))


def worker_log(study_dir: str, slot: int) -> str:
  """`<study>/logs/worker-<slot>.log`: what a local worker process prints (created)."""
  path = os.path.join(study_dir, LOGS, f"worker-{int(slot)}.log")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  return path


# ---- atomic writes ----

def write_text_atomic(path: str, text: str) -> None:
  """Writes `text` (UTF-8) via a temporary file, fsync and a rename: never half-written."""
  tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
  try:
    with open(tmp, "wb") as f:
      f.write(text.encode("utf-8"))
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    try:
      os.remove(tmp)
    except OSError:
      pass
    raise


def write_json_atomic(path: str, obj: Any, *, indent: int = 2) -> None:
  """Writes `obj` as strict JSON via a temporary file and a rename: never half-written."""
  write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: epath.PathLike) -> Any:
  """Parsed JSON; FileNotFoundError if absent, DamagedFileError if unreadable or invalid."""
  path = epath.Path(path)
  try:
    text = path.read_text()
  except FileNotFoundError:
    raise
  except (OSError, UnicodeDecodeError) as e:
    if isinstance(e, (IsADirectoryError, NotADirectoryError)):
      raise FileNotFoundError(str(path)) from e
    raise DamagedFileError(path, f"unreadable ({e})") from e
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    what = "empty" if not text.strip() else f"invalid JSON ({e})"
    raise DamagedFileError(path, what) from e


def first_difference(a: Any, b: Any, path: str = "") -> str:
  """The dotted path of the first field where two configs (nested dicts) differ."""
  if isinstance(a, dict) and isinstance(b, dict):
    for k in sorted(set(a) | set(b)):
      if a.get(k, object()) != b.get(k, object()):
        return first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
  return path or "config"


def set_aside(path: str) -> str:
  """Renames a damaged file to `<path>.corrupt` (or .corrupt.N); returns the new name."""
  target, n = f"{path}.corrupt", 1
  while os.path.exists(target):
    target, n = f"{path}.corrupt.{n}", n + 1
  os.replace(path, target)
  return target


# ---- result.json ----

def _finite_or_none(x: Any) -> float | None:
  if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
    return None
  return float(x) if math.isfinite(x) else None


@dataclasses.dataclass(frozen=True)
class Result:
  """How a trial ended: the content of its result.json (DESIGN.md §4)."""
  status: str
  steps: int
  final: Mapping[str, Mapping[str, float | None]]  # split -> metric -> value (None: NaN)
  steps_to_target: int | None = None
  wall_time_s: float = 0.0
  error: str | None = None

  def __post_init__(self):
    if self.status not in RESULT_STATUSES:
      raise ValueError(f"status: {self.status!r} is not one of {RESULT_STATUSES}")

  @property
  def finished(self) -> bool:
    """An outcome of the optimizer (completed or diverged): never run again."""
    return self.status in FINISHED

  def to_json(self) -> dict:
    final = {split: {k: _finite_or_none(v) for k, v in sorted(m.items())}
             for split, m in sorted(self.final.items())}
    return {"status": self.status, "steps": int(self.steps), "final": final,
            "steps_to_target": None if self.steps_to_target is None else int(self.steps_to_target),
            "wall_time_s": round(float(self.wall_time_s), 3), "error": self.error}

  @classmethod
  def from_json(cls, obj: Any) -> "Result":
    """ValueError (naming the field) unless `obj` has result.json's shape."""
    if not isinstance(obj, dict):
      raise ValueError(f"not a JSON object: {type(obj).__name__}")
    status = obj.get("status")
    if status not in RESULT_STATUSES:
      raise ValueError(f"status: {status!r} is not one of {RESULT_STATUSES}")
    steps = obj.get("steps", 0)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
      raise ValueError(f"steps: {steps!r} is not a step count")
    final = obj.get("final") or {}
    if not isinstance(final, dict) or not all(isinstance(m, dict) for m in final.values()):
      raise ValueError("final: not a mapping split -> metric -> value")
    for split, m in final.items():
      for k, v in m.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
          raise ValueError(f"final.{split}.{k}: {v!r} is not a number")
    stt = obj.get("steps_to_target")
    if stt is not None and (isinstance(stt, bool) or not isinstance(stt, int)):
      raise ValueError(f"steps_to_target: {stt!r} is not a step")
    wall = obj.get("wall_time_s", 0.0)
    if isinstance(wall, bool) or not isinstance(wall, (int, float)):
      raise ValueError(f"wall_time_s: {wall!r} is not a number")
    error = obj.get("error")
    return cls(status=status, steps=steps, final=final, steps_to_target=stt,
               wall_time_s=float(wall), error=None if error is None else str(error))

  def value(self, split: str, metric: str) -> float | None:
    """A final metric of a completed trial (None otherwise, or when not finite)."""
    if self.status != COMPLETED:
      return None
    return _finite_or_none((self.final.get(split) or {}).get(metric))


def write_result(tdir: str, result: Result) -> None:
  write_json_atomic(os.path.join(tdir, RESULT), result.to_json())


def read_result(tdir: epath.PathLike) -> Result | None:
  """The trial's Result; None without result.json; DamagedFileError if it cannot be read."""
  path = epath.Path(tdir) / RESULT
  try:
    obj = read_json(path)
  except FileNotFoundError:
    return None
  try:
    return Result.from_json(obj)
  except ValueError as e:
    raise DamagedFileError(path, f"not a result ({e})") from e


def keep_failed_result(tdir: str) -> str:
  """Moves a failed result.json aside as result.failed.<n>.json before a retry."""
  n = sum(1 for f in os.listdir(tdir) if f.startswith("result.failed."))
  target = os.path.join(tdir, f"result.failed.{n}.json")
  os.replace(os.path.join(tdir, RESULT), target)
  return target


def failed_result(error: str, *, steps: int = 0, wall_time_s: float = 0.0) -> Result:
  """The result of a trial that the infrastructure could not finish."""
  return Result(FAILED, steps, {}, None, wall_time_s, error)


def better(a: float, b: float | None, metric: str) -> bool:
  return b is None or (a > b if metric in HIGHER_IS_BETTER else a < b)

