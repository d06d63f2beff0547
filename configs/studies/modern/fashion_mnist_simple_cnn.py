"""The modern study on the Fashion-MNIST Simple CNN: the six optimizers of Table 1 and four
modern ones (Lion, Muon, schedule-free AdamW, ADOPT; DESIGN.md §2.1), every hyperparameter
tuned under Choi et al.'s protocol (same workload, budget and linear-decay schedule).

The initial study of the protocol: Table 1's choi2019 spaces for the six, the modern ones'
from configs/studies/modern/spaces.py. `optcompare refine` narrows them into the final study
(≥ 64 trials per optimizer, with seed re-runs; `make reproduce_modern`).
Args: none (the paper-scale workload, 64 trials per optimizer), `reduced` (the CPU-sized
workload, 32 per optimizer: what the initial study needs for refine's ≥ 16 completed trials
and its top quarter), `demo` (2), `smoke` (4 trials of 20 steps on synthetic data).
"""
from configs.studies import common
from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi
from configs.studies.modern import spaces
from configs.workloads import fashion_mnist_simple_cnn


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = fashion_mnist_simple_cnn.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = "linear_decay"
  choi_spaces = choi.get_config(arg).search_spaces.to_dict()
  table_1 = {o: choi_spaces[o] for o in common.TABLE_1}  # (in Table 1's order)
  return common.study(base, {**table_1, **spaces.modern_spaces()}, num_trials=64,
                      reduced_trials=32, mode=mode)
