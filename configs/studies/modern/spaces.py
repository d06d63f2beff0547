"""The modern optimizers' search spaces in the paper's parameterisation (DESIGN.md §2.1), shared
by the modern study configs; the six of Table 1 keep their choi2019 spaces.

- adopt, as Adam: α0/ε and ε log-uniform, α0 derived, 1 − β1 and 1 − β2 on one_minus_log
  (for large ε both tend to momentum SGD with η = α0/ε·(1 − β1)).
- sfadamw, as Adam but β1 ∈ [0.5, 0.999] (β1 > 0: optax divides by it) and no decay: its
  averaging replaces the schedule, so the study's linear decay is fixed at λ = 1.
- lion: η0 log-uniform in [1e-6, 1e-1] (sign steps have RMS 1, Adam's about 0.1–0.2: its
  learning rates sit about a decade below Adam's α0), 1 − β1, 1 − β2 on one_minus_log.
- muon: η0 log-uniform in [1e-5, 1] (its matrices' step is scaled to Adam's RMS, so η0 spans
  Adam's α0 range and more), ε log-uniform (only its Adam part sees it), 1 − μ, 1 − β1,
  1 − β2 on one_minus_log.
weight_decay fixed at 0 for lion and sfadamw, as Table 1 has none. Ranges chosen here, to be
checked by the boundary diagnostic of the initial study and narrowed by `optcompare refine`.
"""
from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi
from configs.studies.common import fixed, log, one_minus_log

NO_DECAY = {"decay_factor": fixed(1.0), "decay_steps_fraction": fixed(1.0)}
MODERN = ("lion", "muon", "sfadamw", "adopt")


def modern_spaces() -> dict:
  return {
      "lion": {"learning_rate": log(1e-6, 1e-1), "beta1": one_minus_log(0.0, 0.999),
               "beta2": one_minus_log(0.0, 0.9999), "weight_decay": fixed(0.0),
               **choi.SCHEDULE},
      "muon": {"learning_rate": log(1e-5, 1.0), "epsilon": log(1e-10, 1e-2),
               "momentum": one_minus_log(0.0, 0.999), "beta1": one_minus_log(0.0, 0.999),
               "beta2": one_minus_log(0.9, 1 - 1e-7), **choi.SCHEDULE},
      "sfadamw": {**choi.ADAM, "beta1": one_minus_log(0.5, 0.999), "weight_decay": fixed(0.0),
                  **NO_DECAY},
      "adopt": dict(choi.ADAM),
  }
