"""war_and_peace_lstm: search spaces refined from an initial study by `optcompare refine`.

Written with --force: refine would have refused this initial study (too few completed trials to
refine from (16 per optimizer needed): sgd 8, momentum 8, nesterov 8, rmsprop 8, adam 8, nadam
8). These ranges rest on too few trials, or on trials that did not train: treat them as
provisional, and refine again from a study with enough trained trials.

Provenance
  initial study results/war_and_peace/choi2019 (8 trials per optimizer, seed 0, schedule
                linear_decay)
  date          2026-12-05
  command       optcompare refine --workdir=results/war_and_peace/choi2019
                --out=configs/studies/choi2019/war_and_peace_lstm_final.py --top=0.25
                --margin=0.25 --contain=results/war_and_peace/wilson2017 --force
  top           0.25: the best ceil(0.25 n) of each optimizer's n completed trials by validation
                loss (at least 2)
  margin        0.25 of the top trials' span on each side, at least 0.1 of the initial width in
                all, on the search scale (log10 x, x, log10(1 − x)); clipped at the initial
                bounds (past one only where the boundary check flags a top trial at it) and at
                natural limits; bounds rounded outward to 3 significant digits
  contain       results/war_and_peace/wilson2017

Ranges of x, initial → refined (width: refined / initial, on the search scale)
  sgd: top 2 of 8 completed trials; best sgd/0 (validation loss 2.405)
    decay_factor (log) [0.001, 1] → [0.00147, 1], width 0.94
    decay_steps_fraction (linear) [0.5, 1] → [0.67, 1], width 0.66
      widened to hold results/war_and_peace/wilson2017 sgd/14
    learning_rate (log) [0.01, 30] → [3.73, 30], width 0.26
  momentum: top 2 of 8 completed trials; best momentum/7 (validation loss 2.081)
    decay_factor (log) [0.001, 1] → [0.00297, 1], width 0.84
    decay_steps_fraction (linear) [0.5, 1] → [0.707, 1], width 0.59
    learning_rate (log) [0.001, 3] → [0.829, 2.64], width 0.14
      widened to hold results/war_and_peace/wilson2017 momentum/7
    momentum (one_minus_log) [0, 1 − 0.001] → [0.778, 0.9784], width 0.34
  nesterov: top 2 of 8 completed trials; best nesterov/1 (validation loss 2.397)
    decay_factor (log) [0.001, 1] → [0.0286, 1], width 0.51
    decay_steps_fraction (linear) [0.5, 1] → [0.818, 1], width 0.36
      widened to hold results/war_and_peace/wilson2017 nesterov/1
    learning_rate (log) [0.001, 3] → [0.0887, 2.03], width 0.39
      widened to hold results/war_and_peace/wilson2017 nesterov/1
    momentum (one_minus_log) [0, 1 − 0.001] → [0.876, 0.9883], width 0.34
      widened to hold results/war_and_peace/wilson2017 nesterov/1
  rmsprop: top 2 of 8 completed trials; best rmsprop/6 (validation loss 2.858)
    decay_factor (log) [0.001, 1] → [0.00361, 0.177], width 0.56
    decay_steps_fraction (linear) [0.5, 1] → [0.593, 1], width 0.81
      widened to hold results/war_and_peace/wilson2017 rmsprop/2
    epsilon (log) [1e-09, 100] → [1.7e-11, 0.00483], width 0.77
      widened to hold results/war_and_peace/wilson2017 rmsprop/2
    learning_rate_over_sqrt_epsilon (log) [0.0001, 1] → [0.0302, 1.43e+04], width 1.42
      widened to hold results/war_and_peace/wilson2017 rmsprop/2
    momentum (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.00109], width 0.99
      widened to hold results/war_and_peace/wilson2017 rmsprop/2
    rho (one_minus_log) [0, 1 − 0.0001] → [0.898, 0.9651], width 0.12
    unchanged (fixed, choice, derived): learning_rate
  adam: top 2 of 8 completed trials; best adam/7 (validation loss 2.133)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0, 1 − 0.001], width 1.00
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [1 − 0.0068, 1 − 0.000679], width 0.17
    decay_factor (log) [0.001, 1] → [0.00224, 1], width 0.88
      widened to hold results/war_and_peace/wilson2017 adam/11
    decay_steps_fraction (linear) [0.5, 1] → [0.511, 1], width 0.98
      widened to hold results/war_and_peace/wilson2017 adam/11
    epsilon (log) [1e-05, 100] → [1.6e-09, 0.894], width 1.25
      widened to hold results/war_and_peace/wilson2017 adam/11
    learning_rate_over_epsilon (log) [0.001, 100] → [16.7, 1.79e+07], width 1.21
      widened to hold results/war_and_peace/wilson2017 adam/11
    unchanged (fixed, choice, derived): learning_rate
  nadam: top 2 of 8 completed trials; best nadam/4 (validation loss 3.116)
    beta1 (one_minus_log) [0, 1 − 0.001] → [0.845, 1 − 0.00126], width 0.70
      widened to hold results/war_and_peace/wilson2017 nadam/9
    beta2 (one_minus_log) [0.9, 1 − 1e-07] → [0.9822, 1 − 1.77e-06], width 0.67
    decay_factor (log) [0.001, 1] → [0.00128, 0.0848], width 0.61
      widened to hold results/war_and_peace/wilson2017 nadam/9
    decay_steps_fraction (linear) [0.5, 1] → [0.5, 1], width 1.00
      widened to hold results/war_and_peace/wilson2017 nadam/9
    epsilon (log) [1e-05, 100] → [1e-09, 100], width 1.57
      widened to hold results/war_and_peace/wilson2017 nadam/9
    learning_rate_over_epsilon (log) [0.001, 100] → [5.48, 1.09e+07], width 1.26
      widened to hold results/war_and_peace/wilson2017 nadam/9
    unchanged (fixed, choice, derived): learning_rate

Best trials of the --contain studies in these spaces (optcompare.analysis.containment)
  results/war_and_peace/wilson2017 sgd/14: inside
  results/war_and_peace/wilson2017 momentum/7: inside
  results/war_and_peace/wilson2017 nesterov/1: inside
  results/war_and_peace/wilson2017 rmsprop/2: inside
  results/war_and_peace/wilson2017 adam/11: inside
  results/war_and_peace/wilson2017 nadam/9: inside

Args as in configs/studies (None, 'reduced', 'demo', 'smoke'): the base trial config is
configs/workloads/war_and_peace_lstm.py's with the arg and schedule 'linear_decay'; num_trials 8
(the initial study's) for None and 'reduced', 2 for 'demo', 4 for 'smoke'
(configs/studies/common.study); seed 0. More trials: --config.num_trials=N.
The initial study's base trial config differs from the workload config with arg 'reduced', as it
is now, in (initial → now; not pinned here):
  dataset.data_dir: 'workdirs/reproduce_lstm/tfds' → None
  dataset.num_train_eval_examples: (no such field) → 3200
  eval_every_steps: 300 → 200
  precision: (no such field) → 'float32'
  steps_per_dispatch: (no such field) → 0
  test_every_steps: (no such field) → 600
"""
# Written by `optcompare refine`; a rerun of refine may overwrite this file.
from configs.studies import common
from configs.workloads import war_and_peace_lstm as workload

SCHEDULE = 'linear_decay'
NUM_TRIALS = 8
SEED = 0
SEARCH_SPACES = {
    'sgd': {
        'decay_factor': {'scale': 'log', 'min': 0.00147, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.67, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 3.73, 'max': 30.0},
    },
    'momentum': {
        'decay_factor': {'scale': 'log', 'min': 0.00297, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.707, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.829, 'max': 2.64},
        'momentum': {'scale': 'one_minus_log', 'min': 1 - 0.222, 'max': 1 - 0.0216},
    },
    'nesterov': {
        'decay_factor': {'scale': 'log', 'min': 0.0286, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.818, 'max': 1.0},
        'learning_rate': {'scale': 'log', 'min': 0.0887, 'max': 2.03},
        'momentum': {'scale': 'one_minus_log', 'min': 1 - 0.124, 'max': 1 - 0.0117},
    },
    'rmsprop': {
        'decay_factor': {'scale': 'log', 'min': 0.00361, 'max': 0.177},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.593, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1.7e-11, 'max': 0.00483},
        'learning_rate': {'of': 'learning_rate_over_sqrt_epsilon', 'power': 0.5, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_sqrt_epsilon': {'scale': 'log', 'min': 0.0302, 'max': 14300.0},
        'momentum': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.00109},
        'rho': {'scale': 'one_minus_log', 'min': 1 - 0.102, 'max': 1 - 0.0349},
    },
    'adam': {
        'beta1': {'scale': 'one_minus_log', 'min': 0.0, 'max': 1 - 0.001},
        'beta2': {'scale': 'one_minus_log', 'min': 1 - 0.0068, 'max': 1 - 0.000679},
        'decay_factor': {'scale': 'log', 'min': 0.00224, 'max': 1.0},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.511, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1.6e-09, 'max': 0.894},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 16.7, 'max': 17900000.0},
    },
    'nadam': {
        'beta1': {'scale': 'one_minus_log', 'min': 1 - 0.155, 'max': 1 - 0.00126},
        'beta2': {'scale': 'one_minus_log', 'min': 1 - 0.0178, 'max': 1 - 1.77e-06},
        'decay_factor': {'scale': 'log', 'min': 0.00128, 'max': 0.0848},
        'decay_steps_fraction': {'scale': 'linear', 'min': 0.5, 'max': 1.0},
        'epsilon': {'scale': 'log', 'min': 1e-09, 'max': 100.0},
        'learning_rate': {'of': 'learning_rate_over_epsilon', 'power': 1.0, 'scale': 'derived', 'times': 'epsilon'},
        'learning_rate_over_epsilon': {'scale': 'log', 'min': 5.48, 'max': 10900000.0},
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
