"""Workloads: data + model + loss + metrics + target, by name."""
from __future__ import annotations

from optcompare.errors import BadInputError
from optcompare.workloads import base, char_lm, image_classification

# workload name -> factory(config) -> Workload
WORKLOADS = {
    "fashion_mnist_simple_cnn": image_classification.from_config,
    "mnist_simple_cnn": image_classification.from_config,
    "war_and_peace_lstm": char_lm.from_config,
}


def create(config) -> base.Workload:
  if config.workload not in WORKLOADS:
    raise BadInputError(f"workload: unknown workload {config.workload!r}; "
                        f"known: {sorted(WORKLOADS)}")
  return WORKLOADS[config.workload](config)


def target(config) -> base.Target:
  return base.Target(config.target.metric, config.target.split, float(config.target.value))
