"""TensorBoard's HParams dashboard for a study, written without TensorFlow.

`tensorboard --logdir STUDY` lists every trial of the study (a row each) with its
hyperparameters, status and final metrics. The data are the HParams plugin's protos
(`tensorboard.plugins.hparams`), in three pieces:
- the experiment: `write_experiment(study_dir, manifest)`, called by `study.sweep` after
  study.json is written (again at every sweep, so more trials widen it), writes one event
  file at the study's root (EXPERIMENT_FILE, TensorBoard's run "."): the hyperparameters of
  `trial_hparams` with their domains over the manifest's trials (string values: the values;
  numbers: [min, max] of the values, as TensorBoard infers them; the seed: with the seed
  re-runs' seeds) and the metric tags of `metric_tags`;
- each trial's session start: train.py writes `trial_hparams(config)` into the trial's own
  event files (`EventFileWriter.write_hparams`) when it starts or resumes, so each trial's
  tensorboard/ run is one session, grouped by a hash of those values (the seed among them: a
  seed re-run is a row of its own);
- each trial's session end: its status (completed: success; diverged, failed: failure).
The metrics are the trial's own scalars: TensorBoard shows the last value of each tag, and the
last evaluation of validation/test/train_eval is result.json's `final` (train/*: the last
train line's running means).
"""
from __future__ import annotations

import os
import time
from typing import Any, Mapping

from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

from optcompare import event_writer
from optcompare import reruns
from optcompare import study_manifest
from optcompare import studydir

EXPERIMENT_FILE = studydir.HPARAMS_EVENTS  # at the study's root
EVAL_SPLITS = ("validation", "test", "train_eval")


def trial_hparams(config: Mapping[str, Any]) -> dict[str, Any]:
  """A trial config's hyperparameters as the dashboard shows them: `optimizer` (its name),
  `seed`, every optimizer hyperparameter that is set (learning_rate, momentum, beta1, ...:
  the values the update rule uses), the paper's search coordinates it is derived from (α0/ε,
  η0/√ε: SEARCH_COORDINATES), and the
  schedule: `schedule` (its name) and its numeric fields that are set (decay_factor,
  decay_steps_fraction, warmup_steps, ...)."""
  opt = config["optimizer"]
  out: dict[str, Any] = {"optimizer": str(opt["name"]), "seed": int(config["seed"])}
  for name, value in opt["hparams"].items():
    if value is not None:
      out[name] = float(value)
  out.update(search_coordinates(opt["name"], out))
  out["schedule"] = str(opt["schedule"]["name"])
  for name, value in opt["schedule"].items():
    if name != "name" and value is not None:
      out[name] = value if isinstance(value, (int, float)) else float(value)
  return out


# The paper's search coordinates that a learning rate is derived from (DESIGN.md §2): Adam's
# family tunes α0/ε, RMSProp η0/√ε; name -> (optimizers, power of ε).
SEARCH_COORDINATES = {
    "learning_rate_over_epsilon": (("adam", "nadam", "adamw", "nadamw"), 1.0),
    "learning_rate_over_sqrt_epsilon": (("rmsprop",), 0.5),
}


def search_coordinates(optimizer: str, values: Mapping[str, float]) -> dict[str, float]:
  """The search coordinates of SEARCH_COORDINATES that `optimizer` has, from its learning
  rate and ε (shown beside the derived learning rate; none where ε is 0 or unset)."""
  out = {}
  for name, (optimizers, power) in SEARCH_COORDINATES.items():
    lr, eps = values.get("learning_rate"), values.get("epsilon")
    if optimizer in optimizers and lr is not None and eps:
      out[name] = float(lr) / float(eps) ** power
  return out


def _metric_pairs(metric_names, num_train_eval_examples: int | None) -> list[tuple[str, str]]:
  """(split, metric) of each of metric_tags' tags."""
  splits = [s for s in EVAL_SPLITS if s != "train_eval" or num_train_eval_examples != 0]
  return [(split, m) for split in (*splits, "train") for m in metric_names]


def metric_tags(metric_names, num_train_eval_examples: int | None) -> list[str]:
  """The scalar tags listed as the dashboard's metrics: each evaluated split's metrics (no
  train_eval when num_train_eval_examples is 0), then the train lines' means."""
  return [f"{split}/{m}" for split, m in _metric_pairs(metric_names, num_train_eval_examples)]


def _seeds(manifest: study_manifest.StudyManifest) -> set[int]:
  """The base seeds the study's trials run with: its own and its seed re-runs' (planned, or
  to come: base seed + 1 … + reruns.seeds)."""
  base_seed = manifest.base_seed
  seeds = {base_seed} | {r.seed for r in manifest.reruns}
  seeds |= {base_seed + i for i in range(1, reruns.settings(manifest)["seeds"] + 1)}
  return seeds


def _hparam_info(name: str, values: list) -> api_pb2.HParamInfo:
  info = api_pb2.HParamInfo(name=name)
  if all(isinstance(v, str) for v in values):
    info.type = api_pb2.DATA_TYPE_STRING
    info.domain_discrete.extend(sorted(set(values)))
  else:
    info.type = api_pb2.DATA_TYPE_FLOAT64
    info.domain_interval.min_value = float(min(values))
    info.domain_interval.max_value = float(max(values))
  info.differs = len(set(values)) > 1
  return info


def _metric_infos(pairs: list[tuple[str, str]]) -> list[api_pb2.MetricInfo]:
  """The dashboard's metrics: their tags `<split>/<metric>`, descriptions and datasets."""
  dataset = {"validation": api_pb2.DATASET_VALIDATION, "train": api_pb2.DATASET_TRAINING,
             "train_eval": api_pb2.DATASET_TRAINING}
  return [api_pb2.MetricInfo(
      name=api_pb2.MetricName(tag=f"{split}/{m}"),
      description=("running mean of the last train line" if split == "train"
                   else "the last evaluation (result.json's final)"),
      dataset_type=dataset.get(split, api_pb2.DATASET_UNKNOWN)) for split, m in pairs]


def experiment(manifest: study_manifest.StudyManifest, study_dir: str = "") -> api_pb2.Experiment:
  """The study's HParams experiment: hyperparameters (with domains) and metrics."""
  from optcompare import workloads  # pylint: disable=g-import-not-at-top  (models: loaded late)
  from optcompare.search import spaces  # pylint: disable=g-import-not-at-top
  base = manifest.base
  configs = [spaces.build_trial_config(base, t.optimizer, t.hparams,
                                       manifest.plugin(t.optimizer)) for t in manifest.trials]
  values: dict[str, list] = {}
  for config in configs:
    for name, value in trial_hparams(config).items():
      values.setdefault(name, []).append(value)
  values["optimizer"] += manifest.optimizers
  values["seed"] += sorted(_seeds(manifest))
  first = ["optimizer", "seed"]
  names = first + sorted(n for n in values if n not in first)
  try:
    metric_names = workloads.create(configs[0]).metric_names
  except Exception:  # pylint: disable=broad-except  (a bad base fails its trials, not this)
    metric_names = tuple(dict.fromkeys(("loss", manifest.target[1])))
  metrics = _metric_infos(_metric_pairs(
      metric_names, (base.get("dataset") or {}).get("num_train_eval_examples")))
  return api_pb2.Experiment(
      name=os.path.basename(os.path.normpath(study_dir)) if study_dir else "",
      description=(f"optcompare study of {base.get('workload')}: {manifest.num_trials} "
                   f"trials per optimizer ({', '.join(manifest.optimizers)})"),
      time_created_secs=time.time(),
      hparam_infos=[_hparam_info(n, values[n]) for n in names], metric_infos=metrics)


def write_experiment(study_dir: str, manifest: study_manifest.StudyManifest) -> str:
  """Writes (atomically, replacing an earlier one) the study's experiment event file."""
  summary = event_writer.hparams_plugin_summary(
      hparams_metadata.EXPERIMENT_TAG,
      plugin_data_pb2.HParamsPluginData(experiment=experiment(manifest, study_dir)))
  tmp = f".hparams-experiment.{os.getpid()}.tmp"  # no "tfevents": TensorBoard skips it
  writer = event_writer.EventFileWriter(study_dir, filename=tmp)
  try:
    writer.write_summary(0, summary)
  finally:
    writer.close()
  path = os.path.join(study_dir, EXPERIMENT_FILE)
  os.replace(writer.path, path)
  return path
