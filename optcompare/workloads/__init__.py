"""Workloads: data + model + loss + metrics + target, by name."""
from __future__ import annotations

from optcompare.errors import BadInputError
from optcompare.workloads import base, char_lm, image_classification, imagenet, lm1b

# workload name -> factory(config) -> Workload
WORKLOADS = {
    "fashion_mnist_simple_cnn": image_classification.from_config,
    "mnist_simple_cnn": image_classification.from_config,
    "war_and_peace_lstm": char_lm.from_config,
    "cifar10_resnet32": image_classification.from_config,
    "cifar100_cnn": image_classification.from_config,
    "cifar10_vgg16": image_classification.from_config,
    "lm1b_transformer": lm1b.from_config,
    "imagenet_resnet50": imagenet.from_config,
}


def create(config) -> base.Workload:
  if config.workload not in WORKLOADS:
    raise BadInputError(f"workload: unknown workload {config.workload!r}; "
                        f"known: {sorted(WORKLOADS)}")
  return WORKLOADS[config.workload](config)


def target(config) -> base.Target:
  return base.Target(config.target.metric, config.target.split, float(config.target.value))
