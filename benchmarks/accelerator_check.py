"""The accelerator check: is the trial loop right and fast on the device it finds?

  python benchmarks/accelerator_check.py --quick            # the equality checks, CPU, seconds
  python benchmarks/accelerator_check.py --data=FMNIST.npz  # everything, on a GPU or TPU

(a) Equality (the only part of --quick; exit 1 if one fails): device-gathered batches against
    host batches (bit-equal), K = 1 steps as one scan against one step per dispatch, a pack
    (im2col convolutions, vmapped) against the same trials unpacked (direct convolutions),
    device evaluation against host evaluation. --quick uses the smoke Simple CNN (synthetic),
    the full run the reduced one on the real data of --data.
(b) Per-trial-step time and TFLOP/s of the full Simple CNN (batch 256, Adam) at K = --ks,
    steps on device-resident data in one scan per dispatch; and the grouped (direct, vmapped)
    formulation beside im2col at --compare_k. FLOPs: 3x the forward pass's multiply-adds x 2
    (the usual training estimate), counted from the layer shapes.
(c) Trials/s of whole trials (train_and_evaluate / train_pack, evaluation and checkpoints
    included) of the full Simple CNN with --trial_steps steps (the paper's cadence: evaluation
    every 500, a checkpoint every 1000), unpacked and packed at the best K of (b).
(d) The unpacked overhead: the share of an unpacked trial's wall time outside its steps.
(e) The reduced choi2019 study's first --study_trials trials per optimizer (the committed CPU
    study, results/fashion_mnist/choi2019_final) at each precision: final validation error
    against the committed CPU values, in units of the committed seed noise.
(f) Max pooling: one full Simple CNN training step with nnx.max_pool (reduce_window) and
    with max_pool_2x2 (what the models use): gradients bit-equal?, bytes accessed, time
    (benchmarks/pooling.py).
Writes benchmarks/results/accelerator-<device>-<date>.json and .md (--out). Parts after (a) stop
when --budget_s is spent (recorded as skipped). Timings are medians of --reps dispatches.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile
import time

from absl import app, flags
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from configs.workloads import fashion_mnist_simple_cnn
from optcompare import feeds, loop, packed, studydir, train, update
from benchmarks import accelerator_report, pooling

_QUICK = flags.DEFINE_bool("quick", False, "Only the equality checks, on the smoke workload.")
_DATA = flags.DEFINE_string("data", None, "Fashion-MNIST arrays (.npz, export_npz.py).")
_OUT = flags.DEFINE_string("out", None, "Where the JSON and markdown go (default: "
                           "benchmarks/results; --quick writes none unless given).")
_KS = flags.DEFINE_list("ks", ["1", "8", "32", "128", "512"], "Pack sizes of (b).")
_COMPARE_K = flags.DEFINE_integer("compare_k", 32, "K at which (b) also times grouped convs.")
_STEPS = flags.DEFINE_integer("steps", 50, "Steps per timed dispatch in (b).")
_REPS = flags.DEFINE_integer("reps", 3, "Timed dispatches per measurement.")
_TRIAL_STEPS = flags.DEFINE_integer("trial_steps", 1000, "Steps of a trial in (c) and (d).")
_STUDY_TRIALS = flags.DEFINE_integer("study_trials", 8, "Trials per optimizer in (e).")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "tf32", "bfloat16"], "(e)'s.")
_PRECISION_OPTIMIZERS = flags.DEFINE_list(
    "precision_optimizers", ["adam", "nesterov"],
    "(e): the optimizers run at the precisions other than float32 (each costs a compile).")
_BUDGET = flags.DEFINE_float("budget_s", 480, "Seconds for parts (b)-(e).")
_EXTRA = flags.DEFINE_list("extra_precisions", ["tf32", "bfloat16"],
                           "(b): precisions also timed at K = 1 and the best K.")
_EQUALITY = flags.DEFINE_bool("equality", True, "Run (a) (always with --quick).")

STUDY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results",
                     "fashion_mnist", "choi2019_final")


def trial(variant: str | None, *, lr: float = 1e-3, seed: int = 0, optimizer: str = "adam"):
  """A Simple CNN trial config (variant: None full, 'reduced', 'smoke'), Adam unless SGD."""
  c = fashion_mnist_simple_cnn.get_config(variant).copy_and_resolve_references()
  if _DATA.value and variant != "smoke":
    c.dataset.data_dir = _DATA.value
  elif variant != "smoke":
    c.dataset.synthetic = True
    c.dataset.num_synthetic_examples = 16 * c.batch_size
    c.dataset.num_validation_examples = 2000
    c.dataset.num_train_eval_examples = 0
  c.optimizer.name = optimizer
  if optimizer == "sgd":
    for name in ("beta1", "beta2", "epsilon"):
      c.optimizer.hparams[name] = None
  c.optimizer.hparams.learning_rate = lr
  c.seed = seed
  return c


def pack_of(configs: list, formulation: str | None = None):
  """(plan, program, shardings, device feed, host feed) of `configs` as one loop run."""
  plan = packed.plan(configs) if len(configs) > 1 else train.plan(configs)
  program, shardings = loop.program_for(plan)
  if formulation is not None:
    graphdef, eval_graphdef = update.graph_defs(program.workload, formulation)
    program = dataclasses.replace(program, graphdef=graphdef, eval_graphdef=eval_graphdef)
  splits = feeds.load_splits(program.workload, plan.num_train_eval)
  return (plan, program, shardings, feeds.make_feed(plan.workloads, splits, shardings),
          feeds.make_feed(plan.workloads, splits, shardings, device=False))


def rel_diff(a, b) -> float:
  """max over leaves of ‖a − b‖₂ / ‖b‖₂ (0 when equal)."""
  out = 0.0
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    out = max(out, float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30)))
  return out


def host_steps(program, pack, feed, start: int, stop: int):
  for s in range(start, stop):
    pack, out = loop.run_step(program, pack, feed.batch(s))
  return pack, out


def check_batches(configs) -> dict:
  """Device-gathered batches of steps 0-3 of a pack against its host batches."""
  _, program, _, dev, host = pack_of(configs)
  gather = jax.jit(lambda d, x: jax.tree.map(lambda a: a[x], d))
  got = jax.device_get(gather(dev.data, dev.chunk(0, 4)))
  want = [jax.device_get(host.batch(s)) for s in range(4)]
  equal = all(np.array_equal(got[k][s], want[s][k]) for s in range(4) for k in want[0])
  return {"check": "device batches == host batches (K=%d, 4 steps)" % len(configs),
          "bit_equal": equal, "ok": equal}


def nudged(pack: loop.PackState) -> loop.PackState:
  """`pack` with every parameter one float32 ulp up: an equally valid starting point."""
  params = jax.tree.map(lambda x: jnp.nextafter(x, jnp.inf), pack.trials.params)
  return pack.replace(trials=dataclasses.replace(pack.trials, params=params))


def check_scan(config, steps: int) -> dict:
  """K = 1: `steps` steps as one scan (device data) against one step per dispatch (host).

  Bit-equality is not expected: XLA fuses a step inside a scan differently, and a ReLU or a
  pooling window that a last-bit difference tips turns it into a gradient difference much
  larger than an ulp (on real images: ~1e-3 of a kernel after 10 steps). The yardstick is
  that arithmetic's own spread: the host run against itself from parameters nudged by one
  ulp. A wrong batch, step count or learning rate differs by orders of magnitude more (one
  batch skipped of 10 on real images: parameters 0.43 apart, 150x the spread; the steps'
  summed losses 8.6e-3, against 1.6e-6 for the scan), so both are checked."""
  plan, program, shardings, dev, host = pack_of([config])
  scanned, out_s = loop.run_steps(program, loop.init_pack(plan, program, shardings),
                                  dev.chunk(0, steps), dev.data)
  stepped, out_h = host_steps(program, loop.init_pack(plan, program, shardings), host, 0, steps)
  spread_pack, _ = host_steps(program, nudged(loop.init_pack(plan, program, shardings)), host,
                              0, steps)
  d = rel_diff(scanned.trials.params, stepped.trials.params)
  spread = rel_diff(spread_pack.trials.params, stepped.trials.params)
  losses = rel_diff(scanned.trials.train_sums, stepped.trials.train_sums)
  return {"check": f"scan of {steps} steps == {steps} dispatches (K=1)", "bit_equal": d == 0,
          "params_rel_diff": d, "one_ulp_spread": spread, "loss_sums_rel_diff": losses,
          "loss_rel_diff": rel_diff(out_s["loss"], out_h["loss"]),
          "ok": d <= max(10 * spread, 1e-6) and losses < 1e-4}


def check_pack(configs, steps: int) -> dict:
  """A pack (im2col, vmapped) against its trials unpacked (direct), after 1 and `steps`
  steps from the same initial states and batches."""
  plan, program, shardings, dev, _ = pack_of(configs)
  out = {"check": f"pack of {len(configs)} (im2col) == unpacked (direct)"}
  for n in (1, steps):
    pack, last = loop.run_steps(program, loop.init_pack(plan, program, shardings),
                                dev.chunk(0, n), dev.data)
    diffs, loss = [], []
    for i, c in enumerate(configs):
      plan1, program1, shardings1, _, host1 = pack_of([c])
      one, o1 = host_steps(program1, loop.init_pack(plan1, program1, shardings1), host1, 0, n)
      diffs.append(rel_diff(jax.tree.map(lambda x: x[i], pack.trials.params),
                            one.trials.params))
      loss.append(rel_diff(last["loss"][i], o1["loss"]))
    out[f"params_rel_diff_{n}"], out[f"loss_rel_diff_{n}"] = max(diffs), max(loss)
  out["ok"] = out["params_rel_diff_1"] < 1e-5 and out["loss_rel_diff_1"] < 1e-5
  return out


def check_eval(config) -> dict:
  """Evaluation as one device scan against the host's batch-by-batch evaluation (K = 1)."""
  plan, program, shardings, dev, host = pack_of([config])
  state = loop.init_pack(plan, program, shardings).trials
  got = loop.per_trial_means(loop.eval_stack(program, state, dev.eval_batches("validation")))
  total = None
  for batch in host.eval_batches("validation"):
    o = loop.eval_batch(program, state, batch)
    total = o if total is None else jax.tree.map(jnp.add, total, o)
  want = loop.per_trial_means(total)
  return {"check": "device evaluation == host evaluation (validation)",
          "bit_equal": got == want, "rel_diff": rel_diff(
              [got[0][k] for k in sorted(got[0])], [want[0][k] for k in sorted(want[0])]),
          "ok": rel_diff([got[0][k] for k in sorted(got[0])],
                         [want[0][k] for k in sorted(want[0])]) < 1e-5}


def equality(variant: str) -> list[dict]:
  with jax.default_matmul_precision("float32"):
    return _equality(variant)


def _equality(variant: str) -> list[dict]:
  """SGD trials: their parameters move linearly in the gradients, so a difference is the
  arithmetic's (Adam's g/(√v + ε) turns last-bit differences of near-zero gradients into
  differences of a whole learning rate, whichever computation is right)."""
  sgd = lambda **kw: trial(variant, optimizer="sgd", **kw)  # pylint: disable=unnecessary-lambda-assignment
  configs = [sgd(lr=lr, seed=s) for lr, s in ((0.05, 0), (0.1, 1), (0.02, 0), (0.08, 2))]
  return [check_batches(configs[:3]), check_batches(configs[:1]),
          check_scan(sgd(lr=0.05), 10), check_pack(configs, 10), check_eval(sgd(lr=0.05))]


def simple_cnn_flops(c) -> float:
  """Training FLOPs of one step of the Simple CNN config `c`: 3 x forward (2 per MAC)."""
  h = w = 28
  c1, c2 = c.model.conv_features
  macs = h * w * 25 * 1 * c1 + (h // 2) * (w // 2) * 25 * c1 * c2
  macs += (h // 4) * (w // 4) * c2 * c.model.dense_features + c.model.dense_features * 10
  return 3 * 2 * macs * c.batch_size


def time_pack(k: int, formulation: str | None = None, precision: str = "float32") -> dict:
  """Seconds per trial-step of K full Simple CNN Adam trials (device data, one scan)."""
  configs = [trial(None, lr=float(lr), seed=i % 4)
             for i, lr in enumerate(np.geomspace(1e-4, 1e-3, max(k, 2))[:k])]
  for c in configs:
    c.precision = precision
  with loop.precision_scope(configs[0]):
    return {"precision": precision, **_time_pack(configs, formulation)}


def _time_pack(configs: list, formulation: str | None) -> dict:
  k = len(configs)
  plan, program, shardings, dev, _ = pack_of(configs, formulation)
  pack = loop.init_pack(plan, program, shardings)
  xs = dev.chunk(0, _STEPS.value)
  pack, out = loop.run_steps(program, pack, xs, dev.data)  # compiles
  jax.block_until_ready(out)
  times = []
  for _ in range(_REPS.value):
    t0 = time.perf_counter()
    pack, out = loop.run_steps(program, pack, xs, dev.data)
    jax.block_until_ready(out)
    times.append(time.perf_counter() - t0)
  per_step = float(np.median(times)) / _STEPS.value
  flops = simple_cnn_flops(configs[0])
  return {"k": k, "formulation": formulation or ("im2col" if k > 1 else "direct"),
          "ms_per_trial_step": 1e3 * per_step / k, "tflops": flops * k / per_step / 1e12}


def throughput(budget_end: float) -> list[dict]:
  rows = []
  for k in [int(x) for x in _KS.value]:
    if time.time() > budget_end:
      rows.append({"k": k, "skipped": "budget"})
      continue
    try:
      rows.append(time_pack(k))
    except Exception as e:  # pylint: disable=broad-except  (out of device memory, reported)
      rows.append({"k": k, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"})
  timed = [r for r in rows if "ms_per_trial_step" in r]  # (b)'s float32 im2col rows
  best = min(timed, key=lambda r: r["ms_per_trial_step"])["k"] if timed else 1
  extra = [(_COMPARE_K.value, "direct", "float32")] if _COMPARE_K.value > 1 else []
  extra += [(k, None, p) for p in _EXTRA.value for k in (1, best)]
  for k, formulation, precision in extra:
    if time.time() > budget_end:
      break
    try:
      rows.append(time_pack(k, formulation, precision))
    except Exception as e:  # pylint: disable=broad-except
      rows.append({"k": k, "formulation": formulation, "precision": precision,
                   "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"})
  return rows


def whole_trials(best_k: int, step_ms: float, tmp: str) -> dict:
  """(c) and (d): trials/s of whole trials unpacked and packed; the unpacked overhead."""
  def config(i):
    c = trial(None, lr=float(1e-4 * (1 + i % 7)), seed=i % 4)
    c.num_train_steps = _TRIAL_STEPS.value
    return c
  train.train_and_evaluate(config(0), f"{tmp}/warm")  # compiles
  t0 = time.perf_counter()
  for i in range(2):
    train.train_and_evaluate(config(i + 1), f"{tmp}/u{i}")
  unpacked_wall = (time.perf_counter() - t0) / 2
  out = {"trial_steps": _TRIAL_STEPS.value, "unpacked_trials_per_s": 1 / unpacked_wall,
         "unpacked_overhead_share": 1 - _TRIAL_STEPS.value * step_ms / 1e3 / unpacked_wall}
  configs = [config(i) for i in range(best_k)]
  packed.train_pack(configs, [f"{tmp}/pw{i}" for i in range(best_k)], f"{tmp}/pw")
  t0 = time.perf_counter()
  packed.train_pack(configs, [f"{tmp}/p{i}" for i in range(best_k)], f"{tmp}/p")
  out.update(packed_k=best_k, packed_trials_per_s=best_k / (time.perf_counter() - t0))
  out["packed_over_unpacked"] = out["packed_trials_per_s"] / out["unpacked_trials_per_s"]
  return out


def study_run(manifest, precision: str, optimizers: list[str], tmp: str) -> dict:
  """{trial id: final validation error} of the study's first trials, packed per optimizer."""
  from optcompare import study
  got = {}
  for opt in optimizers:
    ids = [f"{opt}/{i}" for i in range(_STUDY_TRIALS.value)]
    configs = []
    for tid in ids:
      c = study.trial_config(manifest, tid).copy_and_resolve_references()
      c.unlock()  # the committed study.json predates the field `precision`
      c.dataset.data_dir, c.precision = _DATA.value, precision
      c.lock()
      configs.append(c)
    results = packed.train_pack(configs, [f"{tmp}/{precision}/{t}" for t in ids],
                                f"{tmp}/{precision}/pack-{opt}")
    got.update({t: r["final"].get("validation", {}).get("error") for t, r in zip(ids, results)})
  return got


def _deltas(got: dict, want: dict, seed_std: float) -> dict:
  d = [abs(v - want[t]) for t, v in got.items()
       if v is not None and want.get(t) is not None and not np.isnan(want[t])]
  return {"trials": len(d), "median_abs_delta": float(np.median(d)),
          "max_abs_delta": float(np.max(d)), "median_in_seed_std": float(np.median(d)) / seed_std}


def _rows(name: str) -> list[dict]:
  """The rows of a committed table of STUDY (csv, not pandas: GPU images lack it)."""
  with open(os.path.join(STUDY, name), newline="", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def _float(text: str) -> float:
  return float(text) if text else float("nan")


def study_agreement(tmp: str) -> dict:
  """(e): the committed reduced study's first trials at each precision, against the CPU
  study and (other precisions) against float32 on this device."""
  from optcompare import study
  manifest = study.load_manifest(STUDY)
  cpu = {r["trial_id"]: _float(r["final.validation.error"]) for r in _rows("trials.csv")}
  by_trial = {}
  for r in _rows("reruns.csv"):
    by_trial.setdefault(r["of"], []).append(_float(r["final.validation.error"]))
  seed_std = float(np.median([np.std(v, ddof=1) for v in by_trial.values() if len(v) > 1]))
  out, runs = {"seed_std_validation_error": seed_std}, {}
  all_opts = sorted({studydir.optimizer_of(t) for t in cpu})
  for precision in _PRECISIONS.value:
    opts = all_opts if precision == "float32" else [
        o for o in all_opts if o in _PRECISION_OPTIMIZERS.value]
    runs[precision] = study_run(manifest, precision, opts, tmp)
    out[precision] = {"vs": "cpu", **_deltas(runs[precision], cpu, seed_std)}
    if precision != "float32" and "float32" in runs:
      out[precision + " vs float32"] = {"vs": "float32 here", **_deltas(
          runs[precision], runs["float32"], seed_std)}
  return out


def environment() -> dict:
  d = jax.devices()[0]
  return {"device": getattr(d, "device_kind", d.platform), "platform": d.platform,
          "devices": jax.device_count(), "jax": jax.__version__, "python": platform.python_version(),
          "date": datetime.date.today().isoformat(), "load_average": os.getloadavg()}


def run_parts(report: dict, save) -> None:
  """(b)-(e) within the budget, each written into `report` (and saved) as it ends."""
  end = time.time() + _BUDGET.value
  report["step_time"] = throughput(end)
  save()
  if time.time() < end:
    report["pooling"] = _recorded(pooling.compare, 256, _REPS.value)
    save()
  timed = [r for r in report["step_time"] if "ms_per_trial_step" in r and
           r["precision"] == "float32" and (r["formulation"] == "im2col" or r["k"] == 1)]
  one = next(r for r in timed if r["k"] == 1)
  best = min(timed, key=lambda r: r["ms_per_trial_step"])
  with tempfile.TemporaryDirectory() as tmp:
    if time.time() < end:
      report["whole_trials"] = _recorded(
          whole_trials, min(best["k"], 128), one["ms_per_trial_step"], tmp)
      save()
    if time.time() < end and _DATA.value:
      report["study"] = _recorded(study_agreement, tmp)


def _recorded(part, *args) -> dict:
  """A part's result, or the error that stopped it (the other parts still run)."""
  try:
    return part(*args)
  except Exception as e:  # pylint: disable=broad-except
    return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}


def main(argv):
  del argv
  report = {"environment": environment(), "quick": _QUICK.value}
  out = _OUT.value or (None if _QUICK.value else os.path.join(os.path.dirname(__file__),
                                                               "results"))
  save = lambda: out and accelerator_report.write(report, out)  # pylint: disable=unnecessary-lambda-assignment
  report["equality"] = (equality("smoke" if _QUICK.value or not _DATA.value else "reduced")
                        if _EQUALITY.value or _QUICK.value else [])
  save()
  if not _QUICK.value:
    run_parts(report, save)
  print(accelerator_report.markdown(report))
  if out:
    print("wrote", *save())
  return 0 if all(c["ok"] for c in report["equality"]) else 1


if __name__ == "__main__":
  app.run(main)
