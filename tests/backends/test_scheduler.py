"""The scheduler's decisions (scheduler.Sweep, scheduler.run) against a fake launcher.

No JAX, no processes: the fake launcher's slots only record what they were started with, and
each test says which job ends how, writing the trial files a worker would have written.
"""
import json
import os

import pytest

from optcompare import packs, study_manifest, studydir
from optcompare.backends import ledger, scheduler
from optcompare.backends.worker import EXIT_CLAIMED, EXIT_DONE, EXIT_IO_ERROR

FULL_DISK = "[Errno 28] No space left on device: 'result.json.tmp'"


def _optimizer(job):
  return studydir.optimizer_of(packs.members(job)[0])


class FakeLauncher:
  """`parallel` worker slots (the launcher interface of scheduler.py) that run nothing.

  `start` records (slot, job, retry), marks the slot busy and makes the trial directories;
  `finish` ends a job as its worker would (writing each trial's result with `status`; None
  writes nothing) and queues the reply for the next `poll`; with `script`, `poll` first
  finishes every busy job with `script(job)` -> (code, status, detail).
  """

  def __init__(self, study_dir, parallel=1, script=None):
    self.study_dir, self.parallel, self.script = study_dir, parallel, script
    self.started = []  # (slot, job, retry), in order
    self.busy = {}  # slot -> job
    self._compiled = [set() for _ in range(parallel)]
    self._replies = []
    self.closed = False

  def idle_slots(self):
    return [s for s in range(self.parallel) if s not in self.busy]

  def compiled(self, slot):
    return set(self._compiled[slot])

  def start(self, slot, job, *, retry):
    assert slot not in self.busy, (slot, job)
    self.started.append((slot, job, retry))
    self.busy[slot] = job
    self._compiled[slot].add(_optimizer(job))
    for tid in packs.members(job):  # as a worker does before it claims
      os.makedirs(studydir.trial_dir(self.study_dir, tid), exist_ok=True)

  def finish(self, job, code=EXIT_DONE, status="completed", detail=None):
    slot = next(s for s, j in self.busy.items() if j == job)
    del self.busy[slot]
    if code < 0:
      self._compiled[slot] = set()  # the worker died: the slot's next one compiles anew
    for tid in packs.members(job) if status else []:
      _write_result(self.study_dir, tid, status)
    self._replies.append((job, code, detail))

  def poll(self, timeout=0.0):
    del timeout
    if self.script:
      for job in list(self.busy.values()):
        self.finish(job, *self.script(job))
    replies, self._replies = self._replies, []
    return replies

  def close(self):
    self.closed = True


def _write_result(study_dir, tid, status):
  tdir = studydir.trial_dir(study_dir, tid)
  os.makedirs(tdir, exist_ok=True)
  result = (studydir.failed_result(f"Traceback ...\nValueError: {tid} broke")
            if status == studydir.FAILED else
            studydir.Result(status, 10, {"validation": {"error": 0.5}}))
  studydir.write_result(tdir, result)


def _manifest(optimizers=("adam", "sgd"), num_trials=3, pack_size=1):
  return study_manifest.StudyManifest.from_json(
      {"config": {"optimizers": list(optimizers), "pack_size": pack_size, "base": {}},
       "trials": [{"id": f"{o}/{i}", "optimizer": o, "index": i, "hparams": {}}
                  for o in optimizers for i in range(num_trials)]})


def _sweep(study_dir, manifest, retries=0):
  return scheduler.Sweep(str(study_dir), scheduler.sweep_order(manifest),
                         pack_size=manifest.pack_size, retries=retries,
                         show=scheduler.Progress(manifest, enabled=False))


def _step(sweep, launcher, now=0.0):
  """One turn of scheduler.run's loop at time `now`."""
  for reply in launcher.poll():
    sweep.ended(*reply)
  sweep.look_again(now)
  sweep.launch(launcher, now)


def _hold(study_dir, tid):
  """A live claim on `tid` by another sweep (this process, which is alive)."""
  tdir = studydir.trial_dir(str(study_dir), tid)
  os.makedirs(tdir, exist_ok=True)
  return ledger.Claim.acquire(tdir, lease_seconds=600, owner="another-sweep")


# ---- order and compiled-program reuse ----

def test_trials_are_queued_index_first_so_optimizers_advance_together():
  assert scheduler.sweep_order(_manifest()) == ["adam/0", "sgd/0", "adam/1", "sgd/1",
                                                "adam/2", "sgd/2"]


def test_pick_prefers_an_optimizer_compiled_here_then_one_compiled_nowhere():
  queue = ["adam/1", "sgd/1", "rmsprop/1"]
  assert scheduler.pick(queue, mine={"sgd"}, others={"adam", "sgd"}) == 1
  assert scheduler.pick(queue, mine=set(), others={"adam"}) == 1  # sgd: no worker has it
  assert scheduler.pick(queue, mine=set(), others={"adam", "sgd", "rmsprop"}) == 0
  assert scheduler.pick(["adam/0+adam/1", "sgd/0+sgd/1"], {"sgd"}, {"adam"}) == 1  # packs


def test_idle_worker_takes_the_first_trial_of_an_optimizer_it_has_compiled(tmp_path):
  launcher = FakeLauncher(tmp_path, parallel=2)
  sweep = _sweep(tmp_path, _manifest())
  _step(sweep, launcher)
  # Slot 1 has compiled nothing, and adam is slot 0's: it takes sgd/0, not adam/1.
  assert launcher.started == [(0, "adam/0", False), (1, "sgd/0", False)]
  launcher.finish("sgd/0")
  _step(sweep, launcher)
  assert launcher.started[-1] == (1, "sgd/1", False)  # its own optimizer before adam/1
  launcher.finish("adam/0")
  _step(sweep, launcher)
  assert launcher.started[-1] == (0, "adam/1", False)
  assert sweep.running == {"adam/1", "sgd/1"} and sweep.ran_here == 2


def test_a_replaced_worker_compiles_again_and_takes_the_first_free_optimizer(tmp_path):
  launcher = FakeLauncher(tmp_path, parallel=2)
  sweep = _sweep(tmp_path, _manifest(), retries=1)
  _step(sweep, launcher)
  launcher.finish("adam/0", code=-9, status=None)  # slot 0's worker dies
  _step(sweep, launcher)
  # The retry of adam/0 is queued first; slot 0 holds nothing compiled, slot 1 has sgd.
  assert launcher.started[-1] == (0, "adam/0", True)


# ---- a whole run ----

def test_run_trains_every_trial_once_and_a_second_run_launches_nothing(tmp_path):
  manifest = _manifest()
  launcher = FakeLauncher(tmp_path, parallel=2, script=lambda job: (EXIT_DONE, "completed",
                                                                    None))
  summary = scheduler.run(str(tmp_path), manifest, launcher, parallel=2, retries=0,
                          progress=False)
  assert sorted(job for _, job, _ in launcher.started) == sorted(manifest.trial_ids)
  assert summary == {"trials": 6, "completed": 6, "diverged": 0, "failed": 0, "unfinished": 0,
                     "ran_here": 6, "retried": 0, "worker_errors": 0, "failed_trials": [],
                     "bad_input": {}, "stopped": None}
  again = FakeLauncher(tmp_path, parallel=2)
  summary = scheduler.run(str(tmp_path), manifest, again, parallel=2, retries=2,
                          progress=False)
  assert again.started == [] and summary["ran_here"] == 0 and summary["completed"] == 6


def test_run_of_given_trial_ids_runs_those_in_that_order(tmp_path):
  launcher = FakeLauncher(tmp_path, script=lambda job: (EXIT_DONE, "diverged", None))
  summary = scheduler.run(str(tmp_path), _manifest(), launcher, parallel=1, retries=0,
                          progress=False, trial_ids=["sgd/2", "adam/1"])
  assert [job for _, job, _ in launcher.started] == ["sgd/2", "adam/1"]
  assert summary["trials"] == 2 and summary["diverged"] == 2


def test_interrupt_closes_the_launcher_and_reraises(tmp_path):
  def interrupt(job):
    raise KeyboardInterrupt(job)
  launcher = FakeLauncher(tmp_path, script=interrupt)
  with pytest.raises(KeyboardInterrupt):
    scheduler.run(str(tmp_path), _manifest(), launcher, parallel=1, retries=0,
                  progress=False)
  assert launcher.closed and launcher.started == [(0, "adam/0", False)]


# ---- retries ----

def test_failed_trial_is_retried_with_the_retry_flag_up_to_retries(tmp_path):
  manifest = _manifest(optimizers=("sgd",), num_trials=1)
  launcher = FakeLauncher(tmp_path, script=lambda job: (EXIT_DONE, "failed", None))
  summary = scheduler.run(str(tmp_path), manifest, launcher, parallel=1, retries=2,
                          progress=False)
  assert launcher.started == [(0, "sgd/0", False), (0, "sgd/0", True), (0, "sgd/0", True)]
  assert summary["failed"] == 1 and summary["retried"] == 2 and summary["ran_here"] == 3
  assert summary["failed_trials"] == ["sgd/0"]
  # A later sweep retries it again (its own count), the first launch already a retry.
  launcher = FakeLauncher(tmp_path, script=lambda job: (EXIT_DONE, "completed", None))
  summary = scheduler.run(str(tmp_path), manifest, launcher, parallel=1, retries=1,
                          progress=False)
  assert launcher.started == [(0, "sgd/0", True)]
  assert summary["completed"] == 1 and summary["failed_trials"] == []


def test_failed_trial_without_retries_is_final(tmp_path):
  _write_result(tmp_path, "sgd/0", studydir.FAILED)
  launcher = FakeLauncher(tmp_path)
  sweep = _sweep(tmp_path, _manifest(optimizers=("sgd",), num_trials=1), retries=0)
  _step(sweep, launcher)
  assert launcher.started == [] and sweep.final == {"sgd/0": "done"} and not sweep.active()
  assert sweep.summary()["failed_trials"] == ["sgd/0"]


def _fail_by_bad_input(study_dir, tid, line="dataset.num_train_eval_examples: 9 exceeds"):
  """The result a worker writes when the trial raised BadInputError."""
  tdir = studydir.trial_dir(str(study_dir), tid)
  os.makedirs(tdir, exist_ok=True)
  studydir.write_result(tdir, studydir.failed_result(ledger.BAD_INPUT_PREFIX + line))


def test_bad_input_failure_is_never_retried_and_stops_the_launching(tmp_path):
  launcher = FakeLauncher(tmp_path, parallel=1)
  sweep = _sweep(tmp_path, _manifest(), retries=2)
  _step(sweep, launcher)
  assert launcher.started == [(0, "adam/0", False)]
  launcher.finish("adam/0", status=None)  # the worker wrote the result itself:
  _fail_by_bad_input(tmp_path, "adam/0")
  _step(sweep, launcher)
  assert launcher.started == [(0, "adam/0", False)] and not sweep.active()
  summary = sweep.summary()
  assert summary["retried"] == 0 and summary["failed_trials"] == ["adam/0"]
  assert summary["bad_input"] == {"adam/0": "dataset.num_train_eval_examples: 9 exceeds"}
  # A later sweep neither retries it nor stops: the other trials run.
  launcher = FakeLauncher(tmp_path, script=lambda job: (EXIT_DONE, "completed", None))
  summary = scheduler.run(str(tmp_path), _manifest(), launcher, parallel=1, retries=2,
                          progress=False)
  assert "adam/0" not in [job for _, job, _ in launcher.started]
  assert summary["completed"] == 5 and list(summary["bad_input"]) == ["adam/0"]


def test_a_traceback_failure_is_not_bad_input(tmp_path):
  _write_result(tmp_path, "sgd/0", studydir.FAILED)
  assert ledger.bad_input(studydir.read_result(studydir.trial_dir(str(tmp_path), "sgd/0"))) \
      is None
  _fail_by_bad_input(tmp_path, "sgd/1", "x: bad")
  assert ledger.bad_input(studydir.read_result(studydir.trial_dir(str(tmp_path), "sgd/1"))) \
      == "x: bad"


def test_a_damaged_claim_holds_its_trial_for_the_studys_lease(tmp_path):
  """An empty claim file (a crash while writing it) holds the trial as long as the study's
  lease says, not the ledger's 60 s."""
  tdir = studydir.trial_dir(str(tmp_path), "sgd/0")
  os.makedirs(os.path.join(tdir, studydir.CLAIMS))
  claim = os.path.join(tdir, studydir.CLAIMS, "000001.json")
  open(claim, "w").close()
  old = os.path.getmtime(claim) - 5
  os.utime(claim, (old, old))
  assert ledger.trial_state(tdir)[0] == studydir.RUNNING  # (lease unknown: 60 s)
  assert ledger.trial_state(tdir, lease_seconds=2.0)[0] == studydir.PENDING
  sweep = scheduler.Sweep(str(tmp_path), ["sgd/0"], pack_size=1, retries=0,
                          show=scheduler.Progress(_manifest(("sgd",)), enabled=False),
                          lease_seconds=2.0)
  assert sweep.state("sgd/0")[0] == studydir.PENDING
  assert ledger.Claim.acquire(tdir, lease_seconds=600) is None
  assert ledger.Claim.acquire(tdir, lease_seconds=2.0) is not None


def test_dead_worker_fails_its_trial_naming_the_signal_and_it_is_retried(tmp_path):
  launcher = FakeLauncher(tmp_path)
  sweep = _sweep(tmp_path, _manifest(optimizers=("sgd",), num_trials=1), retries=1)
  _step(sweep, launcher)
  launcher.finish("sgd/0", code=-9, status=None)
  _step(sweep, launcher)
  tdir = studydir.trial_dir(str(tmp_path), "sgd/0")
  result = studydir.read_result(tdir)
  assert result.status == studydir.FAILED and "signal 9" in result.error
  with open(os.path.join(tdir, studydir.ATTEMPTS), encoding="utf-8") as f:
    assert [json.loads(line)["exit"] for line in f] == [-9]
  assert launcher.started == [(0, "sgd/0", False), (0, "sgd/0", True)]
  launcher.finish("sgd/0")
  _step(sweep, launcher)
  summary = sweep.summary()
  assert summary["worker_errors"] == 1 and summary["retried"] == 1
  assert summary["completed"] == 1 and not sweep.active()


# ---- claims: trials held by other sweeps ----

def test_trial_held_elsewhere_is_watched_then_looked_at_again(tmp_path):
  claim = _hold(tmp_path, "adam/0")
  launcher = FakeLauncher(tmp_path)
  sweep = _sweep(tmp_path, _manifest(optimizers=("adam",), num_trials=1))
  _step(sweep, launcher, now=100.0)
  assert launcher.started == [] and sweep.watched == {"adam/0": 100.0}
  assert sweep.active() and sweep.waiting_elsewhere()
  _step(sweep, launcher, now=100.0 + scheduler.WATCH_S / 2)
  assert sweep.queue == [] and "adam/0" in sweep.watched  # not looked at again yet
  _step(sweep, launcher, now=100.0 + scheduler.WATCH_S)
  assert sweep.watched == {"adam/0": 100.0 + scheduler.WATCH_S}  # still held
  _write_result(tmp_path, "adam/0", studydir.COMPLETED)  # the other sweep finished it
  claim.release()
  _step(sweep, launcher, now=100.0 + 2 * scheduler.WATCH_S)
  assert launcher.started == [] and sweep.final == {"adam/0": "done"} and not sweep.active()
  assert sweep.summary()["completed"] == 1 and sweep.ran_here == 0


def test_a_claim_lost_to_another_sweep_at_launch_is_watched(tmp_path):
  """EXIT_CLAIMED: another sweep claimed the trial between the look and the worker's claim."""
  launcher = FakeLauncher(tmp_path, parallel=2)
  sweep = _sweep(tmp_path, _manifest(optimizers=("adam",), num_trials=2))
  _step(sweep, launcher)
  claim = _hold(tmp_path, "adam/0")
  launcher.finish("adam/0", code=EXIT_CLAIMED, status=None)
  _step(sweep, launcher, now=5.0)
  assert sweep.watched == {"adam/0": 5.0} and sweep.running == {"adam/1"}
  assert sweep.ran_here == 0
  claim.release()
  _step(sweep, launcher, now=5.0 + scheduler.WATCH_S)
  assert launcher.started[-1] == (0, "adam/0", False)


# ---- packs ----

def test_pack_runs_only_its_unfinished_trials_and_retries_its_failed_one(tmp_path):
  manifest = _manifest(optimizers=("adam",), num_trials=4, pack_size=2)
  _write_result(tmp_path, "adam/1", studydir.COMPLETED)
  _write_result(tmp_path, "adam/3", studydir.FAILED)
  launcher = FakeLauncher(tmp_path, parallel=2)
  sweep = _sweep(tmp_path, manifest, retries=1)
  _step(sweep, launcher)
  assert launcher.started == [(0, "adam/0+adam/1", False), (1, "adam/2+adam/3", True)]
  assert sweep.launched == {"adam/0+adam/1": ["adam/0"],
                            "adam/2+adam/3": ["adam/2", "adam/3"]}
  launcher.finish("adam/0+adam/1")
  launcher.finish("adam/2+adam/3")
  _step(sweep, launcher)
  summary = sweep.summary()
  assert summary["ran_here"] == 3 and summary["retried"] == 1 and summary["completed"] == 4


def test_pack_waits_while_one_of_its_trials_is_held_elsewhere(tmp_path):
  claim = _hold(tmp_path, "adam/3")
  launcher = FakeLauncher(tmp_path, parallel=2)
  sweep = _sweep(tmp_path, _manifest(optimizers=("adam",), num_trials=4, pack_size=2))
  _step(sweep, launcher)
  assert launcher.started == [(0, "adam/0+adam/1", False)]
  assert list(sweep.watched) == ["adam/2+adam/3"]
  claim.release()
  _step(sweep, launcher, now=scheduler.WATCH_S)
  assert launcher.started[-1] == (1, "adam/2+adam/3", False)


def test_dead_pack_worker_fails_every_trial_it_ran(tmp_path):
  _write_result(tmp_path, "adam/0", studydir.COMPLETED)
  launcher = FakeLauncher(tmp_path)
  sweep = _sweep(tmp_path, _manifest(optimizers=("adam",), num_trials=3, pack_size=3))
  _step(sweep, launcher)
  launcher.finish("adam/0+adam/1+adam/2", code=-15, status=None)
  _step(sweep, launcher)
  statuses = [ledger.trial_state(sweep.tdir[t])[0] for t in ("adam/0", "adam/1", "adam/2")]
  assert statuses == ["completed", "failed", "failed"]
  assert "signal 15" in studydir.read_result(sweep.tdir["adam/1"]).error
  assert sweep.final == {"adam/0+adam/1+adam/2": "done"} and sweep.worker_errors == 1


# ---- shutdown: a full disk ----

def test_full_disk_stops_launching_and_leaves_the_rest_unfinished(tmp_path):
  launcher = FakeLauncher(tmp_path, parallel=2)
  sweep = _sweep(tmp_path, _manifest(), retries=2)
  _step(sweep, launcher)
  launcher.finish("adam/0", code=EXIT_IO_ERROR, status=None, detail=FULL_DISK)
  _step(sweep, launcher)
  assert sweep.stopped == FULL_DISK and launcher.started == [(0, "adam/0", False),
                                                             (1, "sgd/0", False)]
  assert sweep.active()  # sgd/0 still runs: it is waited for, nothing more is launched
  launcher.finish("sgd/0")
  _step(sweep, launcher)
  assert not sweep.active() and len(launcher.started) == 2
  summary = sweep.summary()
  assert summary["completed"] == 1 and summary["unfinished"] == 5 and summary["retried"] == 1
  assert summary["stopped"] == FULL_DISK  # (the sweep command ends with it)


def test_unwritable_trial_is_retried_like_a_failure_and_then_given_up(tmp_path):
  launcher = FakeLauncher(tmp_path)
  sweep = _sweep(tmp_path, _manifest(optimizers=("sgd",), num_trials=1), retries=1)
  for _ in range(2):
    _step(sweep, launcher)
    launcher.finish("sgd/0", code=EXIT_IO_ERROR, status=None, detail="Permission denied")
  _step(sweep, launcher)
  assert [job for _, job, _ in launcher.started] == ["sgd/0", "sgd/0"]
  assert sweep.final == {"sgd/0": "error"} and sweep.stopped is None and not sweep.active()
