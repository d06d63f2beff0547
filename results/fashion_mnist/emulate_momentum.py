"""Do Adam and RMSProp, at points of their choi2019 search spaces, match Momentum's best trial?

The inclusion Momentum ⊆ Adam/RMSProp (DESIGN.md §1) says a setting of the general optimizer
behaves like a given Momentum setting (η, γ):
- Adam with ε ≫ √v: the step is (α/ε) b m with m = (1−β1) v_momentum, so β1 = γ and
  α/ε = η / (1−γ); b = √(1−β2^{t+1}) / (1−β1^{t+1}) → 1 after a few dozen steps for
  β2 = 0.9 (the smallest β2 searched), so only the first steps differ (Adam's bias correction
  makes them larger than Momentum's, whose v starts at 0).
- RMSProp with ε ≫ v and ρ = 0 (v = g², tiny): m ← γ m + (η_rms/√ε) g, so η_rms/√ε = η.
Both use ε = 100, the top of the searched ε ranges, the same schedule (λ, decay fraction) and
the same seed as the Momentum trial. The script trains the Momentum trial again and the two
emulations, says whether each emulating point lies inside the study's search space, and
prints a Markdown table.

  python results/fashion_mnist/emulate_momentum.py --study=results/fashion_mnist/choi2019 \
    --data_dir=workdirs/tfds --workdir=workdirs/emulate
"""
import argparse
import json
import math
import os

EPSILON = 100.0


def settings(momentum_hp: dict) -> dict[str, dict[str, float]]:
  """optimizer -> hyperparameters (and schedule) emulating Momentum's trial `momentum_hp`."""
  eta, gamma = momentum_hp["learning_rate"], momentum_hp["momentum"]
  schedule = {k: momentum_hp[k] for k in ("decay_factor", "decay_steps_fraction")}
  return {
      "momentum": {"learning_rate": eta, "momentum": gamma, **schedule},
      "adam": {"learning_rate": EPSILON * eta / (1 - gamma), "epsilon": EPSILON,
               "beta1": gamma, "beta2": 0.9, **schedule},
      "rmsprop": {"learning_rate": eta * math.sqrt(EPSILON), "epsilon": EPSILON,
                  "momentum": gamma, "rho": 0.0, **schedule},
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--study", required=True, help="study.json + trials.csv of choi2019")
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--workdir", required=True)
  args = parser.parse_args()

  from optcompare import train  # pylint: disable=g-import-not-at-top  (imports JAX)
  from optcompare.analysis import containment, diagnostics, load
  from optcompare.search import spaces as spaces_lib

  manifest = load.read_manifest(args.study)
  df = load.load_table(args.study)
  best = diagnostics.best_trials(df, "momentum", "error", 1).iloc[0]
  momentum_hp = {k: float(best[f"hp.{k}"]) for k in
                 ("learning_rate", "momentum", "decay_factor", "decay_steps_fraction")}
  base = dict(manifest["config"]["base"])
  base["dataset"] = dict(base["dataset"], data_dir=os.path.abspath(args.data_dir))
  schedule = base["optimizer"]["schedule"]["name"]
  rows = []
  for name, hp in settings(momentum_hp).items():
    inside, reasons = containment.contains(manifest["config"]["search_spaces"][name], schedule,
                                           hp)
    config = spaces_lib.build_trial_config(base, name, hp)
    result = train.train_and_evaluate(config, os.path.join(args.workdir, name))
    final = result["final"]
    rows.append((name, ", ".join(f"{k}={v:.4g}" for k, v in sorted(hp.items())),
                 "yes" if inside else f"no ({'; '.join(reasons)})",
                 final["validation"]["error"], final["test"]["error"]))
  print(f"Momentum's best trial: {best['trial_id']} "
        f"(study validation error {float(best['final.validation.error']):.4g})\n")
  print("| optimizer | settings | inside the study's space | validation error | test error |")
  print("|---|---|---|---|---|")
  for name, hp, inside, val, test in rows:
    print(f"| {name} | {hp} | {inside} | {val:.4g} | {test:.4g} |")
  with open(os.path.join(args.workdir, "emulation.json"), "w", encoding="utf-8") as f:
    json.dump(rows, f, indent=1)


if __name__ == "__main__":
  main()
