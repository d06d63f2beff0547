"""What a trial's directory holds while the loop trains it: config.json, metrics, result.

One `TrialRecord` per trial of a pack (one for an unpacked trial): the loop calls `open` at
its start step, `write` for each metrics line and `end` once, with the trial's status. Only
the lead process of a multi-host trial writes files (`lead`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

from absl import logging

from optcompare import hparams_board, metrics, studydir, workloads
from optcompare.errors import BadInputError


def resolved_config(config) -> dict:
  """The config as config.json holds it (references resolved, keys sorted)."""
  return json.loads(config.to_json_best_effort(sort_keys=True))


def check_workdir(config, workdir: str) -> dict:
  """The resolved config, after checking that `workdir` can hold this trial.

  BadInputError if it is a study directory or holds a config.json of another config; a
  damaged config.json is set aside (reported), since the trial can still run. A config.json
  written before a field with a default existed (e.g. `precision`) is read with it.
  """
  if studydir.is_study_dir(workdir):
    raise BadInputError(f"--workdir: {workdir} is a study directory; train a trial in a "
                        "directory of its own (a study's trials are run by `optcompare sweep`)")
  resolved = resolved_config(config)
  path = os.path.join(workdir, studydir.CONFIG)
  try:
    existing = studydir.read_json(path)
  except FileNotFoundError:
    return resolved
  except studydir.DamagedFileError as e:
    logging.warning("%s; set aside as %s, writing the config given instead", e,
                    os.path.basename(studydir.set_aside(path)))
    return resolved
  existing = {**{k: v for k, v in ADDED_FIELDS.items() if k in resolved}, **existing}
  for field in EXECUTION_FIELDS:  # may change between runs of a trial
    existing.pop(field, None)
  if existing != {k: v for k, v in resolved.items() if k not in EXECUTION_FIELDS}:
    raise BadInputError(f"{path}: this workdir holds a trial of a different config "
                        f"({studydir.first_difference(existing, resolved)} differs)")
  return resolved


# Trial-config fields added after trials were written, with the value older trials ran with.
ADDED_FIELDS = {"precision": "float32", "steps_per_dispatch": 0}
# Fields that say how a trial runs, not what it computes (beyond float rounding).
EXECUTION_FIELDS = ("steps_per_dispatch",)


def previous_result(workdir: str) -> studydir.Result | None:
  """The trial's result; a damaged result.json is set aside (reported): the trial resumes."""
  try:
    return studydir.read_result(workdir)
  except studydir.DamagedFileError as e:
    moved = studydir.set_aside(os.path.join(workdir, studydir.RESULT))
    logging.warning("%s; set aside as %s, resuming the trial", e, os.path.basename(moved))
    return None


def any_result(workdir: str) -> dict | None:
  """A carried trial's result.json as it is (None: none, or damaged)."""
  try:
    result = studydir.read_result(workdir)
  except studydir.DamagedFileError:
    return None
  return result.to_json() if result is not None else None


def steps_to_target(records: list[dict], target) -> int | None:
  for r in records:
    if r["split"] == target.split and (r.get(target.metric) is not None
                                       and r[target.metric] <= target.value):
      return r["step"]
  return None


@dataclasses.dataclass
class TrialRecord:
  """One trial as the host sees it; `log` is open between `open` and `end`."""
  config: Any
  workdir: str
  result: dict | None               # result.json once finished (or as found)
  lead: bool = True
  log: metrics.MetricsLog | None = None
  final: dict = dataclasses.field(default_factory=dict)
  steps_to_target: int | None = None
  wall_offset: float = 0.0
  started: float = 0.0

  @property
  def running(self) -> bool:
    return self.log is not None

  def open(self, resolved: dict, start: int, metric_names) -> None:
    """Writes config.json if absent and opens the metrics at `start` (later lines dropped)."""
    path = os.path.join(self.workdir, studydir.CONFIG)
    if self.lead and not os.path.exists(path):
      os.makedirs(self.workdir, exist_ok=True)
      studydir.write_json_atomic(path, resolved)
    self.log = metrics.MetricsLog(self.workdir, lead=self.lead)
    self.log.write_hparams(hparams_board.trial_hparams(self.config))
    self.wall_offset, records = self.log.resume(start)
    self.started = time.time()
    self.steps_to_target = steps_to_target(records, workloads.target(self.config))
    self.final = {r["split"]: {k: r[k] for k in metric_names} for r in records
                  if r["split"] != "train"}

  def wall(self) -> float:
    """The trial's wall time: its earlier runs' and this one's."""
    return self.wall_offset + time.time() - self.started

  def write(self, step: int, split: str, values: dict) -> None:
    if split != "train":
      self.final[split] = values
    self.log.write(step, split, values, self.wall())

  def note_evaluation(self, step: int) -> None:
    """Records `step` as the steps-to-target once the target is first reached."""
    if self.steps_to_target is None and workloads.target(self.config).reached(self.final):
      self.steps_to_target = step

  def close(self) -> None:
    if self.log is not None:
      self.log.close()
      self.log = None

  def end(self, status: str, steps: int) -> None:
    """The last TensorBoard event, and result.json (lead only)."""
    self.log.end_session(status)
    self.close()
    result = studydir.Result(status, int(steps), self.final, self.steps_to_target, self.wall())
    if self.lead:
      studydir.write_result(self.workdir, result)
    self.result = result.to_json()
    logging.info("%s: %s after %d steps", self.workdir, status, steps)
