"""study.json: the study's manifest (StudyManifest), its one reader, writer and validator.

A study directory's manifest (`<study>/study.json`, studydir.MANIFEST) holds the study config,
the seed of the quasi-random points, the search's trials (TrialEntry: id, optimizer, index,
hyperparameters) and the seed re-runs planned so far (RerunEntry). `StudyManifest.read` and
`.write` are the only code that touches the file; `from_json` is its one validator, raising
BadInputError that names the file and the field, so a hand-edited manifest fails once, at
load, never deep inside a reader. Trial ids are checked by studydir.check_trial_id. No JAX.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Mapping

from etils import epath

from optcompare import studydir
from optcompare.errors import BadInputError

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
    tid = studydir.check_trial_id(t.get("id", own_id), f"{path}: trials[{i}].id")
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
    if (not isinstance(r, dict) or not studydir.is_int(r.get("seed"))
        or not isinstance(r.get("of"), str) or r["of"] not in search_ids_):
      raise BadInputError(f"{where} is not a re-run of a trial of this study "
                          "({'id', 'of', 'seed'})")
    rid = studydir.check_trial_id(r.get("id"), f"{where}.id")
    if rid != f"{r['of']}s{r['seed']}":
      raise BadInputError(f"{where}.id {rid!r} disagrees with its trial and seed, or repeats")
    return cls(rid, r["of"], r["seed"])


def rerun_id(trial_id_: str, seed: int) -> str:
  """The id of the re-run of search trial `trial_id_` with base seed `seed`."""
  return studydir.check_trial_id(f"{trial_id_}s{int(seed)}")


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
  def from_json(cls, obj: Any, path: Any = studydir.MANIFEST) -> "StudyManifest":
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
    path = epath.Path(study_dir) / studydir.MANIFEST
    try:
      obj = studydir.read_json(path)
    except FileNotFoundError:
      raise BadInputError(f"{path}: no study here (no {studydir.MANIFEST})") from None
    except studydir.DamagedFileError as e:
      raise BadInputError(f"{path}: corrupt study manifest ({e.reason})") from e
    return cls.from_json(obj, path)

  def write(self, study_dir: str) -> None:
    """Writes `<study_dir>/study.json` atomically (concurrent sweeps write alike)."""
    os.makedirs(study_dir, exist_ok=True)
    studydir.write_json_atomic(os.path.join(study_dir, studydir.MANIFEST), self.to_json(),
                               indent=1)

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
    ("seed", "an integer", studydir.is_int),
    ("config.seed", "an integer", studydir.is_int),
    ("config.num_trials", "an integer >= 1", lambda x: studydir.is_int(x) and x >= 1),
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
  if not studydir.is_int(t["index"]) or t["index"] < 0:
    raise ValueError(f"{where}.index: {_short(t['index'])} is not an integer >= 0")
  for name, value in (t.get("hparams") or {}).items():
    if value is not None and not _is_number(value):
      raise ValueError(f"{where}.hparams.{name}: {_short(value)} is not a finite number")
