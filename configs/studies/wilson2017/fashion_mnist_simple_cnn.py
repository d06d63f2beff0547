"""Wilson et al. 2017 protocol on the Fashion-MNIST Simple CNN: learning rate and decay only.

Wilson et al. ("The Marginal Value of Adaptive Gradient Methods", 2017) tune the initial
learning rate and the learning-rate decay and leave every other hyperparameter at its
library default: Adam's β1 = 0.9, β2 = 0.999, ε = 1e-8 (NAdam alike); heavy-ball and
Nesterov momentum γ = 0.9; RMSProp with TensorFlow's defaults ρ = 0.9, γ = 0, ε = 1e-10
(TF's RMSProp also starts v at 1 and adds ε inside the square root, as Table 1 does).
Decay here is the linear schedule with a tuned decay factor λ over the whole run (decay
steps fraction 1); Wilson et al. used step decay, which this codebase does not have.

The ranges are chosen here (not from either paper): η0 / α0 log-uniform over wide brackets
around each optimizer's usual values (SGD [1e-3, 3], Momentum/Nesterov [1e-4, 1], RMSProp,
Adam, NAdam [1e-5, 1e-1]) and λ in [1e-3, 1].

num_trials = 16 per optimizer: the spaces have two dimensions (η0, λ), which 16 Halton points
cover about as densely as a 4 × 4 grid; the protocol's point is its narrow space, not its
trial count.

Arg `reduced`: the workload's CPU-sized variant, 8 trials per optimizer (the
reproduction on a 2-core machine); `demo`: the same, 2 trials per optimizer (`make demo`).
Arg `smoke`: the workload's smoke trial (20 steps, synthetic data), 4 trials per optimizer.
"""
from configs.studies import common
from configs.studies.common import fixed, log
from configs.workloads import fashion_mnist_simple_cnn

SCHEDULE = {"decay_factor": log(1e-3, 1.0), "decay_steps_fraction": fixed(1.0)}
ADAM_DEFAULTS = {"beta1": fixed(0.9), "beta2": fixed(0.999), "epsilon": fixed(1e-8)}


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = fashion_mnist_simple_cnn.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = "linear_decay"
  spaces = {
      "sgd": {"learning_rate": log(1e-3, 3.0), **SCHEDULE},
      "momentum": {"learning_rate": log(1e-4, 1.0), "momentum": fixed(0.9), **SCHEDULE},
      "nesterov": {"learning_rate": log(1e-4, 1.0), "momentum": fixed(0.9), **SCHEDULE},
      "rmsprop": {"learning_rate": log(1e-5, 1e-1), "rho": fixed(0.9), "momentum": fixed(0.0),
                  "epsilon": fixed(1e-10), **SCHEDULE},
      "adam": {"learning_rate": log(1e-5, 1e-1), **ADAM_DEFAULTS, **SCHEDULE},
      "nadam": {"learning_rate": log(1e-5, 1e-1), **ADAM_DEFAULTS, **SCHEDULE},
  }
  return common.study(base, spaces, num_trials=16, reduced_trials=8, mode=mode)
