"""When an initial study cannot support refined spaces, and refine says so instead of writing.

Two shortfalls, per optimizer of the initial study:
  1. fewer than MIN_COMPLETED completed trials (with a finite validation metric): the top
     quarter of fewer than 16 trials is 4 points or fewer in a space of up to 7 dimensions,
     and their span says where those few draws fell, not where the good settings lie;
  2. a top trial (the trials whose span gives the new range, ranges.top_trials) that did not
     train: its validation metric no better than the untrained level, within
     UNTRAINED_TOLERANCE of it. A range drawn around such a trial narrows the space around a
     setting that failed.

The untrained level. Nothing in a study records it: no evaluation happens at step 0, the
first one is after `eval_every_steps` of training, and the target is a goal, not a floor. So
it is the chance level of the workload's metric, from the number of classes the model
predicts (`model.vocab_size` for language models, the dataset's class count for image
classification, optcompare.data): a model that learned nothing predicts every class alike,
error 1 − 1/C and cross entropy ln C; a model that predicts the most common class scores a
little below that (the validation split is not exactly balanced: 0.8975 against 0.9 on
Fashion-MNIST), hence the tolerance. Another metric, or an unknown class count: no such
check (the trial count still applies). A limit: a language model that learned only how often
each token occurs scores well below ln C (about 3.1 nats against ln 84 = 4.4 on War and
Peace's characters) and passes as trained; the per-step logs would show it flat after its
first evaluation, but a committed study may lack them, so refine does not read them.

`refuse(...)` raises BadInputError (one line naming every optimizer short, exit 2, nothing
written) unless `--force`; with it, refine writes and the file's docstring says what was
short (`forced_text`).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from optcompare import study_manifest
from optcompare.analysis import diagnostics
from optcompare.analysis.bootstrap import metric_column
from optcompare.data import imagenet
from optcompare.data import tfds_images
from optcompare.errors import BadInputError
from optcompare.refine import ranges

MIN_COMPLETED = 16         # completed trials per optimizer that refine needs
UNTRAINED_TOLERANCE = 0.05  # within this fraction below the chance level: did not train
IMAGENET_NAMES = ("imagenet2012",)  # the dataset names of configs/workloads/imagenet_*.py


def num_classes(base: Mapping[str, Any]) -> int | None:
  """How many classes the study's model predicts (tokens of a language model's vocabulary,
  or the image dataset's classes); None where the base config does not say."""
  vocab = (base.get("model") or {}).get("vocab_size")
  if isinstance(vocab, int) and vocab > 1:
    return vocab
  name = (base.get("dataset") or {}).get("name")
  if name in tfds_images.IMAGE_DATASETS:
    return tfds_images.IMAGE_DATASETS[name][1]
  if name in IMAGENET_NAMES:
    return imagenet.NUM_CLASSES
  return None


def chance_level(base: Mapping[str, Any], metric: str) -> float | None:
  """The validation `metric` of a model that predicts every class alike: error 1 − 1/C,
  cross entropy (`loss`) ln C; None for another metric or an unknown C."""
  c = num_classes(base)
  if c is None:
    return None
  return {"error": 1.0 - 1.0 / c, "loss": math.log(c)}.get(metric)


def untrained_threshold(base: Mapping[str, Any], metric: str) -> float | None:
  """The validation metric at or above which a trial counts as untrained; None: no check."""
  chance = chance_level(base, metric)
  return None if chance is None else chance * (1.0 - UNTRAINED_TOLERANCE)


def shortfalls(manifest: study_manifest.StudyManifest, df: pd.DataFrame, top: float
               ) -> tuple[list[str], list[str]]:
  """(too few, untrained): per optimizer short of completed trials, "name n"; per optimizer
  with top trials that did not train, "name k of its top m"."""
  _, metric = manifest.target
  threshold = untrained_threshold(manifest.base, metric)
  col = metric_column(metric, "validation")
  few, untrained = [], []
  for opt in manifest.optimizers:
    n = len(diagnostics.best_trials(df, opt, metric))
    if n < MIN_COMPLETED:
      few.append(f"{opt} {n}")
    if threshold is None or not n:
      continue
    rows, _ = ranges.top_trials(df, opt, metric, top)
    bad = int((rows[col].to_numpy(float) >= threshold).sum())
    if bad:
      untrained.append(f"{opt} {bad} of its top {len(rows)}")
  return few, untrained


def reason(manifest: study_manifest.StudyManifest, few: Sequence[str], untrained: Sequence[str]
           ) -> str:
  """What the study lacks, in one line: the optimizers short and by how much."""
  _, metric = manifest.target
  parts = []
  if few:
    parts.append(f"too few completed trials to refine from ({MIN_COMPLETED} per optimizer "
                 f"needed): {', '.join(few)}")
  if untrained:
    chance = chance_level(manifest.base, metric)
    parts.append(f"top trials that did not train (validation {metric} ≥ "
                 f"{untrained_threshold(manifest.base, metric):.4g}, within "
                 f"{UNTRAINED_TOLERANCE:.0%} of the untrained {chance:.4g}): "
                 f"{', '.join(untrained)}")
  return "; ".join(parts)


def refuse(manifest: study_manifest.StudyManifest, df: pd.DataFrame, top: float, workdir: str,
           force: bool) -> str:
  """The shortfall's line ("" when none). BadInputError with it, unless `force`."""
  few, untrained = shortfalls(manifest, df, top)
  if not (few or untrained):
    return ""
  line = reason(manifest, few, untrained)
  if not force:
    raise BadInputError(f"--workdir: {workdir}: {line}; --force writes anyway")
  return line


def forced_text(line: str) -> str:
  """The written file's note that it was forced, for its docstring."""
  return (f"Written with --force: refine would have refused this initial study ({line}). "
          "These ranges rest on too few trials, or on trials that did not train: treat them "
          "as provisional, and refine again from a study with enough trained trials.")
