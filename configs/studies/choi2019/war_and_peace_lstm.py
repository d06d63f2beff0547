"""Choi et al. 2019 protocol on the War and Peace character LSTM: tune every hyperparameter.

The same parameterisation as configs/studies/choi2019/fashion_mnist_simple_cnn.py (DESIGN.md
§2: Adam/NAdam search α0/ε and ε, RMSProp η0/√ε and ε, momentum-like constants on
one_minus_log scales, the linear-decay factor λ and decay-steps fraction for everyone), with
the same Adam, NAdam and RMSProp ranges (the widened ones: ε down to 1e-9 for RMSProp, 1 − β2
down to 1e-7). Ranges chosen here, not copied from the paper's Appendix D (not reachable while
writing this): the SGD-family learning rates sit one decade higher than for the CNN — SGD η0
in [1e-2, 30], Momentum/Nesterov η0 in [1e-3, 3] — because a character LSTM's averaged
cross-entropy gradients are small and plain SGD on it typically needs η of order 1.

num_trials = 64 per optimizer, as for the CNN (K up to 32 in the bootstrap).

Arg `reduced`: the workload's CPU-sized variant (configs/workloads/war_and_peace_lstm.py),
8 trials per optimizer: what fits next to the Fashion-MNIST reproduction on 2 cores (about
80 s a trial on one core, process start included). Far too few to settle the bootstrap in
these 4–7 dimensional spaces; the report's bands say how far from settled. `demo`: the same
workload, 2 trials per optimizer. Arg `smoke`: the workload's smoke trial, 4 trials per optimizer.
"""
from configs.studies import common
from configs.studies.choi2019 import fashion_mnist_simple_cnn as cnn
from configs.studies.common import log, one_minus_log
from configs.workloads import war_and_peace_lstm

MOMENTUM = {"learning_rate": log(1e-3, 3.0), "momentum": one_minus_log(0.0, 0.999),
            **cnn.SCHEDULE}


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = war_and_peace_lstm.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = "linear_decay"
  spaces = {
      "sgd": {"learning_rate": log(1e-2, 30.0), **cnn.SCHEDULE},
      "momentum": MOMENTUM,
      "nesterov": MOMENTUM,
      "rmsprop": cnn.RMSPROP,
      "adam": cnn.ADAM,
      "nadam": cnn.ADAM,
  }
  return common.study(base, spaces, num_trials=64, reduced_trials=8, mode=mode)
