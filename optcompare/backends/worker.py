"""Runs one trial of a study: `python -m optcompare.backends.worker --study_dir D --trial_id T`.

The command is a small supervisor process (no JAX): it claims the trial (ledger.py), logs
the attempt, heartbeats from a thread, and runs the trial in a child process (the same module
with --child) that builds the trial config from study.json and calls
`optcompare.train.train_and_evaluate`. Train writes result.json on completion or divergence;
an exception escaping train is written by the child as a `failed` result with its traceback;
a child that dies without a result (a signal, the OOM killer) is written by the supervisor as
`failed` with its exit status and the tail of its log. A child never outlives its supervisor
(PR_SET_PDEATHSIG), so a trial never runs without a heartbeat.

Exit status: 0 the trial has a result; 3 another process holds the trial; 4 the claim was
lost to another process mid-run; 130 interrupted (SIGINT/SIGTERM; the claim is released and
the trial resumes from its checkpoint next time); 2 bad arguments.

Environment: OPTCOMPARE_CPUS="0,1" pins the supervisor and child to those CPUs (the local
backend sets it, and the thread and device variables, per worker slot).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

from optcompare.backends import ledger

EXIT_DONE, EXIT_BAD_ARGS, EXIT_CLAIMED, EXIT_LOST, EXIT_INTERRUPTED = 0, 2, 3, 4, 130
_LOG_TAIL_BYTES = 4000


def _last_step(tdir: str) -> int:
  step = 0
  try:
    with open(os.path.join(tdir, "metrics.jsonl"), encoding="utf-8") as f:
      for line in f:
        try:
          step = max(step, int(json.loads(line)["step"]))
        except (ValueError, KeyError):
          pass
  except OSError:
    pass
  return step


def write_failed(tdir: str, error: str, wall_time_s: float) -> None:
  """result.json with status failed, unless the trial already has a result."""
  path = os.path.join(tdir, "result.json")
  if os.path.exists(path):
    return
  ledger.write_json_atomic(path, {
      "status": "failed", "steps": _last_step(tdir), "final": {"validation": {}, "test": {}},
      "steps_to_target": None, "wall_time_s": round(wall_time_s, 3), "error": error})


def _read_status(tdir: str) -> str | None:
  return (ledger.read_result(tdir) or {}).get("status")


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


def run_child(study_dir: str, trial_id: str) -> int:
  """Builds the trial config from study.json and trains; exceptions become `failed`."""
  _die_with_parent(os.environ.get("OPTCOMPARE_SUPERVISOR_PID"), signal.SIGKILL)
  from absl import logging  # pylint: disable=g-import-not-at-top
  from optcompare import study  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)  # train's progress and "resumed ..." lines, to the log
  tdir = study.trial_dir(study_dir, trial_id)
  t0 = time.time()
  try:
    config = study.trial_config(study.load_manifest(study_dir), trial_id)
    from optcompare import train  # pylint: disable=g-import-not-at-top
    result = train.train_and_evaluate(config, tdir)
    print(f"worker: {trial_id} {result['status']} after {result['steps']} steps", flush=True)
  except Exception:  # pylint: disable=broad-except  (KeyboardInterrupt is not a failure)
    error = traceback.format_exc()
    print(error, file=sys.stderr, flush=True)
    write_failed(tdir, error, time.time() - t0)
  return EXIT_DONE


def _newest_checkpoint(tdir: str) -> int | None:
  """The newest step under checkpoints/ when the attempt starts (informational: a resume)."""
  try:
    steps = [int(n) for n in os.listdir(os.path.join(tdir, "checkpoints")) if n.isdigit()]
  except OSError:
    return None
  return max(steps, default=None)


def _log_tail(tdir: str) -> str:
  try:
    with open(os.path.join(tdir, "worker.log"), "rb") as f:
      f.seek(0, os.SEEK_END)
      f.seek(max(0, f.tell() - _LOG_TAIL_BYTES))
      return f.read().decode("utf-8", "replace")
  except OSError:
    return ""


def supervise(study_dir: str, trial_id: str, *, lease_seconds: float, retry_failed: bool,
              owner: str | None = None) -> int:
  """Claims the trial, runs it in a child process under heartbeat, releases the claim."""
  # Launched by a sweep (or a Ray task): stop (gracefully, releasing the claim) with it.
  _die_with_parent(os.environ.get("OPTCOMPARE_PARENT_PID"), signal.SIGTERM)
  cpus = os.environ.get("OPTCOMPARE_CPUS")
  if cpus and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
  tdir = ledger.trial_dir(study_dir, trial_id)
  os.makedirs(tdir, exist_ok=True)
  status = _read_status(tdir)
  if status in ("completed", "diverged") or (status == "failed" and not retry_failed):
    return EXIT_DONE
  claim = ledger.Claim.acquire(tdir, lease_seconds=lease_seconds, owner=owner)
  if claim is None:
    return EXIT_CLAIMED
  status = _read_status(tdir)  # it may have finished between the first look and the claim
  if status in ("completed", "diverged") or (status == "failed" and not retry_failed):
    claim.release()
    return EXIT_DONE
  if status == "failed":  # a retry: keep the failed result beside, train resumes or restarts
    n = sum(1 for f in os.listdir(tdir) if f.startswith("result.failed."))
    os.replace(os.path.join(tdir, "result.json"), os.path.join(tdir, f"result.failed.{n}.json"))
  attempt = {"trial": trial_id, "generation": claim.generation, "owner": claim.record["owner"],
             "host": claim.record["host"], "pid": os.getpid()}
  ledger.log_attempt(tdir, {"event": "start", "checkpoint": _newest_checkpoint(tdir), **attempt})

  child_box: list[subprocess.Popen] = []
  interrupted = threading.Event()

  def kill_child(sig=signal.SIGKILL):
    for p in child_box:
      if p.poll() is None:
        p.send_signal(sig)

  def on_signal(signum, frame):  # pylint: disable=unused-argument
    interrupted.set()
    kill_child(signal.SIGTERM)

  signal.signal(signal.SIGTERM, on_signal)
  signal.signal(signal.SIGINT, on_signal)
  stop = claim.keep_alive(on_lost=kill_child)
  env = dict(os.environ, OPTCOMPARE_SUPERVISOR_PID=str(os.getpid()))
  env.pop("OPTCOMPARE_PARENT_PID", None)
  t0 = time.time()
  try:
    child_box.append(subprocess.Popen(
        [sys.executable, "-m", "optcompare.backends.worker", "--study_dir", study_dir,
         "--trial_id", trial_id, "--child"], env=env))
    if interrupted.is_set():
      kill_child(signal.SIGTERM)
    code = child_box[0].wait()
  finally:
    stop.set()
  if claim.lost:
    ledger.log_attempt(tdir, {"event": "lost", **attempt})
    return EXIT_LOST
  status = _read_status(tdir)
  if status is None and interrupted.is_set():
    ledger.log_attempt(tdir, {"event": "interrupted", **attempt})
    claim.release()
    return EXIT_INTERRUPTED
  if status is None:
    how = f"signal {-code}" if code < 0 else f"exit status {code}"
    write_failed(tdir, f"trial process ended with {how} and no result; log tail:\n"
                 f"{_log_tail(tdir)}", time.time() - t0)
    status = "failed"
  ledger.log_attempt(tdir, {"event": "end", "status": status, "exit": code, **attempt})
  claim.release()
  return EXIT_DONE


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m optcompare.backends.worker",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--study_dir", required=True)
  parser.add_argument("--trial_id", required=True, help="<optimizer>/<index>")
  parser.add_argument("--lease_seconds", type=float, default=None,
                      help="default: the study's lease_seconds")
  parser.add_argument("--retry_failed", action="store_true",
                      help="rerun the trial if its result is `failed`")
  parser.add_argument("--owner", default=None, help="claim owner tag (default: random)")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  study_dir = os.path.abspath(args.study_dir)
  if args.child:
    return run_child(study_dir, args.trial_id)
  try:
    with open(os.path.join(study_dir, "study.json"), encoding="utf-8") as f:
      manifest = json.load(f)
  except (OSError, ValueError) as e:
    print(f"worker: error: {study_dir}/study.json: {e}", file=sys.stderr)
    return EXIT_BAD_ARGS
  if args.trial_id not in {t["id"] for t in manifest["trials"]}:
    print(f"worker: error: --trial_id: no trial {args.trial_id!r} in {study_dir}",
          file=sys.stderr)
    return EXIT_BAD_ARGS
  lease = args.lease_seconds or float(manifest["config"]["lease_seconds"])
  return supervise(study_dir, args.trial_id, lease_seconds=lease,
                   retry_failed=args.retry_failed, owner=args.owner)


if __name__ == "__main__":
  sys.exit(main())
