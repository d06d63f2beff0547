"""Search spaces and quasi-random points: reproducible, extendable, within bounds, even."""
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import qmc

from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi
from optcompare import study
from optcompare.errors import BadInputError
from optcompare.search import SearchSpace, build_trial_config, halton, stable_seed

SPACE = {
    "learning_rate_over_epsilon": {"scale": "log", "min": 1e-3, "max": 1e2},
    "epsilon": {"scale": "log", "min": 1e-6, "max": 1.0},
    "learning_rate": {"scale": "derived", "of": "learning_rate_over_epsilon",
                      "times": "epsilon"},
    "beta1": {"scale": "one_minus_log", "min": 0.9, "max": 0.999},
    "beta2": {"scale": "choice", "values": [0.99, 0.999, 0.9999]},
    "decay_factor": {"scale": "linear", "min": 0.1, "max": 0.9},
    "decay_steps": {"scale": "linear", "min": 10, "max": 20},
    "warmup_steps": {"scale": "fixed", "value": 0},
}


def test_manifest_is_the_same_in_another_process():
  here = json.dumps(study.make_manifest(choi.get_config()), sort_keys=True)
  code = ("import json; from optcompare import study; "
          "from configs.studies.choi2019 import fashion_mnist_simple_cnn as c; "
          "print(json.dumps(study.make_manifest(c.get_config()), sort_keys=True))")
  there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONHASHSEED="123")).stdout
  assert there.strip() == here
  trials = json.loads(here)["trials"]
  assert len(trials) == 6 * 64
  assert trials[0]["id"] == "sgd/0" and set(trials[-1]["hparams"]) == set(
      choi.get_config().search_spaces.nadam)


def test_growing_a_study_keeps_its_first_trials():
  c = choi.get_config()
  c.num_trials = 16
  small = study.make_manifest(c)["trials"]
  c.num_trials = 32
  big = study.make_manifest(c)["trials"]
  for opt in c.optimizers:
    first = [t for t in big if t["optimizer"] == opt][:16]
    assert first == [t for t in small if t["optimizer"] == opt]
  assert halton(3, 16, 7, start=16).tolist() == halton(3, 32, 7)[16:].tolist()


def test_seeds_are_stable_and_distinct():
  assert stable_seed(0, "adam") == stable_seed(0, "adam")
  assert len({stable_seed(s, o) for s in range(3) for o in ("adam", "sgd")}) == 6
  assert stable_seed(0, "adam") == 7418593550819380231  # fixed forever: manifests depend on it


def test_points_respect_every_scale_and_bound():
  space = SearchSpace("adam", SPACE, "search_spaces.adam")
  assert space.sampled == ("beta1", "beta2", "decay_factor", "decay_steps", "epsilon",
                           "learning_rate_over_epsilon")
  n = 512
  points = [space.values(u) for u in halton(space.dims, n, 1)]
  for p in points:
    assert set(p) == set(SPACE)
    assert 1e-3 <= p["learning_rate_over_epsilon"] <= 1e2 and 1e-6 <= p["epsilon"] <= 1.0
    assert p["learning_rate"] == pytest.approx(p["learning_rate_over_epsilon"] * p["epsilon"])
    assert 0.9 <= p["beta1"] <= 0.999 and p["beta2"] in (0.99, 0.999, 0.9999)
    assert 0.1 <= p["decay_factor"] <= 0.9
    assert isinstance(p["decay_steps"], int) and 10 <= p["decay_steps"] <= 20
    assert p["warmup_steps"] == 0
  frac = lambda pred: np.mean([pred(p) for p in points])  # noqa: E731
  # log: half of the mass below the geometric midpoint; one_minus_log: on 1 - x alike.
  assert frac(lambda p: p["epsilon"] < 1e-3) == pytest.approx(0.5, abs=0.02)
  assert frac(lambda p: 1 - p["beta1"] < math.sqrt(0.1 * 0.001)) == pytest.approx(0.5, abs=0.02)
  assert frac(lambda p: p["decay_factor"] < 0.5) == pytest.approx(0.5, abs=0.02)
  for v in (0.99, 0.999, 0.9999):
    assert frac(lambda p, v=v: p["beta2"] == v) == pytest.approx(1 / 3, abs=0.02)
  # RMSProp's η0/√ε: power 0.5
  rms = SearchSpace("rmsprop", {
      "r": {"scale": "log", "min": 1e-2, "max": 1.0}, "epsilon": {"scale": "log", "min": 1e-4,
                                                                   "max": 1.0},
      "learning_rate": {"scale": "derived", "of": "r", "times": "epsilon", "power": 0.5},
      "rho": {"scale": "fixed", "value": 0.9}}, "s")
  p = rms.values([0.3, 0.7])
  assert p["learning_rate"] == pytest.approx(p["r"] * math.sqrt(p["epsilon"]))


def test_halton_points_are_low_discrepancy():
  n, d = 64, 6
  ours = qmc.discrepancy(halton(d, n, stable_seed(0, "adam")))
  rng = np.random.default_rng(0)
  plain = [qmc.discrepancy(rng.random((n, d))) for _ in range(20)]
  assert ours < min(plain), (ours, sorted(plain)[:3])


def test_trial_config_unsets_what_the_optimizer_does_not_take():
  base = json.loads(choi.get_config("smoke").base.to_json_best_effort())
  c = build_trial_config(base, "momentum", {"learning_rate": 0.1, "momentum": 0.9,
                                            "decay_factor": 0.5,
                                            "decay_steps_fraction": 0.75, "helper": 3.0})
  assert c.optimizer.name == "momentum"
  hp = c.optimizer.hparams
  assert (hp.learning_rate, hp.momentum, hp.beta1, hp.beta2, hp.epsilon) == (
      0.1, 0.9, None, None, None)
  assert c.optimizer.schedule.decay_steps_fraction == 0.75
  assert c.optimizer.schedule.decay_steps is None
  with pytest.raises(AttributeError):
    c.optimizer.hparams.helper  # pylint: disable=pointless-statement


@pytest.mark.parametrize("spec, message", [
    ({"scale": "log", "min": 0.1, "max": 0.01}, "search_spaces.sgd.learning_rate: min 0.1 > max"),
    ({"scale": "log", "min": 0.0, "max": 1.0}, "learning_rate.min: a log scale needs positive"),
    ({"scale": "linear", "min": 0.5, "max": 0.5}, "learning_rate: empty range"),
    ({"scale": "exp", "min": 0.5, "max": 1}, "learning_rate.scale: unknown scale 'exp'"),
    ({"scale": "log", "mn": 0.5, "max": 1}, "learning_rate.mn: not a key"),
    ({"scale": "choice", "values": []}, "learning_rate.values: must be a non-empty list"),
    ({"scale": "fixed", "value": "big"}, "learning_rate.value: must be a finite number"),
    ({"scale": "derived", "of": "nothing", "times": "nothing"},
     "learning_rate.of: refers to 'nothing'"),
])
def test_bad_specs(spec, message):
  with pytest.raises(BadInputError, match=re.escape(message)):
    SearchSpace("sgd", {"learning_rate": spec}, "search_spaces.sgd")


def test_bad_spaces():
  with pytest.raises(BadInputError, match=r"search_spaces\.adam\.momentum: unknown hyperparameter"):
    SearchSpace("adam", {"learning_rate": SPACE["epsilon"], "momentum": SPACE["beta1"]},
                "search_spaces.adam")
  with pytest.raises(BadInputError, match=r"one_minus_log bounds must lie in \[0, 1\)"):
    SearchSpace("adam", {"beta1": {"scale": "one_minus_log", "min": 0.9, "max": 1.0}}, "s")
  with pytest.raises(BadInputError, match=r"s\.helper: unknown hyperparameter"):
    SearchSpace("adam", {"helper": SPACE["epsilon"], "learning_rate": SPACE["epsilon"]}, "s")
  with pytest.raises(BadInputError, match="nothing to search"):
    SearchSpace("sgd", {"learning_rate": {"scale": "fixed", "value": 0.1}}, "s")
