"""Studies: the manifest (study.json), trial configs, trial states, and `sweep`.

A study config (configs/studies/<protocol>/<workload>.py, DESIGN.md §4) has the fields
  base               a trial config (the workload; optimizer fields are overwritten per trial)
  seed               seeds the quasi-random points (not the trials: each runs with base.seed)
  num_trials         trials per optimizer
  optimizers         names from optcompare.optimizers
  search_spaces      optimizer -> {hyperparameter: spec} (optcompare.search.spaces)
  devices_per_trial  accelerators per trial process (0: no restriction; ignored on CPU)
  threads_per_trial  CPU threads per trial process
  lease_seconds      how long a claim outlives its holder's last heartbeat
  reruns             optional {top, seeds}: seed re-runs of each optimizer's best trials
                     after the search (optcompare.reruns); may change between runs
  pack_size          optional, trials of one optimizer trained in one compiled program
                     (optcompare.packed; default 1: one trial per program); an execution field
  processes_per_trial  optional, the processes (hosts) that train one trial together, one
                     JAX job (optcompare.multihost; default 1); an execution field. The local
                     backend starts them on this machine (backends/local.py); not with
                     pack_size > 1, nor with the Ray backend
  optimizer_files    optional {name: path}: the user's own optimizers (optcompare.plugins),
                     listed in `optimizers` and given search spaces like the built-ins; study.json
                     records each as {path, sha256, hyperparameters}, and a file changed since
                     the study began is refused

`sweep(config, workdir)` validates the config and runs train's checks, data included, on
each optimizer's first trial (optcompare.preflight; BadInputError, nothing written), writes
study.json, and runs every unfinished trial on long-lived worker processes
(optcompare.backends). The directory's files are read and written through
optcompare.studydir.
A rerun on the same directory resumes the study; a config that differs from the one in
study.json is refused, except that num_trials may grow and the execution fields
(devices_per_trial, threads_per_trial, lease_seconds, pack_size, processes_per_trial) may
change between runs, and
a study refused by bad input before any trial trained is replaced (refused_untrained). A
study.json written before an optional field existed loads and resumes as it is.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from typing import Any, Mapping

from optcompare import inputs, plugins, preflight, reruns, study_manifest, studydir, trial_files
from optcompare.errors import BadInputError
from optcompare.search import quasirandom
from optcompare.search.spaces import SearchSpace, build_trial_config, optimizer_names

FIELDS = ("base", "seed", "num_trials", "optimizers", "search_spaces", "devices_per_trial",
          "threads_per_trial", "lease_seconds")
OPTIONAL_FIELDS = ("reruns", "pack_size", "optimizer_files", "processes_per_trial")
EXECUTION_FIELDS = ("devices_per_trial", "threads_per_trial", "lease_seconds", "pack_size",
                    "processes_per_trial")
MANIFEST = studydir.MANIFEST
# A failed trial is the infrastructure's accident (a killed process, a full disk), not the
# optimizer's outcome: a sweep reruns it this many times (resuming from its checkpoint).
DEFAULT_RETRIES = 2


def _jsonable(x):
  """to_dict() output -> plain JSON types (tuples become lists, numpy scalars floats)."""
  if isinstance(x, Mapping):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if x is None or isinstance(x, (bool, int, float, str)):
    return x
  if hasattr(x, "item"):
    return x.item()
  raise BadInputError(f"config: value {x!r} of type {type(x).__name__} is not JSON-safe")


def config_dict(config) -> dict:
  """The study config as JSON values; BadInputError naming a field that holds NaN or an
  infinity (JSON has neither)."""
  if hasattr(config, "to_dict"):
    config = config.to_dict()
  if not isinstance(config, Mapping):
    raise BadInputError(f"config: must be a ConfigDict or dict, got {type(config).__name__}")
  inputs.check_finite(config)
  return json.loads(json.dumps(_jsonable(config), allow_nan=False))


def _int_field(c: dict, name: str, low: int, where: str = "") -> int:
  """c[name], an integer >= low; BadInputError naming `where` + name otherwise."""
  x = c[name]
  if isinstance(x, bool) or not isinstance(x, int) or x < low:
    raise BadInputError(f"{where}{name}: must be an integer >= {low}, got {x!r}")
  return x


def validate(config) -> tuple[dict, dict[str, SearchSpace]]:
  """Checks a study config; returns (its JSON-safe dict, optimizer -> SearchSpace)."""
  c = config_dict(config)
  for name in FIELDS:
    if name not in c:
      raise BadInputError(f"{name}: missing from the study config")
  for name in sorted(set(c) - set(FIELDS) - set(OPTIONAL_FIELDS)):
    raise BadInputError(f"{name}: not a study config field (fields: "
                        f"{', '.join(FIELDS + OPTIONAL_FIELDS)})")
  _check_reruns(c.get("reruns"))
  _check_processes(c)
  if isinstance(c["seed"], bool) or not isinstance(c["seed"], int):
    raise BadInputError(f"seed: must be an integer, got {c['seed']!r}")
  _int_field(c, "num_trials", 1)
  top = (c.get("reruns") or {}).get("top", 0)
  if top > c["num_trials"]:
    raise BadInputError(f"reruns.top: {top} is more than the {c['num_trials']} trials per "
                        "optimizer (num_trials)")
  _int_field(c, "devices_per_trial", 0)
  _int_field(c, "threads_per_trial", 1)
  lease = c["lease_seconds"]
  if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not lease > 0:
    raise BadInputError(f"lease_seconds: must be a positive number, got {lease!r}")
  if not isinstance(c["base"], dict) or not isinstance(c["base"].get("optimizer"), dict):
    raise BadInputError("base: must be a trial config with an `optimizer` field")
  opts, spaces = c["optimizers"], c["search_spaces"]
  if not isinstance(opts, list) or not opts or not all(isinstance(o, str) for o in opts):
    raise BadInputError(f"optimizers: must be a non-empty list of names, got {opts!r}")
  files = _check_optimizer_files(c.get("optimizer_files") or {}, opts)
  if files:  # (absent otherwise: study.json as before the field)
    c["optimizer_files"] = files
  known = optimizer_names() + tuple(files)
  for o in opts:
    if o not in known:
      raise BadInputError(f"optimizers: unknown optimizer {o!r} (known: {', '.join(known)})")
    if opts.count(o) > 1:
      raise BadInputError(f"optimizers: {o!r} is listed twice")
  if not isinstance(spaces, dict):
    raise BadInputError(f"search_spaces: must be a dict, got {spaces!r}")
  for o in spaces:
    if o not in known:
      raise BadInputError(f"search_spaces.{o}: unknown optimizer (known: {', '.join(known)})")
    if o not in opts:
      raise BadInputError(f"search_spaces.{o}: not in optimizers {opts}")
  for o in opts:
    if o not in spaces:
      raise BadInputError(f"search_spaces.{o}: missing (every optimizer needs a space)")
  parsed = {o: SearchSpace(o, spaces[o], f"search_spaces.{o}", files.get(o)) for o in opts}
  for trial in _trials(c, parsed):
    _check_trial(c, trial)
  return c, parsed


def _check_optimizer_files(files: Any, opts: list[str]) -> dict[str, dict]:
  """{name: plug-in record} of a study's optimizer_files ({name: path}, paths relative to
  the working directory; cli makes them relative to the config file); each file is loaded
  (its contract checked). A record (study.json's form) is checked against its file's hash."""
  if not isinstance(files, dict):
    raise BadInputError(f"optimizer_files: must be a dict {{name: path}}, got {files!r}")
  records = {}
  for name, value in files.items():
    where = f"optimizer_files.{name}"
    if name in optimizer_names():
      raise BadInputError(f"{where}: clashes with the built-in optimizer {name!r}; give the "
                          "plug-in another name")
    if name not in opts:
      raise BadInputError(f"{where}: not in optimizers {opts}")
    path, sha = (value.get("path"), value.get("sha256")) if isinstance(value, dict) else (
        value, None)
    plugin = plugins.load(name, plugins.resolve_path(path, None, where), sha, where)
    records[name] = plugins.record(plugin)
  return records


def _check_processes(c: dict) -> None:
  """pack_size and processes_per_trial (optional): integers >= 1, not both above 1 (a pack's
  trials are not trained over several processes)."""
  pack = _int_field(c, "pack_size", 1) if "pack_size" in c else 1
  processes = _int_field(c, "processes_per_trial", 1) if "processes_per_trial" in c else 1
  if processes > 1 and pack > 1:
    raise BadInputError(f"processes_per_trial: {processes} processes per trial cannot train "
                        f"packs (pack_size={pack}); set pack_size to 1 or this to 1")


def _check_reruns(value) -> None:
  if value is None:
    return
  if not isinstance(value, dict) or set(value) != set(reruns.DEFAULT):
    raise BadInputError(f"reruns: must be {{'top': T, 'seeds': N}}, got {value!r}")
  for key in reruns.DEFAULT:
    _int_field(value, key, 0, "reruns.")


def _check_trial(c: dict, trial: study_manifest.TrialEntry) -> None:
  """Builds the trial's optimizer as the worker will; errors name the search-space field."""
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top  (jax, no devices)
  space_field = f"search_spaces.{trial.optimizer}"
  try:
    config = build_trial_config(c["base"], trial.optimizer, trial.hparams,
                                c.get("optimizer_files", {}).get(trial.optimizer))
  except (TypeError, ValueError, AttributeError, KeyError) as e:
    raise BadInputError(f"{space_field}: cannot apply trial {trial.id} to base "
                        f"({str(e).splitlines()[0]})") from e
  try:
    optimizers.from_config(config.optimizer, config.num_train_steps)
  except BadInputError as e:
    path, _, reason = str(e).partition(": ")
    name = path.rsplit(".", 1)[-1]
    if not path.startswith("optimizer."):
      raise BadInputError(f"base.{path}: {reason}") from e
    where = (f"trial {trial.id} has {name}={trial.hparams[name]!r}"
             if name in trial.hparams else f"not in the space; base.{path} is "
             f"{_get(c['base'], path)!r}")
    raise BadInputError(f"{space_field}.{name}: {reason} ({where})") from e


def _get(d: dict, path: str):
  for key in path.split("."):
    d = d.get(key) if isinstance(d, dict) else None
  return d


def _trials(c: dict, spaces: dict[str, SearchSpace]) -> list[study_manifest.TrialEntry]:
  trials = []
  for o in c["optimizers"]:
    space = spaces[o]
    points = quasirandom.halton(space.dims, c["num_trials"],
                                quasirandom.stable_seed(c["seed"], o))
    for i, u in enumerate(points):
      trials.append(study_manifest.TrialEntry(str(studydir.TrialId(o, i)), o, i, space.values(u)))
  return trials


def manifest_of(config) -> study_manifest.StudyManifest:
  """The manifest (study.json) of a study config (validated); no re-runs planned yet."""
  c, spaces = validate(config)
  return study_manifest.StudyManifest(c, c["seed"], tuple(_trials(c, spaces)))


def load_manifest(workdir: str) -> study_manifest.StudyManifest:
  return study_manifest.StudyManifest.read(workdir)


def trial_config(manifest: study_manifest.StudyManifest, trial_id: str):
  """The trial config (a locked ConfigDict) of `trial_id` in a StudyManifest."""
  from optcompare.backends import worker  # pylint: disable=g-import-not-at-top
  return worker.trial_config(manifest, trial_id)


def _strip(c: Mapping[str, Any]) -> dict:
  """The fields of a study config that must not change between runs of one study; its base
  trial config read with the defaults of trial fields added since (trial_files.ADDED_FIELDS)
  and without the trial's execution fields."""
  out = {k: v for k, v in c.items()
         if k not in EXECUTION_FIELDS + ("reruns", "num_trials")}
  if not out.get("optimizer_files"):  # (absent from study.json written before the field)
    out.pop("optimizer_files", None)
  if isinstance(out.get("base"), Mapping):
    base = {**trial_files.ADDED_FIELDS, **out["base"]}
    out["base"] = {k: v for k, v in base.items() if k not in trial_files.EXECUTION_FIELDS}
  return out


def merge_with_workdir(workdir: str, manifest) -> tuple[study_manifest.StudyManifest, bool]:
  """(the manifest to run, whether study.json must be (re)written); BadInputError if
  `workdir` holds another study.

  A study.json may be rewritten with more trials (num_trials grew; earlier trials unchanged),
  other execution fields or other `reruns` settings; any other difference is refused, except
  that a study refused by bad input before any trial trained (refused_untrained) is replaced.
  The re-runs already planned are kept (in the manifest returned).
  """
  path = os.path.join(workdir, MANIFEST)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise BadInputError(f"workdir: {workdir} is not a directory")
  if not os.path.exists(path):
    others = [n for n in os.listdir(workdir)  # (another sweep writing study.json: fine)
              if not (n.startswith(f"{MANIFEST}.") and n.endswith(".tmp"))
              ] if os.path.isdir(workdir) else []
    if others:
      raise BadInputError(f"workdir: {workdir} is not empty and holds no {MANIFEST}")
    return manifest, True
  old = load_manifest(workdir)
  _check_plugins_unchanged(old, manifest)
  if _strip(old.config) != _strip(manifest.config) and refused_untrained(workdir, old):
    return manifest, True  # replaced: _replace removes its trials (nothing trained)
  if _strip(old.config) != _strip(manifest.config):
    field = studydir.first_difference(_strip(old.config), _strip(manifest.config))
    raise BadInputError(f"{path}: holds a different study ({field} differs); use another "
                        "--workdir or the config it was made with")
  if manifest.num_trials < old.num_trials:
    raise BadInputError(f"{path}: holds {old.num_trials} trials per optimizer; "
                        f"num_trials={manifest.num_trials} would shrink it")
  new_trials = {t.id: t for t in manifest.trials}
  for t in old.trials:
    if new_trials.get(t.id) != t:
      raise BadInputError(f"{path}: trial {t.id} differs from this config's (another "
                          "scipy version?)")
  manifest = manifest.with_reruns(old.reruns)
  return manifest, old != manifest


def _check_plugins_unchanged(old: study_manifest.StudyManifest, new: study_manifest.StudyManifest
                             ) -> None:
  """BadInputError if a plug-in's file changed since the study began (its trials so far
  ran the old code)."""
  for name in old.optimizers:
    before, now = old.plugin(name), new.plugin(name)
    if before and now and before["sha256"] != now["sha256"]:
      raise BadInputError(
          f"optimizer_files.{name}: {now['path']} has changed since this study began "
          f"(SHA-256 {before['sha256'][:12]}… then, {now['sha256'][:12]}… now); restore it, "
          "or start another study (another --workdir)")


def _trained(tdir: str) -> bool:
  """Whether the trial directory holds training: metrics or a checkpoint."""
  for name in (studydir.METRICS, studydir.CHECKPOINTS):
    path = os.path.join(tdir, name)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
      return True
    if os.path.isdir(path) and os.listdir(path):
      return True
  return False


def refused_untrained(workdir: str, old: study_manifest.StudyManifest) -> bool:
  """Whether the study in `workdir` failed by bad input before any trial trained: a trial
  failed by bad input (ledger.bad_input), and no trial has another result, is running, or
  has metrics or a checkpoint; no pack and no re-run. Such a study holds nothing to keep, so
  a sweep with a corrected config replaces it (DESIGN.md §6)."""
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  if old.reruns or os.path.isdir(os.path.join(workdir, studydir.PACKS)):
    return False
  refused = False
  for tid in old.trial_ids:
    tdir = studydir.trial_dir(workdir, tid)
    status, result = ledger.trial_state(tdir, lease_seconds=old.config.get("lease_seconds"))
    if status == studydir.FAILED and ledger.bad_input(result) is not None:
      refused = True
    elif status != studydir.PENDING or _trained(tdir):
      return False
  return refused


def _replace(workdir: str, manifest) -> bool:
  """Removes the trials of a study that `manifest` replaces (see refused_untrained); whether
  it did."""
  path = os.path.join(workdir, MANIFEST)
  if not os.path.exists(path):
    return False
  old = load_manifest(workdir)
  if _strip(old.config) == _strip(manifest.config) or not refused_untrained(workdir, old):
    return False
  shutil.rmtree(str(studydir.trials_root(workdir)), ignore_errors=True)
  print(f"sweep: {workdir} held a study refused by bad input before any trial trained; "
        "replaced by this config", file=sys.stderr)
  return True


def check_workdir(workdir: str, manifest) -> bool:
  """Whether study.json must be (re)written; BadInputError if `workdir` holds another study
  (see merge_with_workdir)."""
  return merge_with_workdir(workdir, manifest)[1]


def write_manifest(workdir: str, manifest) -> study_manifest.StudyManifest:
  """Writes study.json after merge_with_workdir (atomically: concurrent sweeps write alike);
  returns the manifest as written (the planned re-runs kept)."""
  manifest, changed = merge_with_workdir(workdir, manifest)
  _replace(workdir, manifest)
  if changed:
    manifest.write(workdir)
  return manifest


def status_table(workdir: str) -> str:
  """A table per optimizer of trial states and the best target metric, from the files."""
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  manifest = load_manifest(workdir)
  split, metric = manifest.target
  rows: dict[str, dict[str, Any]] = {}
  for t in manifest.trials:
    row = rows.setdefault(t.optimizer, {s: 0 for s in studydir.STATUSES} | {"best": None})
    status, result = ledger.trial_state(studydir.trial_dir(workdir, t.id),
                                        lease_seconds=manifest.config.get("lease_seconds"))
    row[status] += 1
    value = result.value(split, metric) if result else None
    if value is not None and studydir.better(value, row["best"] and row["best"][0], metric):
      row["best"] = (value, t.id)
  reruns_done = _reruns_done(workdir, manifest)
  best_head = f"best {split} {metric}"
  head = ["optimizer", "trials", "done", "running", "pending", "diverged", "failed", best_head]
  head[-1:-1] = ["re-runs done"] if manifest.reruns else []
  lines = [head]
  for opt, row in rows.items():
    best = f"{row['best'][0]:.4f} ({row['best'][1]})" if row["best"] else "-"
    total = sum(row[s] for s in studydir.STATUSES)
    done = ["{}/{}".format(*reruns_done.get(opt, (0, 0)))] if manifest.reruns else []
    lines.append([opt, total, row["completed"], row["running"], row["pending"],
                  row["diverged"], row["failed"], *done, best])
  widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
  fmt = lambda line: "  ".join(  # pylint: disable=g-long-lambda
      str(x).ljust(w) if i in (0, len(head) - 1) else str(x).rjust(w)
      for i, (x, w) in enumerate(zip(line, widths))).rstrip()
  title = (f"study {workdir}: {manifest.num_trials} trials per optimizer, seed {manifest.seed} "
           "(done: completed trials; best: among them)")
  return "\n".join([title, fmt(head)] + [fmt(line) for line in lines[1:]])


def _reruns_done(workdir: str, manifest: study_manifest.StudyManifest
                 ) -> dict[str, tuple[int, int]]:
  """optimizer -> (seed re-runs finished, planned): counted apart from the search's trials."""
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  out: dict[str, tuple[int, int]] = {}
  for r in manifest.reruns:
    status, _ = ledger.trial_state(studydir.trial_dir(workdir, r.id),
                                   lease_seconds=manifest.config.get("lease_seconds"))
    optimizer = studydir.optimizer_of(r.id)
    done, planned = out.get(optimizer, (0, 0))
    out[optimizer] = (done + (status in studydir.FINISHED), planned + 1)
  return out


def _plan_reruns(workdir: str) -> list[str]:
  """Records the seed re-runs that the finished search calls for; returns every re-run id."""
  from optcompare.backends import ledger  # pylint: disable=g-import-not-at-top
  manifest = load_manifest(workdir)
  finished = {t.id for t in manifest.trials
              if ledger.trial_state(studydir.trial_dir(workdir, t.id))[0]
              in studydir.RESULT_STATUSES}
  planned = reruns.plan(workdir, manifest, finished)
  if planned != manifest.reruns:
    manifest.with_reruns(planned).write(workdir)
  return [r.id for r in planned]


def _raise_bad_input(workdir: str, manifest: study_manifest.StudyManifest, summary: dict) -> None:
  """BadInputError (one line: the trial's error, and how to rerun) when a trial of the study
  failed by bad input; such a trial is never retried."""
  if not summary.get("bad_input"):
    return
  (tid, line), *more = summary["bad_input"].items()
  others = f" and {len(more)} more" if more else ""
  if refused_untrained(workdir, manifest):
    how = ("no trial trained, so rerunning the sweep with the corrected config replaces this "
           "study")
  else:
    how = ("a trial is not retried after bad input, and this study's config cannot change "
           f"(trials trained); remove {studydir.trial_dir(workdir, tid)} and rerun the sweep "
           "to try it again")
  raise BadInputError(f"{preflight.under_base(line)} (trial {tid}{others}); {how}")


def _launcher(workdir: str, manifest: study_manifest.StudyManifest, backend: str, parallel: int,
              ray_address: str | None):
  """The backend's launcher (backends/) for the study's execution fields; BadInputError for
  processes_per_trial > 1 on Ray (its workers are single processes)."""
  c = manifest.config
  kwargs = dict(parallel=parallel, threads_per_trial=c["threads_per_trial"],
                devices_per_trial=c["devices_per_trial"], lease_seconds=c["lease_seconds"])
  processes = manifest.processes_per_trial
  if backend == "ray" and processes > 1:
    raise BadInputError(f"processes_per_trial: {processes} processes per trial run on the local "
                        "backend only (--backend=local); the Ray backend runs 1")
  if backend == "ray":
    from optcompare.backends import ray_backend  # pylint: disable=g-import-not-at-top
    return ray_backend.RayLauncher(workdir, address=ray_address, **kwargs)
  from optcompare.backends import local  # pylint: disable=g-import-not-at-top
  return local.LocalLauncher(workdir, processes_per_trial=processes, **kwargs)


def sweep(config, workdir: str, *, parallel: int = 1, backend: str = "local",
          retries: int = DEFAULT_RETRIES, ray_address: str | None = None,
          progress: bool = True) -> dict:
  """Runs every unfinished trial of the study; returns summary counts.

  parallel: trial processes (or Ray tasks) in flight at once. retries: extra attempts, in
  this sweep, for each trial whose result is `failed` (also failures of earlier sweeps).
  Trials that another sweep holds are waited for, so the summary covers the whole study:
  {"trials", "completed", "diverged", "failed", "unfinished" (left without a result: only
   after worker errors), "ran_here" (trials this sweep ran to a result), "retried",
   "worker_errors" (worker processes that ended abnormally), "failed_trials", "wall_time_s"},
  and under "reruns" the same counts for the seed re-runs (when the study asks for them).
  """
  for name, value, low in (("parallel", parallel, 1), ("retries", retries, 0)):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
      raise BadInputError(f"--{name}: must be an integer >= {low}, got {value!r}")
  if backend not in ("local", "ray"):
    raise BadInputError(f"--backend: must be 'local' or 'ray', got {backend!r}")
  if ray_address and backend != "ray":
    raise BadInputError("--ray_address: needs --backend=ray")
  manifest = manifest_of(config)
  preflight.check_study(manifest)  # train's checks, data included, before anything is written
  workdir = os.path.abspath(workdir)
  check_workdir(workdir, manifest)
  from optcompare.backends import scheduler  # pylint: disable=g-import-not-at-top
  launcher = _launcher(workdir, manifest, backend, parallel, ray_address)
  t0 = time.time()
  try:
    manifest = write_manifest(workdir, manifest)
    from optcompare import hparams_board  # pylint: disable=g-import-not-at-top
    hparams_board.write_experiment(workdir, manifest)  # TensorBoard's HParams dashboard
    summary = scheduler.run(workdir, manifest, launcher, parallel=launcher.parallel,
                            retries=retries, progress=progress)
    _raise_bad_input(workdir, manifest, summary)
    rerun_ids = _plan_reruns(workdir)
    if rerun_ids:
      summary["reruns"] = scheduler.run(workdir, load_manifest(workdir), launcher,
                                        parallel=launcher.parallel, retries=retries,
                                        progress=progress, trial_ids=rerun_ids)
      summary["failed_trials"] += summary["reruns"]["failed_trials"]
      _raise_bad_input(workdir, manifest, summary["reruns"])
  finally:
    launcher.close()
  summary["wall_time_s"] = round(time.time() - t0, 3)
  return summary
