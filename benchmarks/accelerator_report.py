"""The accelerator check's report: a JSON file and a markdown table of the same numbers."""
from __future__ import annotations

import json
import os
import re


def _fmt(x) -> str:
  if isinstance(x, bool):
    return "yes" if x else "no"
  if isinstance(x, float):
    return f"{x:.3g}"
  return str(x)


def _table(rows: list[dict], columns: list[str]) -> list[str]:
  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  for r in rows:
    lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |")
  return lines


def markdown(report: dict) -> str:
  env = report["environment"]
  out = [f"# Accelerator check: {env['device']} ({env['platform']}, {env['devices']} "
         f"device(s)), jax {env['jax']}, {env['date']}", "",
         f"Load average at the start: {', '.join(f'{x:.2f}' for x in env['load_average'])}.",
         "", "## (a) Equality", ""]
  out += _table(report["equality"], ["check", "ok", "bit_equal", "params_rel_diff",
                                     "one_ulp_spread", "loss_sums_rel_diff", "loss_rel_diff",
                                     "params_rel_diff_1", "loss_rel_diff_1",
                                     "params_rel_diff_10", "rel_diff"])
  if "step_time" in report:
    out += ["", "## (b) Full Simple CNN: time per trial-step", ""]
    out += _table(report["step_time"], ["k", "formulation", "precision", "ms_per_trial_step",
                                        "tflops", "skipped", "error"])
  if "grads_bit_equal" in report.get("pooling", {}):
    p = report["pooling"]
    rows = [{"pooling": n, **p[n]} for n in ("reduce_window", "max_pool_2x2")]
    out += ["", "## (f) Max pooling: one full Simple CNN training step (K = 1)", ""]
    out += _table(rows, ["pooling", "gflop", "gb_accessed", "ms_per_step"])
    out += ["", f"Gradients bit-equal: {_fmt(p['grads_bit_equal'])}; bytes "
            f"{p['bytes_ratio']:.2f}x, max_pool_2x2 {p['speedup']:.2f}x faster."]
  for part in ("whole_trials", "study", "pooling"):
    if "error" in report.get(part, {}):
      out += ["", f"## {part}: stopped by {report[part]['error']}"]
  if "trial_steps" in report.get("whole_trials", {}):
    w = report["whole_trials"]
    out += ["", f"## (c, d) Whole trials of {w['trial_steps']} steps", ""]
    out += _table([w], ["unpacked_trials_per_s", "packed_k", "packed_trials_per_s",
                        "packed_over_unpacked", "unpacked_overhead_share"])
  if "seed_std_validation_error" in report.get("study", {}):
    s = report["study"]
    rows = [{"precision": p, **v} for p, v in s.items() if isinstance(v, dict)]
    out += ["", "## (e) Reduced study against the committed CPU study (final validation "
            f"error; seed std {s['seed_std_validation_error']:.4f})", ""]
    out += _table(rows, ["precision", "vs", "trials", "median_abs_delta", "max_abs_delta",
                         "median_in_seed_std"])
  return "\n".join(out) + "\n"


def write(report: dict, directory: str) -> list[str]:
  """benchmarks/results/accelerator-<device>-<date>.{json,md}; returns the two paths."""
  env = report["environment"]
  name = re.sub(r"[^A-Za-z0-9]+", "-", env["device"]).strip("-").lower()
  stem = os.path.join(directory, f"accelerator-{name}-{env['date']}")
  os.makedirs(directory, exist_ok=True)
  with open(stem + ".json", "w", encoding="utf-8") as f:
    json.dump(report, f, indent=2)
  with open(stem + ".md", "w", encoding="utf-8") as f:
    f.write(markdown(report))
  return [stem + ".json", stem + ".md"]
