"""Every workload's smoke config trains on synthetic data through the real engine."""
import importlib
import json
import os

import pytest

from optcompare import train, workloads

WORKLOAD_CONFIGS = sorted(f[:-3] for f in os.listdir(
    os.path.join(os.path.dirname(__file__), "..", "..", "configs", "workloads"))
                          if f.endswith(".py") and f not in ("__init__.py", "common.py"))


def test_every_registered_workload_has_a_config():
  assert set(WORKLOAD_CONFIGS) <= set(workloads.WORKLOADS)
  assert {"fashion_mnist_simple_cnn", "cifar10_resnet32", "cifar100_cnn", "cifar10_vgg16",
          "war_and_peace_lstm"} <= set(WORKLOAD_CONFIGS)


# These two train the CIFAR path of the image-classification workload (augmentation, L2,
# standardisation) as cifar10_resnet32 does, and their models have numeric tests in
# tests/models; compiling them takes minutes on 2 CPU cores, so only `make test-all` trains
# them here.
SLOW = {"cifar10_vgg16", "cifar100_cnn"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in WORKLOAD_CONFIGS])
def test_smoke_config_trains(name, tmp_path):
  config = importlib.import_module(f"configs.workloads.{name}").get_config("smoke")
  assert config.dataset.synthetic and config.num_train_steps <= 100
  with config.unlocked():
    config.num_train_steps = 4
    config.log_every_steps = config.eval_every_steps = config.checkpoint_every_steps = 2
  result = train.train_and_evaluate(config, str(tmp_path))
  assert result["status"] == "completed", result
  with open(tmp_path / "metrics.jsonl") as f:
    lines = [json.loads(line) for line in f]
  assert {(r["step"], r["split"]) for r in lines} == {
      (s, split) for s in (2, 4) for split in ("train", "validation", "train_eval", "test")}
  assert set(result["final"]["validation"]) == set(workloads.create(config).metric_names)
  assert set(result["final"]["train_eval"]) == set(workloads.create(config).metric_names)
