"""war_and_peace_lstm: search spaces refined from an initial study by `optcompare refine`.

Provenance
  initial study workdirs/modern/war_and_peace_initial (16 trials per optimizer, seed 0, schedule
                linear_decay)
  date          2026-12-05
  command       optcompare refine --workdir=workdirs/modern/war_and_peace_initial
                --out=workdirs/modern/war_and_peace_final_spaces.py --top=0.25 --margin=0.25
  top           0.25: the best ceil(0.25 n) of each optimizer's n completed trials by validation
                loss (at least 2)
  margin        0.25 of the top trials' span on each side, at least 0.1 of the initial width in
                all, on the search scale (log10 x, x, log10(1 − x)); clipped at the initial
                bounds (past one only where the boundary check flags a top trial at it) and at
                natural limits; bounds rounded outward to 3 significant digits
  contain       (none)

Ranges of x, initial → refined (width: refined / initial, on the search scale)
  sgd: top 4 of 16 completed trials; best sgd/8 (validation loss 2.323)
    decay_factor (log) [0.001, 1] → [0.00253, 1], width 0.87
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.01, 30] → [1.97, 21.8], width 0.30
  momentum: top 4 of 16 completed trials; best momentum/7 (validation loss 2.081)
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    learning_rate (log) [0.001, 3] → [0.131, 2.35], width 0.36
    momentum (one_minus_log) [0, 1 − 0.001] → [0.636, 1 − 0.00183], width 0.77
  nesterov: top 4 of 16 completed trials; best nesterov/13 (validation loss 2.044)
    decay_factor (log) [0.001, 1] → [0.00568, 1], width 0.75
    decay_steps_fraction (linear) [0.5, 1] → [0.61, 1], width 0.78
    learning_rate (log) [0.001, 3] → [0.0756, 5.71], width 0.54
      grown past the initial max (a top trial at that bound)
    momentum (one_minus_log) [0, 1 − 0.001] → [0.765, 1 − 0.00275], width 0.64
  rmsprop: top 4 of 16 completed trials; best rmsprop/10 (validation loss 2.488)
    decay_factor (log) [0.001, 1] → [0.0388, 0.519], width 0.38
    decay_steps_fraction (linear) [0.5, 1] → [0.598, 0.96], width 0.72
    epsilon (log) [1e-09, 100] → [4.1e-07, 100], width 0.76
    learning_rate_over_sqrt_epsilon (log) [0.0001, 1] → [0.000288, 4.21], width 1.04
      grown past the initial max (a top trial at that bound)
    momentum (one_minus_log) [0, 1 − 0.001] → [0.693, 1 − 0.003], width 0.67
    rho (one_minus_log) [0, 1 − 0.0001] → [0, 1 − 0.00848], width 0.52
    unchanged (fixed, choice, derived): learning_rate
  adam: top 4 of 16 completed trials; best adam/7 (validation loss 2.133)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 2.77e-05], width 0.59
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 0.902], width 0.80
    epsilon (log) [1e-05, 100] → [0.0341, 100], width 0.50
    learning_rate_over_epsilon (log) [0.001, 100] → [0.796, 162], width 0.46
      grown past the initial max (a top trial at that bound)
    unchanged (fixed, choice, derived): learning_rate
  nadam: top 4 of 16 completed trials; best nadam/4 (validation loss 3.116)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9663, 1 − 1e-07], width 0.92
    decay_factor (log) [0.001, 1] → [0.00434, 0.12], width 0.48
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
    epsilon (log) [1e-05, 100] → [1e-05, 100], width 1.00
    learning_rate_over_epsilon (log) [0.001, 100] → [0.773, 100], width 0.42
    unchanged (fixed, choice, derived): learning_rate
  lion: top 4 of 16 completed trials; best lion/1 (validation loss 1.893)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00117], width 0.98
    beta2 (one_minus_log) [0, 1 − 0.0001] → [0, 1 − 0.0001], width 1.00
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.617, 1], width 0.77
    learning_rate (log) [1e-05, 1] → [0.00219, 1], width 0.53
    unchanged (fixed, choice, derived): weight_decay
  muon: top 4 of 16 completed trials; best muon/12 (validation loss 1.827)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 3.89e-09], width 1.24
      grown past the initial max (a top trial at that bound)
    decay_factor (log) [0.001, 1] → [0.00126, 0.183], width 0.72
    decay_steps_fraction (linear) [0.5, 1] → [0.621, 1], width 0.76
    epsilon (log) [1e-10, 0.01] → [1e-10, 9.76e-06], width 0.62
    learning_rate (log) [0.0001, 10] → [0.00234, 0.126], width 0.35
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00132], width 0.96
  sfadamw: top 4 of 16 completed trials; best sfadamw/9 (validation loss 2.21)
    beta1 (one_minus_log) [0.5, 1 − 0.001] → [0.818, 1 − 0.001], width 0.84
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9, 1 − 5.63e-06], width 0.71
    epsilon (log) [1e-05, 100] → [0.00421, 66.8], width 0.60
    learning_rate_over_epsilon (log) [0.001, 100] → [4.36, 73.3], width 0.25
    unchanged (fixed, choice, derived): decay_factor, decay_steps_fraction, learning_rate,
    weight_decay
  adopt: top 4 of 16 completed trials; best adopt/13 (validation loss 2.136)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0.686, 1 − 0.001], width 0.83
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [1 − 0.00129, 1 − 1e-07], width 0.69
    decay_factor (log) [0.001, 1] → [0.001, 1], width 1.00
    decay_steps_fraction (linear) [0.5, 1] → [0.506, 1], width 0.99
    epsilon (log) [1e-05, 100] → [9.39e-05, 1.38], width 0.60
    learning_rate_over_epsilon (log) [0.001, 100] → [3.06, 43.8], width 0.23
    unchanged (fixed, choice, derived): learning_rate

Args as in configs/studies (None, 'reduced', 'demo', 'smoke'): the base trial config is
configs/workloads/war_and_peace_lstm.py's with the arg and schedule 'linear_decay'; num_trials
16 (the initial study's) for None and 'reduced', 2 for 'demo', 4 for 'smoke'
(configs/studies/common.study); seed 0. More trials: --config.num_trials=N.
The initial study's base trial config differs from the workload config with arg 'reduced', as it
is now, in (initial → now; not pinned here):
  dataset.data_dir: 'workdirs/modern/tfds' → None
"""
# Written by `optcompare refine`; a rerun of refine may overwrite this file.
from configs.studies import common
from configs.workloads import war_and_peace_lstm as workload

SCHEDULE = 'linear_decay'
NUM_TRIALS = 16
SEED = 0
SEARCH_SPACES = {
    'sgd': {
        'decay_factor': {'scale': 'log', 'min': 0.00253, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 1.97, 'max': 21.8},
    },
    'momentum': {
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.131, 'max': 2.35},
        'momentum': {'scale': 'one_minus_log', 'min': 1 - 0.364, 'max': 1 - 0.00183},
    },
    'nesterov': {
        'decay_factor': {'scale': 'log', 'min': 0.00568, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.61, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.0756, 'max': 5.71},
        'momentum': {'scale': 'one_minus_log', 'min': 1 - 0.235, 'max': 1 - 0.00275},
    },
    'rmsprop': {
        'decay_factor': {'scale': 'log', 'min': 0.0388, 'max': 0.519},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.598, 'max': 0.96},
        'epsilon': {'scale': 'log', 'min': 4.1e-07, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_sqrt_epsilon', 'power': 0.5, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_sqrt_epsilon': {'scale': 'log', 'min': 0.000288, 'max': 4.21},
        'momentum': {'scale': 'one_minus_log', 'min': 1 - 0.307, 'max': 1 - 0.003},
        'rho': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00848},
    },
    'adam': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 1 - 2.77e-05},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 0.902},
        'epsilon': {'scale': 'log', 'min': 0.0341, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.796, 'max': 162.0},
    },
    'nadam': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 1 - 0.0337, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.00434, 'max': 0.12},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-05, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 0.773, 'max': 100.0},
    },
    'lion': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00117},
        'beta2': {'scale': 'one_minus_log', 'min': 0.0, 'max': 0.9999},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.617, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.00219, 'max': 1.0},
        'weight_decay': {'scale': 'fixed', 'value': 0.0},
    },
    'muon': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 1 - 3.89e-09},
        'decay_factor': {'scale': 'log', 'min': 0.00126, 'max': 0.183},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.621, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-10, 'max': 9.76e-06},
        'learning_rate': {'scale': 'log', 'min': 0.00234, 'max': 0.126},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00132},
    },
    'sfadamw': {
        'beta1': {'scale': 'one_minus_log', 'min': 1 - 0.182, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 0.9, 'max': 1 - 5.63e-06},
        'decay_factor': {'scale': 'fixed', 'value': 1.0},
        'decay_steps_fraction': {'scale': 'fixed', 'value': 1.0},
        'epsilon': {'scale': 'log', 'min': 0.00421, 'max': 66.8},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 4.36, 'max': 73.3},
        'weight_decay': {'scale': 'fixed', 'value': 0.0},
    },
    'adopt': {
        'beta1': {'scale': 'one_minus_log', 'min': 1 - 0.314, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 1 - 0.00129, 'max': 0.9999999},
        'decay_factor': {'scale': 'log', 'min': 0.001, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.506, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 9.39e-05, 'max': 1.38},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 3.06, 'max': 43.8},
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
