"""The study directory and its trial directories: the one module that names and writes their files.

No JAX here: the sweep's scheduler, the analysis and the worker's bookkeeping all read and
write a study through this module, so the layout (DESIGN.md §4) is written down once:

  <study>/study.json                      the manifest (StudyManifest: config, seed, trials,
                                          reruns)
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
    if not _is_int(self.index) or (self.seed is not None and not _is_int(self.seed)):
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


# ---- the manifest (study.json) ----

@dataclasses.dataclass(frozen=True)
class TrialEntry:
  """A search trial of the manifest: `hparams` is a quasi-random point of its optimizer's
  space (None: a hyperparameter the point leaves at the base config's value)."""
  id: str
  optimizer: str
  index: int
  hparams: Mapping[str, float | None]

  def to_json(self) -> dict:
    return {"id": self.id, "optimizer": self.optimizer, "index": self.index,
            "hparams": dict(self.hparams)}

  @classmethod
  def from_json(cls, t: Any, i: int, path: Any) -> "TrialEntry":
    """The entry `trials[i]` of the manifest at `path`; BadInputError naming the field."""
    if not isinstance(t, dict) or not {"optimizer", "index"} <= set(t):
      raise BadInputError(f"{path}: corrupt study manifest (trials[{i}] lacks 'optimizer' "
                          "or 'index')")
    own_id = f"{t['optimizer']}/{t['index']}"
    tid = check_trial_id(t.get("id", own_id), f"{path}: trials[{i}].id")
    if tid != own_id:
      raise BadInputError(f"{path}: trials[{i}].id {tid!r} disagrees with its optimizer and index")
    if not isinstance(t.get("hparams", {}), dict):
      raise BadInputError(f"{path}: trials[{i}].hparams is not an object")
    try:
      _check_trial_entry(t, f"trials[{i}]")
    except ValueError as e:
      raise BadInputError(f"{path}: corrupt study manifest ({e})") from e
    return cls(tid, t["optimizer"], t["index"], dict(t.get("hparams", {})))


@dataclasses.dataclass(frozen=True)
class RerunEntry:
  """A seed re-run: search trial `of` trained again with base seed `seed`, as trial `id`."""
  id: str
  of: str
  seed: int

  def to_json(self) -> dict:
    return {"id": self.id, "of": self.of, "seed": self.seed}

  @classmethod
  def from_json(cls, r: Any, i: int, path: Any, search_ids_: set[str]) -> "RerunEntry":
    """The entry `reruns[i]`; BadInputError unless it re-runs one of `search_ids_`."""
    where = f"{path}: reruns[{i}]"
    if (not isinstance(r, dict) or not _is_int(r.get("seed"))
        or not isinstance(r.get("of"), str) or r["of"] not in search_ids_):
      raise BadInputError(f"{where} is not a re-run of a trial of this study "
                          "({'id', 'of', 'seed'})")
    rid = check_trial_id(r.get("id"), f"{where}.id")
    if rid != f"{r['of']}s{r['seed']}":
      raise BadInputError(f"{where}.id {rid!r} disagrees with its trial and seed, or repeats")
    return cls(rid, r["of"], r["seed"])


def rerun_id(trial_id_: str, seed: int) -> str:
  """The id of the re-run of search trial `trial_id_` with base seed `seed`."""
  return check_trial_id(f"{trial_id_}s{int(seed)}")


@dataclasses.dataclass(frozen=True)
class StudyManifest:
  """study.json: the study config, the search's trials, and the seed re-runs planned so far.

  This class is study.json's one reader and writer (`read`, `write`); `from_json` is its one
  validator (BadInputError naming the file and the field). Readers use the fields and the
  properties below, never the JSON. A study.json written before an optional field existed
  (`pack_size`, `reruns`, a trial's `id`, the top-level `seed`) loads with its default.
  """
  config: Mapping[str, Any]  # the study config as study.validate returns it (JSON values)
  seed: int | None  # the seed of the quasi-random points (config.seed, repeated)
  trials: tuple[TrialEntry, ...]
  reruns: tuple[RerunEntry, ...] = ()

  @classmethod
  def from_json(cls, obj: Any, path: Any = MANIFEST) -> "StudyManifest":
    """The manifest of parsed study.json content; BadInputError naming `path` and the field.

    The config's fields that status, analyze and sweep read are checked for their types
    here, so a hand-edited manifest fails once, naming the field, not deep inside a reader.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("trials"), list):
      raise BadInputError(f"{path}: corrupt study manifest (no 'trials' list)")
    if not isinstance(obj.get("config", {}), dict):
      raise BadInputError(f"{path}: corrupt study manifest ('config' is not an object)")
    obj = {**obj, "config": obj.get("config", {})}
    try:
      _check_manifest_fields(obj)
    except ValueError as e:
      raise BadInputError(f"{path}: corrupt study manifest ({e})") from e
    trials = tuple(TrialEntry.from_json(t, i, path) for i, t in enumerate(obj["trials"]))
    _check_unique([t.id for t in trials], f"{path}: trials", "is listed twice")
    reruns = obj.get("reruns", [])
    if not isinstance(reruns, list):
      raise BadInputError(f"{path}: corrupt study manifest ('reruns' is not a list)")
    search = {t.id for t in trials}
    reruns = tuple(RerunEntry.from_json(r, i, path, search) for i, r in enumerate(reruns))
    _check_unique([r.id for r in reruns], f"{path}: reruns",
                  "disagrees with its trial and seed, or repeats")
    return cls(obj["config"], obj.get("seed", obj["config"].get("seed")), trials, reruns)

  def to_json(self) -> dict:
    """study.json's content."""
    out = {"config": self.config, "trials": [t.to_json() for t in self.trials],
           "reruns": [r.to_json() for r in self.reruns]}
    return out if self.seed is None else {**out, "seed": self.seed}

  @classmethod
  def read(cls, study_dir: epath.PathLike) -> "StudyManifest":
    """The study's manifest; BadInputError naming the file (absent, damaged or invalid)."""
    path = epath.Path(study_dir) / MANIFEST
    try:
      obj = read_json(path)
    except FileNotFoundError:
      raise BadInputError(f"{path}: no study here (no {MANIFEST})") from None
    except DamagedFileError as e:
      raise BadInputError(f"{path}: corrupt study manifest ({e.reason})") from e
    return cls.from_json(obj, path)

  def write(self, study_dir: str) -> None:
    """Writes `<study_dir>/study.json` atomically (concurrent sweeps write alike)."""
    os.makedirs(study_dir, exist_ok=True)
    write_json_atomic(os.path.join(study_dir, MANIFEST), self.to_json(), indent=1)

  def with_reruns(self, reruns: tuple[RerunEntry, ...] | list[RerunEntry]) -> "StudyManifest":
    return dataclasses.replace(self, reruns=tuple(reruns))

  @property
  def search_ids(self) -> list[str]:
    """The ids of the search's trials (the quasi-random points), in manifest order."""
    return [t.id for t in self.trials]

  @property
  def trial_ids(self) -> list[str]:
    """Every trial id of the study: the search's, then the seed re-runs'."""
    return self.search_ids + [r.id for r in self.reruns]

  def entry(self, trial_id_: str) -> tuple[TrialEntry, int | None]:
    """(the search trial's entry, the seed) of `trial_id_`: a search trial's own entry and
    None, or a re-run's search trial and its seed; KeyError if the study has no such trial."""
    seed = None
    for r in self.reruns:
      if r.id == trial_id_:
        trial_id_, seed = r.of, r.seed
        break
    for t in self.trials:
      if t.id == trial_id_:
        return t, seed
    raise KeyError(trial_id_)

  @property
  def base(self) -> Mapping[str, Any]:
    """The base trial config (the workload; optimizer fields are set per trial)."""
    return self.config.get("base") or {}

  @property
  def optimizers(self) -> list[str]:
    return list(self.config.get("optimizers") or [])

  def plugin(self, optimizer: str) -> Mapping[str, Any] | None:
    """The record of plug-in `optimizer` ({path, sha256, hyperparameters: defaults};
    optcompare.plugins), or None for a built-in."""
    return (self.config.get("optimizer_files") or {}).get(optimizer)

  @property
  def num_trials(self) -> int:
    """Search trials per optimizer."""
    return int(self.config.get("num_trials") or 0)

  @property
  def search_spaces(self) -> Mapping[str, Mapping[str, Any]]:
    """optimizer -> {hyperparameter: spec} (optcompare.search.spaces)."""
    return self.config.get("search_spaces") or {}

  @property
  def pack_size(self) -> int:
    """Trials per compiled program (1 for a study.json older than the field)."""
    return int(self.config.get("pack_size") or 1)

  @property
  def processes_per_trial(self) -> int:
    """Processes (hosts) that train one trial together (1 for a study.json older than the
    field)."""
    return int(self.config.get("processes_per_trial") or 1)

  @property
  def base_seed(self) -> int:
    """The trials' seed (model initialisation, data order); re-runs add 1, 2, ..."""
    return int(self.base.get("seed", 0))

  @property
  def schedule(self) -> str | None:
    """The name of the study's learning-rate schedule (study-wide, never searched)."""
    return ((self.base.get("optimizer") or {}).get("schedule") or {}).get("name")

  @property
  def target_spec(self) -> Mapping[str, Any] | None:
    """The base config's target {split, metric, value}, if it has one."""
    return self.base.get("target") or None

  @property
  def target(self) -> tuple[str, str]:
    """(split, metric) of the study's target, e.g. ("validation", "error")."""
    target = self.target_spec or {}
    return target.get("split", "validation"), target.get("metric", "error")


def _check_unique(ids: list[str], where: str, what: str) -> None:
  seen = set()
  for i, x in enumerate(ids):
    if x in seen:
      raise BadInputError(f"{where}[{i}].id {x!r} {what}")
    seen.add(x)


# ---- the checks of the manifest's JSON ----

def _is_int(x: Any) -> bool:

  return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _get_path(d: dict, path: str) -> tuple[bool, Any]:
  """(present, value) of a dotted path in nested dicts."""
  for key in path.split("."):
    if not isinstance(d, dict) or key not in d:
      return False, None
    d = d[key]
  return True, d


# Manifest fields that status, analyze and sweep read, and what each must be when present.
_FIELD_CHECKS: tuple[tuple[str, str, Any], ...] = (
    ("seed", "an integer", _is_int),
    ("config.seed", "an integer", _is_int),
    ("config.num_trials", "an integer >= 1", lambda x: _is_int(x) and x >= 1),
    ("config.base", "an object", lambda x: isinstance(x, dict)),
    ("config.base.workload", "a string", lambda x: isinstance(x, str)),
    ("config.base.optimizer", "an object", lambda x: isinstance(x, dict)),
    ("config.base.optimizer.schedule", "an object", lambda x: isinstance(x, dict)),
    ("config.base.target", "an object", lambda x: isinstance(x, dict)),
    ("config.base.target.split", "a string", lambda x: isinstance(x, str)),
    ("config.base.target.metric", "a string", lambda x: isinstance(x, str)),
    ("config.base.target.value", "a finite number", _is_number),
    ("config.optimizers", "a list of names",
     lambda x: isinstance(x, list) and all(isinstance(o, str) for o in x)),
    ("config.search_spaces", "an object", lambda x: isinstance(x, dict)),
)


def _short(value: Any) -> str:
  text = repr(value)
  return text if len(text) <= 60 else text[:59] + "…"


def _check_manifest_fields(manifest: dict) -> None:
  """ValueError naming the first field of _FIELD_CHECKS of the wrong type, or the first
  number that is not finite (Python's JSON reads NaN and Infinity)."""
  for field, what, ok in _FIELD_CHECKS:
    present, value = _get_path(manifest, field)
    if present and not ok(value):
      raise ValueError(f"{field}: {_short(value)} is not {what}")
  for opt, space in (manifest["config"].get("search_spaces") or {}).items():
    if not isinstance(space, dict):
      raise ValueError(f"config.search_spaces.{opt}: {_short(space)} is not an object")
    for name, spec in space.items():
      if not isinstance(spec, dict):
        raise ValueError(f"config.search_spaces.{opt}.{name}: {_short(spec)} is not a spec object")
  bad = _first_nonfinite(manifest.get("config"), "config")
  if bad:
    raise ValueError(f"{bad}: not a finite number")


def _first_nonfinite(tree: Any, path: str) -> str | None:
  if isinstance(tree, dict):
    items = tree.items()
  elif isinstance(tree, list):
    items = ((f"[{i}]", v) for i, v in enumerate(tree))
  else:
    return path if isinstance(tree, float) and not math.isfinite(tree) else None
  for key, value in items:
    sub = f"{path}{key}" if str(key).startswith("[") else f"{path}.{key}"
    found = _first_nonfinite(value, sub)
    if found:
      return found
  return None


def _check_trial_entry(t: dict, where: str) -> None:
  """ValueError naming the field of a manifest trial entry of the wrong type."""
  if not isinstance(t["optimizer"], str):
    raise ValueError(f"{where}.optimizer: {_short(t['optimizer'])} is not a name")
  if not _is_int(t["index"]) or t["index"] < 0:
    raise ValueError(f"{where}.index: {_short(t['index'])} is not an integer >= 0")
  for name, value in (t.get("hparams") or {}).items():
    if value is not None and not _is_number(value):
      raise ValueError(f"{where}.hparams.{name}: {_short(value)} is not a finite number")


def better(a: float, b: float | None, metric: str) -> bool:
  return b is None or (a > b if metric in HIGHER_IS_BETTER else a < b)
