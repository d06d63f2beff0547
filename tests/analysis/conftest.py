"""Fixtures for the analysis tests: synthetic study directories laid out per DESIGN.md §4.

study.json (optcompare.study.manifest_of a real study config) and
trials/<optimizer>/<index>/{config.json, metrics.jsonl, result.json} (result.json through
studydir.write_result), written by optcompare.analysis.synthetic with made-up numbers
(test_analysis_load.py checks the layout file by file, and that the sweep would accept it).
"""
import pytest

from optcompare.analysis import synthetic


@pytest.fixture
def make_study(tmp_path):
  """Factory: make_study(name="study", **kw) -> path of a fresh synthetic study directory.
  Keyword arguments go to synthetic.write_synthetic_study (optimizers, num_trials, seed,
  num_train_steps, noise, curves, target_value, train_eval, test_every)."""
  def make(name="study", **kw):
    return synthetic.write_synthetic_study(tmp_path / name, **kw)
  return make


@pytest.fixture
def study_dir(make_study):
  """Three optimizers (sgd, momentum, adam) x 8 trials, 100 steps, curves included."""
  return make_study("study", optimizers=("sgd", "momentum", "adam"), num_trials=8)
