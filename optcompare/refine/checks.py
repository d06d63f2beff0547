"""Input checks of `optcompare refine`: its options, the --out it may overwrite, and the
study directories it reads (BadInputError, one line naming the flag; nothing written)."""
from __future__ import annotations

import math
import os
from typing import Sequence

import pandas as pd

from optcompare import inputs
from optcompare import study_manifest
from optcompare.analysis import load
from optcompare.errors import BadInputError
from optcompare.refine.writer import MARKER


def check_options(workdir: str, out: str, top: float, margin: float,
                  contain: Sequence[str]) -> None:
  """BadInputError (one line, naming the flag) for bad options; reads and writes nothing
  but the head of an existing --out."""
  if not (isinstance(top, (int, float)) and math.isfinite(top) and 0 < top <= 1):
    raise BadInputError(f"--top: must be a fraction in (0, 1], got {top!r}")
  if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
    raise BadInputError(f"--margin: must be a finite number >= 0, got {margin!r}")
  inputs.check_nonempty("workdir", workdir)
  for c in contain:
    inputs.check_nonempty("contain", c)
  if not out or not out.strip():
    raise BadInputError("--out: empty; give a .py file to write")
  if "://" in out:
    raise BadInputError(f"--out: {out}: must be a local .py file")
  if not out.endswith(".py"):
    raise BadInputError(f"--out: {out}: must end in .py (a study config file)")
  if os.path.isdir(out):
    raise BadInputError(f"--out: {out}: is a directory; give a .py file")
  if os.path.lexists(out):
    if not os.path.isfile(out):
      raise BadInputError(f"--out: {out}: exists and is not a file")
    if not is_refine_output(out):
      raise BadInputError(f"--out: {out}: exists and was not written by optcompare refine; "
                          "give another path or remove it")
    if not os.access(out, os.W_OK):
      raise BadInputError(f"--out: {out}: not writable")
  inputs.check_writable_dir("out", os.path.dirname(os.path.abspath(out)))


def is_refine_output(path: str) -> bool:
  """Whether the file at `path` was written by refine (its head holds MARKER)."""
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      head = f.read(1 << 16)
  except OSError:
    return False
  return MARKER in head


def load_study(directory: str, flag: str
               ) -> tuple[study_manifest.StudyManifest, pd.DataFrame]:
  """The manifest and trial table of the study at `directory` (given by --`flag`)."""
  try:
    manifest = study_manifest.StudyManifest.read(directory)
  except BadInputError as e:
    raise BadInputError(f"--{flag}: {e}") from e
  for key in ("optimizers", "search_spaces", "base"):
    if key not in manifest.config:
      raise BadInputError(f"--{flag}: {directory}: study.json's config has no {key!r}")
  return manifest, load.load_table(directory)
