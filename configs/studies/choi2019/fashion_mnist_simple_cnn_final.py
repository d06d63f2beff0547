"""fashion_mnist_simple_cnn: search spaces refined from an initial study by `optcompare refine`.

Provenance
  initial study results/fashion_mnist/choi2019 (64 trials per optimizer, seed 0, schedule
                linear_decay)
  date          2026-12-02
  command       optcompare refine --workdir=results/fashion_mnist/choi2019
                --out=configs/studies/choi2019/fashion_mnist_simple_cnn_final.py --top=0.25
                --margin=0.25 --contain=results/fashion_mnist/wilson2017
                --contain=results/fashion_mnist/schneider2019
  top           0.25: the best ceil(0.25 n) of each optimizer's n completed trials by validation
                error (at least 2)
  margin        0.25 of the top trials' span on each side, at least 0.1 of the initial width in
                all, on the search scale (log10 x, x, log10(1 − x)); clipped at the initial
                bounds (past one only where the boundary check flags a top trial at it) and at
                natural limits; bounds rounded outward to 3 significant digits
  contain       results/fashion_mnist/wilson2017, results/fashion_mnist/schneider2019

Ranges of x, initial → refined (width: refined / initial, on the search scale)
  sgd: top 16 of 64 completed trials; best sgd/50 (validation error 0.1466)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.001, 3] → [0.0444, 1.17], width 0.41
  momentum: top 16 of 64 completed trials; best momentum/44 (validation error 0.1375)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.0001, 1] → [0.00103, 0.783], width 0.72
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00124], width 0.97
  nesterov: top 16 of 64 completed trials; best nesterov/31 (validation error 0.1301)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.0001, 1] → [0.000914, 0.622], width 0.71
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
  rmsprop: top 16 of 64 completed trials; best rmsprop/60 (validation error 0.1563)
    decay_factor (log) [0.001, 1] → [0.000207, 1], width 1.23
      grown past the initial min (a top trial at that bound)
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    epsilon (log) [1e-09, 100] → [3.63e-12, 2.48e+04], width 1.44
      grown past the initial max (a top trial at that bound); widened to hold
      results/fashion_mnist/wilson2017 rmsprop/2
    learning_rate_over_sqrt_epsilon (log) [0.0001, 1] → [0.000108, 2.51e+04], width 2.09
      grown past the initial max (a top trial at that bound); widened to hold
      results/fashion_mnist/wilson2017 rmsprop/2
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
    rho (one_minus_log) [0, 1 − 0.0001] → [0, 1 − 0.0001], width 1.00
    unchanged (fixed, choice, derived): learning_rate
  adam: top 16 of 64 completed trials; best adam/59 (validation error 0.137)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 1.23e-07], width 0.99
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.383, 1], width 1.23
      grown past the initial min (a top trial at that bound)
    epsilon (log) [1e-05, 100] → [7.27e-10, 2400], width 1.79
      grown past the initial max (a top trial at that bound); widened to hold
      results/fashion_mnist/wilson2017 adam/5
    learning_rate_over_epsilon (log) [0.001, 100] → [0.012, 8.23e+06], width 1.77
      widened to hold results/fashion_mnist/wilson2017 adam/5
    unchanged (fixed, choice, derived): learning_rate
  nadam: top 16 of 64 completed trials; best nadam/13 (validation error 0.1309)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.000196], width 1.24
      grown past the initial max (a top trial at that bound)
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0, 1 − 1e-07], width 1.17
      grown past the initial min (a top trial at that bound); min at the natural limit
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    epsilon (log) [1e-05, 100] → [6.88e-10, 4200], width 1.83
      grown past the initial max (a top trial at that bound); widened to hold
      results/fashion_mnist/wilson2017 nadam/6
    learning_rate_over_epsilon (log) [0.001, 100] → [0.0506, 2.66e+06], width 1.54
      widened to hold results/fashion_mnist/wilson2017 nadam/6
    unchanged (fixed, choice, derived): learning_rate

Best trials of the --contain studies in these spaces (optcompare.analysis.containment)
  results/fashion_mnist/wilson2017 sgd/5: inside
  results/fashion_mnist/wilson2017 momentum/4: inside
  results/fashion_mnist/wilson2017 nesterov/7: inside
  results/fashion_mnist/wilson2017 rmsprop/2: inside
  results/fashion_mnist/wilson2017 adam/5: inside
  results/fashion_mnist/wilson2017 nadam/6: inside
  results/fashion_mnist/schneider2019 sgd/6: inside
  results/fashion_mnist/schneider2019 momentum/6: inside
  results/fashion_mnist/schneider2019 nesterov/0: inside
  results/fashion_mnist/schneider2019 rmsprop/5: inside
  results/fashion_mnist/schneider2019 adam/1: inside
  results/fashion_mnist/schneider2019 nadam/7: inside

Args as in configs/studies (None, 'reduced', 'demo', 'smoke'): the base trial config is
configs/workloads/fashion_mnist_simple_cnn.py's with the arg and schedule 'linear_decay';
num_trials 64 (the initial study's) for None and 'reduced', 2 for 'demo', 4 for 'smoke'
(configs/studies/common.study); seed 0. More trials: --config.num_trials=N.
The initial study's base trial config differs from the workload config with arg 'reduced', as it
is now, in (initial → now; not pinned here):
  dataset.data_dir: 'workdirs/reproduce/tfds' → None
  dataset.num_train_eval_examples: (no such field) → 2000
  eval_every_steps: 200 → 50
  test_every_steps: (no such field) → 400
"""
# Written by `optcompare refine`; a rerun of refine may overwrite this file.
from configs.studies import common
from configs.workloads import fashion_mnist_simple_cnn as workload

SCHEDULE = 'linear_decay'
NUM_TRIALS = 64
SEED = 0
SEARCH_SPACES = {
    'sgd': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.0444, 'max': 1.17},
    },
    'momentum': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.00103, 'max': 0.783},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00124},
    },
    'nesterov': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.000914, 'max': 0.622},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
    },
    'rmsprop': {
        'decay_factor': {'scale': 'log', 'min': 0.000207, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 3.63e-12, 'max': 24800.0},
        'learning_rate': {'of': 'learning_rate_over_sqrt_epsilon', 'power': 0.5, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_sqrt_epsilon': {'scale': 'log', 'min': 0.000108, 'max': 25100.0},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
        'rho': {'scale': 'one_minus_log', 'min': 0.0, 'max': 0.9999},
    },
    'adam': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 1 - 1.23e-07},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.383, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 7.27e-10, 'max': 2400.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.012, 'max': 8230000.0},
    },
    'nadam': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.000196},
        'beta2': {'scale': 'one_minus_log', 'min': 0.0, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 6.88e-10, 'max': 4200.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.0506, 'max': 2660000.0},
    },
}


def get_config(arg=None):
  mode = common.check_arg(arg)
  base = workload.get_config(common.workload_arg(mode))
  base.optimizer.schedule.name = SCHEDULE
  config = common.study(base, SEARCH_SPACES, num_trials=NUM_TRIALS,
                        reduced_trials=NUM_TRIALS, mode=mode)
  config.seed = SEED
  return config
