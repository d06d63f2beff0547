"""The sweep loop, common to every backend: hand trials to workers, wait, retry, report.

A launcher (local.LocalLauncher, ray_backend.RayLauncher) has `parallel` worker slots, each a
long-lived worker: `idle_slots()`, `compiled(slot)` (the optimizers its worker has trained),
`start(slot, job, retry=)`, `poll(timeout) -> [(job, code, detail)]` and `close()`. The
worker claims each trial itself, so any number of sweeps, of any backend, can share a
directory. A job whose worker was lost with its machine (code NODE_LOST: a Ray node) goes
back to the queue without a result and resumes from its checkpoint, using one retry.

Trials are queued in the order adam/0, sgd/0, adam/1, sgd/1, ... (a study stopped early has
about as many trials of every optimizer), and an idle worker takes the first queued trial of an
optimizer it has compiled, or that no other worker has compiled; only then any trial. So each
optimizer is compiled about once per sweep, and the optimizers still advance together. With
pack_size > 1 the queue holds packs (optcompare.packs: K trials of one optimizer, in the same
order) and a worker takes a whole pack.

`Sweep` is the state of one run (the queue, what runs here, what other sweeps hold, retries,
counts) and makes every decision; `run` is the loop that feeds it the launcher's replies and
the clock. Tests drive a Sweep with a fake launcher (tests/backends/test_scheduler.py).
"""
from __future__ import annotations

import sys
import time

from optcompare import packs, study_manifest, studydir
from optcompare.backends import ledger
from optcompare.backends.worker import (EXIT_CLAIMED, EXIT_DONE, EXIT_IO_ERROR, EXIT_LOST,
                                        log_tail, write_failed)

POLL_S = 0.5          # longest wait for a worker's reply (replies end the wait at once)
WATCH_S = 2.0         # how often trials held by other sweeps are looked at
PROGRESS_S = 30.0     # a progress line at least this often (when not a terminal)
# A launcher's code for a job whose worker was lost with its machine (a Ray node): no result
# is written (the trial did not fail); the launcher has named the machine.
NODE_LOST = 1000


class Progress:
  """Trials done / running / diverged / failed and the best per optimizer, on stderr.

  On a terminal one line is rewritten in place; otherwise a line is printed when the counts
  change (at most every 2 s) and at least every PROGRESS_S seconds.

  The ETA says whether to wait or come back tomorrow: the mean wall time of the trials this
  sweep ran to a result (from the update that first saw one running to the one that saw it
  end; failed attempts of a trial that then finished add to its time), times the trials left
  to run here over the worker slots. Trials of earlier sweeps are left out: their machine,
  load and compile cache may differ. No ETA before the first trial finishes.
  """

  def __init__(self, manifest: study_manifest.StudyManifest, enabled: bool, stream=None):
    self.enabled, self.stream = enabled, stream or sys.stderr
    self.tty = enabled and self.stream.isatty()
    self.split, self.metric = manifest.target
    self.optimizers = manifest.optimizers
    self.total = len(manifest.trials)
    self.best: dict[str, tuple[float, str]] = {}
    self._last, self._last_time = "", 0.0
    self.durations: list[float] = []      # seconds, of each trial this sweep finished
    self._started: dict[str, float] = {}  # trial running here -> when first seen running
    self._ended: dict[str, float] = {}    # trial no longer running -> seconds it ran

  def record(self, trial_id: str, result: dict | None) -> None:
    value = result.value(self.split, self.metric) if result else None
    opt = studydir.optimizer_of(trial_id)
    if value is not None and studydir.better(value, self.best.get(opt, (None,))[0], self.metric):
      self.best[opt] = (value, trial_id)
    self._track(set(self._started) - {trial_id}, time.time())  # (it may end before update)
    if trial_id in self._ended:  # (called for finished trials: this one ran here)
      self.durations.append(self._ended.pop(trial_id))

  def _track(self, running: set[str], now: float) -> None:
    """Times the trials running here: each from the first call that sees it in `running`
    to the first that does not."""
    for tid in running - self._started.keys():
      self._started[tid] = now
    for tid in [t for t in self._started if t not in running]:
      self._ended[tid] = self._ended.get(tid, 0.0) + now - self._started.pop(tid)

  def event(self, text: str) -> None:
    if self.enabled:
      self._write(f"sweep: {text}", final=True)

  def update(self, counts: dict, here: int, force: bool = False,
             running: set[str] | None = None, parallel: int = 1) -> None:
    """`running`: the trials running here now (times them); `parallel`: the worker slots."""
    if not self.enabled:
      return
    now = time.time()
    if running is not None:
      self._track(running, now)
    done = counts["completed"] + counts["diverged"] + counts["failed"]
    best = ", ".join(f"{o} {self.best[o][0]:.4g}" for o in self.optimizers if o in self.best)
    eta = self.eta_seconds(self.durations, counts["pending"] + here, parallel)
    line = (f"sweep: {done}/{self.total} done ({counts['completed']} completed, "
            f"{counts['diverged']} diverged, {counts['failed']} failed); running {here} here, "
            f"{counts['running']} elsewhere; pending {counts['pending']}"
            + (f" | ETA {self.format_duration(eta)}" if eta is not None else "")
            + (f" | best {self.split} {self.metric}: {best}" if best else ""))
    if self.tty:
      if force and line == self._last:
        self.stream.write("\n")
      elif line != self._last or force:
        self._write(line, final=force)
    elif (force and line != self._last) or (line != self._last and now - self._last_time >= 2) \
        or now - self._last_time >= PROGRESS_S:
      self._write(line, final=True)
    else:
      return
    self._last, self._last_time = line, now

  @staticmethod
  def eta_seconds(durations: list[float], remaining: int, parallel: int) -> float | None:
    """Mean duration x remaining trials / slots (a trial at least: fewer trials than slots
    still take one trial's time); None without a finished trial or with nothing left."""
    if not durations or remaining <= 0:
      return None
    return sum(durations) / len(durations) * max(remaining / max(parallel, 1), 1.0)

  @staticmethod
  def format_duration(seconds: float) -> str:
    """Rounded as a person reads an ETA: `40 s`, `3 min`, `2.5 h`."""
    if seconds < 90:
      return f"{max(round(seconds), 1)} s"
    if seconds < 90 * 60:
      return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"

  def _write(self, line: str, final: bool) -> None:
    if self.tty:
      self.stream.write("\r\033[K" + line + ("\n" if final else ""))
    else:
      self.stream.write(line + "\n")
    self.stream.flush()


def sweep_order(manifest: study_manifest.StudyManifest) -> list[str]:
  """The search's trial ids in the sweep's order (see the module docstring)."""
  rank = {o: i for i, o in enumerate(manifest.optimizers)}
  return [t.id for t in sorted(manifest.trials, key=lambda t: (t.index, rank[t.optimizer]))]


def _optimizer(job: str) -> str:
  """The optimizer of a job key (a pack's trials share one)."""
  return studydir.optimizer_of(packs.members(job)[0])


def pick(queue: list[str], mine: set[str], others: set[str]) -> int:
  """Index in `queue` (job keys) of the job an idle worker takes: the first of an optimizer
  it has compiled (`mine`) or that no other worker has (`others`); else the first."""
  for i, job in enumerate(queue):
    opt = _optimizer(job)
    if opt in mine or opt not in others:
      return i
  return 0


def _record_crash(tdir: str, trial_id: str, code: int) -> str | None:
  """A worker died during the trial: a `failed` result naming how, unless it has one.
  Returns the error if even that cannot be written."""
  how = f"signal {-code}" if code < 0 else f"exit status {code}"
  try:
    write_failed(tdir, f"worker process ended with {how} during {trial_id}; trial log "
                 f"tail:\n{log_tail(tdir)}", 0.0)
    ledger.log_attempt(tdir, {"event": "end", "status": studydir.FAILED, "exit": code,
                              "trial": trial_id})
  except OSError as e:
    return str(e)
  return None


_REPLIES = (EXIT_DONE, EXIT_CLAIMED, EXIT_LOST, EXIT_IO_ERROR)  # codes of a worker that lives


class Sweep:
  """The state of one scheduler run: which jobs are queued, running here, held elsewhere
  (watched) or final, the retries each trial has used, and the counts its summary reports.

  A job (optcompare.packs) is a trial, or with pack_size > 1 a pack of trials of one
  optimizer, claimed, trained and released together. It is launched when none of its trials
  is held elsewhere and one needs running; retries count per trial. `run` drives it: `ended`
  for each job a worker finished, `look_again` for jobs held elsewhere, `launch` to hand
  queued jobs to a launcher's idle slots, `summary` at the end. It reads trial files (and
  writes a dead worker's `failed` result); the launcher alone starts work. A trial that
  failed by bad input (ledger.bad_input) is never retried, and once one fails here no more
  jobs are launched: the summary's "bad_input" names it, and study.sweep ends with it.
  """

  def __init__(self, study_dir: str, order: list[str], *, pack_size: int, retries: int,
               show: Progress, lease_seconds: float | None = None):
    self.order, self.pack_size, self.retries, self.show = list(order), pack_size, retries, show
    self.lease = lease_seconds  # the study's: how long a damaged claim file holds its trial
    self.jobs = packs.partition(self.order, pack_size)
    self.members = {job: packs.members(job) for job in self.jobs}
    self.tdir = {tid: studydir.trial_dir(study_dir, tid) for tid in self.order}
    self.queue = list(self.jobs)                  # jobs to look at, the next first
    self.retries_used = {tid: 0 for tid in self.order}
    self.running: set[str] = set()                # jobs running here
    self.launched: dict[str, list[str]] = {}      # job -> the trials it was started to run
    self.final: dict[str, str] = {}               # job -> why it will not run again here
    self.watched: dict[str, float] = {}           # job held elsewhere -> when last looked at
    self.settled: dict[str, str] = {}             # trial -> completed/diverged (for good)
    self.ran_here, self.worker_errors = 0, 0
    self.stopped: str | None = None  # why no more jobs are launched (the disk is full)
    self.refused: str | None = None  # a trial's bad input (no more jobs are launched either)

  def active(self) -> bool:
    """Something is left to launch, to wait for, or to look at again."""
    return bool(self.queue or self.running or self.watched)

  def waiting_elsewhere(self) -> bool:
    """Nothing runs here and jobs are left: only ones held by other sweeps."""
    return not self.running and bool(self.queue or self.watched)

  # ---- what a job needs, from its trials' files ----

  def state(self, tid: str) -> tuple[str, studydir.Result | None]:
    """The trial's (status, result), from its files (ledger.trial_state)."""
    return ledger.trial_state(self.tdir[tid], lease_seconds=self.lease)

  def _decide_trial(self, tid: str) -> tuple[str, bool]:
    """("final" | "launch" | "watch", retry?) from the trial's files; a failure by bad
    input is final (the same input fails the same way again)."""
    status, result = self.state(tid)
    if status in studydir.FINISHED:
      self.show.record(tid, result)
      return "final", False
    if status == studydir.FAILED and ledger.bad_input(result) is not None:
      return "final", False
    if status == studydir.FAILED:
      return ("launch", True) if self.retries_used[tid] < self.retries else ("final", False)
    return ("watch" if status == studydir.RUNNING else "launch"), False

  def decide(self, job: str) -> tuple[str, list[str], list[str]]:
    """(action, the trials to run, those of them to retry): a job is watched while one of
    its trials is held elsewhere, final when none needs running."""
    actions = {tid: self._decide_trial(tid) for tid in self.members[job]}
    if any(action == "watch" for action, _ in actions.values()):
      return "watch", [], []
    to_run = [tid for tid, (action, _) in actions.items() if action == "launch"]
    return ("launch" if to_run else "final"), to_run, [t for t in to_run if actions[t][1]]

  # ---- a job ends ----

  def ended(self, job: str, code: int, detail) -> None:
    """A launcher's report: the worker running `job` replied `code` (an EXIT_* code) with
    `detail` (result statuses or an error), or died with exit status `code`."""
    self.running.discard(job)
    if code == NODE_LOST:
      self._node_lost(job)
    elif code not in _REPLIES:
      code, detail = self._died(job, code)
    if code == EXIT_IO_ERROR:
      self._io_error(job, detail)
    elif code == EXIT_DONE:
      self.ran_here += len(self.launched[job])
      for tid in self.launched[job]:
        self._report_failure(tid)
    self.queue.insert(0, job)  # looked at again first: a retry, or a claim lost to a sweep

  def _report_failure(self, tid: str) -> None:
    """A trial that ran here failed: its last error line on the console; a failure by bad
    input stops the launching (every trial would likely fail alike)."""
    status, result = self.state(tid)
    if status != studydir.FAILED:
      return
    line = ledger.bad_input(result)
    if line is not None:
      self.refused = self.refused or line
      self.show.event(f"{tid} failed: {line} (bad input: not retried, no more trials started)")
      return
    error = ((result and result.error) or "").strip().splitlines()
    self.show.event(f"{tid} failed: {error[-1] if error else '?'}")

  def _node_lost(self, job: str) -> None:
    """The job's worker was lost with its machine: the job goes back to the queue, to resume
    from its newest checkpoint elsewhere, using one retry of each of its trials (a trial that
    takes its machine down, out of memory, is not rescheduled forever)."""
    for tid in self.launched[job]:
      self.retries_used[tid] += 1
    if max(self.retries_used[t] for t in self.launched[job]) > self.retries:
      self.final[job] = "node lost"
      self.show.event(f"{packs.label(job)}: not rescheduled: its machine was lost and its "
                      f"retries (--retries={self.retries}) are used up; rerun the sweep to "
                      "resume it")

  def _died(self, job: str, code: int) -> tuple[int, str | None]:
    """Records a dead worker's trials as failed; (EXIT_IO_ERROR, why) if that cannot be
    written, else (code, None)."""
    self.worker_errors += 1
    error = next(filter(None, [_record_crash(self.tdir[t], t, code)
                               for t in self.launched[job]]), None)
    if error:
      return EXIT_IO_ERROR, error
    self.show.event(f"{packs.label(job)}: the worker process died (exit status {code}); "
                    "a new one takes the next trial")
    return code, None

  def _io_error(self, job: str, detail: str | None) -> None:
    """The job's files cannot be written: no result; bounded like a failure; a full disk
    stops the sweep (nothing more is launched)."""
    for tid in self.launched[job]:
      self.retries_used[tid] += 1
    if max(self.retries_used[t] for t in self.launched[job]) > self.retries:
      self.final[job] = "error"
    if self.stopped is None and "No space left on device" in (detail or ""):
      self.stopped = detail
      self.show.event(f"stopping: {detail} (writing {packs.label(job)}); free some space and "
                      "rerun the sweep: it resumes")
    elif self.stopped is None:
      self.show.event(f"{packs.label(job)}: cannot write its files: {detail}")

  # ---- handing out jobs ----

  def look_again(self, now: float) -> None:
    """Queues again the jobs held elsewhere that were last looked at WATCH_S ago."""
    for job, seen in list(self.watched.items()):
      if now - seen >= WATCH_S:
        del self.watched[job]
        self.queue.append(job)

  def launch(self, launcher, now: float) -> None:
    """Hands queued jobs to the launcher's idle slots, each slot the job `pick` chooses;
    a job that needs no run is made final, one held elsewhere is watched."""
    self.queue = [job for job in self.queue if job not in self.final]
    if self.stopped is not None or self.refused is not None:
      self.final.update((job, "stopped") for job in self.queue)
      self.queue = []
    idle = launcher.idle_slots()
    while idle and self.queue:
      slot = idle[0]
      others = set().union(*(launcher.compiled(s) for s in range(launcher.parallel)
                             if s != slot))
      job = self.queue.pop(pick(self.queue, launcher.compiled(slot), others))
      action, to_run, to_retry = self.decide(job)
      if action == "final":
        self.final[job] = "done"
      elif action == "watch":
        self.watched[job] = now
      else:
        for tid in to_retry:
          self.retries_used[tid] += 1
        launcher.start(slot, job, retry=bool(to_retry))
        self.running.add(job)
        self.launched[job] = to_run
        idle.pop(0)

  # ---- counts ----

  def counts(self, running_here: set[str]) -> dict[str, int]:
    """Trials per status; unfinished ones in `running_here` are counted as "here"."""
    counts = {s: 0 for s in (*studydir.STATUSES, "here")}
    for tid, d in self.tdir.items():
      status = self.settled.get(tid) or ledger.trial_state(d, lease_seconds=self.lease)[0]
      if status in studydir.FINISHED:
        self.settled[tid] = status
      counts["here" if status in (studydir.RUNNING, studydir.PENDING) and tid in running_here
             else status] += 1
    return counts

  def report(self, parallel: int) -> None:
    """The progress line (when enabled), for a launcher of `parallel` slots."""
    if not self.show.enabled:
      return
    here = {tid for job in self.running for tid in self.members[job]}
    counts = self.counts(here)
    self.show.update(counts, counts.pop("here"), running=here,
                     parallel=parallel * self.pack_size)

  def summary(self) -> dict:
    """The final progress line, and the counts `run` returns (see study.sweep)."""
    counts = self.counts(set())
    self.show.update(counts, counts.pop("here"), force=True)
    failed = [tid for tid in self.order if self.settled.get(tid) is None and
              self.state(tid)[0] == studydir.FAILED]
    bad = {tid: ledger.bad_input(self.state(tid)[1]) for tid in failed}
    return {"trials": len(self.order), "completed": counts["completed"],
            "diverged": counts["diverged"], "failed": counts["failed"],
            "unfinished": counts["running"] + counts["pending"], "ran_here": self.ran_here,
            "retried": sum(self.retries_used.values()), "worker_errors": self.worker_errors,
            "failed_trials": failed,
            "bad_input": {tid: line for tid, line in bad.items() if line is not None},
            "stopped": self.stopped}


def run(study_dir: str, manifest: study_manifest.StudyManifest, launcher, *, parallel: int,
        retries: int, progress: bool = True, trial_ids: list[str] | None = None) -> dict:
  """Runs the study's unfinished search trials (or `trial_ids`, in that order) through
  `launcher` until none is left to run or wait for, and returns the summary (study.sweep).
  On Ctrl-C the launcher is closed (its workers release their claims) and it re-raises."""
  del parallel  # the launcher's slots
  order = sweep_order(manifest) if trial_ids is None else list(trial_ids)
  show = Progress(manifest, progress)
  show.total = len(order)  # the search's trials, or the re-runs'
  sweep = Sweep(study_dir, order, pack_size=manifest.pack_size, retries=retries, show=show,
                lease_seconds=manifest.config.get("lease_seconds"))
  try:
    while sweep.active():
      for job, code, detail in launcher.poll(timeout=POLL_S if sweep.running else 0.0):
        sweep.ended(job, code, detail)
      now = time.time()
      sweep.look_again(now)
      sweep.launch(launcher, now)
      sweep.report(launcher.parallel)
      if sweep.waiting_elsewhere():
        time.sleep(POLL_S)  # only trials held by other sweeps are left: look again later
  except KeyboardInterrupt:
    show.event("interrupted; stopping workers (their claims are released, trials resume "
               "from checkpoints next time)")
    launcher.close()
    raise
  return sweep.summary()
