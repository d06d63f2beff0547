"""Which trials of a study train together in one compiled program (study field `pack_size`).

No JAX here: the scheduler and the worker's bookkeeping use it. A pack is up to `pack_size`
trials of one optimizer; every trial of a study shares the base config, its schedule kind
included (`optimizer.schedule.name` is not a search-space name), so one optimizer means one
(optimizer, schedule kind), the key of the compiled step. optcompare.packed checks it again.

The partition is a pure function of the ordered trial ids and `pack_size`, never of which
trials have finished: a pack interrupted and relaunched is the same pack, so it resumes from
its own checkpoint (studydir.pack_dir). Packs are consecutive trials of each optimizer in the
sweep's order (adam/0-3, adam/4-7, ...), each placed at its first trial's position.

A pack travels between the scheduler, the launchers and the workers as a *job key*: its
trial ids joined by "+" (a single trial's key is its id, so pack_size 1 is the unpacked
sweep, request for request).
"""
from __future__ import annotations

from optcompare import study_manifest
from optcompare import studydir

SEPARATOR = "+"


def pack_size(manifest: study_manifest.StudyManifest) -> int:
  """The study's trials per compiled program (StudyManifest.pack_size)."""
  return manifest.pack_size


def key(trial_ids: list[str]) -> str:
  """The job key of a pack (a single trial: its id)."""
  return SEPARATOR.join(trial_ids)


def members(job: str, where: str = "request trial") -> list[str]:
  """The trial ids of a job key, each validated (BadInputError naming `where`)."""
  if not isinstance(job, str):
    studydir.check_trial_id(job, where)
  return [studydir.check_trial_id(t, where) for t in job.split(SEPARATOR)]


def label(job: str) -> str:
  """A job as messages name it: the trial id, or `pack adam/0 … adam/3 (4 trials)`."""
  ids = job.split(SEPARATOR)
  return ids[0] if len(ids) == 1 else f"pack {ids[0]} … {ids[-1]} ({len(ids)} trials)"


def optimizer(job: str) -> str:
  """The optimizer of a job's trials (a pack holds one optimizer's trials)."""
  return studydir.optimizer_of(members(job)[0])


def partition(trial_ids: list[str], size: int) -> list[str]:
  """Job keys covering `trial_ids`: consecutive trials of each optimizer, `size` at most,
  ordered by their first trial's position in `trial_ids` (see the module docstring)."""
  groups: dict[str, list[str]] = {}
  for tid in trial_ids:
    groups.setdefault(studydir.optimizer_of(tid), []).append(tid)
  chunks = [ids[i:i + size] for ids in groups.values() for i in range(0, len(ids), size)]
  position = {tid: i for i, tid in enumerate(trial_ids)}
  return [key(c) for c in sorted(chunks, key=lambda c: position[c[0]])]
