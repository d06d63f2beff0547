"""Seed noise beside rankings and verdicts (analysis/seed_noise.py), on hand-made numbers."""
import math

import pandas as pd

from optcompare.analysis import diagnostics, seed_noise


def _reruns(values: dict[str, list[float]]) -> pd.DataFrame:
  """Re-run rows: per optimizer, its best trial (`<opt>/0`) and re-runs with these errors."""
  return pd.DataFrame([
      {"trial_id": f"{opt}/0" if i == 0 else f"{opt}/0s{i}", "optimizer": opt, "of": f"{opt}/0",
       "seed": i, "status": "completed", "final.validation.error": v, "final.test.error": v}
      for opt, vs in values.items() for i, v in enumerate(vs)])


def test_stds_are_the_sample_std_of_each_optimizers_reruns():
  noise = seed_noise.stds(_reruns({"adam": [0.10, 0.12, 0.14], "sgd": [0.2]}), "error")
  assert set(noise) == {"adam"}  # one run has no spread
  assert math.isclose(noise["adam"], 0.02)


def test_versus_compares_a_difference_with_the_larger_std():
  noise = {"adam": 0.002, "sgd": 0.004}
  assert seed_noise.versus(0.003, "adam", "sgd", noise) == "within (Δ 0.003, std 0.004)"
  assert seed_noise.versus(-0.005, "adam", "sgd", noise) == "beyond (Δ 0.005, std 0.004)"
  assert seed_noise.versus(0.001, "nadam", "momentum", noise) == "—"


def test_inclusion_cells_use_the_best_of_k_medians():
  pair = diagnostics.InclusionResult("momentum", "sgd", 8, "held", (0.1, 0.13, 0.2),
                                     (0.12, 0.14, 0.2), "")
  assert seed_noise.inclusion_cells([pair], {"sgd": 0.02}) == ["within (Δ 0.01, std 0.02)"]
  assert seed_noise.inclusion_cells([pair], {"sgd": 0.005}) == ["beyond (Δ 0.01, std 0.005)"]


def test_ranking_note_names_neighbouring_ranks_within_noise():
  ranked = pd.DataFrame({"optimizer": ["adam", "nadam", "sgd"], "rank": [1, 2, 3],
                         "value": [0.130, 0.131, 0.150], "p95": [0.2, 0.2, 0.2]})
  note = seed_noise.ranking_note(ranked, {"adam": 0.002, "nadam": 0.001, "sgd": 0.003}, "A")
  assert note == ("A: neighbouring ranks within seed noise (their order could flip with the "
                  "seed): adam (1) and nadam (2): within (Δ 0.001, std 0.002).")
  assert "more than seed noise" in seed_noise.ranking_note(ranked, {"adam": 1e-4}, "A")
  assert seed_noise.ranking_note(ranked, {}, "A") is None
