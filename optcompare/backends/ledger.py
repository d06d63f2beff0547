"""The trial ledger: who runs which trial (claims with leases), and where each trial stands.

A claim on trial T is a file `trials/<optimizer>/<index>/claims/<generation>.json`, created
with O_CREAT|O_EXCL, so of two processes that try to create the same generation exactly one
succeeds, on one machine or on a POSIX shared file system (NFS, Filestore; not gcsfuse):

  {"owner", "host", "machine", "pid", "pid_start", "generation", "acquired_at",
   "heartbeat_at", "lease_seconds", "released"}

The newest generation is the current claim. It is live while it is not released and its
heartbeat is younger than its lease; a claim written on this very machine (same host, boot
and pid namespace) is live exactly while its process exists, so a killed worker's trial is
taken over at once, and a busy one's never. To take over a dead claim, a process creates the next generation; only
one taker can win. The holder rewrites its file (atomic rename) every lease/5 seconds; if it
finds a newer generation it has lost the trial (it was paused for longer than its lease) and
must stop. `attempts.jsonl` in the trial directory logs one "start" line per claim that ran
the trial (with the newest checkpoint step then present: a resume when not null) and one
"end" line per attempt that ended with a result ("interrupted" / "lost" otherwise; an attempt
killed with its supervisor logs nothing more).
"""
from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
import uuid
from typing import Callable

from optcompare import studydir

# A claim file still empty (or damaged) after the study's lease was left by a crash; this
# long where the lease is not known.
_UNWRITTEN_GRACE_S = 60.0


def _read_file(path: str) -> str | None:
  try:
    with open(path, encoding="utf-8") as f:
      return f.read().strip()
  except OSError:
    return None


@functools.lru_cache(maxsize=1)
def machine_id() -> str:
  """Host name + boot id + pid namespace: two processes with equal ids share pids."""
  boot = _read_file("/proc/sys/kernel/random/boot_id") or ""
  try:
    ns = str(os.stat("/proc/self/ns/pid").st_ino)
  except OSError:
    ns = ""
  return f"{socket.gethostname()}/{boot}/{ns}"


def process_start(pid: int) -> str | None:
  """The start time of process `pid` in clock ticks since boot (None if unknown or gone)."""
  stat = _read_file(f"/proc/{pid}/stat")
  if not stat:
    return None
  fields = stat.rsplit(")", 1)[-1].split()
  if fields and fields[0] in ("Z", "X"):  # zombie or dead: gone for our purposes
    return None
  return fields[19] if len(fields) > 19 else None


def _process_alive(pid: int, start: str | None) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass
  now_start = process_start(pid)
  if now_start is None:  # with /proc: a zombie (killed, not yet reaped) or gone
    return not os.path.isdir("/proc/self")
  return start is None or now_start == start


def _generations(trial_dir: str) -> list[int]:
  try:
    names = os.listdir(os.path.join(trial_dir, studydir.CLAIMS))
  except FileNotFoundError:
    return []
  return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())


def _path(trial_dir: str, generation: int) -> str:
  return os.path.join(trial_dir, studydir.CLAIMS, f"{generation:06d}.json")


def current(trial_dir: str) -> tuple[int, dict | None]:
  """(generation, record) of the newest claim; (0, None) when there is none.

  The record is {} while its creator is still writing it, and for a file that is not a
  JSON object (damaged): is_live judges both by the file's age.
  """
  gens = _generations(trial_dir)
  if not gens:
    return 0, None
  text = _read_file(_path(trial_dir, gens[-1]))
  try:
    record = json.loads(text) if text else {}
  except json.JSONDecodeError:
    return gens[-1], {}
  return gens[-1], record if isinstance(record, dict) else {}


def _young(trial_dir: str, generation: int, now: float, grace: float | None) -> bool:
  """Whether the claim file was written less than `grace` seconds ago (the study's lease;
  None: _UNWRITTEN_GRACE_S)."""
  try:
    age = now - os.path.getmtime(_path(trial_dir, generation))
  except OSError:
    return False
  return age < (_UNWRITTEN_GRACE_S if grace is None else grace)


def _is_real(x) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool)


def _holder_alive(record: dict, now: float) -> bool | None:
  """Liveness from a claim record's fields; None when the fields it needs are missing or of
  the wrong type (a damaged claim). A pid must be a positive int: os.kill(0 or -n, 0)
  would ask about a process group, and True is not pid 1."""
  if record.get("machine") == machine_id():  # here the process itself answers, at once
    pid, start = record.get("pid"), record.get("pid_start")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
      return None
    if start is not None and not isinstance(start, str):
      return None
    return _process_alive(pid, start)
  heartbeat, lease = record.get("heartbeat_at"), record.get("lease_seconds")
  if not (_is_real(heartbeat) and _is_real(lease)):
    return None
  return now - float(heartbeat) <= float(lease)


def is_live(trial_dir: str, generation: int, record: dict | None, now: float | None = None,
            *, lease_seconds: float | None = None) -> bool:
  """Whether the claim (generation, record) still holds the trial.

  A record being written ({}) or damaged (a field it needs missing or of the wrong type,
  e.g. no pid) is live while its file is younger than the study's lease (`lease_seconds`;
  None: _UNWRITTEN_GRACE_S): a crash while writing, or a hand-edited claim, then holds the
  trial as long as a holder that stopped heartbeating would, no longer.
  """
  if record is None:
    return False
  now = time.time() if now is None else now
  if not record:  # being written: live while its file is young
    return _young(trial_dir, generation, now, lease_seconds)
  if record.get("released"):
    return False
  alive = _holder_alive(record, now)
  return _young(trial_dir, generation, now, lease_seconds) if alive is None else alive


def live_claim(trial_dir: str, *, lease_seconds: float | None = None) -> dict | None:
  """The record of the claim that holds the trial, or None (see is_live)."""
  gen, record = current(trial_dir)
  return record if is_live(trial_dir, gen, record, lease_seconds=lease_seconds) else None


def _write_json(path: str, obj: dict, *, exclusive: bool) -> bool:
  if exclusive:
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False
    try:
      if os.write(fd, data) != len(data):
        raise OSError(f"{path}: short write")
      os.fsync(fd)
    except OSError:
      os.close(fd)
      os.remove(path)  # an empty claim would hold the trial for the grace period
      raise
    os.close(fd)
    return True
  studydir.write_json_atomic(path, obj)
  return True


class Claim:
  """A claim this process holds; see the module docstring."""

  def __init__(self, trial_dir: str, generation: int, record: dict):
    self.trial_dir, self.generation, self.record = trial_dir, generation, record
    self._lock = threading.Lock()
    self.lost = False

  @classmethod
  def acquire(cls, trial_dir: str, *, lease_seconds: float, owner: str | None = None,
              pid: int | None = None, machine: str | None = None) -> "Claim | None":
    """Claims the trial unless a live claim holds it (or another taker wins the race).

    `pid` and `machine` (default: this process, this machine) are for tests.
    """
    gen, record = current(trial_dir)
    if is_live(trial_dir, gen, record, lease_seconds=lease_seconds):
      return None
    os.makedirs(os.path.join(trial_dir, studydir.CLAIMS), exist_ok=True)
    pid = os.getpid() if pid is None else pid
    now = time.time()
    mine = {"owner": owner or uuid.uuid4().hex, "host": socket.gethostname(),
            "machine": machine or machine_id(), "pid": pid, "pid_start": process_start(pid),
            "generation": gen + 1, "acquired_at": now, "heartbeat_at": now,
            "lease_seconds": float(lease_seconds), "released": False}
    if not _write_json(_path(trial_dir, gen + 1), mine, exclusive=True):
      return None
    return cls(trial_dir, gen + 1, mine)

  def heartbeat(self) -> bool:
    """Renews the lease; False (and `lost`) if a newer generation has taken the trial."""
    with self._lock:
      if self.lost or self.record["released"]:
        return not self.lost
      if _generations(self.trial_dir)[-1:] != [self.generation]:
        self.lost = True
        return False
      self.record["heartbeat_at"] = time.time()
      _write_json(_path(self.trial_dir, self.generation), self.record, exclusive=False)
      return True

  def release(self) -> None:
    """Gives the trial up at once (a relaunch need not wait for the lease to expire)."""
    with self._lock:
      if self.lost or self.record["released"]:
        return
      if _generations(self.trial_dir)[-1:] == [self.generation]:
        self.record["released"] = True
        self.record["heartbeat_at"] = time.time()
        try:
          _write_json(_path(self.trial_dir, self.generation), self.record, exclusive=False)
        except OSError:  # a full disk: removing the claim frees the trial all the same
          os.remove(_path(self.trial_dir, self.generation))

  def keep_alive(self, on_lost: Callable[[], None]) -> threading.Event:
    """Heartbeats from a daemon thread every lease/5 s; calls on_lost() once if it loses.

    Set the returned event to stop the thread.
    """
    stop = threading.Event()
    interval = max(0.05, self.record["lease_seconds"] / 5)

    def loop():
      while not stop.wait(interval):
        if not self.heartbeat():
          on_lost()
          return

    threading.Thread(target=loop, name="claim-heartbeat", daemon=True).start()
    return stop


def log_attempt(trial_dir: str, event: dict) -> None:
  """Appends one JSON line to `attempts.jsonl` (one write, so lines never interleave)."""
  line = (json.dumps({"time": round(time.time(), 3), **event}, sort_keys=True) + "\n").encode()
  fd = os.open(os.path.join(trial_dir, studydir.ATTEMPTS),
               os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o644)
  try:
    os.write(fd, line)
  finally:
    os.close(fd)


# ---- where a trial stands, from its files alone ----

def trial_state(tdir: str, *, lease_seconds: float | None = None
                ) -> tuple[str, studydir.Result | None]:
  """(status, result): the result's status, else running (a live claim) or pending.

  A damaged result.json reads as no result (the worker that claims the trial sets it aside).
  lease_seconds: the study's (how long a damaged or half-written claim holds; is_live).
  """
  try:
    result = studydir.read_result(tdir)
  except studydir.DamagedFileError:
    result = None
  if result is not None:
    return result.status, result
  live = live_claim(tdir, lease_seconds=lease_seconds)  # ({} while being written)
  return (studydir.RUNNING if live is not None else studydir.PENDING), None


# A `failed` result whose error starts so was a BadInputError raised in the trial: the same
# input fails the same way again, so it is never retried (worker.py writes it, the
# scheduler reads it).
BAD_INPUT_PREFIX = "BadInputError: "


def bad_input(result: studydir.Result | None) -> str | None:
  """The one line of a trial's failure by bad input (without the prefix), else None."""
  if result is None or result.status != studydir.FAILED:
    return None
  error = result.error or ""
  return error[len(BAD_INPUT_PREFIX):].strip() if error.startswith(BAD_INPUT_PREFIX) else None
