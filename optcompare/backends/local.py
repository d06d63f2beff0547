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

from optcompare import packs
from optcompare import studydir

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


class _Worker:
  """One worker process and the thread that reads its replies."""

  def __init__(self, args: list[str], env: dict[str, str], log_path: str,
               replies: queue.Queue):
    with open(log_path, "ab") as log:
      self.proc = subprocess.Popen([sys.executable, *WORKER, *args], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log, env=env)
    self.replies = replies  # shared by the launcher's workers: (worker, reply | None)
    self.trial: str | None = None  # the trial it is training
    self.compiled: set[str] = set()  # optimizers it has trained (their programs are compiled)
    threading.Thread(target=self._read, daemon=True).start()

  def _read(self) -> None:
    for line in self.proc.stdout:
      try:
        self.replies.put((self, json.loads(line)))
      except ValueError:
        continue
    self.replies.put((self, None))  # end of output: the process is ending

  def send(self, trial_id: str, retry: bool) -> None:
    self.trial = trial_id
    self.compiled.add(packs.optimizer(trial_id))
    self.proc.stdin.write((json.dumps({"trial": trial_id, "retry": retry}) + "\n").encode())
    self.proc.stdin.flush()


class LocalLauncher:
  """`parallel` worker slots on this machine, each a long-lived worker process."""

  def __init__(self, study_dir: str, *, parallel: int, threads_per_trial: int,
               devices_per_trial: int, lease_seconds: float):
    self.study_dir, self.lease_seconds = study_dir, lease_seconds
    self.threads, self.devices = threads_per_trial, devices_per_trial
    self.platform = detect_platform()
    self.parallel = max_parallel(parallel, devices_per_trial, self.platform)
    if self.parallel < parallel:
      print(f"sweep: {self.platform[1]} {self.platform[0]} devices hold {self.parallel} "
            f"trials of {devices_per_trial} devices; running {self.parallel} at once",
            file=sys.stderr)
    self.sweep_id = uuid.uuid4().hex[:12]
    self._slots: list[_Worker | None] = [None] * self.parallel
    self._replies: queue.Queue = queue.Queue()

  def idle_slots(self) -> list[int]:
    return [s for s, w in enumerate(self._slots) if w is None or w.trial is None]

  def compiled(self, slot: int) -> set[str]:
    """Optimizers whose programs the slot's live worker holds."""
    w = self._slots[slot]
    return set(w.compiled) if w is not None else set()

  def start(self, slot: int, trial_id: str, *, retry: bool) -> None:
    w = self._slots[slot]
    if w is None or w.proc.poll() is not None:
      env = worker_env(slot, parallel=self.parallel, threads_per_trial=self.threads,
                       devices_per_trial=self.devices, platform=self.platform)
      args = ["--study_dir", self.study_dir, "--lease_seconds", str(self.lease_seconds),
              "--owner", f"{self.sweep_id}-{slot}"]
      w = self._slots[slot] = _Worker(args, env, studydir.worker_log(self.study_dir, slot),
                                         self._replies)
    try:
      w.send(trial_id, retry)
    except OSError:  # it died just now: its reader reports the trial as ended by the exit
      pass

  def poll(self, timeout: float = 0.0) -> list[tuple[str, int, str | None]]:
    """(trial_id, code, detail) of the trials that ended since the last call, waiting up to
    `timeout` seconds for the first: a worker's EXIT_* code and its result status (or error),
    or, for a worker that died during the trial, its exit status (negative: a signal)."""
    done = []
    block = timeout > 0
    while True:
      try:
        w, reply = self._replies.get(block=block, timeout=timeout if block else None)
      except queue.Empty:
        return done
      block = False
      if w not in self._slots:
        continue  # a worker already replaced
      if reply is None:  # the worker ended
        code = w.proc.wait()
        if w.trial is not None:
          done.append((w.trial, code if code != 0 else -1, None))
        self._slots[self._slots.index(w)] = None
      elif reply.get("trial") == w.trial:
        done.append((w.trial, int(reply["code"]), reply.get("status")))
        w.trial = None

  def close(self, timeout: float = 15.0) -> None:
    """Ends the workers: idle ones at the end of their input (not waited for: they exit by
    themselves, and with this process at the latest); busy ones (after an interrupt) with
    SIGTERM, so that they release their claims, then SIGKILL."""
    busy = []
    for w in self._slots:
      if w is None:
        continue
      if w.trial is not None and w.proc.poll() is None:
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
