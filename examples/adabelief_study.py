"""A study of your own optimizer beside the paper's: AdaBelief (adabelief.py, the plug-in next
to this file) against Adam and Nesterov on the Fashion-MNIST Simple CNN, under Choi et al.'s
protocol (every hyperparameter tuned, the same budget and learning-rate schedule).

AdaBelief is searched in Adam's parameterisation (DESIGN.md §2: α0/ε and ε, 1 − β1, 1 − β2),
as its update differs from Adam's only in the second moment. `optimizer_files` paths are
relative to this file. Args as the protocol config's: `smoke` (synthetic data, 20 steps, 4
trials per optimizer), `demo`, `reduced`, or none (the full study).
"""
from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi


def get_config(arg=None):
  c = choi.get_config(arg)
  with c.unlocked():
    c.optimizers = ["nesterov", "adam", "adabelief"]
    for name in list(c.search_spaces):
      if name not in c.optimizers:
        del c.search_spaces[name]
    c.search_spaces["adabelief"] = dict(choi.ADAM)
    c.optimizer_files = {"adabelief": "adabelief.py"}
  return c
