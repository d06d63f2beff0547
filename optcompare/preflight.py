"""What a sweep checks before it writes anything: what `optcompare train` checks, data included.

`check_study(manifest)` runs, for the first trial of each optimizer (the study's base config
with that trial's hyperparameters: every field of the base that a trial keeps is checked
through it), every check that `train` runs before it trains: the config's fields
(`train.validate`, with one device per trial process: workers see devices of their own), the
evaluation schedule (`train.eval_schedule`) and the data (`check_data`). A fault raises one
BadInputError naming the field under `base.`; nothing is trained and nothing is written
(a prepared TFDS dataset may gain its decoded-array cache file, as in any trial).

The data check loads the splits as a trial does (`feeds.load_splits`, cached for this
process), so a dataset that is not prepared where `dataset.data_dir` says, a .npz that
cannot be read, or a `dataset.num_train_eval_examples` larger than the training split is
refused here. It does so for in-memory datasets (Fashion-MNIST, MNIST, CIFAR, War and
Peace), not for random-access ones (ImageNet, LM1B: opened by the trial) nor for the
character model's synthetic text (made with JAX, which a sweep's process does not start: it
would take the accelerators its workers need). A bad input that reaches a trial all the same
is never retried (backends/scheduler.py).
"""
from __future__ import annotations

import re

from optcompare.errors import BadInputError

_FIELD = re.compile(r"[A-Za-z_][\w.\[\]]*")  # a config field path, as errors start with


def _loads_on_host(workload) -> bool:
  """Whether `check_data` loads the workload's splits (see the module docstring)."""
  # pylint: disable=g-import-not-at-top
  from optcompare.data import in_memory
  from optcompare.workloads import char_lm
  if getattr(workload, "data", None) is not in_memory:
    return False
  return not (workload.synthetic and isinstance(workload, char_lm.CharLanguageModel))


def check_data(config, workload) -> None:
  """BadInputError naming the field unless the trial's data are where the config says and
  its split sizes fit: the checks a trial makes when it loads them (feeds.load_splits)."""
  from optcompare import feeds, train  # pylint: disable=g-import-not-at-top
  num_train_eval, _ = train.eval_schedule(config)
  if _loads_on_host(workload):
    feeds.load_splits(workload, num_train_eval)


def check_trial(config, num_devices: int = 1) -> None:
  """Every check `train` runs on a trial config before it trains, the data included, for a
  trial over `num_devices` devices (a multi-process trial has at least one per process)."""
  from optcompare import train  # pylint: disable=g-import-not-at-top
  workload, _ = train.validate(config, num_devices=num_devices)
  check_data(config, workload)


def under_base(message: str) -> str:
  """A trial config's error as the study config's: its field under `base.` (an error that
  names a file, such as a .npz of the data, is the field dataset.data_dir's)."""
  head = message.partition(": ")[0]
  if _FIELD.fullmatch(head):
    return f"base.{message}"
  return f"base.dataset.data_dir: {message}"


def check_study(manifest) -> None:
  """check_trial for the first trial of each optimizer of a study (a StudyManifest);
  BadInputError naming the field under `base.`."""
  from optcompare.search import spaces  # pylint: disable=g-import-not-at-top
  first = {}
  for t in manifest.trials:
    first.setdefault(t.optimizer, t)
  for t in first.values():
    trial = spaces.build_trial_config(manifest.base, t.optimizer, t.hparams,
                                      manifest.plugin(t.optimizer))
    try:
      check_trial(trial, num_devices=manifest.processes_per_trial)
    except BadInputError as e:
      raise BadInputError(under_base(str(e))) from e
