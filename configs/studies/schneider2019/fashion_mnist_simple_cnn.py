"""Schneider et al. 2019 (DeepOBS) protocol on the Fashion-MNIST Simple CNN: learning rate only.

DeepOBS's baselines tune only the learning rate, over a log-scale interval from 1e-5 to 1e2,
with a constant schedule and every other hyperparameter at its default; its fmnist_2c2d test
problem is this workload's network. Defaults here: Momentum and Nesterov γ = 0.9 (DeepOBS's
momentum baseline); Adam and NAdam β1 = 0.9, β2 = 0.999, ε = 1e-8; RMSProp with
TensorFlow's defaults ρ = 0.9, γ = 0, ε = 1e-10. The interval [1e-5, 1e2] is DeepOBS's; the
defaults of the optimizers DeepOBS did not run (Nesterov, RMSProp, NAdam) are chosen here.

num_trials = 16 per optimizer: one dimension, so 16 Halton points are spaced about 0.44
decades apart over the seven decades; DeepOBS used a finer grid (36 values over the same
interval), which `--config.num_trials=36` approaches.

Arg `reduced`: the workload's CPU-sized variant, 8 trials per optimizer (the
reproduction on a 2-core machine); `demo`: the same, 2 trials per optimizer (`make demo`).
Arg `smoke`: the workload's smoke trial (20 steps, synthetic data), 4 trials per optimizer.
"""
from configs.studies import common
from configs.studies.common import fixed, log
from configs.workloads import fashion_mnist_simple_cnn

LR = {"learning_rate": log(1e-5, 1e2)}
ADAM_DEFAULTS = {"beta1": fixed(0.9), "beta2": fixed(0.999), "epsilon": fixed(1e-8)}


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = fashion_mnist_simple_cnn.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = "constant"
  spaces = {
      "sgd": dict(LR),
      "momentum": {**LR, "momentum": fixed(0.9)},
      "nesterov": {**LR, "momentum": fixed(0.9)},
      "rmsprop": {**LR, "rho": fixed(0.9), "momentum": fixed(0.0), "epsilon": fixed(1e-10)},
      "adam": {**LR, **ADAM_DEFAULTS},
      "nadam": {**LR, **ADAM_DEFAULTS},
  }
  return common.study(base, spaces, num_trials=16, reduced_trials=8, mode=mode)
