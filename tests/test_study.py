"""Study configs, the manifest on disk, the claim ledger and the status table (no training)."""
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time

import pytest

from configs.studies.choi2019 import fashion_mnist_simple_cnn as choi
from configs.studies.schneider2019 import fashion_mnist_simple_cnn as schneider
from configs.studies.choi2019 import fashion_mnist_simple_cnn_final as choi_final
from configs.studies.choi2019 import war_and_peace_lstm as choi_lstm
from configs.studies.choi2019 import war_and_peace_lstm_final as choi_lstm_final
from configs.studies.modern import fashion_mnist_simple_cnn_final as modern_final
from configs.studies.modern import war_and_peace_lstm_final as modern_lstm_final
from configs.studies.wilson2017 import fashion_mnist_simple_cnn as wilson
from configs.studies.wilson2017 import war_and_peace_lstm as wilson_lstm
from optcompare import reruns, study, studydir
from optcompare.backends import ledger
from optcompare.errors import BadInputError
from tests.conftest import REPO

TABLE_1 = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "nadam"]


def smoke_study(optimizers=("adam", "sgd"), num_trials=4, steps=10, lease_seconds=5.0):
  """The choi2019 smoke study, cut to `optimizers` and `steps` training steps."""
  c = choi.get_config("smoke")
  with c.unlocked():
    c.optimizers = list(optimizers)
    for o in list(c.search_spaces):
      if o not in optimizers:
        del c.search_spaces[o]
  c.num_trials = num_trials
  c.lease_seconds = lease_seconds
  b = c.base
  b.num_train_steps, b.eval_every_steps, b.checkpoint_every_steps, b.log_every_steps = (
      steps, 5, 5, 5)
  return c


# The *_final configs are written by `optcompare refine` and committed: they must stay loadable
# study configs as the code under them changes.
@pytest.mark.parametrize("module", [choi, wilson, schneider, choi_lstm, wilson_lstm, choi_final,
                                    choi_lstm_final])
def test_study_configs_are_valid(module):
  for arg in (None, "smoke", "reduced", "demo"):
    c = module.get_config(arg)
    manifest = study.manifest_of(c)
    assert c.optimizers == TABLE_1
    assert len(manifest.trials) == 6 * c.num_trials
    assert (c.num_trials == 4) == (arg == "smoke") or module is wilson_lstm
    assert module.__doc__ and "num_trials" in module.__doc__
  assert choi.get_config().num_trials >= 32
  assert choi.get_config("smoke").base.num_train_steps <= 100
  assert choi.get_config("reduced").num_trials >= 32
  assert choi.get_config("demo").base.dataset.synthetic is False


def test_overriding_one_optimizers_spec_leaves_the_others_alone():
  c = choi.get_config()
  c.search_spaces.momentum.learning_rate.max = 0.5  # momentum and nesterov share a template
  c.search_spaces.adam.decay_factor.min = 0.1
  assert c.search_spaces.nesterov.learning_rate.max == 1.0
  assert c.search_spaces.nadam.decay_factor.min == c.search_spaces.sgd.decay_factor.min == 1e-3
  s = schneider.get_config()
  s.search_spaces.adam.learning_rate.max = 1.0
  assert s.search_spaces.sgd.learning_rate.max == 1e2


def _set(*pairs):
  """A function that sets (or deletes) path, value, path, value, ... in a study config."""
  def mutate(c):
    with c.unlocked():
      for path, value in zip(pairs[::2], pairs[1::2]):
        *parents, last = path.split(".")
        node = c
        for p in parents:
          node = node[p]
        if value is DELETE:
          del node[last]
        else:
          node[last] = value
  return mutate


DELETE = object()
BAD_CONFIGS = [
    (_set("search_spaces.adam.beta1", {"scale": "one_minus_log", "min": 0.99, "max": 0.9}),
     "search_spaces.adam.beta1: min 0.99 > max 0.9"),
    (_set("search_spaces.sgd.learning_rate", {"scale": "log", "min": -1.0, "max": 1.0}),
     "search_spaces.sgd.learning_rate.min: a log scale needs positive bounds"),
    (_set("search_spaces.adam.beta2", {"scale": "one_minus_log", "min": 0.9, "max": 1.0}),
     "search_spaces.adam.beta2: one_minus_log bounds must lie in [0, 1)"),
    (_set("search_spaces.sgd.learning_rate", {"scale": "log", "min": 0.1, "max": 0.1}),
     "search_spaces.sgd.learning_rate: empty range"),
    (_set("search_spaces.adam.momentum", {"scale": "fixed", "value": 0.9}),
     "search_spaces.adam.momentum: unknown hyperparameter for adam"),
    (_set("search_spaces.adam.epsilon", {"scale": "logarithmic", "min": 1e-8, "max": 1.0}),
     "search_spaces.adam.epsilon.scale: unknown scale 'logarithmic'"),
    (_set("search_spaces.adam.learning_rate", {"scale": "derived", "of": "lr_over_eps",
                                               "times": "epsilon"}),
     "search_spaces.adam.learning_rate.of: refers to 'lr_over_eps', which is not in this space"),
    (_set("search_spaces.sgd.decay_factor", {"scale": "choice", "values": []}),
     "search_spaces.sgd.decay_factor.values: must be a non-empty list"),
    (_set("optimizers", ["sgd"]), "search_spaces.adam: not in optimizers ['sgd']"),
    (_set("optimizers", ["adam", "sgd", "adagrad"]), "optimizers: unknown optimizer 'adagrad'"),
    (_set("num_trials", 0), "num_trials: must be an integer >= 1, got 0"),
    (_set("search_spaces.adam.beta1", DELETE, "base.optimizer.hparams.beta1", None),
     "search_spaces.adam.beta1: missing, required by adam"),
    (_set("search_spaces.sgd.learning_rate", {"scale": "linear", "min": -1.0, "max": 1.0}),
     "search_spaces.sgd.learning_rate: must lie in (0.0, inf)"),
    (_set("base.optimizer.schedule.name", "constant"),
     "search_spaces.adam.decay_factor: unknown argument for schedule constant"),
    (_set("threads_per_trial", 0), "threads_per_trial: must be an integer >= 1"),
    (_set("lease_seconds", -1.0), "lease_seconds: must be a positive number"),
    (_set("search_spaces.sgd.learning_rate", {"scale": "log", "minimum": 0.1, "max": 1.0}),
     "search_spaces.sgd.learning_rate.minimum: not a key of a log spec"),
    (_set("search_spaces.adam", {}), "search_spaces.adam: must be a non-empty dict"),
    # train's checks of the first trials, data included (optcompare.preflight)
    (_set("base.dataset.num_train_eval_examples", 1000),
     "base.dataset.num_train_eval_examples: 1000 exceeds the 512 training examples"),
    (_set("base.eval_batch_size", 0), "base.eval_batch_size: must be a positive integer"),
    (_set("reruns", {"top": 1, "seeds": "2"}), "reruns.seeds: must be an integer >= 0"),
    (_set("reruns", {"top": 5, "seeds": 1}), "reruns.top: 5 is more than the 4 trials"),
]


@pytest.mark.parametrize("mutate, message", BAD_CONFIGS,
                         ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(BAD_CONFIGS)])
def test_bad_study_config_is_rejected_and_nothing_is_written(tmp_path, mutate, message):
  c = smoke_study()
  mutate(c)
  workdir = tmp_path / "study"
  with pytest.raises(BadInputError, match=re.escape(message)) as e:
    study.sweep(c, str(workdir), progress=False)
  assert "\n" not in str(e.value)
  assert not workdir.exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"parallel": 0}, "--parallel: must be an integer >= 1"),
    ({"retries": -1}, "--retries: must be an integer >= 0"),
    ({"backend": "slurm"}, "--backend: must be 'local' or 'ray'"),
    ({"ray_address": "auto"}, "--ray_address: needs --backend=ray"),
])
def test_bad_sweep_arguments(tmp_path, kwargs, message):
  with pytest.raises(BadInputError, match=re.escape(message)):
    study.sweep(smoke_study(), str(tmp_path / "study"), progress=False, **kwargs)
  assert not (tmp_path / "study").exists()


def test_rerun_checks_study_json(tmp_path):
  workdir = str(tmp_path / "study")
  c = smoke_study()
  study.write_manifest(workdir, study.manifest_of(c))
  first = study.load_manifest(workdir)
  c.num_trials = 6  # growing: allowed, earlier trials unchanged
  c.threads_per_trial = 2  # execution fields may change
  study.write_manifest(workdir, study.manifest_of(c))
  grown = study.load_manifest(workdir)
  assert len(grown.trials) == 12 and grown.config["threads_per_trial"] == 2
  assert tuple(t for t in grown.trials if t.index < 4) == first.trials
  c.num_trials = 2
  with pytest.raises(BadInputError, match=r"study\.json: holds 6 trials per optimizer"):
    study.write_manifest(workdir, study.manifest_of(c))
  c.num_trials = 6
  c.search_spaces.sgd.learning_rate.max = 1.0
  with pytest.raises(BadInputError,
                     match=r"study\.json: holds a different study \(search_spaces\.sgd"):
    study.sweep(c, workdir, progress=False)
  assert study.load_manifest(workdir) == grown
  (tmp_path / "other").mkdir()
  (tmp_path / "other" / "notes.txt").write_text("x")
  with pytest.raises(BadInputError, match="is not empty and holds no study.json"):
    study.sweep(smoke_study(), str(tmp_path / "other"), progress=False)


# ---- the claim ledger ----

def _race(trial_dir, barrier, wins):
  claim = ledger.Claim.acquire(trial_dir, lease_seconds=30)
  wins.put(claim is not None)
  barrier.wait()  # stay alive until everyone has tried: a dead winner's claim is stale


def test_claims_are_exclusive_across_processes(tmp_path):
  n = 8
  ctx = multiprocessing.get_context("fork")
  barrier, wins = ctx.Barrier(n), ctx.Queue()
  procs = [ctx.Process(target=_race, args=(str(tmp_path), barrier, wins)) for _ in range(n)]
  for p in procs:
    p.start()
  for p in procs:
    p.join(60)
  assert sorted(wins.get() for _ in range(n)) == [False] * (n - 1) + [True]


def _write_claim(trial_dir, **fields):
  os.makedirs(os.path.join(trial_dir, "claims"), exist_ok=True)
  record = {"owner": "x", "host": "elsewhere", "machine": "elsewhere/boot/ns", "pid": 1,
            "pid_start": None, "generation": 1, "acquired_at": time.time(),
            "heartbeat_at": time.time(), "lease_seconds": 5.0, "released": False, **fields}
  with open(os.path.join(trial_dir, "claims", "000001.json"), "w") as f:
    json.dump(record, f)


def test_claim_of_another_machine_is_taken_over_after_its_lease(tmp_path):
  d = str(tmp_path)
  _write_claim(d)  # fresh heartbeat on another machine: held
  assert ledger.Claim.acquire(d, lease_seconds=5) is None
  assert ledger.trial_state(d)[0] == "running"
  _write_claim(d, heartbeat_at=time.time() - 6)  # lease expired
  assert ledger.trial_state(d)[0] == "pending"
  claim = ledger.Claim.acquire(d, lease_seconds=5)
  assert claim is not None and claim.generation == 2
  assert ledger.Claim.acquire(d, lease_seconds=5) is None  # now ours holds it


def test_claim_on_this_machine_lives_exactly_as_long_as_its_process(tmp_path):
  d = str(tmp_path)
  proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  assert ledger.Claim.acquire(d, lease_seconds=0.1, pid=proc.pid) is not None
  time.sleep(0.3)  # heartbeat older than the lease, but the process lives: still held
  assert ledger.Claim.acquire(d, lease_seconds=300) is None
  proc.kill()
  proc.wait()
  claim = ledger.Claim.acquire(d, lease_seconds=300)  # dead: taken over at once
  assert claim is not None and claim.generation == 2


def test_heartbeat_keeps_a_claim_and_detects_its_loss(tmp_path):
  d = str(tmp_path)
  holder = ledger.Claim.acquire(d, lease_seconds=0.5, machine="elsewhere")  # judged by lease
  stop = holder.keep_alive(on_lost=lambda: None)
  time.sleep(1.5)  # three leases: kept alive by the heartbeat thread
  assert ledger.Claim.acquire(d, lease_seconds=0.5) is None
  stop.set()
  time.sleep(0.7)  # no heartbeat for more than a lease: stale
  taker = ledger.Claim.acquire(d, lease_seconds=5)
  assert taker is not None and taker.generation == 2
  assert holder.heartbeat() is False and holder.lost
  taker.release()
  assert ledger.Claim.acquire(d, lease_seconds=5).generation == 3  # released: at once


# ---- the status table, from files ----

def _result(d, status, error=None):
  os.makedirs(d, exist_ok=True)
  final = {"validation": {"error": error, "loss": 1.0}, "test": {"error": error, "loss": 1.0}}
  studydir.write_result(d, studydir.Result(status, 10, final, None, 1.0))


def test_status_table_from_files(tmp_path):
  workdir = str(tmp_path)
  study.write_manifest(workdir, study.manifest_of(smoke_study()))
  t = lambda tid: studydir.trial_dir(workdir, tid)  # noqa: E731
  _result(t("adam/0"), "completed", 0.3)
  _result(t("adam/1"), "diverged")
  _result(t("adam/3"), "completed", 0.2)
  _result(t("sgd/0"), "failed")
  _result(t("sgd/1"), "completed", 0.5)
  assert ledger.Claim.acquire(t("adam/2"), lease_seconds=60) is not None
  table = study.status_table(workdir).splitlines()
  assert table[1].split() == ["optimizer", "trials", "done", "running", "pending", "diverged",
                              "failed", "best", "validation", "error"]
  assert table[2].split() == ["adam", "4", "2", "1", "0", "1", "0", "0.2000", "(adam/3)"]
  assert table[3].split() == ["sgd", "4", "1", "0", "2", "0", "1", "0.5000", "(sgd/1)"]
  with pytest.raises(BadInputError, match="no study here"):
    study.status_table(str(tmp_path / "nothing"))


@pytest.mark.parametrize("workload", ["fashion_mnist_simple_cnn", "war_and_peace_lstm"])
def test_modern_study_configs_hold_table_1_and_the_four_modern_optimizers(workload):
  """Table 1's six with their choi2019 spaces, then lion, muon, sfadamw, adopt; enough
  initial trials for refine (>= 16 per optimizer at `reduced`)."""
  import importlib  # pylint: disable=g-import-not-at-top
  modern = importlib.import_module(f"configs.studies.modern.{workload}")
  protocol = importlib.import_module(f"configs.studies.choi2019.{workload}")
  for arg in (None, "smoke", "reduced", "demo"):
    c = modern.get_config(arg)
    assert c.optimizers == TABLE_1 + ["lion", "muon", "sfadamw", "adopt"]
    for o in TABLE_1:
      assert c.search_spaces[o] == protocol.get_config(arg).search_spaces[o]
    assert len(study.manifest_of(c).trials) == 10 * c.num_trials
  assert modern.get_config("reduced").num_trials >= 16
  sfadamw = modern.get_config().search_spaces.sfadamw
  assert sfadamw.decay_factor.to_dict() == {"scale": "fixed", "value": 1.0}  # averaging: no decay
  assert sfadamw.beta1.min > 0


@pytest.mark.parametrize("module", [modern_final, modern_lstm_final])
def test_the_modern_final_spaces_stay_a_study_config(module):
  """The refined spaces of the committed modern studies (results/modern/*/final)."""
  for arg in (None, "smoke", "reduced", "demo"):
    c = module.get_config(arg)
    assert c.optimizers == TABLE_1 + ["lion", "muon", "sfadamw", "adopt"]
    assert len(study.manifest_of(c).trials) == 10 * c.num_trials


def test_the_sweep_preflight_starts_no_jax_backend():
  """The preflight loads in-memory data in the sweep's process; it must not start a JAX
  backend there (on a GPU machine that would take the memory its workers need)."""
  script = ("from configs.studies.choi2019 import fashion_mnist_simple_cnn as f, "
            "war_and_peace_lstm as w\n"
            "from optcompare import feeds, preflight, study\n"
            "from jax._src import xla_bridge\n"
            "for m in (f, w):\n"
            "  preflight.check_study(study.manifest_of(m.get_config('smoke')))\n"
            "print(len(feeds._host_cache), sorted(xla_bridge._backends))\n")
  proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.split("\n")[-2] == "1 []"  # the image splits loaded; no backend


def _refused(tdir, line="dataset.num_train_eval_examples: 1000 exceeds"):
  """The failed result a worker writes for a BadInputError in the trial."""
  os.makedirs(tdir, exist_ok=True)
  studydir.write_result(tdir, studydir.failed_result(ledger.BAD_INPUT_PREFIX + line))


def test_a_study_refused_by_bad_input_before_training_is_replaced_by_another_config(
    tmp_path):
  workdir = str(tmp_path)
  study.write_manifest(workdir, study.manifest_of(smoke_study()))
  t = lambda tid: studydir.trial_dir(workdir, tid)  # noqa: E731
  other = smoke_study()
  other.base.dataset.num_validation_examples = 64
  with pytest.raises(BadInputError, match="holds a different study"):  # nothing refused yet
    study.write_manifest(workdir, study.manifest_of(other))
  _refused(t("adam/0"))
  os.makedirs(t("sgd/0"))  # started, nothing written yet
  assert study.refused_untrained(workdir, study.load_manifest(workdir))
  study.write_manifest(workdir, study.manifest_of(other))
  assert study.load_manifest(workdir).base["dataset"]["num_validation_examples"] == 64
  assert not os.path.exists(t("adam/0")) and not os.path.exists(t("sgd/0"))


@pytest.mark.parametrize("trained", ["completed", "metrics", "checkpoint", "running"])
def test_a_study_that_trained_keeps_its_config_after_a_bad_input(tmp_path, trained):
  workdir = str(tmp_path)
  study.write_manifest(workdir, study.manifest_of(smoke_study()))
  t = lambda tid: studydir.trial_dir(workdir, tid)  # noqa: E731
  _refused(t("adam/0"))
  os.makedirs(t("sgd/0"))
  if trained == "completed":
    _result(t("sgd/0"), "completed", 0.3)
  elif trained == "metrics":
    with open(os.path.join(t("sgd/0"), studydir.METRICS), "w", encoding="utf-8") as f:
      f.write('{"step": 5, "split": "train", "loss": 1.0}\n')
  elif trained == "checkpoint":
    os.makedirs(os.path.join(t("sgd/0"), studydir.CHECKPOINTS, "5"))
  else:
    assert ledger.Claim.acquire(t("sgd/0"), lease_seconds=60) is not None
  assert not study.refused_untrained(workdir, study.load_manifest(workdir))
  other = smoke_study()
  other.base.dataset.num_validation_examples = 64
  with pytest.raises(BadInputError, match="holds a different study"):
    study.write_manifest(workdir, study.manifest_of(other))
  assert os.path.exists(t("adam/0"))


def test_reruns_are_planned_from_the_finished_search_and_kept(tmp_path):
  workdir = str(tmp_path)
  c = smoke_study()
  with c.unlocked():
    c.reruns = {"top": 1, "seeds": 2}
  manifest = study.write_manifest(workdir, study.manifest_of(c))
  for i, error in enumerate((0.4, 0.2, 0.3, 0.5)):  # adam finished, sgd not yet
    _result(studydir.trial_dir(workdir, f"adam/{i}"), "completed", error)
  finished = {f"adam/{i}" for i in range(4)}
  planned = reruns.plan(workdir, manifest, finished)
  seed = manifest.base_seed
  assert [(r.id, r.of, r.seed) for r in planned] == [
      (f"adam/1s{seed + 1}", "adam/1", seed + 1), (f"adam/1s{seed + 2}", "adam/1", seed + 2)]
  manifest.with_reruns(planned).write(workdir)
  again = study.write_manifest(workdir, study.manifest_of(c))  # a later sweep keeps them
  assert again.reruns == planned and study.load_manifest(workdir).reruns == planned
  assert reruns.plan(workdir, again, finished) == planned  # planned once, never changed


def test_status_and_the_sweep_summary_count_seed_reruns_apart(tmp_path):
  from optcompare import analysis  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path)
  c = smoke_study()
  with c.unlocked():
    c.reruns = {"top": 1, "seeds": 2}
  manifest = study.write_manifest(workdir, study.manifest_of(c))
  for opt in ("adam", "sgd"):
    for i, error in enumerate((0.4, 0.2, 0.3, 0.5)):
      _result(studydir.trial_dir(workdir, f"{opt}/{i}"), "completed", error)
  planned = reruns.plan(workdir, manifest, set(manifest.search_ids))
  manifest.with_reruns(planned).write(workdir)
  _result(studydir.trial_dir(workdir, planned[0].id), "completed", 0.25)
  table = study.status_table(workdir).splitlines()
  assert table[1].split()[:9] == ["optimizer", "trials", "done", "running", "pending",
                                  "diverged", "failed", "re-runs", "done"]
  assert table[2].split()[:8] == ["adam", "4", "4", "0", "0", "0", "0", "1/2"]
  assert table[3].split()[:8] == ["sgd", "4", "4", "0", "0", "0", "0", "0/2"]
  first = analysis.summary(workdir).splitlines()[0]
  assert first == "8 trials: 8 completed; 1 of 4 seed re-runs finished", first


def test_a_nan_in_a_study_config_is_named_without_the_command_line():
  c = smoke_study()
  c.search_spaces.sgd.learning_rate.max = float("nan")
  with pytest.raises(BadInputError, match=r"search_spaces.sgd.learning_rate.max: must be a finite"):
    study.manifest_of(c)


def test_a_study_json_older_than_the_precision_field_resumes(tmp_path):
  """A study.json whose base predates `precision` and `steps_per_dispatch` is today's study
  (the defaults are what it ran with); a study of another precision is refused."""
  c = smoke_study(steps=10)
  old = study.manifest_of(c).to_json()
  for field in ("precision", "steps_per_dispatch"):
    del old["config"]["base"][field]
  (tmp_path / "study.json").write_text(json.dumps(old))
  study.merge_with_workdir(str(tmp_path), study.manifest_of(c))
  c.base.precision = "bfloat16"
  with pytest.raises(ValueError, match="base.precision differs"):
    study.merge_with_workdir(str(tmp_path), study.manifest_of(c))
