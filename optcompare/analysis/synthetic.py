"""A synthetic study directory, written by the producer's own code: no training happens.

For tests, the notebook's demo mode and documentation. Only the numbers are made up; the files
are the ones `optcompare sweep` writes (DESIGN.md §4, "Study directory"):

  <dir>/study.json                               optcompare.study.manifest_of a real
                                                 study config, via StudyManifest.write
  <dir>/trials/<optimizer>/<index>/config.json   the resolved trial config (as train writes it)
  <dir>/trials/<optimizer>/<index>/metrics.jsonl in metrics.MetricsLog's line format
  <dir>/trials/<optimizer>/<index>/result.json   studydir.write_result(studydir.Result(...))

The study config is the Choi et al. Fashion-MNIST study's `smoke` arg with the optimizers, trial
count, seed, step budget and target overridden, so `optcompare.study.validate` accepts the
manifest and `manifest_of(study_config(...))` reproduces it. Each trial's final validation
error is a smooth function of its hyperparameters (a bowl in log learning rate with its minimum
inside the search space) plus seeded noise; trials whose learning rate is far too large
diverge. Curves decay towards the final value.

With `train_eval=True` the trials also evaluate split `train_eval` (a training subset) at every
evaluation step and in result.json's `final`; its loss is a bowl centred `TRAIN_SHIFT` decades
of learning rate above the validation optimum (no noise, no random draws: the other numbers
are those of `train_eval=False`), so choosing by training loss picks other trials than
choosing by validation error. `test_every=n` evaluates the test split only at every n-th
evaluation step and the last (as train.py may).

Writing a study imports optcompare.study (and so JAX, to build each trial's optimizer as
`validate` does); importing this module does not, so the analysis package stays free of JAX.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np
from etils import epath

from optcompare import study_manifest
from optcompare import studydir

# Where each optimizer's synthetic optimum of log10(learning_rate) lies, and its floor error.
OPTIMA = {"sgd": (-0.5, 0.090), "momentum": (-1.5, 0.082), "nesterov": (-1.5, 0.081),
          "rmsprop": (-3.0, 0.080), "adam": (-3.0, 0.079), "nadam": (-3.0, 0.078)}
# A trial diverges when its log10 learning rate lies this far above its optimizer's optimum.
DIVERGE_ABOVE = 2.0
# Where the training loss is lowest: this many decades of learning rate above OPTIMA's.
TRAIN_SHIFT = 0.75


def trimmed_smoke_config(protocol: str, optimizers: Sequence[str], num_trials: int,
                         seed: int):
  """An unlocked copy of the protocol's Fashion-MNIST `smoke` study config, trimmed to
  `optimizers`, with `num_trials` and `seed` set."""
  import importlib  # pylint: disable=g-import-not-at-top
  module = importlib.import_module(f"configs.studies.{protocol}.fashion_mnist_simple_cnn")
  smoke = module.get_config("smoke")
  config = smoke.copy_and_resolve_references()
  with config.unlocked():
    config.optimizers = list(optimizers)
    config.search_spaces = {o: smoke.search_spaces[o].to_dict() for o in optimizers}
    config.num_trials = num_trials
    config.seed = seed
  return config


def study_config(optimizers: Sequence[str] = ("sgd", "momentum", "adam"), num_trials: int = 12,
                 seed: int = 0, num_train_steps: int = 100, target_value: float = 0.12):
  """The study config a synthetic study is the manifest of: a locked copy of the choi2019
  Fashion-MNIST `smoke` config, trimmed to `optimizers`, with these fields overridden."""
  unknown = [o for o in optimizers if o not in OPTIMA]
  if unknown:
    raise ValueError(f"optimizers: no synthetic study for {unknown} (known: {list(OPTIMA)})")
  config = trimmed_smoke_config("choi2019", optimizers, num_trials, seed)
  with config.unlocked():
    config.base.num_train_steps = num_train_steps
    config.base.eval_every_steps = max(1, num_train_steps // 10)
    config.base.checkpoint_every_steps = num_train_steps
    config.base.target.value = target_value
  config.lock()
  return config


def write_synthetic_study(
    directory: epath.PathLike,
    optimizers: Sequence[str] = ("sgd", "momentum", "adam"),
    num_trials: int = 12,
    seed: int = 0,
    num_train_steps: int = 100,
    *,
    noise: float = 0.004,
    curves: bool = True,
    target_value: float = 0.12,
    train_eval: bool = False,
    test_every: int = 1,
) -> epath.Path:
  """Writes a complete synthetic study directory (a local path); returns its path."""
  from optcompare import study  # pylint: disable=g-import-not-at-top  (JAX: see the docstring)
  config = study_config(optimizers, num_trials, seed, num_train_steps, target_value)
  manifest = study.manifest_of(config)
  root = os.fspath(directory)
  manifest.write(root)
  rng = np.random.default_rng(seed)
  base = manifest.base
  for trial in manifest.trials:
    tdir = studydir.trial_dir(root, trial.id)
    os.makedirs(tdir, exist_ok=True)
    resolved = study.trial_config(manifest, trial.id).to_json_best_effort(sort_keys=True)
    studydir.write_json_atomic(os.path.join(tdir, studydir.CONFIG), json.loads(resolved))
    lines, result = fabricate(trial, base, rng, noise, train_eval=train_eval,
                              test_every=test_every)
    if curves:
      write_metrics(tdir, lines)
    studydir.write_result(tdir, result)
  return epath.Path(directory)


def fabricate(trial: study_manifest.TrialEntry, base: Mapping[str, Any], rng: np.random.Generator,
              noise: float, *, train_eval: bool = False, test_every: int = 1
              ) -> tuple[list[dict[str, Any]], studydir.Result]:
  """(metrics lines, result) of one trial: how good it is depends on its learning rate only,
  so the best trials sit where OPTIMA says and the analysis has something to find."""
  lr_opt, floor = OPTIMA[trial.optimizer]
  log_lr = math.log10(trial.hparams["learning_rate"])
  diverged = log_lr > lr_opt + DIVERGE_ABOVE
  final_val = min(floor + 0.02 * (log_lr - lr_opt) ** 2 + abs(rng.normal(0.0, noise)), 0.9)
  final_test = final_val + rng.normal(0.002, noise / 2)
  final_train = 0.5 * floor + 0.01 * (log_lr - lr_opt - TRAIN_SHIFT) ** 2
  steps, every = base["num_train_steps"], base["eval_every_steps"]
  target = base["target"]
  lines, steps_to_target = [], None
  for i, step in enumerate(range(every, steps + 1, every)):
    if diverged and step / steps > 0.3:
      lines.append(_line(step, "train", {"loss": math.nan}))
      return lines, studydir.Result(
          studydir.DIVERGED, step, {}, None, 0.01 * step,
          f"non-finite training loss at step {step}")
    val = _curve(final_val, step / steps)
    tst = val + (final_test - final_val)
    lines.append(_line(step, "train", {"loss": 2.3 * val, "error": 0.9 * val}))
    lines.append(_line(step, "validation", {"loss": 2.5 * val, "error": val}))
    if train_eval:
      trn = _curve(final_train, step / steps)
      lines.append(_line(step, "train_eval", {"loss": 2.3 * trn, "error": 0.9 * trn}))
    if i % test_every == 0 or step + every > steps:
      lines.append(_line(step, "test", {"loss": 2.5 * tst, "error": tst}))
    if steps_to_target is None and val <= target["value"]:
      steps_to_target = step
  final = {"validation": {"loss": 2.5 * final_val, "error": final_val},
           "test": {"loss": 2.5 * final_test, "error": final_test}}
  if train_eval:
    final["train_eval"] = {"loss": 2.3 * final_train, "error": 0.9 * final_train}
  return lines, studydir.Result(studydir.COMPLETED, steps, final, steps_to_target,
                                0.01 * steps, None)


def _curve(final: float, frac: float) -> float:
  """A validation error that starts near 0.9 and decays to `final` at the end of training."""
  return max(final + (0.9 - final) * math.exp(-5 * frac) - 0.9 * math.exp(-5), final)


def _line(step: int, split: str, metrics: dict[str, float]) -> dict[str, Any]:
  """One metrics.jsonl record as MetricsLog.write makes it (non-finite values are null)."""
  record: dict[str, Any] = {"step": step, "split": split}
  record.update({k: v if math.isfinite(v) else None for k, v in sorted(metrics.items())})
  record["wall_time_s"] = round(0.01 * step, 3)
  return record


def write_metrics(tdir: str, lines: Sequence[dict[str, Any]]) -> None:
  """metrics.jsonl in DESIGN.md §4's format (studydir has no metrics writer: train appends)."""
  with open(os.path.join(tdir, studydir.METRICS), "w", encoding="utf-8") as f:
    f.writelines(json.dumps(line) + "\n" for line in lines)
