"""Search spaces and quasi-random points: reproducible, extendable, within bounds, even."""
import inspect
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
from optcompare import hparams
from optcompare import study
from optcompare.errors import BadInputError
from optcompare.search import SearchSpace, build_trial_config, halton, stable_seed
from optcompare.search import spaces
from optcompare.search.spaces import Spec

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
  here = json.dumps(study.manifest_of(choi.get_config()).to_json(), sort_keys=True)
  code = ("import json; from optcompare import study; "
          "from configs.studies.choi2019 import fashion_mnist_simple_cnn as c; "
          "print(json.dumps(study.manifest_of(c.get_config()).to_json(), sort_keys=True))")
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
  small = study.manifest_of(c).trials
  c.num_trials = 32
  big = study.manifest_of(c).trials
  for opt in c.optimizers:
    first = [t for t in big if t.optimizer == opt][:16]
    assert first == [t for t in small if t.optimizer == opt]
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


# One vocabulary (optcompare.hparams) and one meaning of each scale (spaces.BOUNDED, Spec).

ROUND_TRIP_SPECS = [  # (name, scale, min, max): the bounded scales on the ranges studies use
    ("learning_rate", "log", 1e-5, 1e-1),
    ("epsilon", "log", 1e-10, 1e2),
    ("decay_factor", "log", 1e-3, 1.0),
    ("decay_factor", "linear", 0.0, 1.0),
    ("decay_steps_fraction", "linear", 0.5, 1.0),
    ("helper", "linear", -3.0, 7.5),
    ("momentum", "one_minus_log", 0.0, 0.999),
    ("beta1", "one_minus_log", 0.9, 0.999),
    ("beta2", "one_minus_log", 0.9, 0.99999),
    ("rho", "one_minus_log", 0.0, 0.9999),
]
UNITS = [0.0, 1e-9, 0.05, 0.25, 1 / 3, 0.5, 0.618034, 0.95, 0.999, 1 - 1e-12]


@pytest.mark.parametrize("name, scale, low, high", ROUND_TRIP_SPECS)
def test_to_unit_inverts_from_unit(name, scale, low, high):
  spec = Spec.from_dict(name, {"scale": scale, "min": low, "max": high})
  for u in UNITS:
    x = spec.from_unit(u)
    assert abs(spec.to_unit(x) - u) <= 1e-12, (u, x)
    assert spec.from_unit(spec.to_unit(x)) == pytest.approx(x, rel=1e-12, abs=1e-300)
  assert spec.from_unit(0.0) == pytest.approx(low, rel=1e-15) and spec.to_unit(low) == 0.0
  assert spec.to_unit(high) == pytest.approx(1.0, abs=1e-15)
  for x in halton(1, 64, 3)[:, 0]:  # and the other way round, from values
    value = spec.from_unit(float(x))
    assert spec.from_unit(spec.to_unit(value)) == pytest.approx(value, rel=1e-12)


def test_to_unit_near_one_is_as_exact_as_x_itself():
  """On one_minus_log up to 1 − 1e-7 (Choi's β2), x holds 1 − x only to about
  eps / (1 − x) relative: u comes back to that, over the width of the log range."""
  spec = Spec.from_dict("beta2", {"scale": "one_minus_log", "min": 0.9, "max": 1 - 1e-7})
  width = abs(math.log(1e-7) - math.log(0.1))
  for u in halton(1, 256, 5)[:, 0]:
    x = spec.from_unit(float(u))
    assert abs(spec.to_unit(x) - u) <= np.finfo(float).eps / (1 - x) / width + 1e-15


def test_to_unit_outside_the_bounds_and_the_domain():
  lr = Spec.from_dict("learning_rate", {"scale": "log", "min": 1e-4, "max": 1e-2})
  assert lr.to_unit(1e-5) == pytest.approx(-0.5) and lr.to_unit(1e-1) == pytest.approx(1.5)
  assert lr.to_unit(0.0) == -math.inf and math.isnan(lr.to_unit(-1.0))
  assert math.isnan(lr.to_unit(math.nan))
  b1 = Spec.from_dict("beta1", {"scale": "one_minus_log", "min": 0.9, "max": 0.999})
  assert b1.to_unit(0.0) == pytest.approx(-0.5) and b1.to_unit(1.0) == math.inf
  assert math.isnan(b1.to_unit(1.5))


def test_to_unit_of_choices_integers_and_unsampled_specs():
  choice = Spec.from_dict("beta2", {"scale": "choice", "values": [0.99, 0.999, 0.9999]})
  assert [choice.to_unit(v) for v in choice.values] == pytest.approx([1 / 6, 1 / 2, 5 / 6])
  for v in choice.values:
    assert choice.from_unit(choice.to_unit(v)) == v
  with pytest.raises(ValueError, match="not among"):
    choice.to_unit(0.5)
  steps = Spec.from_dict("decay_steps", {"scale": "linear", "min": 10, "max": 20})
  assert steps.from_unit(0.33) == 13 and steps.to_unit(13) == pytest.approx(0.3)
  for raw in ({"scale": "fixed", "value": 0.9},
              {"scale": "derived", "of": "a", "times": "b", "power": 0.5}):
    with pytest.raises(ValueError, match="has no bounded scale"):
      Spec.from_dict("momentum", raw).to_unit(0.9)


@pytest.mark.parametrize("scale", sorted(spaces.BOUNDED))
def test_search_coordinate_is_the_scale_read_by_a_person(scale):
  """log10 x, x, log10(1 − x): an affine map of to_unit, built on the same Scale."""
  low, high = (0.9, 0.999) if scale == "one_minus_log" else (1e-3, 0.5)
  spec = Spec.from_dict("momentum", {"scale": scale, "min": low, "max": high})
  xs = [spec.from_unit(u) for u in (0.0, 0.2, 0.7, 0.999)]
  coord = spec.search_coordinate(xs)
  want = {"log": np.log10(xs), "linear": np.asarray(xs),
          "one_minus_log": np.log10(1 - np.asarray(xs))}[scale]
  np.testing.assert_allclose(coord, want, rtol=1e-12)
  lo, hi = spec.search_coordinate([low, high])
  np.testing.assert_allclose((coord - lo) / (hi - lo), [spec.to_unit(x) for x in xs],
                             rtol=1e-9, atol=1e-12)
  s = spaces.BOUNDED[scale]
  for x in xs:  # warp is log(shown) on a log scale, shown itself on a linear one
    assert s.warp(x) == pytest.approx(math.log(s.shown(x)) if s.log else s.shown(x), rel=1e-12)
  assert s.label("momentum") == {"log": "momentum (log scale)", "linear": "momentum",
                                 "one_minus_log": "1 − momentum (log scale)"}[scale]


def test_spec_from_dict_is_the_search_space_spec():
  space = SearchSpace("adam", SPACE, "s")
  for name, raw in SPACE.items():
    assert Spec.from_dict(name, raw) == space.specs[name]
  lr = space.specs["learning_rate"]
  assert lr.solve_of(lr.derive(3.0, 1e-4), 1e-4) == pytest.approx(3.0, rel=1e-15)


def test_every_name_the_optimizers_and_schedules_take_is_in_the_table():
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top  (imports jax)
  from optcompare import schedules  # pylint: disable=g-import-not-at-top
  optimizer_names = {n for f in optimizers.REGISTRY.values()
                     for n in inspect.signature(f).parameters}
  kinds = schedules._KINDS  # pylint: disable=protected-access
  schedule_names = {n for allowed, _ in kinds.values() for n in allowed}
  assert optimizer_names == set(hparams.OPTIMIZER_HPARAMS)
  assert schedule_names == set(hparams.SCHEDULE_PARAMS)
  table_1 = {n for o in optimizers.TABLE_1
             for n in inspect.signature(optimizers.REGISTRY[o]).parameters}
  assert table_1 == set(hparams.TABLE_1_HPARAMS)
  for name, h in hparams.TABLE.items():
    assert h.name == name and h.kind in (hparams.OPTIMIZER, hparams.SCHEDULE)
  assert spaces.HPARAMS == hparams.OPTIMIZER_HPARAMS
  assert spaces.SCHEDULE_PARAMS == hparams.SCHEDULE_PARAMS
  assert spaces.INT_PARAMS == ("decay_steps", "warmup_steps")


def test_the_table_domains_are_what_create_checks():
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match=r"momentum: must lie in \[0.0, 1.0\), got 1.0"):
    optimizers.create("momentum", learning_rate=0.1, momentum=1.0)
  with pytest.raises(ValueError, match=r"rho: must lie in \[0.0, 1.0\], got 1.5"):
    optimizers.create("rmsprop", learning_rate=0.1, momentum=0.0, rho=1.5, epsilon=1.0)
  assert optimizers.create("rmsprop", learning_rate=0.1, momentum=0.0, rho=1.0, epsilon=0.0)


def test_trial_configs_declare_the_table_names():
  from configs.workloads import common  # pylint: disable=g-import-not-at-top
  c = common.optimizer_config()
  assert set(c.hparams) == set(hparams.OPTIMIZER_HPARAMS)
  assert set(c.schedule) - {"name"} == set(hparams.SCHEDULE_PARAMS)
