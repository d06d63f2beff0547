"""Analysis of a study directory: loading, bootstrap, diagnostics, figures, report.

Reads files only (study.json, trial directories, or a committed trials.csv); it never imports
the training code. Entry points:

  load_study(dir)            a row per trial: trial_id, optimizer, index, status, hp.*,
                             final.<split>.<metric>, steps_to_target
  load_curves(dir, ids)      metrics.jsonl rows, long format
  bootstrap_best(df, metric, num_trials, select=)   best-of-K medians and 5/95% percentiles,
                             trials chosen by `select` (default the validation metric)
  settling_k(boot, tolerance)              smallest K > 1 after which the median settles
                                           (two further doublings unchanged)
  budget_bootstrap(curves, df, metric, ks) best-of-K as if the budget ended at each step
  target_bootstrap(curves, df, metric, ks, targets)   best-of-K steps to each target
  prob_a_beats_b(df, metric, a, b, ks)     P(A's best-of-K beats B's)
  boundary_warnings(df, spaces, metric)    top trials near a search bound
  inclusion_check(boot)                    SGD ⊆ Momentum ⊆ ... held / violated / inconclusive
                                           (analysis/verdicts.py: the rule, its look)
  best_trial_containment(df, ...)          is a study's best trial inside another's space?
  analyze(workdir, out, compare, select=)  figures + report.md + trials.csv (+ curves.csv)
  summary(workdir)                         a few lines for the end of a sweep
"""
from optcompare.analysis.bootstrap import bootstrap_best
from optcompare.analysis.bootstrap import k_values
from optcompare.analysis.bootstrap import prob_a_beats_b
from optcompare.analysis.bootstrap import settling_k
from optcompare.analysis.containment import best_trial_containment
from optcompare.analysis.diagnostics import boundary_warnings
from optcompare.analysis.diagnostics import BoundaryWarning
from optcompare.analysis.diagnostics import INCLUSIONS
from optcompare.analysis.diagnostics import inclusion_check
from optcompare.analysis.diagnostics import InclusionResult
from optcompare.analysis.load import load_curves
from optcompare.analysis.load import load_study
from optcompare.analysis.load import load_table
from optcompare.analysis.load import read_manifest
from optcompare.analysis.load import StudyFileWarning
from optcompare.analysis.report import analyze
from optcompare.analysis.report import summary
from optcompare.analysis.robustness import budget_bootstrap
from optcompare.analysis.robustness import target_bootstrap

__all__ = [
    "analyze", "best_trial_containment", "bootstrap_best", "boundary_warnings",
    "BoundaryWarning", "budget_bootstrap", "INCLUSIONS", "inclusion_check", "InclusionResult",
    "k_values", "load_curves", "load_study", "load_table", "prob_a_beats_b", "read_manifest",
    "settling_k", "StudyFileWarning", "summary", "target_bootstrap",
]
