"""fashion_mnist_simple_cnn: search spaces refined from an initial study by `optcompare refine`.

Provenance
  initial study workdirs/modern/fashion_mnist_initial (32 trials per optimizer, seed 0, schedule
                linear_decay)
  date          2026-12-05
  command       optcompare refine --workdir=workdirs/modern/fashion_mnist_initial
                --out=workdirs/modern/fashion_mnist_final_spaces.py --top=0.25 --margin=0.25
  top           0.25: the best ceil(0.25 n) of each optimizer's n completed trials by validation
                error (at least 2)
  margin        0.25 of the top trials' span on each side, at least 0.1 of the initial width in
                all, on the search scale (log10 x, x, log10(1 − x)); clipped at the initial
                bounds (past one only where the boundary check flags a top trial at it) and at
                natural limits; bounds rounded outward to 3 significant digits
  contain       (none)

Ranges of x, initial → refined (width: refined / initial, on the search scale)
  sgd: top 8 of 32 completed trials; best sgd/10 (validation error 0.1498)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.001, 3] → [0.0707, 0.781], width 0.30
  momentum: top 8 of 32 completed trials; best momentum/4 (validation error 0.1406)
    decay_factor (log) [0.001, 1] → [0.001, 0.731], width 0.95
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.0001, 1] → [0.00311, 0.628], width 0.58
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.0027], width 0.86
  nesterov: top 8 of 32 completed trials; best nesterov/31 (validation error 0.1301)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.0001, 1] → [0.00132, 0.577], width 0.66
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
  rmsprop: top 8 of 32 completed trials; best rmsprop/17 (validation error 0.2179)
    decay_factor (log) [0.001, 1] → [0.00136, 1], width 0.96
    decay_steps_fraction (linear) [0.5, 1] → [0.397, 1], width 1.21
      grown past the initial min (a top trial at that bound)
    epsilon (log) [1e-09, 100] → [1e-09, 100], width 1.00
    learning_rate_over_sqrt_epsilon (log) [0.0001, 1] → [0.000149, 1], width 0.96
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00216], width 0.89
    rho (one_minus_log) [0, 1 − 0.0001] → [0.345, 1 − 0.00111], width 0.69
    unchanged (fixed, choice, derived): learning_rate
  adam: top 8 of 32 completed trials; best adam/9 (validation error 0.1608)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0.248, 1 − 0.001], width 0.96
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 1e-07], width 1.00
    decay_factor (log) [0.001, 1] → [0.00143, 1], width 0.95
    decay_steps_fraction (linear) [0.5, 1] → [0.528, 1], width 0.94
    epsilon (log) [1e-05, 100] → [1e-05, 2650], width 1.20
      grown past the initial max (a top trial at that bound)
    learning_rate_over_epsilon (log) [0.001, 100] → [0.0282, 343], width 0.82
      grown past the initial max (a top trial at that bound)
    unchanged (fixed, choice, derived): learning_rate
  nadam: top 8 of 32 completed trials; best nadam/13 (validation error 0.1309)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.000212], width 1.22
      grown past the initial max (a top trial at that bound)
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9546, 1 − 1e-07], width 0.94
    decay_factor (log) [0.001, 1] → [0.00233, 1], width 0.88
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    epsilon (log) [1e-05, 100] → [1e-05, 3320], width 1.22
      grown past the initial max (a top trial at that bound)
    learning_rate_over_epsilon (log) [0.001, 100] → [0.181, 100], width 0.55
    unchanged (fixed, choice, derived): learning_rate
  lion: top 8 of 32 completed trials; best lion/21 (validation error 0.1246)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00117], width 0.98
    beta2 (one_minus_log) [0, 1 − 0.0001] → [0, 1 − 1.33e-05], width 1.22
      grown past the initial max (a top trial at that bound)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [1e-06, 0.1] → [0.000146, 0.0163], width 0.41
    unchanged (fixed, choice, derived): weight_decay
  muon: top 8 of 32 completed trials; best muon/26 (validation error 0.1138)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.000221], width 1.22
      grown past the initial max (a top trial at that bound)
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 1e-07], width 1.00
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.389, 1], width 1.22
      grown past the initial min (a top trial at that bound)
    epsilon (log) [1e-10, 0.01] → [1e-10, 0.01], width 1.00
    learning_rate (log) [1e-05, 1] → [0.000696, 0.128], width 0.45
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00132], width 0.96
  sfadamw: top 8 of 32 completed trials; best sfadamw/23 (validation error 0.1154)
    beta1 (one_minus_log) [0.5, 1 − 0.001] → [0.5, 1 − 0.001], width 1.00
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9843, 1 − 1e-07], width 0.87
    epsilon (log) [1e-05, 100] → [1.15e-05, 100], width 0.99
    learning_rate_over_epsilon (log) [0.001, 100] → [0.0804, 380], width 0.73
      grown past the initial max (a top trial at that bound)
    unchanged (fixed, choice, derived): decay_factor, decay_steps_fraction, learning_rate,
    weight_decay
  adopt: top 8 of 32 completed trials; best adopt/13 (validation error 0.1417)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00149], width 0.94
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 1e-07], width 1.00
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.412, 1], width 1.18
      grown past the initial min (a top trial at that bound)
    epsilon (log) [1e-05, 100] → [3.13e-05, 100], width 0.93
    learning_rate_over_epsilon (log) [0.001, 100] → [0.056, 97.4], width 0.65
    unchanged (fixed, choice, derived): learning_rate

Args as in configs/studies (None, 'reduced', 'demo', 'smoke'): the base trial config is
configs/workloads/fashion_mnist_simple_cnn.py's with the arg and schedule 'linear_decay';
num_trials 32 (the initial study's) for None and 'reduced', 2 for 'demo', 4 for 'smoke'
(configs/studies/common.study); seed 0. More trials: --config.num_trials=N.
The initial study's base trial config differs from the workload config with arg 'reduced', as it
is now, in (initial → now; not pinned here):
  dataset.data_dir: 'workdirs/modern/tfds' → None
"""
# Written by `optcompare refine`; a rerun of refine may overwrite this file.
from configs.studies import common
from configs.workloads import fashion_mnist_simple_cnn as workload

SCHEDULE = 'linear_decay'
NUM_TRIALS = 32
SEED = 0
SEARCH_SPACES = {
    'sgd': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.0707, 'max': 0.781},
    },
    'momentum': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 0.731},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.00311, 'max': 0.628},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.0027},
    },
    'nesterov': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.00132, 'max': 0.577},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
    },
    'rmsprop': {
        'decay_factor': {'scale': 'log', 'min': 0.00136, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.397, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-09, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_sqrt_epsilon', 'power': 0.5, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_sqrt_epsilon': {'scale': 'log', 'min': 0.000149, 'max': 1.0},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00216},
        'rho': {'scale': 'one_minus_log', 'min': 1 - 0.655, 'max': 1 - 0.00111},
    },
    'adam': {
        'beta1': {'scale': 'one_minus_log', 'min': 1 - 0.752, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.00143, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.528, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-05, 'max': 2650.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.0282, 'max': 343.0},
    },
    'nadam': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.000212},
        'beta2': {'scale': 'one_minus_log', 'min': 1 - 0.0454, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.00233, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-05, 'max': 3320.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.181, 'max': 100.0},
    },
    'lion': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00117},
        'beta2': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 1.33e-05},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.000146, 'max': 0.0163},
        'weight_decay': {'scale': 'fixed', 'value': 0.0},
    },
    'muon': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.000221},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.389, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-10, 'max': 0.01},
        'learning_rate': {'scale': 'log', 'min': 0.000696, 'max': 0.128},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00132},
    },
    'sfadamw': {
        'beta1': {'scale': 'one_minus_log', 'min': 1 - 0.5, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 1 - 0.0157, 'max': 0.9999999},
        'decay_factor': {'scale': 'fixed', 'value': 1.0},
        'decay_steps_fraction': {'scale': 'fixed', 'value': 1.0},
        'epsilon': {'scale': 'log', 'min': 1.15e-05, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.0804, 'max': 380.0},
        'weight_decay': {'scale': 'fixed', 'value': 0.0},
    },
    'adopt': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00149},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.412, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 3.13e-05, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.056, 'max': 97.4},
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
