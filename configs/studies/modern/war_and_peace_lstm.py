"""The modern study on the War and Peace character LSTM: the six optimizers of Table 1 and
four modern ones (Lion, Muon, schedule-free AdamW, ADOPT; DESIGN.md §2.1) under Choi et al.'s
protocol, as configs/studies/modern/fashion_mnist_simple_cnn.py for the CNN.

Table 1's spaces are choi2019's for this workload (SGD-family learning rates a decade higher
than the CNN's); the modern ones' from configs/studies/modern/spaces.py, Lion's and Muon's
learning rates a decade higher too for the same reason (small averaged cross-entropy
gradients). Args: none (64 trials per optimizer), `reduced` (the CPU-sized workload, 16 per
optimizer: refine's minimum; about 80 s a trial on one core), `demo` (2), `smoke` (4).
"""
from configs.studies import common
from configs.studies.choi2019 import war_and_peace_lstm as choi
from configs.studies.common import log
from configs.studies.modern import spaces
from configs.workloads import war_and_peace_lstm


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = war_and_peace_lstm.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = "linear_decay"
  modern = spaces.modern_spaces()
  modern["lion"]["learning_rate"] = log(1e-5, 1.0)
  modern["muon"]["learning_rate"] = log(1e-4, 10.0)
  choi_spaces = choi.get_config(arg).search_spaces.to_dict()
  table_1 = {o: choi_spaces[o] for o in common.TABLE_1}  # (in Table 1's order)
  return common.study(base, {**table_1, **modern}, num_trials=64, reduced_trials=16, mode=mode)
