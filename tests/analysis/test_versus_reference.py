"""analysis/versus_reference.py: optimizers outside the paper's six against Adam and Nesterov."""
import math

import pandas as pd
import pytest

from optcompare.analysis import versus_reference as vr


def _boot(bands: dict, n: int = 16, k: int = 16) -> pd.DataFrame:
  """A bootstrap table at K = 1 and `k`: {optimizer: (p5, median, p95) at k}."""
  rows = []
  for opt, (lo, mid, hi) in bands.items():
    rows.append({"optimizer": opt, "K": 1, "validation_p5": lo - 0.05, "validation_median": mid,
                 "validation_p95": hi + 0.05, "n_finished": n})
    rows.append({"optimizer": opt, "K": k, "validation_p5": lo, "validation_median": mid,
                 "validation_p95": hi, "n_finished": n})
  return pd.DataFrame(rows)


@pytest.mark.parametrize("band, want", [
    ((0.100, 0.105, 0.109), vr.BETTER),       # its 95th below adam's 5th (0.110)
    ((0.131, 0.135, 0.140), vr.WORSE),        # its 5th above adam's 95th (0.130)
    ((0.105, 0.115, 0.125), vr.OVERLAPPING),
    ((0.109, 0.111, 0.110 + 1e-12), vr.OVERLAPPING),  # touching is not separated
])
def test_verdicts_follow_the_bands(band, want):
  boot = _boot({"adam": (0.110, 0.120, 0.130), "lion": band})
  [c] = vr.compare(boot, ["adam", "lion"], {})
  assert (c.optimizer, c.reference, c.k, c.verdict) == ("lion", "adam", 16, want)
  assert c.noise == "—"  # no seed re-runs


def test_too_few_trials_or_small_k_say_so():
  bands = {"adam": (0.11, 0.12, 0.13), "lion": (0.01, 0.02, 0.03)}
  assert vr.compare(_boot(bands, n=7), ["adam", "lion"], {})[0].verdict == vr.TOO_FEW
  assert vr.compare(_boot(bands, n=16, k=4), ["adam", "lion"], {})[0].verdict == vr.TOO_FEW
  assert vr.verdict((math.nan,) * 3, (0.1, 0.2, 0.3), 16, 16, 16) == vr.TOO_FEW


def test_every_outsider_meets_each_reference_with_seed_noise():
  boot = _boot({"sgd": (0.2, 0.21, 0.22), "nesterov": (0.11, 0.12, 0.13),
                "adam": (0.115, 0.125, 0.135), "muon": (0.10, 0.105, 0.108),
                "mine": (0.12, 0.121, 0.124)})
  noise = {"adam": 0.004, "nesterov": 0.002, "muon": 0.001}
  rows = vr.compare(boot, ["sgd", "nesterov", "adam", "muon", "mine"], noise)
  assert [(c.optimizer, c.reference) for c in rows] == [
      ("muon", "adam"), ("muon", "nesterov"), ("mine", "adam"), ("mine", "nesterov")]
  assert rows[0].noise == "beyond (Δ 0.02, std 0.004)"
  assert rows[3].noise == "within (Δ 0.001, std 0.002)"  # mine has no re-runs: nesterov's
  text = vr.section_text(boot, ["sgd", "nesterov", "adam", "muon", "mine"], noise, "error")
  assert "| muon | adam | 16 | 0.105 [0.1, 0.108] | 0.125 [0.115, 0.135] | 🟩 better |" in text
  assert "seed re-runs" in text and "no seed re-runs" not in text


def test_no_section_without_an_outsider_or_a_reference():
  six = {o: (0.1, 0.11, 0.12) for o in vr.PAPER_SIX}
  assert vr.section_text(_boot(six), list(six), {}, "error") is None
  only = {"sgd": (0.1, 0.11, 0.12), "lion": (0.1, 0.11, 0.12)}
  assert vr.section_text(_boot(only), list(only), {}, "error") is None
