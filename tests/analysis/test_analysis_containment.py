"""Search-space containment of another study's best trial, on constructed cases."""
import math

import pandas as pd
import pytest

from optcompare.analysis import containment

CHOI_ADAM = {  # the paper's coordinates: α0/ε and ε searched, α0 derived
    "learning_rate_over_epsilon": {"scale": "log", "min": 1e-3, "max": 1e2},
    "epsilon": {"scale": "log", "min": 1e-5, "max": 1e2},
    "learning_rate": {"scale": "derived", "of": "learning_rate_over_epsilon",
                      "times": "epsilon", "power": 1.0},
    "beta1": {"scale": "one_minus_log", "min": 0.0, "max": 0.999},
    "beta2": {"scale": "one_minus_log", "min": 0.9, "max": 0.99999},
    "decay_factor": {"scale": "log", "min": 1e-3, "max": 1.0},
    "decay_steps_fraction": {"scale": "linear", "min": 0.5, "max": 1.0},
}
WILSON_ADAM = {
    "learning_rate": {"scale": "log", "min": 1e-5, "max": 1e-1},
    "beta1": {"scale": "fixed", "value": 0.9}, "beta2": {"scale": "fixed", "value": 0.999},
    "epsilon": {"scale": "fixed", "value": 1e-8},
    "decay_factor": {"scale": "log", "min": 1e-3, "max": 1.0},
    "decay_steps_fraction": {"scale": "fixed", "value": 1.0},
}
DEFAULTS = {"learning_rate": 0.0129, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
            "decay_factor": 0.006, "decay_steps_fraction": 1.0}


def test_default_epsilon_adam_lies_outside_the_alpha_over_epsilon_box():
  """α0 = 0.0129 at ε = 1e-8 is α0/ε = 1.29e6: outside [1e-3, 1e2] though each of α0 and ε
  alone looks ordinary — the case the per-dimension boundary check cannot see."""
  inside, reasons = containment.contains(CHOI_ADAM, "linear_decay", DEFAULTS)
  assert inside is False
  assert any(r.startswith("learning_rate_over_epsilon = 1.29e+06 > max 100") for r in reasons)
  assert any(r.startswith("epsilon = 1e-08 < min 1e-05") for r in reasons)
  assert containment.contains(WILSON_ADAM, "linear_decay", DEFAULTS) == (True, ())


def test_a_point_given_in_other_coordinates_is_found_inside():
  adaptive = dict(DEFAULTS, learning_rate=3.52e-3, epsilon=4.08e-4, beta1=0.955, beta2=0.991,
                  decay_steps_fraction=0.613)  # α0/ε = 8.6
  assert containment.contains(CHOI_ADAM, "linear_decay", adaptive) == (True, ())
  inside, reasons = containment.contains(WILSON_ADAM, "linear_decay", adaptive)
  assert inside is False and "beta1 = 0.955, fixed at 0.9 here" in reasons
  assert "decay_steps_fraction = 0.613, fixed at 1 here" in reasons
  # Near 1 the distance from 1 is written, so 0.99899 and 0.999 do not both read "0.999".
  inside, reasons = containment.contains(WILSON_ADAM, "linear_decay",
                                         dict(DEFAULTS, beta2=0.99899))
  assert inside is False and reasons == ("beta2 = 1 − 0.00101, fixed at 1 − 0.001 here",)


def test_bounds_are_inclusive_up_to_rounding():
  on_edge = dict(DEFAULTS, epsilon=1e-5, learning_rate=1e2 * 1e-5 * (1 + 1e-12))
  assert containment.contains(CHOI_ADAM, "linear_decay", on_edge) == (True, ())
  beyond = dict(on_edge, learning_rate=1e2 * 1e-5 * 1.001)
  assert containment.contains(CHOI_ADAM, "linear_decay", beyond)[0] is False


def test_constant_schedule_is_decay_factor_one():
  row = {"hp.learning_rate": 0.01, "hp.beta1": 0.9, "hp.beta2": 0.999, "hp.epsilon": 1e-8}
  settings = containment.settings_of(row, "constant")
  assert settings["decay_factor"] == 1.0 and "decay_steps_fraction" not in settings
  # λ = 1 is inside [1e-3, 1]; the decay length is moot without decay.
  assert containment.contains(WILSON_ADAM, "linear_decay", settings) == (True, ())
  # A decaying best trial is outside a constant-schedule study's space.
  inside, reasons = containment.contains({"learning_rate": WILSON_ADAM["learning_rate"]},
                                         "constant", DEFAULTS)
  assert inside is False and "schedule is constant" in reasons[0]


def test_a_coordinate_the_trial_does_not_set_is_undetermined():
  settings = {k: v for k, v in DEFAULTS.items() if k != "beta2"}
  inside, reasons = containment.contains(WILSON_ADAM, "linear_decay", settings)
  assert inside is None and reasons == ("beta2 not set by the trial",)


def test_best_trial_containment_uses_each_optimizers_best_trial():
  rows = []
  for i, (lr, err) in enumerate(((0.5, 0.3), (0.0129, 0.1), (1e-4, 0.2))):
    rows.append({"trial_id": f"adam/{i}", "optimizer": "adam", "index": i,
                 "status": "completed", "final.validation.error": err,
                 **{f"hp.{k}": v for k, v in dict(DEFAULTS, learning_rate=lr).items()}})
  rows.append({"trial_id": "sgd/0", "optimizer": "sgd", "index": 0, "status": "completed",
               "final.validation.error": 0.2, "hp.learning_rate": 0.1,
               "hp.decay_factor": math.nan})
  out = containment.best_trial_containment(pd.DataFrame(rows), "linear_decay", "error",
                                           {"adam": CHOI_ADAM}, "linear_decay")
  assert list(out) == ["adam"]  # sgd has no space on the other side
  assert out["adam"].trial_id == "adam/1" and out["adam"].inside is False
  assert out["adam"].text().startswith("adam/1: outside (")


@pytest.mark.parametrize("inside,text", [(True, "adam/0: inside"),
                                         (None, "adam/0: undetermined (x)")])
def test_containment_text(inside, text):
  assert containment.Containment("adam", "adam/0", inside, ("x",) if not inside else ()
                                 ).text() == text
