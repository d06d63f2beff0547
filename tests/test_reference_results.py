"""The loop reproduces the committed reduced Fashion-MNIST study (results/) bit for bit.

The committed trials.csv holds what the step-at-a-time loop of before computed on this CPU;
the loop as it is now (one step per dispatch on CPU, steps_per_dispatch 0) must give the very
same final metrics for the same trial configs. One trial per optimizer, in `make test-all`
(make test holds the step-at-a-time path by the kill/resume and pack tests).
"""
import os

import pandas as pd
import pytest

from optcompare import study, train
from optcompare.data import prepare
from tests.conftest import REPO, SHARED_DATA

STUDY = os.path.join(REPO, "results", "fashion_mnist", "choi2019_final")
FASHION = os.path.join(SHARED_DATA, "fashion_mnist")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  if not os.path.isdir(FASHION):
    pytest.skip(f"no Fashion-MNIST files in {FASHION}")
  out = str(tmp_path_factory.mktemp("tfds"))
  prepare.prepare("fashion_mnist", manual_dir=FASHION, data_dir=out)
  return out


# rmsprop/0 gave other final metrics (validation loss 0.470046923828125 against the committed
# 0.47148017578125) on the machine of earlier sittings, with the commits of then (722b260) and of
# now alike; on this machine (2026-12-05) every commit from c91937c on reproduces the committed
# values bit for bit. The difference follows the host's CPU, not the code, so where it shows again
# it is the host's XLA CPU kernels: the trial is held to both measured results, nothing looser.
OTHER_HOST = {
    ("rmsprop/0", "validation", "loss"): 0.470046923828125,
    ("rmsprop/0", "validation", "error"): 0.1701,
    ("rmsprop/0", "train_eval", "loss"): 0.4680361328125,
    ("rmsprop/0", "train_eval", "error"): 0.179,
    ("rmsprop/0", "test", "loss"): 0.492927294921875,
    ("rmsprop/0", "test", "error"): 0.1766,
}


@pytest.mark.slow  # preparing Fashion-MNIST and a 400-step trial: ~1 min for the first
@pytest.mark.parametrize("trial_id", ["sgd/0", "momentum/0", "nesterov/0", "rmsprop/0",
                                      "adam/0", "nadam/0"])
def test_committed_trial_is_reproduced_exactly(trial_id, data_dir, tmp_path):
  config = study.trial_config(study.load_manifest(STUDY), trial_id).copy_and_resolve_references()
  config.dataset.data_dir = data_dir
  result = train.train_and_evaluate(config, str(tmp_path / "trial"))
  want = pd.read_csv(os.path.join(STUDY, "trials.csv")).set_index("trial_id").loc[trial_id]
  assert result["status"] == want["status"] and result["steps"] == want["steps"]
  keys = [(split, metric) for split in ("validation", "train_eval", "test")
          for metric in ("loss", "error")]
  got = {key: result["final"][key[0]][key[1]] for key in keys}
  committed = {key: want[f"final.{key[0]}.{key[1]}"] for key in keys}
  other = {key: OTHER_HOST.get((trial_id, *key), committed[key]) for key in keys}
  assert got in (committed, other), got
