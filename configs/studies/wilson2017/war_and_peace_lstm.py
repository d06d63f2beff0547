"""Wilson et al. 2017 protocol on the War and Peace character LSTM: learning rate and decay only.

Wilson et al. ("The Marginal Value of Adaptive Gradient Methods", 2017) ran this workload
(their char-rnn on War and Peace) tuning only the initial learning rate and its decay, every
other hyperparameter at its library default — the comparison Choi et al. 2019 revisit. The
defaults are those of configs/studies/wilson2017/fashion_mnist_simple_cnn.py (Adam/NAdam β1 =
0.9, β2 = 0.999, ε = 1e-8; Momentum/Nesterov γ = 0.9; RMSProp TensorFlow's ρ = 0.9, γ = 0,
ε = 1e-10), with linear decay (tuned λ, decay over the whole run) in place of their step decay.
Ranges chosen here: SGD η0 in [1e-2, 30] and Momentum/Nesterov η0 in [1e-3, 3] (one decade
above the CNN's, as in the choi2019 LSTM study), RMSProp/Adam/NAdam in [1e-5, 1e-1].

num_trials = 16 per optimizer: two dimensions (η0, λ), about a 4 × 4 grid.

Arg `reduced`: the workload's CPU-sized variant, 4 trials per optimizer (what fits on 2 cores
next to the rest of the reproduction); `demo`: 2 per optimizer; `smoke`: 4, smoke workload.
"""
from configs.studies import common
from configs.studies.common import fixed, log
from configs.studies.wilson2017 import fashion_mnist_simple_cnn as cnn
from configs.workloads import war_and_peace_lstm


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = war_and_peace_lstm.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = "linear_decay"
  momentum = {"learning_rate": log(1e-3, 3.0), "momentum": fixed(0.9), **cnn.SCHEDULE}
  spaces = {
      "sgd": {"learning_rate": log(1e-2, 30.0), **cnn.SCHEDULE},
      "momentum": momentum,
      "nesterov": momentum,
      "rmsprop": {"learning_rate": log(1e-5, 1e-1), "rho": fixed(0.9), "momentum": fixed(0.0),
                  "epsilon": fixed(1e-10), **cnn.SCHEDULE},
      "adam": {"learning_rate": log(1e-5, 1e-1), **cnn.ADAM_DEFAULTS, **cnn.SCHEDULE},
      "nadam": {"learning_rate": log(1e-5, 1e-1), **cnn.ADAM_DEFAULTS, **cnn.SCHEDULE},
  }
  return common.study(base, spaces, num_trials=16, reduced_trials=4, mode=mode)
