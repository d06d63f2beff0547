"""Local backend: `parallel` long-lived worker processes (`python -m optcompare.backends.worker`).

Each worker slot runs one worker process that trains the trials it is sent, one after another
(requests and replies are JSON lines over its stdin and stdout); a worker that dies is replaced
by a fresh one at its slot's next trial. Its stderr goes to `<study>/logs/worker-<slot>.log`.
Worker slot s (0 ≤ s < parallel) gets its own share of the machine through its environment
(`worker_env`):
- CPU threads (threads_per_trial = T): OMP_NUM_THREADS, MKL_NUM_THREADS,
  OPENBLAS_NUM_THREADS, TF_NUM_INTRAOP_THREADS = T, TF_NUM_INTEROP_THREADS = 1, XLA_FLAGS
  += "--xla_cpu_multi_thread_eigen=<T > 1> intra_op_parallelism_threads=T". With
  OPTCOMPARE_PIN_CPUS=1 (for a machine the sweep has to itself), and when parallel · T fits
  in the CPUs this process may use, OPTCOMPARE_CPUS also pins slot s to CPUs [s·T, (s+1)·T)
  of them (sched_setaffinity in the worker). Off by default: on a shared machine a pinned
  worker cannot move off a core that another program keeps busy.
- GPUs (devices_per_trial = k > 0): CUDA_VISIBLE_DEVICES = the k GPUs of slot s.
- TPU chips (k = 1 or 2 of a 4-chip VM): TPU_VISIBLE_CHIPS (and the older
  TPU_VISIBLE_DEVICES), TPU_CHIPS_PER_PROCESS_BOUNDS, TPU_PROCESS_BOUNDS=1,1,1 and a port of
  its own, the recipe for non-communicating processes on one TPU VM.
- JAX_COMPILATION_CACHE_DIR (unless set): a per-user persistent compilation cache on this
  machine, so trials of one optimizer compile their (hyperparameter-independent) program once.

Multi-process trials (study field processes_per_trial = P > 1): a slot is a group of P
long-lived worker processes, process i of the group being worker s·P + i above (its share,
its log), started with the coordinator address of a free localhost port, num_processes P
and process_id i; they join one JAX job once, at start-up, and each receives every job of
the slot (worker.run_member_job: process 0 claims and writes, the others train with it). A
job ends when all P have replied, with process 0's reply. A process that ends, or that has
not replied MEMBER_GRACE_S after another did (stuck in a collective that a failed process
left), ends the group: every process is stopped (SIGTERM, so that process 0 releases its
claim, then SIGKILL) and the job ends as a dead worker's (a failed attempt, retried as any
other) unless process 0 had replied; the slot's next job starts a new group. Not on a TPU
VM (its chips serve one process per trial here).
Tested here: CPU only. The GPU and TPU variables are set as documented by CUDA and libtpu but
were not run on such machines in this project's tests.
"""
from __future__ import annotations

import glob
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid

from optcompare import multihost
from optcompare import packs
from optcompare import studydir
from optcompare.errors import BadInputError

_TPU_PORT0 = 8476


def detect_platform() -> tuple[str, int]:
  """("gpu"|"tpu"|"cpu", device count), without importing JAX (which could claim devices).

  OPTCOMPARE_PLATFORM=cpu|gpu|tpu[:count] overrides.
  """
  forced = os.environ.get("OPTCOMPARE_PLATFORM")
  if forced:
    name, _, count = forced.partition(":")
    return name, int(count or 0)
  visible = os.environ.get("CUDA_VISIBLE_DEVICES")
  if shutil.which("nvidia-smi"):
    try:
      out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30,
                           check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
      out = ""
    n = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    if visible is not None:
      n = min(n, len([v for v in visible.split(",") if v.strip()]))
    if n:
      return "gpu", n
  chips = glob.glob("/dev/accel[0-9]*") or glob.glob("/dev/vfio/[0-9]*")
  if chips:
    return "tpu", len(chips)
  return "cpu", 0


def thread_env(threads: int) -> dict[str, str]:
  """Variables that hold a trial process to `threads` CPU threads (XLA, TF, OpenMP, BLAS)."""
  env = {var: str(threads) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                       "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")}
  env["TF_NUM_INTEROP_THREADS"] = "1"
  xla = os.environ.get("XLA_FLAGS", "").strip()
  env["XLA_FLAGS"] = (f"{xla} --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                      f"intra_op_parallelism_threads={threads}").strip()
  return env


def cache_env(env: dict) -> dict:
  """Adds a per-user persistent JAX compilation cache on this machine, unless one is set."""
  cache = os.path.join(env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                       "optcompare", "jax")
  env.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
  env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
  return env


def worker_env(slot: int, *, parallel: int, threads_per_trial: int, devices_per_trial: int,
               platform: tuple[str, int], cpus: list[int] | None = None) -> dict[str, str]:
  """The environment of worker slot `slot` (see the module docstring)."""
  t = threads_per_trial
  env = cache_env(dict(os.environ, **thread_env(t)))
  env["OPTCOMPARE_PARENT_PID"] = str(os.getpid())
  if cpus is None and os.environ.get("OPTCOMPARE_PIN_CPUS") == "1":
    cpus = sorted(os.sched_getaffinity(0))
  if cpus and parallel * t <= len(cpus):
    env["OPTCOMPARE_CPUS"] = ",".join(str(c) for c in cpus[slot * t:(slot + 1) * t])
  kind, count = platform
  k = devices_per_trial
  if kind == "gpu" and k > 0:
    visible = env.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(count)]
    env["CUDA_VISIBLE_DEVICES"] = ",".join(ids[slot * k:(slot + 1) * k])
  elif kind == "gpu" and parallel > 1:  # trials share every GPU: no preallocation
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
  elif kind == "tpu" and 0 < k < count:
    if k not in (1, 2):
      raise ValueError(f"devices_per_trial={k}: on a TPU VM use 1, 2 or all {count} chips")
    chips = ",".join(str(c) for c in range(slot * k, (slot + 1) * k))
    port = _TPU_PORT0 + slot
    env.update(TPU_VISIBLE_CHIPS=chips, TPU_VISIBLE_DEVICES=chips,
               TPU_CHIPS_PER_PROCESS_BOUNDS="1,1,1" if k == 1 else "1,2,1",
               TPU_PROCESS_BOUNDS="1,1,1", TPU_PROCESS_PORT=str(port),
               TPU_MESH_CONTROLLER_ADDRESS=f"localhost:{port}",
               TPU_MESH_CONTROLLER_PORT=str(port))
  return env


def max_parallel(parallel: int, devices_per_trial: int, platform: tuple[str, int]) -> int:
  """`parallel`, capped to what the accelerators hold (devices_per_trial each)."""
  kind, count = platform
  if kind in ("gpu", "tpu") and devices_per_trial > 0:
    return max(1, min(parallel, count // devices_per_trial))
  return parallel


WORKER = ("-m", "optcompare.backends.worker")
# How long the other processes of a multi-process trial may take to reply once one has:
# they leave the job's last collective together, so a longer wait means one is stuck in a
# collective that a failed process left (the group is then stopped).
MEMBER_GRACE_S = 30.0
_STOP_S = 10.0  # SIGTERM (claims released) before SIGKILL, when a group is stopped


class _Worker:
  """One worker process and the thread that reads its replies."""

  def __init__(self, args: list[str], env: dict[str, str], log_path: str,
               replies: queue.Queue):
    with open(log_path, "ab") as log:
      self.proc = subprocess.Popen([sys.executable, *WORKER, *args], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log, env=env)
    self.replies = replies  # shared by the launcher's workers: (worker, reply | None)
    self.last: dict | None = None  # its latest reply (read by the launcher once it stopped)
    self.reader = threading.Thread(target=self._read, daemon=True)
    self.reader.start()

  def _read(self) -> None:
    for line in self.proc.stdout:
      try:
        self.last = json.loads(line)
      except ValueError:
        continue
      self.replies.put((self, self.last))
    self.replies.put((self, None))  # end of output: the process is ending

  def send(self, trial_id: str, retry: bool) -> None:
    self.proc.stdin.write((json.dumps({"trial": trial_id, "retry": retry}) + "\n").encode())
    self.proc.stdin.flush()


class _Group:
  """The worker processes of one slot: one, or the P processes of multi-process trials
  (process i is workers[i]; each gets every job). A job ends when each has replied, with
  process 0's reply (the one that claims and writes); a process that ends, or that does not
  reply within MEMBER_GRACE_S of another's reply, ends the group (LocalLauncher.poll)."""

  def __init__(self, workers: list[_Worker]):
    self.workers = workers
    self.trial: str | None = None  # the job it is training
    self.compiled: set[str] = set()  # optimizers it has trained (their programs are compiled)
    self.replies: dict[int, dict] = {}  # process index -> its reply to `trial`
    self.deadline: float | None = None  # when the processes yet to reply are given up on

  def send(self, trial_id: str, retry: bool) -> None:
    self.trial, self.replies, self.deadline = trial_id, {}, None
    self.compiled.add(packs.optimizer(trial_id))
    for w in self.workers:
      w.last = None  # (a retry is the same job key: no earlier reply may answer it)
      try:
        w.send(trial_id, retry)
      except OSError:  # it died just now: its reader reports the trial as ended by the exit
        pass

  def alive(self) -> bool:
    return all(w.proc.poll() is None for w in self.workers)

  def stop(self, timeout: float) -> int:
    """Ends every process (SIGTERM, so that process 0 releases its claims, then SIGKILL);
    returns process 0's exit status."""
    for w in self.workers:
      if w.proc.poll() is None:
        w.proc.terminate()
    deadline = time.time() + timeout
    for w in self.workers:
      try:
        w.proc.wait(max(0.1, deadline - time.time()))
      except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait()
    self.workers[0].reader.join(timeout=1.0)  # (its output ended: a reply it gave is read)
    return self.workers[0].proc.returncode

  def first_reply(self) -> dict | None:
    """Process 0's reply to the current job, if it gave one (also one not yet polled)."""
    last = self.workers[0].last
    return self.replies.get(0) or (last if last and last.get("trial") == self.trial else None)


def group_args(study_dir: str, *, lease_seconds: float, owner: str, processes: int,
               port: int | None) -> list[list[str]]:
  """The worker command-line arguments of each process of a slot's group: with processes
  > 1, process i of a JAX job whose coordinator (process 0) listens on localhost:`port`."""
  args = ["--study_dir", study_dir, "--lease_seconds", str(lease_seconds), "--owner", owner]
  if processes == 1:
    return [args]
  return [args + ["--coordinator_address", f"localhost:{port}", "--num_processes",
                  str(processes), "--process_id", str(i)] for i in range(processes)]


class LocalLauncher:
  """`parallel` worker slots on this machine, each a long-lived worker process, or with
  processes_per_trial = P > 1 a group of P worker processes that train each trial together
  (one JAX job: optcompare.multihost). Process i of slot s is worker number s·P + i: its
  share of the machine (worker_env) and its log, `<study>/logs/worker-<s·P+i>.log`."""

  def __init__(self, study_dir: str, *, parallel: int, threads_per_trial: int,
               devices_per_trial: int, lease_seconds: float, processes_per_trial: int = 1):
    self.study_dir, self.lease_seconds = study_dir, lease_seconds
    self.threads, self.devices = threads_per_trial, devices_per_trial
    self.processes = processes_per_trial
    self.platform = detect_platform()
    if self.processes > 1 and self.platform[0] == "tpu":  # its chips: one process per trial
      raise BadInputError(f"processes_per_trial: {self.processes} processes per trial on one "
                          "TPU VM are not supported; use 1 (a trial of the VM's chips)")
    self.parallel = max_parallel(parallel, devices_per_trial * self.processes, self.platform)
    if self.parallel < parallel:
      print(f"sweep: {self.platform[1]} {self.platform[0]} devices hold {self.parallel} "
            f"trials of {devices_per_trial * self.processes} devices; running "
            f"{self.parallel} at once", file=sys.stderr)
    self.sweep_id = uuid.uuid4().hex[:12]
    self._slots: list[_Group | None] = [None] * self.parallel
    self._replies: queue.Queue = queue.Queue()

  def idle_slots(self) -> list[int]:
    return [s for s, g in enumerate(self._slots) if g is None or g.trial is None]

  def compiled(self, slot: int) -> set[str]:
    """Optimizers whose programs the slot's live worker(s) hold."""
    g = self._slots[slot]
    return set(g.compiled) if g is not None else set()

  def _start_group(self, slot: int) -> _Group:
    """New worker processes for `slot` (see the class docstring)."""
    p = self.processes
    port = multihost.free_port() if p > 1 else None
    argv = group_args(self.study_dir, lease_seconds=self.lease_seconds,
                      owner=f"{self.sweep_id}-{slot}", processes=p, port=port)
    workers = []
    for i, args in enumerate(argv):
      n = slot * p + i
      env = worker_env(n, parallel=self.parallel * p, threads_per_trial=self.threads,
                       devices_per_trial=self.devices, platform=self.platform)
      workers.append(_Worker(args, env, studydir.worker_log(self.study_dir, n),
                             self._replies))
    return _Group(workers)

  def start(self, slot: int, trial_id: str, *, retry: bool) -> None:
    g = self._slots[slot]
    if g is None or not g.alive():
      if g is not None:
        g.stop(_STOP_S)  # a group with a dead process cannot train: all start afresh
      g = self._slots[slot] = self._start_group(slot)
    g.send(trial_id, retry)

  def poll(self, timeout: float = 0.0) -> list[tuple[str, int, str | None]]:
    """(trial_id, code, detail) of the trials that ended since the last call, waiting up to
    `timeout` seconds for the first: a worker's EXIT_* code and its result status (or error),
    or, for a worker that died during the trial, its exit status (negative: a signal)."""
    done = []
    block = timeout > 0
    while True:
      try:
        w, reply = self._replies.get(block=block, timeout=self._wait(timeout) if block else None)
      except queue.Empty:
        return done + self._overdue(time.time())
      block = False
      g = next((g for g in self._slots if g is not None and w in g.workers), None)
      if g is not None:  # (else a worker already replaced)
        done += self._on_reply(g, w, reply)

  def _wait(self, timeout: float) -> float:
    """`timeout`, cut to the first group deadline (at least a moment)."""
    deadlines = [g.deadline for g in self._slots if g is not None and g.deadline is not None]
    return max(0.01, min([timeout] + [d - time.time() for d in deadlines]))

  def _on_reply(self, g: _Group, w: _Worker, reply: dict | None) -> list[tuple]:
    """What a worker's reply (None: its process ended) means for its group's job."""
    if reply is None:
      code = w.proc.wait()
      return self._end_group(g, code if code != 0 else -1)
    if reply.get("trial") != g.trial:
      return []
    g.replies[g.workers.index(w)] = reply
    if len(g.replies) == len(g.workers):
      first = g.replies[0]
      job, g.trial, g.replies, g.deadline = g.trial, None, {}, None
      return [(job, int(first["code"]), first.get("status"))]
    if g.deadline is None:
      g.deadline = time.time() + MEMBER_GRACE_S
    return []

  def _overdue(self, now: float) -> list[tuple]:
    """Ends the groups whose processes did not all reply in time (one is stuck)."""
    done = []
    for g in [g for g in self._slots if g is not None and g.deadline is not None]:
      if now >= g.deadline:
        done += self._end_group(g, None)
    return done

  def _end_group(self, g: _Group, code: int | None) -> list[tuple]:
    """Stops the group's processes and frees its slot; its job ends with process 0's reply
    if it gave one (its result is written), else as a worker that died with `code` (None:
    process 0's exit status once stopped), which the sweep records as a failed attempt."""
    stopped = g.stop(_STOP_S)
    self._slots[self._slots.index(g)] = None
    first = g.first_reply()
    if g.trial is None:
      return []
    if first is not None:
      return [(g.trial, int(first["code"]), first.get("status"))]
    code = stopped if code is None else code
    return [(g.trial, code if code != 0 else -1, None)]

  def close(self, timeout: float = 15.0) -> None:
    """Ends the workers: idle ones at the end of their input (not waited for: they exit by
    themselves, and with this process at the latest); busy ones (after an interrupt) with
    SIGTERM, so that they release their claims, then SIGKILL."""
    busy = []
    for g in [g for g in self._slots if g is not None]:
      for w in g.workers:
        if g.trial is not None and w.proc.poll() is None:
          w.proc.terminate()
          busy.append(w.proc)
        try:
          w.proc.stdin.close()
        except OSError:
          pass
    deadline = time.time() + timeout
    for p in busy:
      try:
        p.wait(max(0.1, deadline - time.time()))
      except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    self._slots = [None] * self.parallel
