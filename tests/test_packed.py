"""Packed trials (study field pack_size): K trials of one optimizer in one compiled program.

A pack must give each trial what it gets unpacked (results, divergence step, files), resume
bit for bit after a kill, and shard its trials over devices. The smoke workload (synthetic
data, a few steps) keeps these short.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from optcompare import loop, packed, packs, study, study_manifest, studydir, train
from tests.conftest import REPO, optcompare_env
from tests.test_study import smoke_study
from tests.test_train import read_metrics, read_result


def _trial(smoke_config, optimizer, learning_rate, seed=0, steps=20):  # eval every 10
  """The smoke trial with `optimizer` (Adam's other settings; SGD has none) and `seed`."""
  c = smoke_config.copy_and_resolve_references()
  c.optimizer.name = optimizer
  if optimizer == "sgd":
    for name in ("beta1", "beta2", "epsilon"):
      c.optimizer.hparams[name] = None
  c.optimizer.hparams.learning_rate = learning_rate
  c.seed = seed
  c.num_train_steps, c.eval_every_steps, c.log_every_steps = steps, min(10, steps // 2), 5
  return c


def _pack_and_unpacked(configs, tmp_path):
  """(packed results, unpacked results); trial i's files in tmp_path/{packed,unpacked}/i."""
  dirs = [str(tmp_path / "packed" / str(i)) for i in range(len(configs))]
  got = packed.train_pack(configs, dirs, str(tmp_path / "pack"))
  want = [train.train_and_evaluate(c, str(tmp_path / "unpacked" / str(i)))
          for i, c in enumerate(configs)]
  return got, want


# Norms of gradients and updates are the most rounding-sensitive values of a line: Adam
# divides by √v + ε, so coordinates with v ≈ 0 turn the im2col/direct convolutions' last-bit
# differences into relative differences of the norms ~10x those of the losses.
SENSITIVE = ("grad_norm", "update_norm")


def _same_lines(a, b, rel):
  assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
  for x, y in zip(a, b):
    for key in x:
      if key not in ("step", "split", "wall_time_s") and x[key] is not None:
        tol = 10 * rel if key in SENSITIVE else rel
        # top-1 error is discrete: rounding may flip one near-tied example of the 128
        near = 1 / 128 if key == "error" else 1e-6
        assert x[key] == pytest.approx(y[key], rel=tol, abs=near), (x["step"], x["split"], key)


def test_pack_of_three_equals_the_trials_unpacked(smoke_config, tmp_path):
  """Three Adam trials, each its own learning rate, two of them one seed."""
  configs = [_trial(smoke_config, "adam", lr, seed, steps=10)
             for lr, seed in ((1e-3, 0), (3e-3, 1), (3e-4, 0))]
  got, want = _pack_and_unpacked(configs, tmp_path)
  assert [r["status"] for r in got] == [r["status"] for r in want] == ["completed"] * 3
  for i, (g, w) in enumerate(zip(got, want)):
    assert g["steps"] == w["steps"] and g["steps_to_target"] == w["steps_to_target"]
    assert g["final"]["validation"]["loss"] == pytest.approx(w["final"]["validation"]["loss"],
                                                             rel=1e-3)
    p, u = read_metrics(tmp_path / "packed" / str(i)), read_metrics(tmp_path / "unpacked" / str(i))
    assert p[0]["split"] == "train" and p[0]["loss"] == pytest.approx(u[0]["loss"], rel=1e-5)
    _same_lines(p, u, rel=1e-3)
    assert sorted(os.listdir(tmp_path / "packed" / str(i))) == [
        "config.json", "metrics.jsonl", "result.json", "tensorboard"]
    assert (tmp_path / "packed" / str(i) / "config.json").read_text() == \
        (tmp_path / "unpacked" / str(i) / "config.json").read_text()
  # Different seeds: different data order and initialisation, as unpacked.
  assert read_metrics(tmp_path / "packed" / "1")[0]["loss"] != \
      read_metrics(tmp_path / "packed" / "0")[0]["loss"]


def test_a_diverging_trial_is_frozen_and_the_others_go_on(smoke_config, tmp_path):
  """SGD at η = 1e12 diverges at the step it diverges unpacked; its state stops there (the
  pack's last checkpoint holds it at that step, alive False); the others end as unpacked."""
  from optcompare import checkpointing  # pylint: disable=g-import-not-at-top
  configs = [_trial(smoke_config, "sgd", lr) for lr in (0.05, 1e12, 0.1, 0.02)]
  got, want = _pack_and_unpacked(configs, tmp_path)
  assert [r["status"] for r in got] == [r["status"] for r in want]
  assert [r["status"] for r in got] == ["completed", "diverged", "completed", "completed"]
  assert got[1]["steps"] == want[1]["steps"] and 1 <= got[1]["steps"] < 20
  for i, (g, w) in enumerate(zip(got, want)):
    _same_lines(read_metrics(tmp_path / "packed" / str(i)),
                read_metrics(tmp_path / "unpacked" / str(i)), rel=1e-4)
    assert g["final"].keys() == w["final"].keys()
  plan = packed.plan(configs)
  program, shardings = loop.program_for(plan)
  like = loop.init_pack(plan, program, shardings)
  ckpt = checkpointing.Checkpointer(str(tmp_path / "pack" / "checkpoints"))
  try:
    state = ckpt.restore(20, like)
  finally:
    ckpt.close()
  assert [bool(a) for a in state.alive] == [True, False, True, True]
  assert [int(s) for s in state.trials.step] == [20, got[1]["steps"] - 1, 20, 20]
  assert int(state.diverged_at[1]) == got[1]["steps"]


def test_partition_is_fixed_by_the_order_and_size_alone():
  order = ["adam/0", "sgd/0", "adam/1", "sgd/1", "adam/2", "sgd/2"]
  assert packs.partition(order, 1) == order
  assert packs.partition(order, 2) == ["adam/0+adam/1", "sgd/0+sgd/1", "adam/2", "sgd/2"]
  assert packs.members("adam/0+adam/1") == ["adam/0", "adam/1"]
  assert packs.label("adam/0+adam/1") == "pack adam/0 … adam/1 (2 trials)"
  with pytest.raises(ValueError, match="request trial"):
    packs.members("adam/0+../x")
  a = studydir.pack_dir("/s", ["adam/0", "adam/1"])
  assert a.startswith("/s/packs/adam/0-") and a != studydir.pack_dir("/s", ["adam/0", "adam/2"])


def test_a_study_json_without_pack_size_loads_and_resumes(tmp_path):
  """pack_size is an execution field: a study.json written before it existed is still this
  study (and runs one trial per program); other values are refused, naming the field."""
  workdir = str(tmp_path / "study")
  c = smoke_study()
  old = study.manifest_of(c).to_json()
  del old["config"]["pack_size"]  # study.json written before the field existed
  os.makedirs(workdir)
  with open(os.path.join(workdir, studydir.MANIFEST), "w", encoding="utf-8") as f:
    json.dump(old, f)
  loaded = study_manifest.StudyManifest.read(workdir)
  assert packs.pack_size(loaded) == 1
  c.pack_size = 4
  study.check_workdir(workdir, study.manifest_of(c))  # same study, another pack size
  with c.unlocked():
    del c["pack_size"]
  study.validate(c)
  for bad in (0, -1, 1.5, True, "2"):
    d = study.config_dict(smoke_study())
    d["pack_size"] = bad
    with pytest.raises(ValueError, match="pack_size: must be an integer >= 1"):
      study.validate(d)


EIGHT = r"""
import json, sys
import jax
from configs.workloads import fashion_mnist_simple_cnn
from optcompare import feeds, loop, packed, train
tmp = sys.argv[1]
configs = []
for i in range(8):
  c = fashion_mnist_simple_cnn.get_config("smoke")
  c.optimizer.hparams.learning_rate = 1e-3 * (i + 1)
  c.num_train_steps, c.eval_every_steps, c.log_every_steps = 4, 2, 2
  configs.append(c)
plan = packed.plan(configs)
program, shardings = loop.program_for(plan)
pack = loop.init_pack(plan, program, shardings)
def placement(state):
  return [sorted((s.device.id, s.data.shape[0]) for s in leaf.addressable_shards)
          for leaf in jax.tree.leaves(state.trials.params)]
out = {"mesh": dict(plan.mesh.shape), "devices": jax.device_count(), "before": placement(pack)}
feed = feeds.make_feed(plan.workloads, feeds.load_splits(program.workload, 128), shardings)
after, _ = loop.run_steps(program, pack, feed.chunk(0, 2), feed.data)  # (donates `pack`)
out["after"] = placement(after)
del after
got = packed.train_pack(configs, [f"{tmp}/p{i}" for i in range(8)], f"{tmp}/pack")
want = [train.train_and_evaluate(c, f"{tmp}/u{i}") for i, c in enumerate(configs)]
out["got"], out["want"] = got, want
print(json.dumps(out))
"""


def test_pack_of_eight_runs_one_trial_per_device_of_eight(tmp_path):
  proc = subprocess.run([sys.executable, "-c", EIGHT, str(tmp_path)], cwd=REPO,
                        env=optcompare_env(8), capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["devices"] == 8 and out["mesh"] == {"trials": 8, "data": 1}
  one_per_device = [[d, 1] for d in range(8)]  # (device id, trials it holds): JSON lists
  for leaf in out["before"] + out["after"]:
    assert leaf == one_per_device  # each device holds one trial's slice of every parameter
  for g, w in zip(out["got"], out["want"]):
    assert g["status"] == w["status"] == "completed" and g["steps"] == w["steps"]
    for split in ("validation", "train_eval", "test"):
      assert g["final"][split]["loss"] == pytest.approx(w["final"][split]["loss"], rel=1e-3)
  for i in range(8):
    p, u = read_metrics(tmp_path / f"p{i}"), read_metrics(tmp_path / f"u{i}")
    assert p[0]["loss"] == pytest.approx(u[0]["loss"], rel=1e-5)
    _same_lines(p, u, rel=1e-3)


SWEEP = ("import json, sys; from optcompare import study; from tests.test_study import "
         "smoke_study; c = smoke_study(optimizers=('adam',), steps=20); c.pack_size = 4; "
         "print(json.dumps(study.sweep(c, sys.argv[1], parallel=1, progress=False)))")
TRIALS = [f"adam/{i}" for i in range(4)]


def _packed_study():
  c = smoke_study(optimizers=("adam",), steps=20)
  c.pack_size = 4
  return c


def _events(workdir, tid):
  with open(os.path.join(studydir.trial_dir(str(workdir), tid), "attempts.jsonl")) as f:
    return [json.loads(line) for line in f]


def test_killed_packed_sweep_resumes_identically(tmp_path, monkeypatch):
  """A pack of 4 Adam trials; SIGKILL while it is between checkpoints, relaunch: every
  trial's metrics.jsonl and result equal the uninterrupted study's."""
  monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax_cache"))  # not ~/.cache
  ref = str(tmp_path / "reference")
  summary = study.sweep(_packed_study(), ref, progress=False)
  assert summary["completed"] + summary["diverged"] == 4 and summary["ran_here"] == 4
  workdir = str(tmp_path / "killed")
  pack = studydir.pack_dir(workdir, TRIALS[:4])
  env = dict(optcompare_env(), JAX_PLATFORMS="cpu")
  proc = subprocess.Popen([sys.executable, "-c", SWEEP, workdir], cwd=REPO, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
  deadline = time.time() + 600
  while time.time() < deadline and proc.poll() is None:
    if os.path.isdir(os.path.join(pack, "checkpoints", "5")):
      break
    time.sleep(0.02)
  assert proc.poll() is None, "the sweep ended before it could be killed"
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  first = os.path.join(studydir.trial_dir(workdir, TRIALS[0]), "result.json")
  assert not os.path.exists(first), "killed too late to test a resume"
  summary = study.sweep(_packed_study(), workdir, progress=False)
  assert summary["completed"] + summary["diverged"] == 4 and summary["failed"] == 0
  for tid in TRIALS:
    assert read_metrics(studydir.trial_dir(workdir, tid)) == \
        read_metrics(studydir.trial_dir(ref, tid)), tid
    assert read_result(studydir.trial_dir(workdir, tid)) == \
        read_result(studydir.trial_dir(ref, tid)), tid
  for tid in TRIALS[:4]:  # claimed, killed, resumed from the pack's checkpoint, together
    events = _events(workdir, tid)
    assert [e["event"] for e in events] == ["start", "start", "end"], tid
    assert events[1]["checkpoint"] and events[1]["checkpoint"] >= 5
    assert events[1]["pack"] == TRIALS[:4]
  assert not os.path.exists(os.path.join(studydir.trial_dir(workdir, "adam/0"), "checkpoints"))
