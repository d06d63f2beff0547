"""Packed trials (study field `pack_size`): K trials of one optimizer and schedule kind in one
compiled program, through the one trial loop (optcompare.loop, which documents what a pack
does: vmapped update rule, per-trial divergence, im2col convolutions, device placement).

This module checks that the trials make one program (they may differ only in what the
program traces: hyperparameters, schedule numbers and seed) and where a pack checkpoints:
as one, under `pack_dir` (a study's studydir.pack_dir); its trials' directories get
config.json, metrics.jsonl, tensorboard/ and result.json, as unpacked, but no checkpoints/.
Packs run in one process (no multi-host).
"""
from __future__ import annotations

import os

import jax

from optcompare import loop, studydir, train, trial_files
from optcompare.errors import BadInputError


def program_fields(resolved: dict) -> dict:
  """A resolved trial config less what its program traces: the optimizer's hyperparameters,
  the schedule's numbers (its kind stays) and the seed."""
  out = {k: v for k, v in resolved.items() if k != "seed"}
  opt = dict(out["optimizer"])
  opt.pop("hparams", None)
  opt["schedule"] = (opt.get("schedule") or {}).get("name")
  out["optimizer"] = opt
  return out


def plan(configs: list) -> loop.Plan:
  """train.plan for a pack; BadInputError naming the field that differs between its trials
  beside what is traced (hyperparameters, schedule numbers, seed)."""
  if jax.process_count() > 1:
    raise BadInputError("pack_size: packs run in one process; run multi-host trials unpacked")
  checked = train.plan(configs)
  program = [program_fields(r) for r in checked.resolved]
  for i, p in enumerate(program[1:], start=1):
    if p != program[0]:
      raise BadInputError(f"pack_size: trials of a pack must differ only in hyperparameters "
                          f"and seed; trial {i} differs in "
                          f"{studydir.first_difference(program[0], p)}")
  return checked


def train_pack(configs: list, workdirs: list[str], pack_dir: str, *,
               writes: list[bool] | None = None) -> list[dict]:
  """Trains `configs` (trials of one optimizer and schedule kind, each with its workdir) as
  one pack, resuming from its checkpoint under `pack_dir`; returns their result.json.

  writes: which trials this pack trains and writes (default: all); the others, and trials
  already finished, are carried along unwritten (their result: what their result.json says).
  """
  if not configs or len(configs) != len(workdirs):
    raise ValueError(f"a pack needs one workdir per config: {len(configs)} configs, "
                     f"{len(workdirs)} workdirs")
  checked = plan(configs)
  writes = [True] * len(configs) if writes is None else list(writes)
  for c, w, write in zip(configs, workdirs, writes):
    if write:
      trial_files.check_workdir(c, w)
  return loop.run(checked, workdirs, os.path.join(pack_dir, studydir.CHECKPOINTS),
                  writes=writes)
