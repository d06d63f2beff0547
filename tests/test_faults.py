"""Fault injection: damaged files never cost a trial, never loop, never mislead.

The reference is one uninterrupted smoke trial (20 steps, checkpoints at 10 and 20). Each case
damages a copy of its directory as a crash or a disk might — after the last checkpoint, before
result.json — and resumes: the trial must end with the reference's metrics, bit for bit.
"""
import errno
import gc
import json
import os
import shutil
import subprocess
import sys

import pytest

from optcompare import study, study_manifest, studydir, train
from tests.conftest import REPO, SMOKE, run_cli, run_optcompare
from tests.test_study import smoke_study


def _lines(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [{k: v for k, v in json.loads(line).items() if k != "wall_time_s"} for line in f]


def _result(workdir):
  result = studydir.read_result(workdir).to_json()
  result.pop("wall_time_s")
  return result


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  from configs.workloads import fashion_mnist_simple_cnn  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path_factory.mktemp("reference"))
  train.train_and_evaluate(fashion_mnist_simple_cnn.get_config("smoke"), workdir)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["10", "20"]
  return workdir


@pytest.fixture
def interrupted(reference, tmp_path):
  """A copy of the reference as a kill after the step-20 checkpoint leaves it."""
  workdir = str(tmp_path / "trial")
  shutil.copytree(reference, workdir)
  os.remove(os.path.join(workdir, "result.json"))
  return workdir


def _resume(smoke_config, workdir, reference):
  result = train.train_and_evaluate(smoke_config, workdir)
  assert result["status"] == "completed"
  assert _lines(workdir) == _lines(reference)
  assert _result(workdir) == _result(reference)


def _truncate_a_data_file(step_dir):
  files = [os.path.join(r, f) for r, _, fs in os.walk(step_dir) for f in fs
           if os.path.getsize(os.path.join(r, f)) > 100 and "/d/" in os.path.join(r, f)]
  with open(max(files, key=os.path.getsize), "r+b") as f:
    f.truncate(10)


def _remove_data_files(step_dir):
  shutil.rmtree(os.path.join(step_dir, "default", "d"))


def _empty(step_dir):
  shutil.rmtree(step_dir)
  os.makedirs(step_dir)


def _garbage_metadata(step_dir):
  for name in ("_METADATA",):
    with open(os.path.join(step_dir, "default", name), "w") as f:
      f.write("\x00garbage{")


DAMAGE = {"truncated data file": _truncate_a_data_file, "missing data files": _remove_data_files,
          "empty step directory": _empty, "garbage metadata": _garbage_metadata}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_newest_checkpoint_falls_back_to_the_previous(damage, smoke_config,
                                                              interrupted, reference, capfd):
  """Bit for bit, and quietly: no traceback (TensorStore's reads still in flight when the
  restore failed used to print "Event loop is closed" dozens of times)."""
  DAMAGE[damage](os.path.join(interrupted, "checkpoints", "20"))
  capfd.readouterr()
  _resume(smoke_config, interrupted, reference)
  err = capfd.readouterr().err
  assert "Traceback" not in err and "Event loop is closed" not in err, err[-3000:]
  assert os.path.isdir(os.path.join(interrupted, "checkpoints", "20.corrupt")) or \
      damage == "empty step directory"  # Orbax never counted an empty directory


def test_fallback_through_the_cli_is_one_warning_line(interrupted, reference):
  """The command's stderr: one line naming the damaged checkpoint, why and what was used
  instead; no traceback (the in-process test above does not meet TensorStore's late reads)."""
  _remove_data_files(os.path.join(interrupted, "checkpoints", "20"))
  proc = run_optcompare("train", f"--config={SMOKE}", f"--workdir={interrupted}")
  assert "Traceback" not in proc.stderr and "Event loop" not in proc.stderr, proc.stderr[-3000:]
  warned = [line for line in proc.stderr.splitlines() if "20.corrupt" in line]
  assert len(warned) == 1, proc.stderr
  assert warned[0].startswith(f"optcompare: warning: checkpoint {interrupted}/checkpoints/20 "
                              "does not restore (") and warned[0].endswith(
                                  "set aside as 20.corrupt, resuming from checkpoint 10"), warned
  assert _lines(interrupted) == _lines(reference)


def test_no_restorable_checkpoint_restarts_from_step_zero(smoke_config, interrupted, reference):
  for step in ("10", "20"):
    _truncate_a_data_file(os.path.join(interrupted, "checkpoints", step))
  _resume(smoke_config, interrupted, reference)
  names = sorted(os.listdir(os.path.join(interrupted, "checkpoints")))
  assert "10.corrupt" in names and "20.corrupt" in names


@pytest.mark.parametrize("text", ["", "{", '{"status": "finished"}', "\x00\x00"])
def test_damaged_result_is_set_aside_and_the_trial_resumed(text, smoke_config, interrupted,
                                                           reference):
  with open(os.path.join(interrupted, "result.json"), "w") as f:
    f.write(text)
  _resume(smoke_config, interrupted, reference)
  with open(os.path.join(interrupted, "result.json.corrupt")) as f:
    assert f.read() == text


def test_damaged_config_is_set_aside(smoke_config, interrupted, reference):
  with open(os.path.join(interrupted, "config.json"), "w") as f:
    f.write('{"workload": ')
  _resume(smoke_config, interrupted, reference)
  assert os.path.exists(os.path.join(interrupted, "config.json.corrupt"))


def test_corrupt_metrics_line_is_dropped_not_fatal(smoke_config, interrupted, reference):
  path = os.path.join(interrupted, "metrics.jsonl")
  with open(path) as f:
    lines = f.readlines()
  lines.insert(2, "}{ not json\n")
  with open(path, "w") as f:
    f.writelines(lines)
  _resume(smoke_config, interrupted, reference)
  assert os.path.exists(path + ".corrupt")


def _refused(argv, monkeypatch, capsys) -> str:
  """The one stderr line of `optcompare *argv`, run in this process, which must exit 2."""
  assert run_cli(["optcompare", *argv], monkeypatch) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  return err[0]


def test_train_refuses_a_finished_trial_of_another_config(reference, tmp_path, monkeypatch,
                                                          capsys):
  workdir = str(tmp_path / "trial")
  shutil.copytree(reference, workdir)
  before = {n: os.path.getmtime(os.path.join(workdir, n)) for n in os.listdir(workdir)}
  err = _refused(["train", f"--config={SMOKE}", "--config.seed=7", f"--workdir={workdir}"],
                 monkeypatch, capsys)
  assert "config.json" in err and "seed" in err
  assert before == {n: os.path.getmtime(os.path.join(workdir, n)) for n in os.listdir(workdir)}


def test_train_refuses_a_study_directory(tmp_path, monkeypatch, capsys):
  workdir = str(tmp_path / "study")
  study.write_manifest(workdir, study.manifest_of(smoke_study()))
  err = _refused(["train", f"--config={SMOKE}", f"--workdir={workdir}"], monkeypatch, capsys)
  assert "study directory" in err
  assert os.listdir(workdir) == ["study.json"]


def test_sweep_sets_a_damaged_result_aside_once_and_finishes(tmp_path):
  """An unparseable result.json is not a result: the trial runs once more, never in a loop."""
  c = smoke_study(optimizers=("sgd",), num_trials=1)
  workdir = str(tmp_path / "study")
  study.sweep(c, workdir, progress=False)
  tdir = studydir.trial_dir(workdir, "sgd/0")
  with open(os.path.join(tdir, "result.json"), "w") as f:
    f.write("")
  summary = study.sweep(c, workdir, progress=False)
  assert summary["completed"] + summary["diverged"] == 1 and summary["ran_here"] == 1
  assert os.path.exists(os.path.join(tdir, "result.json.corrupt"))
  assert studydir.read_result(tdir).finished


@pytest.mark.parametrize("verb", ["status", "analyze", "sweep"])
def test_trial_id_outside_the_study_is_refused(verb, tmp_path, monkeypatch, capsys):
  workdir = tmp_path / "study"
  study.write_manifest(str(workdir), study.manifest_of(smoke_study(num_trials=1)))
  manifest = json.loads((workdir / "study.json").read_text())
  manifest["trials"][0]["id"] = "../../x/0"
  (workdir / "study.json").write_text(json.dumps(manifest))
  args = [verb, f"--workdir={workdir}"]
  if verb == "sweep":
    args.insert(1, f"--config={REPO}/configs/studies/choi2019/fashion_mnist_simple_cnn.py:smoke")
  assert "../../x/0" in _refused(args, monkeypatch, capsys)
  assert sorted(os.listdir(tmp_path)) == ["study"] and os.listdir(workdir) == ["study.json"]


@pytest.fixture
def small_disk(tmp_path):
  """A 1 MiB tmpfs (root only; skipped elsewhere): full during the third smoke trial (one
  worker runs the trials in turn; the timing decides only which of its writes fails)."""
  mount = tmp_path / "disk"
  mount.mkdir()
  proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                        capture_output=True, check=False)
  if proc.returncode != 0:
    pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
  yield str(mount)
  subprocess.run(["umount", str(mount)], check=False)


SWEEP_ARGS = (f"--config={REPO}/configs/studies/choi2019/fashion_mnist_simple_cnn.py:smoke",
              "--config.num_trials=1", "--retries=0")


def _sweep_results(workdir) -> dict:
  """{trial id: (metrics lines, result)} less wall times, of every trial with a result."""
  manifest = study_manifest.StudyManifest.read(workdir)
  tdirs = {tid: studydir.trial_dir(workdir, tid) for tid in manifest.trial_ids}
  return {tid: (_lines(d), _result(d)) for tid, d in tdirs.items()
          if studydir.read_result(d) is not None}


def test_disk_full_stops_a_sweep_in_one_line_and_the_rerun_is_identical(
    small_disk, tmp_path, monkeypatch, capsys):
  """A full disk is the machine's failure, not the trials': the sweep stops launching, fails
  no trial, ends with one error line naming the file system (exit 1, no traceback) and
  leaves neither claims that run nor temporary files. Rerun once space is freed, it ends
  as a sweep on a large disk does, bit for bit."""
  workdir = os.path.join(small_disk, "study")
  proc = run_optcompare("sweep", *SWEEP_ARGS, f"--workdir={workdir}", check=False,
                        timeout=600)
  assert proc.returncode == 1, proc.stderr[-2000:]
  # (a checkpoint's or a metrics line's: the background save and the loop write at once)
  _disk_full_line(proc.stderr, small_disk, checkpoint=False)
  litter = [os.path.join(r, f) for r, _, fs in os.walk(workdir) for f in fs
            if f.endswith(".tmp") or "orbax-checkpoint-tmp" in r or (
                r.endswith("claims") and os.path.getsize(os.path.join(r, f)) == 0)]
  assert not litter
  last = [line for line in proc.stderr.splitlines() if " done (" in line][-1]
  assert "0 failed); running 0 here, 0 elsewhere" in last, last
  assert run_cli(["optcompare", "status", f"--workdir={workdir}"], monkeypatch) == 0
  rows = capsys.readouterr().out.splitlines()[2:]
  # trials, done, running, pending, diverged, failed
  counts = [[int(x) for x in row.split()[1:7]] for row in rows]
  assert sum(trials for trials, *_ in counts) == 6, "\n".join(rows)
  assert all(trials == done + pending and running == diverged == failed == 0
             for trials, done, running, pending, diverged, failed in counts), "\n".join(rows)
  assert 0 < sum(pending for _, _, _, pending, _, _ in counts) < 6, "\n".join(rows)
  subprocess.run(["mount", "-o", "remount,size=16m", small_disk], check=True)
  run_optcompare("sweep", *SWEEP_ARGS, f"--workdir={workdir}", timeout=600)
  reference = str(tmp_path / "reference")
  run_optcompare("sweep", *SWEEP_ARGS, f"--workdir={reference}", timeout=600)
  assert _sweep_results(workdir) == _sweep_results(reference)
  assert len(_sweep_results(reference)) == 6


@pytest.mark.parametrize("event", ["start", "end"])
def test_a_full_disk_at_the_attempt_log_releases_the_claim(event, tmp_path, monkeypatch):
  """The attempt log's line is a write too: when it meets a full disk, before the trial
  trains or after, the worker replies EXIT_IO_ERROR and its claim is gone (none left to
  hold the trial "running" for a lease, which a sweep would count as running elsewhere)."""
  from optcompare.backends import ledger, worker  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / "study")
  manifest = study.manifest_of(smoke_study(num_trials=1))
  study.write_manifest(workdir, manifest)
  tid = manifest.trial_ids[0]
  log_attempt = ledger.log_attempt

  def log_on_a_full_disk(trial_dir, line):
    if line["event"] == event:
      raise OSError(errno.ENOSPC, "No space left on device", os.path.join(trial_dir, "x"))
    log_attempt(trial_dir, line)

  monkeypatch.setattr(ledger, "log_attempt", log_on_a_full_disk)
  code, error = worker.run_trial(workdir, manifest, tid, retry=False, lease_seconds=600,
                                 owner="test")
  assert code == worker.EXIT_IO_ERROR and error.startswith("No space left on device"), error
  tdir = studydir.trial_dir(workdir, tid)
  assert ledger.live_claim(tdir, lease_seconds=600) is None
  assert ledger.trial_state(tdir, lease_seconds=600)[0] == (
      studydir.PENDING if event == "start" else studydir.COMPLETED)


def test_a_full_disk_at_a_packs_second_claim_releases_the_first(tmp_path, monkeypatch):
  from optcompare import packs  # pylint: disable=g-import-not-at-top
  from optcompare.backends import ledger, worker  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / "study")
  manifest = study.manifest_of(smoke_study(num_trials=2))
  study.write_manifest(workdir, manifest)
  first, second = [t for t in manifest.trial_ids if studydir.optimizer_of(t) == "sgd"][:2]
  acquire = ledger.Claim.acquire

  def acquire_on_a_full_disk(trial_dir, **kwargs):
    if trial_dir == studydir.trial_dir(workdir, second):
      raise OSError(errno.ENOSPC, "No space left on device", trial_dir)
    return acquire(trial_dir, **kwargs)

  monkeypatch.setattr(ledger.Claim, "acquire", acquire_on_a_full_disk)
  code, _ = worker.run_job(workdir, manifest, packs.key([first, second]), retry=False,
                           lease_seconds=600, owner="test")
  assert code == worker.EXIT_IO_ERROR
  assert ledger.live_claim(studydir.trial_dir(workdir, first), lease_seconds=600) is None


def _mount_tmpfs(mount, size: str) -> None:
  mount.mkdir()
  proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                        capture_output=True, check=False)
  if proc.returncode != 0:
    pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")


@pytest.fixture
def checkpoint_sized_disk(tmp_path):
  """A 300 KiB tmpfs: the smoke trial's config and metrics fit, its first checkpoint
  (about 340 KiB) does not."""
  mount = tmp_path / "disk"
  _mount_tmpfs(mount, "300k")
  yield mount
  subprocess.run(["umount", str(mount)], check=False)


def _disk_full_line(stderr: str, mount, *, checkpoint: bool = True) -> str:
  """The one error line of a command that met a full disk (and that nothing follows it);
  `checkpoint`: the write that failed was a checkpoint's, whose size the line names."""
  assert "Traceback" not in stderr and "Event loop" not in stderr, stderr[-3000:]
  errors = [line for line in stderr.splitlines() if line.startswith("optcompare: error:")]
  assert len(errors) == 1 and stderr.strip().splitlines()[-1] == errors[0], stderr[-3000:]
  assert f"No space left on device: the file system at {mount} (tmpfs)" in errors[0], errors[0]
  assert "run the same command again" in errors[0], errors[0]
  assert "KiB needed" in errors[0] or not checkpoint, errors[0]
  return errors[0]


def test_disk_full_at_a_checkpoint_is_one_line_and_the_rerun_is_identical(
    checkpoint_sized_disk, reference, monkeypatch, capfd):
  workdir = str(checkpoint_sized_disk / "trial")
  argv = ["optcompare", "train", f"--config={SMOKE}", f"--workdir={workdir}"]
  capfd.readouterr()
  assert run_cli(argv, monkeypatch) == 1
  _disk_full_line(capfd.readouterr().err, checkpoint_sized_disk)
  assert not [n for n in os.listdir(os.path.join(workdir, "checkpoints")) if "tmp" in n]
  subprocess.run(["mount", "-o", "remount,size=2m", str(checkpoint_sized_disk)], check=True)
  assert run_cli(argv, monkeypatch) == 0
  assert _lines(workdir) == _lines(reference) and _result(workdir) == _result(reference)


@pytest.mark.slow
def test_disk_full_in_a_background_save_ends_the_process_quietly(tmp_path, reference):
  """600 KiB: the step-10 checkpoint fits, the step-20 one fails in Orbax's save threads
  after the trial's last lines; the error is the last line (the threads were stopped)."""
  mount = tmp_path / "disk"
  _mount_tmpfs(mount, "600k")
  try:
    workdir = str(mount / "trial")
    proc = run_optcompare("train", f"--config={SMOKE}", f"--workdir={workdir}", check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    _disk_full_line(proc.stderr, mount)
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["10"]
    assert _lines(workdir) == _lines(reference)
  finally:
    subprocess.run(["umount", str(mount)], check=False)


def _disk_fills_under(path: str) -> int:
  """The open file `path` of this process writes to /dev/full from now on, which fails every
  write with ENOSPC as a full disk does: its descriptor (returned) is pointed there (no
  private attribute of the writer is touched)."""
  fds = [int(n) for n in os.listdir("/proc/self/fd")
         if os.path.realpath(f"/proc/self/fd/{n}") == os.path.realpath(path)]
  assert len(fds) == 1, fds
  full = os.open("/dev/full", os.O_WRONLY)
  os.dup2(full, fds[0])
  os.close(full)
  return fds[0]


def _open(fd: int) -> bool:
  """Whether descriptor `fd` (of _disk_fills_under) is still open (not closed, nor reused)."""
  return os.path.realpath(f"/proc/self/fd/{fd}") == "/dev/full"


def test_metrics_line_on_a_full_disk_names_the_file_system(tmp_path):
  """The message names the file system the metrics file is on; closing reports the full disk
  only when no other error is on its way up, and closes both files all the same (one left
  open is flushed again when collected, at exit, and fails again)."""
  from optcompare import errors, metrics  # pylint: disable=g-import-not-at-top
  log = metrics.MetricsLog(str(tmp_path))
  log.resume(0)
  fds = [_disk_fills_under(log.path)]
  with pytest.raises(errors.DiskFullError) as raised:
    log.write(1, "train", {"loss": 1.0}, 0.0)
  assert str(raised.value).startswith("No space left on device: the file system at /")
  assert " free of " in str(raised.value)
  assert f"writing {log.path}" in str(raised.value)
  fds.append(_disk_fills_under(log.writer.path))
  with pytest.raises(RuntimeError, match="the error on its way up"):
    try:  # as the loop closes its files in a `finally`: the first error is the one reported
      raise RuntimeError("the error on its way up")
    finally:
      log.close()
  assert not any(_open(fd) for fd in fds)


def test_an_event_file_whose_flush_fails_is_closed_all_the_same(tmp_path):
  from optcompare import event_writer  # pylint: disable=g-import-not-at-top
  writer = event_writer.EventFileWriter(str(tmp_path))
  writer.write_scalars(1, {"train/loss": 1.0})  # (buffered: the flush writes it)
  fd = _disk_fills_under(writer.path)
  with pytest.raises(OSError) as raised:
    writer.close()
  assert raised.value.errno == errno.ENOSPC and not _open(fd)
  writer.close()  # closed: nothing left to flush


def test_any_full_disk_a_command_meets_is_one_error_line(tmp_path, monkeypatch, capsys):
  """An ENOSPC from any write (here: raised by the verb itself) is one line naming the file
  system, exit status 1; TensorStore's way of saying it (Orbax saves) is recognised too."""
  from optcompare import cli, errors  # pylint: disable=g-import-not-at-top

  def full(args, argv):
    del args, argv
    raise OSError(28, "No space left on device", str(tmp_path / "study" / "x.json"))

  monkeypatch.setitem(cli.COMMANDS, "status", full)
  assert run_cli(["optcompare", "status", f"--workdir={tmp_path}"], monkeypatch) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith(
      "optcompare: error: No space left on device: the file system at /"), err
  assert f"writing {tmp_path / 'study' / 'x.json'}" in err[0], err
  assert errors.is_disk_full(ValueError(
      'RESOURCE_EXHAUSTED: Error writing "params.w/0.0" in OCDBT database: Failed to write '
      "38985 bytes to file 16: No space left on device [os_error_code='28']"))
  assert not errors.is_disk_full(ValueError("RESOURCE_EXHAUSTED: out of memory"))


def test_a_late_tensorstore_wakeup_is_dropped_and_other_unraisables_pass(monkeypatch):
  """TensorStore completing a read or write whose event loop Orbax closed reports "Event loop
  is closed" through sys.unraisablehook (made here with a Promise, as TensorStore's I/O
  threads do); the checkpointing hook drops that report and passes any other on."""
  import asyncio  # pylint: disable=g-import-not-at-top
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  from optcompare import checkpointing  # pylint: disable=g-import-not-at-top
  passed_on = []
  monkeypatch.setattr(sys, "unraisablehook", checkpointing.without_abandoned_work(
      passed_on.append))
  promise, future = ts.Promise.new()
  loop = asyncio.new_event_loop()
  loop.create_task(_await(future))
  loop.run_until_complete(asyncio.sleep(0.01))  # the task now waits on the future
  loop.close()
  promise.set_result(1)  # TensorStore wakes the closed loop
  assert not passed_on, [str(u.exc_value) for u in passed_on]

  class Unrelated:
    def __del__(self):
      raise RuntimeError("Event loop is closed")  # the same words, not TensorStore's wake-up

  Unrelated()
  gc.collect()
  assert [str(u.exc_value) for u in passed_on] == ["Event loop is closed"]


async def _await(future):
  return await future


def test_asyncio_records_of_a_failed_restores_reads_are_dropped(tmp_path):
  """A failed restore's reads that failed after the first one end as asyncio's "Future
  exception was never retrieved" records, logged whenever the garbage collector meets them
  (during a later test or command of the process, with a traceback): those naming the
  checkpoint directory are dropped; others are kept."""
  import asyncio  # pylint: disable=g-import-not-at-top
  import logging  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from optcompare import checkpointing  # pylint: disable=g-import-not-at-top
  ckpt = checkpointing.Checkpointer(str(tmp_path / "checkpoints"), async_save=False)
  with pytest.raises(Exception):  # pylint: disable=broad-except
    ckpt.restore(7, {"w": jnp.zeros(3)})  # no step 7
  ckpt.close()
  seen = []
  handler = logging.Handler()
  handler.emit = lambda record: seen.append(record.getMessage())
  logging.getLogger("asyncio").addHandler(handler)
  try:
    for where in (ckpt.directory, str(tmp_path / "elsewhere")):
      loop = asyncio.new_event_loop()
      loop.create_future().set_exception(ValueError(
          f'OUT_OF_RANGE: Error reading "w/0" in OCDBT database at local file "{where}/7/"'))
      loop.close()
      gc.collect()
  finally:
    logging.getLogger("asyncio").removeHandler(handler)
  assert len(seen) == 1 and "elsewhere" in seen[0], seen
