"""A long-lived worker: one process that trains trial after trial of a study.

`python -m optcompare.backends.worker --study_dir D [--lease_seconds S] [--owner O]` reads
requests from stdin, one JSON line each, `{"trial": "<optimizer>/<index>", "retry": bool}`,
and answers each on stdout with `{"trial": ..., "code": EXIT_*, "status": ...}`; it exits at
the end of its input. Everything else it prints goes to stderr (the sweep's worker log).
The Ray backend calls `run_job` from a long-lived actor instead.

A trial over P > 1 processes (study field processes_per_trial) is run by P workers started
with `--coordinator_address A --num_processes P --process_id i`, which join one JAX job at
start-up (optcompare.multihost) and all receive every request: `run_member_job` has process 0
claim and run it as run_job does (it alone writes the trial's files) and tell the others
which trials it claimed; they train those with it and reply `{"trial": ..., "code":
EXIT_DONE}`, or EXIT_MEMBER_FAILED with the error's line (its traceback added to the trial's
worker.log). backends/local.py ends the attempt of a group one of whose processes failed.

A request's "trial" may be a pack (study field pack_size > 1): trial ids joined by "+"
(optcompare.packs). `run_pack` claims every trial of it that needs running (all or none:
one held elsewhere makes the pack EXIT_CLAIMED), trains them in one program
(optcompare.packed.train_pack, checkpointing under studydir.pack_dir) and releases them
together; its reply's status maps each trial it ran to its result status.

`run_trial` claims the trial (ledger.py: the claim names this process, so a worker that dies
frees its trial at once on this machine), logs the attempt, heartbeats from a thread, and
calls `optcompare.train.train_and_evaluate` in this process, so a worker compiles each
(workload, optimizer, schedule kind) once and reuses it for every later trial. An exception
escaping train is written as a `failed` result with its traceback and the worker goes on (a
BadInputError as its one line, after ledger.BAD_INPUT_PREFIX: the sweep never retries it),
except a full disk: no result (the trial resumes from its checkpoint once space is freed),
the claims released, and the reply EXIT_IO_ERROR with DiskFullError's line, on which the
sweep stops launching and ends. A worker that dies (a signal, the OOM killer) is recorded by
the sweep, which starts a new one.

Codes: EXIT_DONE the trial has a result; EXIT_CLAIMED another process holds it; EXIT_LOST the
claim was lost mid-run (this process was paused past its lease); the worker process exits with
EXIT_INTERRUPTED on SIGINT/SIGTERM (its claim released: the trial resumes from its checkpoint
next time) and with EXIT_BAD_ARGS on bad arguments.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from optcompare import errors, packs, study_manifest, studydir
from optcompare.backends import ledger
from optcompare.errors import BadInputError

EXIT_DONE, EXIT_BAD_ARGS, EXIT_CLAIMED, EXIT_LOST, EXIT_INTERRUPTED = 0, 2, 3, 4, 130
EXIT_IO_ERROR = 5  # the trial's files could not be written (a full disk): no result
EXIT_MEMBER_FAILED = 6  # training raised in a process other than 0 of a multi-process trial
_LOG_TAIL_BYTES = 4000


class Interrupted(BaseException):
  """SIGINT/SIGTERM reached the worker: stop, release the claim, exit."""


class ClaimLost(BaseException):
  """Another process took the trial over (this one was paused past its lease)."""


def _last_step(tdir: str) -> int:
  step = 0
  try:
    with open(os.path.join(tdir, studydir.METRICS), encoding="utf-8") as f:
      for line in f:
        try:
          step = max(step, int(json.loads(line)["step"]))
        except (ValueError, KeyError, TypeError):
          pass
  except OSError:
    pass
  return step


def write_failed(tdir: str, error: str, wall_time_s: float) -> None:
  """result.json with status failed, unless the trial already has a readable result."""
  try:
    if studydir.read_result(tdir) is not None:
      return
  except studydir.DamagedFileError:
    pass  # replaced below: the failure is what the sweep must see
  studydir.write_result(tdir, studydir.failed_result(error, steps=_last_step(tdir),
                                                     wall_time_s=wall_time_s))


def log_tail(tdir: str) -> str:
  """The end of the trial's worker.log (for a failure message)."""
  try:
    with open(os.path.join(tdir, studydir.WORKER_LOG), "rb") as f:
      f.seek(0, os.SEEK_END)
      f.seek(max(0, f.tell() - _LOG_TAIL_BYTES))
      return f.read().decode("utf-8", "replace")
  except OSError:
    return ""


def _status(tdir: str) -> str | None:
  """The result's status; a damaged result.json is set aside (reported) and reads as none."""
  try:
    result = studydir.read_result(tdir)
  except studydir.DamagedFileError as e:
    moved = studydir.set_aside(os.path.join(tdir, studydir.RESULT))
    print(f"worker: {e}; set aside as {os.path.basename(moved)}", file=sys.stderr, flush=True)
    return None
  return result.status if result else None


def trial_config(manifest: study_manifest.StudyManifest, trial_id: str):
  """The trial config (a locked ConfigDict) of `trial_id` in a loaded StudyManifest: a
  search trial's, or a seed re-run's (its search trial's with another base seed)."""
  from optcompare.search import spaces  # pylint: disable=g-import-not-at-top
  try:
    t, seed = manifest.entry(trial_id)
  except KeyError:
    raise BadInputError(f"trial_id: no trial {trial_id!r} in this study") from None
  config = spaces.build_trial_config(manifest.base, t.optimizer, t.hparams,
                                    manifest.plugin(t.optimizer))
  if seed is not None:
    config.seed = seed
  return config


def _newest_checkpoint(directory: str) -> int | None:
  """The newest step under `directory`'s checkpoints when the attempt starts (informational:
  a resume). `directory`: the trial's, or its pack's."""
  try:
    steps = [int(n) for n in os.listdir(os.path.join(directory, studydir.CHECKPOINTS))
             if n.isdigit()]
  except OSError:
    return None
  return max(steps, default=None)


class _TrialLog:
  """Copies this process's log records to the trial's worker.log while the trial runs."""

  def __init__(self, tdir: str):
    self.handler = logging.FileHandler(os.path.join(tdir, studydir.WORKER_LOG),
                                       encoding="utf-8")
    self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    # Orbax logs every phase of every save at INFO; keep its warnings.
    self.handler.addFilter(lambda r: r.levelno >= logging.WARNING or "/orbax/" not in r.pathname)

  def __enter__(self):
    logging.getLogger().addHandler(self.handler)
    return self

  def write(self, text: str) -> None:
    self.handler.stream.write(text if text.endswith("\n") else text + "\n")
    self.handler.flush()

  def __exit__(self, *exc):
    logging.getLogger().removeHandler(self.handler)
    self.handler.close()


_active = threading.Event()  # a trial is training: a lost claim interrupts it


def _on_lost_signal(signum, frame):  # pylint: disable=unused-argument
  if _active.is_set():
    raise ClaimLost()


def _interrupt_main_on_lost() -> None:
  """From the heartbeat thread: make the main thread raise ClaimLost."""
  signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)


@contextlib.contextmanager
def _training():
  """While the main thread trains: a lost claim interrupts it (ClaimLost)."""
  _active.set()
  try:
    yield
  finally:
    _active.clear()


def _train_trial(manifest: study_manifest.StudyManifest, trial_id: str, tdir: str
                 ) -> dict[str, str]:
  """Trains one trial (optcompare.train): {its directory: result status}."""
  from optcompare import train  # pylint: disable=g-import-not-at-top  (JAX)
  config = trial_config(manifest, trial_id)
  with _training():
    result = train.train_and_evaluate(config, tdir)
  return {tdir: result["status"]}


def _train_pack(manifest: study_manifest.StudyManifest, trial_ids: list[str], tdirs: list[str],
                pack_dir: str, claimed) -> dict[str, str]:
  """Trains `trial_ids` as one pack (optcompare.packed), writing only the files of those
  whose directory is in `claimed`: {their directory: result status}."""
  from optcompare import packed  # pylint: disable=g-import-not-at-top  (JAX)
  configs = [trial_config(manifest, t) for t in trial_ids]
  with _training():
    results = packed.train_pack(configs, tdirs, pack_dir, writes=[d in claimed for d in tdirs])
  return {d: (r or {}).get("status") for d, r in zip(tdirs, results) if d in claimed}


def run_trial(study_dir: str, manifest: study_manifest.StudyManifest, trial_id: str, *,
              retry: bool, lease_seconds: float, owner: str, on_claimed=None
              ) -> tuple[int, str | None]:
  """Claims, trains and releases one trial in this process: (code, result status).

  (EXIT_IO_ERROR, the error) when the trial's own files cannot be written (its result
  included), so the sweep can say why in one line instead of losing the worker.
  on_claimed([trial_id]), when given, is called once the trial is claimed, before it trains.
  """
  try:
    code, status = _run_claimed(study_dir, manifest, [trial_id], retry=retry,
                                lease_seconds=lease_seconds, owner=owner, pack=False,
                                on_claimed=on_claimed)
    if code != EXIT_DONE:
      return code, None
    tdir = studydir.trial_dir(study_dir, trial_id)
    return code, status[tdir] if status else _status(tdir)  # (not run: its result's)
  except OSError as e:
    return _io_error(e, studydir.trial_dir(study_dir, trial_id))


def run_pack(study_dir: str, manifest: study_manifest.StudyManifest, trial_ids: list[str], *,
             retry: bool, lease_seconds: float, owner: str) -> tuple[int, Any]:
  """Claims, trains (as one pack) and releases the trials that need running among
  `trial_ids`: (code, {trial id: result status}) (see the module docstring)."""
  code, status = _run_claimed(study_dir, manifest, trial_ids, retry=retry,
                              lease_seconds=lease_seconds, owner=owner, pack=True)
  if code != EXIT_DONE:
    return code, None
  ids = {studydir.trial_dir(study_dir, t): t for t in trial_ids}
  return code, {ids[d]: s for d, s in status.items()}


def run_job(study_dir: str, manifest: study_manifest.StudyManifest, job: str, *, retry: bool,
            lease_seconds: float, owner: str, on_claimed=None) -> tuple[int, Any]:
  """A trial (run_trial) or a pack of trials (run_pack), by its job key (optcompare.packs).
  on_claimed: run_trial's (a pack has no multi-process form: study.py refuses one)."""
  ids = packs.members(job)
  if len(ids) == 1:
    return run_trial(study_dir, manifest, ids[0], retry=retry, lease_seconds=lease_seconds,
                     owner=f"{owner}-{ids[0]}", on_claimed=on_claimed)
  try:
    return run_pack(study_dir, manifest, ids, retry=retry, lease_seconds=lease_seconds,
                    owner=f"{owner}-pack-{ids[0]}")
  except OSError as e:
    return _io_error(e, studydir.pack_dir(study_dir, ids))


def _run_claimed(study_dir: str, manifest: study_manifest.StudyManifest, trial_ids: list[str], *,
                 retry: bool, lease_seconds: float, owner: str, pack: bool, on_claimed=None
                 ) -> tuple[int, dict | None]:
  """Claims the trials among `trial_ids` that need running (all or none), trains them in
  this process (one trial, or with `pack` the trials as one pack) and releases them.

  (EXIT_DONE, {trial directory: result status} of those it ran), (EXIT_CLAIMED, None) when
  one is held elsewhere, (EXIT_LOST, None) when a claim was lost mid-run. OSError (the
  trials' files cannot be written) propagates; once the trials are claimed, it releases
  the claims first (_attempt). on_claimed(the trial ids claimed), when given, is
  called before they train, and only when some were claimed.
  """
  tdirs = [studydir.trial_dir(study_dir, t) for t in trial_ids]
  for d in tdirs:
    os.makedirs(d, exist_ok=True)
  claims = _claim(tdirs, retry=retry, lease_seconds=lease_seconds, owner=owner)
  if claims is None:
    return EXIT_CLAIMED, None
  if not claims:
    return EXIT_DONE, {}
  ids = dict(zip(tdirs, trial_ids))
  if on_claimed is not None:  # (after _claim set a failed result aside: none is read back)
    on_claimed([ids[d] for d in claims])
  attempts = {d: {"trial": ids[d], **({"pack": trial_ids} if pack else {}),
                  "generation": c.generation, "owner": c.record["owner"],
                  "host": c.record["host"], "pid": os.getpid()} for d, c in claims.items()}
  if pack:
    checkpoints = studydir.pack_dir(study_dir, trial_ids)
    train = functools.partial(_train_pack, manifest, trial_ids, tdirs, checkpoints, claims)
  else:
    checkpoints = tdirs[0]
    train = functools.partial(_train_trial, manifest, trial_ids[0], tdirs[0])
  status = _attempt(claims, attempts, checkpoints, train)
  return (EXIT_LOST, None) if status is None else (EXIT_DONE, status)


def run_member_job(study_dir: str, manifest: study_manifest.StudyManifest, job: str, *,
                   process_id: int, retry: bool, lease_seconds: float, owner: str
                   ) -> tuple[int, Any]:
  """This process's part of a job of a multi-process trial (see the module docstring):
  process 0 runs run_job, then or on claiming tells the others what it claimed (every
  process of the job takes part in exactly one such broadcast per job, so they stay in
  step); another process trains what it is told (_follow)."""
  from optcompare import multihost  # pylint: disable=g-import-not-at-top  (JAX)
  ids = packs.members(job)
  if process_id != 0:
    return _follow(study_dir, manifest, multihost.shared_trials(ids), process_id)
  told = []

  def tell(claimed: list[str]) -> None:
    told.append(claimed)
    multihost.share_trials(ids, claimed)

  code, status = run_job(study_dir, manifest, job, retry=retry, lease_seconds=lease_seconds,
                         owner=owner, on_claimed=tell)
  if not told:  # held elsewhere, finished, or its files unwritable: the others skip it too
    multihost.share_trials(ids, [])
  return code, status


def _follow(study_dir: str, manifest: study_manifest.StudyManifest, trial_ids: list[str],
            process_id: int) -> tuple[int, str | None]:
  """Trains `trial_ids` (what process 0 claimed) as a process other than 0 of their job:
  train writes no file from such a process. (EXIT_DONE, None), or (EXIT_MEMBER_FAILED, the
  error's line) with the traceback added to the trial's worker.log, which the sweep's
  failure message quotes when the attempt ends without process 0's result."""
  from optcompare import train  # pylint: disable=g-import-not-at-top  (JAX)
  for tid in trial_ids:
    tdir = studydir.trial_dir(study_dir, tid)
    try:
      train.train_and_evaluate(trial_config(manifest, tid), tdir)
    except Exception as e:  # pylint: disable=broad-except  (this attempt's failure)
      text = f"process {process_id} of the trial failed:\n{traceback.format_exc()}"
      print(text, file=sys.stderr, flush=True)
      with open(os.path.join(tdir, studydir.WORKER_LOG), "a", encoding="utf-8") as log:
        log.write(text)
      return EXIT_MEMBER_FAILED, _one_line(e)
  return EXIT_DONE, None


def _wants_run(tdir: str, retry: bool) -> bool:
  status = _status(tdir)
  return not (status in studydir.FINISHED or (status == studydir.FAILED and not retry))


def _claim(tdirs: list[str], *, retry: bool, lease_seconds: float, owner: str) -> dict | None:
  """{trial directory: Claim} of the trials in `tdirs` that need running, or None (each
  claim taken released) if one is held elsewhere. One that finished between the first look
  and its claim is released and left out; a failed result to retry is kept beside."""
  claims = {}
  try:
    for d in [d for d in tdirs if _wants_run(d, retry)]:
      claim = ledger.Claim.acquire(d, lease_seconds=lease_seconds, owner=owner)
      if claim is None:
        _release_all(claims)
        return None
      claims[d] = claim
    for d in [d for d in claims if not _wants_run(d, retry)]:  # finished since the first look
      claims.pop(d).release()
    for d in claims:
      if _status(d) == studydir.FAILED:  # a retry: keep the failed result beside; train resumes
        studydir.keep_failed_result(d)
  except OSError:  # a full disk at a pack's second claim: the first is not left holding
    _release_all(claims)
    raise
  return claims


def _attempt(claims: dict, attempts: dict, checkpoints: str, train) -> dict | None:
  """One attempt at the claimed trials: logs its start (and the newest checkpoint under
  `checkpoints`), heartbeats the claims, runs `train()`, logs its end and releases the
  claims: {trial directory: result status}, or None when a claim was lost. A write that
  fails (an OSError: a full disk), the attempt log's included, releases the claims before
  it propagates: a claim left behind would hold its trial "running" for a whole lease."""
  try:
    for d in claims:
      ledger.log_attempt(d, {"event": "start", "checkpoint": _newest_checkpoint(checkpoints),
                             **attempts[d]})
    stops = [c.keep_alive(on_lost=_interrupt_main_on_lost) for c in claims.values()]
    try:
      status = _train_logged(claims, attempts, train)
    finally:
      for stop in stops:
        stop.set()
      gc.collect()  # the trials' arrays go now, not at some later trial's allocation
    for d in claims if status is not None else ():
      ledger.log_attempt(d, {"event": "end", "status": status[d], **attempts[d]})
  except OSError:
    _release_all(claims)
    raise
  if status is not None:
    for claim in claims.values():
      claim.release()
  return status


def _train_logged(claims: dict, attempts: dict, train) -> dict | None:
  """`train()` with this process's log records copied to each claimed trial's worker.log.
  An exception escaping it is each trial's `failed` result (with the traceback); a lost
  claim returns None; an interrupt releases the claims and propagates; so does a full disk,
  as a DiskFullError (`_attempt` releases the claims)."""
  t0 = time.time()
  with contextlib.ExitStack() as stack:
    logs = [stack.enter_context(_TrialLog(d)) for d in claims]
    try:
      return train()
    except ClaimLost:
      _end_early(claims, attempts, "lost")
      return None
    except Interrupted:
      _end_early(claims, attempts, "interrupted")
      raise
    except BadInputError as e:  # deterministic: one line, and the sweep never retries it
      return _fail_all(claims, logs, ledger.BAD_INPUT_PREFIX + _one_line(e), t0)
    except Exception as e:  # pylint: disable=broad-except  (the trials' failure, not the worker)
      if errors.is_disk_full(e):  # the machine's: no result; the sweep stops on it
        raise _disk_full(e, next(iter(claims))) from None
      return _fail_all(claims, logs, traceback.format_exc(), t0)


def _disk_full(e: BaseException, path: str) -> errors.DiskFullError:
  """`e`, a full disk met writing under `path`, as the DiskFullError naming the file system
  (an ENOSPC OSError's file, or TensorStore's RESOURCE_EXHAUSTED, say less)."""
  if isinstance(e, errors.DiskFullError):
    return e
  return errors.disk_full(getattr(e, "filename", None) or path)


def _io_error(e: OSError, path: str) -> tuple[int, str]:
  """(EXIT_IO_ERROR, the error's line) for files under `path` that cannot be written; a full
  disk's line starts with "No space left on device", which stops the sweep."""
  return EXIT_IO_ERROR, str(_disk_full(e, path) if errors.is_disk_full(e) else e)


def _one_line(e: BaseException) -> str:
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  return lines[0] if lines else type(e).__name__


def _fail_all(claims: dict, logs: list, error: str, t0: float) -> dict:
  """Each claimed trial's `failed` result with `error` (also written to its log)."""
  for log in logs:
    log.write(error)
  for d in claims:
    write_failed(d, error, time.time() - t0)
  return {d: studydir.FAILED for d in claims}


def _end_early(claims: dict, attempts: dict, event: str) -> None:
  """Releases the claims (a lost one is left alone: Claim.release checks) and logs why the
  attempt ended without a result ("lost", "interrupted")."""
  _release_all(claims)
  for d in claims:
    ledger.log_attempt(d, {"event": event, **attempts[d]})


def _release_all(claims: dict) -> None:
  """Releases a pack's claims (a lost one is left alone: Claim.release checks)."""
  for claim in claims.values():
    _release_quietly(claim)


def _release_quietly(claim) -> None:
  """Releases a claim when its files may not be writable (a full disk): the ledger removes
  a claim it cannot rewrite; failing even that, the claim's lease runs out."""
  try:
    claim.release()
  except OSError:
    pass


def _die_with_parent(parent: str | None, sig: int) -> None:
  """Asks Linux to send `sig` to this process when its parent dies (PR_SET_PDEATHSIG)."""
  if not parent:
    return
  try:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(sig))  # 1 = PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    return
  if os.getppid() != int(parent):  # the parent died before prctl took effect
    os._exit(EXIT_INTERRUPTED)  # pylint: disable=protected-access


def _raise_interrupted(signum, frame):  # pylint: disable=unused-argument
  raise Interrupted()


def install_signal_handlers() -> None:
  """SIGTERM/SIGINT stop the worker cleanly; SIGUSR1 is the heartbeat's lost-claim alarm."""
  signal.signal(signal.SIGTERM, _raise_interrupted)
  signal.signal(signal.SIGINT, _raise_interrupted)
  signal.signal(signal.SIGUSR1, _on_lost_signal)


def serve(study_dir: str, requests, replies, *, lease_seconds: float | None, owner: str,
          process_id: int | None = None) -> int:
  """Answers trial (and pack) requests (JSON lines) until the input ends; with `process_id`,
  as that process of multi-process trials (run_member_job)."""
  manifest = study_manifest.StudyManifest.read(study_dir)
  lease = lease_seconds or float(manifest.config["lease_seconds"])
  for line in requests:
    if not line.strip():
      continue
    request = json.loads(line)
    job = request["trial"]
    if not set(packs.members(job)) <= set(manifest.trial_ids):
      manifest = study_manifest.StudyManifest.read(study_dir)  # the study may have grown
    run = run_job if process_id is None else functools.partial(run_member_job,
                                                               process_id=process_id)
    code, status = run(study_dir, manifest, job, retry=bool(request.get("retry")),
                       lease_seconds=lease, owner=owner)
    reply = {"trial": job, "code": code, "status": status}
    replies.write(json.dumps(reply) + "\n")
    replies.flush()
  return EXIT_DONE


def main(argv=None) -> int:
  from optcompare import quiet  # pylint: disable=g-import-not-at-top
  quiet.silence([])  # before TensorFlow loads; --verbosity reaches here through the env
  parser = argparse.ArgumentParser(prog="python -m optcompare.backends.worker",
                                   description=__doc__.split("\n\n", 1)[0])
  parser.add_argument("--study_dir", required=True)
  parser.add_argument("--lease_seconds", type=float, default=None,
                      help="default: the study's lease_seconds")
  parser.add_argument("--owner", default=f"worker-{os.getpid()}", help="claim owner tag")
  parser.add_argument("--coordinator_address", help="a multi-process trial's: HOST:PORT of "
                      "its process 0 (the three go together)")
  parser.add_argument("--num_processes", type=int, help="processes per trial")
  parser.add_argument("--process_id", type=int, help="this process's index in each trial")
  args = parser.parse_args(argv)
  # Launched by a sweep: stop (gracefully, releasing the claim) with it.
  _die_with_parent(os.environ.get("OPTCOMPARE_PARENT_PID"), signal.SIGTERM)
  cpus = os.environ.get("OPTCOMPARE_CPUS")
  if cpus and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
  install_signal_handlers()
  # A log file that cannot be written (a full disk) must not print a traceback per record.
  logging.raiseExceptions = False
  # Replies go to the original stdout; anything else printed lands in the log (stderr).
  replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
  os.dup2(2, 1)
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.INFO)
  try:
    if (args.coordinator_address, args.num_processes, args.process_id) != (None,) * 3:
      from optcompare import multihost  # pylint: disable=g-import-not-at-top  (JAX)
      multihost.initialize(args.coordinator_address, args.num_processes, args.process_id)
    return serve(os.path.abspath(args.study_dir), sys.stdin, replies,
                 lease_seconds=args.lease_seconds, owner=args.owner,
                 process_id=args.process_id)
  except BadInputError as e:
    print(f"worker: error: {e}", file=sys.stderr)
    return EXIT_BAD_ARGS
  except Interrupted:
    if args.process_id is not None:  # the others of its JAX job may be gone already:
      sys.stdout.flush()  # exiting now skips jax.distributed's exit barrier, which waits
      sys.stderr.flush()  # for them (the claims are released: _end_early)
      os._exit(EXIT_INTERRUPTED)  # pylint: disable=protected-access
    return EXIT_INTERRUPTED


if __name__ == "__main__":
  sys.exit(main())
