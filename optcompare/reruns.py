"""Seed re-runs: after the search, each optimizer's best trials trained again with new seeds.

A study config may carry `reruns = {"top": T, "seeds": N}`: once every search trial of an
optimizer has finished, its T best completed trials (by the study's target metric) are each
trained N more times, with base seeds base.seed + 1, ..., base.seed + N (model initialisation
and data order), as trials `<optimizer>/<index>s<seed>` with directories of their own. The
spread of their results is the seed noise against which differences between optimizers are
read (AlgoPerf sets its targets the same way).

Which trials are re-run depends on the search's results, so the plan is recorded in
study.json (`reruns`) when it is made and extended, never changed: two sweeps that plan from the
same finished results write the same entries. No JAX here.
"""
from __future__ import annotations

from optcompare import study_manifest
from optcompare import studydir

DEFAULT = {"top": 0, "seeds": 0}


def settings(manifest: study_manifest.StudyManifest) -> dict:
  """The study's {"top", "seeds"} (both 0 when the config has no `reruns`)."""
  return {**DEFAULT, **(manifest.config.get("reruns") or {})}


def best_trials(study_dir: str, manifest, optimizer: str, top: int) -> list[str]:
  """The `top` best completed search trials of `optimizer` (ties: the lower index).
  `manifest`: the study's StudyManifest."""
  split, metric = manifest.target
  scored = []
  for t in manifest.trials:
    if t.optimizer != optimizer:
      continue
    try:
      result = studydir.read_result(studydir.trial_dir(study_dir, t.id))
    except studydir.DamagedFileError:
      continue
    value = result.value(split, metric) if result else None
    if value is not None:
      sign = -1.0 if metric in studydir.HIGHER_IS_BETTER else 1.0
      scored.append((sign * value, t.index, t.id))
  return [tid for _, _, tid in sorted(scored)[:top]]


def plan(study_dir: str, manifest: study_manifest.StudyManifest, finished: set[str]
         ) -> tuple[study_manifest.RerunEntry, ...]:
  """The manifest's `reruns` extended by the re-runs of every optimizer whose search trials
  are all in `finished` (ids of trials with a result)."""
  want = settings(manifest)
  entries = list(manifest.reruns)
  if not (want["top"] and want["seeds"]):
    return tuple(entries)
  have = {r.id for r in entries}
  for opt in manifest.optimizers:
    ids = [t.id for t in manifest.trials if t.optimizer == opt]
    if not set(ids) <= finished:
      continue
    for tid in best_trials(study_dir, manifest, opt, want["top"]):
      for k in range(1, want["seeds"] + 1):
        seed = manifest.base_seed + k
        rid = study_manifest.rerun_id(tid, seed)
        if rid not in have:
          entries.append(study_manifest.RerunEntry(rid, tid, seed))
          have.add(rid)
  return tuple(entries)

