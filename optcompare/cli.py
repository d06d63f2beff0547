"""The `optcompare` command: parses flags, then calls library functions.

  optcompare train   --config=PATH[:ARG] [--config.FIELD=VALUE ...] --workdir=DIR
  optcompare sweep   --config=PATH[:ARG] --workdir=DIR [--parallel=N] [--backend=local|ray]
  optcompare status  --workdir=DIR
  optcompare analyze --workdir=DIR [--out=DIR] [--compare=DIR2] [--select=SPLIT.METRIC]
  optcompare refine  --workdir=INITIAL --out=FILE.py [--top=FRACTION] [--margin=M]
                     [--contain=STUDY ...] [--force]
  optcompare data prepare NAME [--manual_dir=DIR] [--data_dir=DIR]

Exit status: 0 on success, 2 on bad input (one line naming the bad field or file; nothing
written), 1 on any other failure.
"""
from __future__ import annotations

import os
import re
import sys

from absl import flags
from absl import logging
from ml_collections import config_flags

from optcompare import cli_help
from optcompare import errors
from optcompare import inputs
from optcompare import quiet
from optcompare.backends import private_network
from optcompare.errors import BadInputError, EnvironmentFailure

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file, PATH[:ARG].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Trial or study directory.")
_PARALLEL = flags.DEFINE_integer("parallel", 1, "sweep: trials run at once.", lower_bound=1)
_BACKEND = flags.DEFINE_enum("backend", "local", ["local", "ray"], "sweep: where trials run.")
_RETRIES = flags.DEFINE_integer("retries", 2, "sweep: reruns of a failed trial (a process "
                                "killed, a file not written; resumed from its checkpoint).",
                                lower_bound=0)
_RAY_ADDRESS = flags.DEFINE_string("ray_address", None, "sweep: Ray cluster; local if unset.")
_OUT = flags.DEFINE_string("out", None, "analyze: output directory (default WORKDIR/analysis); "
                           "refine: the study config file to write (FILE.py).")
_TOP = flags.DEFINE_float("top", None, "refine: the fraction of each optimizer's completed "
                          "trials whose span gives the new range (default 0.25, at least 2).")
_MARGIN = flags.DEFINE_float("margin", None, "refine: widening on each side, a fraction of "
                             "the top trials' span on the search scale (default 0.25).")
_CONTAIN = flags.DEFINE_multi_string("contain", None, "refine: a study whose best trial of each "
                                     "optimizer the new spaces must hold (repeatable).")
_FORCE = flags.DEFINE_bool("force", False, "refine: write even from a study too small to refine "
                           "from (an optimizer with fewer than 16 completed trials, or top "
                           "trials that did not train); the written file says so.")
_COMPARE = flags.DEFINE_string("compare", None, "analyze: a second study to rank against.")
_SELECT = flags.DEFINE_string("select", None, "analyze: SPLIT.METRIC that chooses the best "
                              "trials (default: the study's metric on validation).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "data prepare: the original files.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "data prepare: TFDS data directory.")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "train: join a multi-host job (jax.distributed.initialize; on Cloud TPU "
    "and SLURM/Kubernetes the cluster is detected, elsewhere give the three flags below).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "multi-host: HOST:PORT of "
                                   "process 0.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "multi-host: process count.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "multi-host: this process's index.")

USAGE = __doc__.split("\n\n")[1]


def _require(flag_holder, name: str):
  try:
    value = flag_holder.value
    if hasattr(value, "keys"):
      value.keys()  # a config file that failed to load raises here
  except (OSError, SyntaxError, ValueError, TypeError) as e:  # config file failed to load
    raise BadInputError(f"--{name}: {str(e).strip().splitlines()[-1].strip()}") from e
  if value is None:
    raise BadInputError(f"--{name} is required")
  inputs.check_nonempty(name, value if isinstance(value, str) else None)
  return value


def _init_distributed():
  from optcompare import multihost  # pylint: disable=g-import-not-at-top
  explicit = (_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  multihost.check_args(*explicit)
  if _MULTIHOST.value or _COORDINATOR.value is not None:
    multihost.initialize(*explicit)


def _config_overrides(argv: list[str]) -> set[str]:
  """The config fields that --config.FIELD=VALUE (or --config.FIELD VALUE) flags set."""
  return {a.split("=", 1)[0][len("--config."):] for a in argv if a.startswith("--config.")}


def _switch_optimizer(config, overrides: set[str]) -> None:
  """With --config.optimizer.name on the command line, unsets the hyperparameters the new
  optimizer does not take that came from the config file (workload configs carry Adam's β and
  ε, and a float field cannot be set to None from the command line), so
  `--config.optimizer.name=momentum --config.optimizer.hparams.momentum=0.9` works. Ones given on
  the command line stay, and the optimizer rejects them if it does not take them."""
  if "optimizer.name" not in overrides:
    return
  from optcompare import optimizers  # pylint: disable=g-import-not-at-top
  from optcompare.search import spaces  # pylint: disable=g-import-not-at-top
  if config.optimizer.name not in optimizers.REGISTRY:
    return  # train names the unknown optimizer
  given = {o.rsplit(".", 1)[1] for o in overrides if o.startswith("optimizer.hparams.")}
  spaces.unset_hparams_not_taken(config.optimizer, keep=given)


def _train(args, argv):
  from optcompare import train  # pylint: disable=g-import-not-at-top
  _expect_args(args, 0)
  _init_distributed()
  config = _require(_CONFIG, "config")
  if _optimizers_override(argv) is not None:
    raise BadInputError(f"{OPTIMIZERS_OVERRIDE}: train runs one optimizer; name it with "
                        "--config.optimizer.name")
  _expand_config_path(config, "dataset.data_dir")
  workdir = _require(_WORKDIR, "workdir")
  inputs.check_writable_dir("workdir", workdir)
  _switch_optimizer(config, _config_overrides(argv))
  result = train.train_and_evaluate(config, workdir)
  print(f"{result['status']} after {result['steps']} steps; final {result['final']}")
  return 0 if result["status"] in ("completed", "diverged") else 1


def _sweep(args, argv):
  from optcompare import study  # pylint: disable=g-import-not-at-top
  _expect_args(args, 0)
  from optcompare import analysis  # pylint: disable=g-import-not-at-top
  config = _require(_CONFIG, "config")
  _select_optimizers(config, _optimizers_override(argv))
  _expand_config_path(config, "base.dataset.data_dir")
  _resolve_optimizer_files(config)
  _check_trial_configs(config)  # (study.validate names a NaN or infinite field)
  workdir = _require(_WORKDIR, "workdir")
  inputs.check_writable_dir("workdir", workdir)
  if _BACKEND.value == "ray" and not _RAY_ADDRESS.value and not private_network.active():
    try:  # Ray's servers listen on every interface: give them only a loopback one
      private_network.reexec(argv)
    except private_network.Unavailable as e:
      print(f"optcompare: error: --backend=ray: {e}; Ray would listen on every interface. "
            "Start a cluster yourself (`ray start --head --node-ip-address=...`) and pass "
            "--ray_address, or use --backend=local", file=sys.stderr)
      return 1
  summary = study.sweep(config, workdir, parallel=_PARALLEL.value,
                        backend=_BACKEND.value, retries=_RETRIES.value,
                        ray_address=_RAY_ADDRESS.value)
  print(analysis.summary(workdir))
  if summary["failed_trials"]:
    ids = summary["failed_trials"]
    print(f"optcompare: {len(ids)} trial(s) failed after {_RETRIES.value} retries: "
          f"{', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}; see their result.json "
          "and worker.log, then rerun the sweep", file=sys.stderr)
  _raise_disk_full(summary, workdir)
  return 0 if not (summary.get("failed") or summary.get("unfinished")) else 1


def _raise_disk_full(summary: dict, workdir: str) -> None:
  """The DiskFullError on which the sweep stopped launching (its workers' line, which names
  the file system and the space needed), so that it ends with that one error line."""
  stopped = summary.get("stopped") or summary.get("reruns", {}).get("stopped")
  if stopped:
    raise (errors.DiskFullError(stopped) if stopped.startswith("No space left on device")
           else errors.disk_full(workdir))


OPTIMIZERS_OVERRIDE = "--config.optimizers"


def _optimizers_override(argv: list[str]) -> list[str] | None:
  """The names of `--config.optimizers=a,b` (config_flags cannot override a list field), or
  None without it."""
  for i, arg in enumerate(argv):
    if arg.startswith(OPTIMIZERS_OVERRIDE + "="):
      value = arg.split("=", 1)[1]
    elif arg == OPTIMIZERS_OVERRIDE and i + 1 < len(argv):
      value = argv[i + 1]
    else:
      continue
    names = [n.strip() for n in value.split(",")]
    if not all(names):
      raise BadInputError(f"{OPTIMIZERS_OVERRIDE}: expected names separated by commas, e.g. "
                          f"momentum,adam; got {value!r}")
    return names
  return None


def _without_optimizers_override(argv: list[str]) -> list[str]:
  out, skip = [], False
  for i, arg in enumerate(argv):
    if skip:
      skip = False
    elif arg.startswith(OPTIMIZERS_OVERRIDE + "="):
      continue
    elif arg == OPTIMIZERS_OVERRIDE and i + 1 < len(argv):
      skip = True
    else:
      out.append(arg)
  return out


def _select_optimizers(config, names: list[str] | None) -> None:
  """Cuts a study config to `names`, a subset of its optimizers (their search spaces and
  files kept, the others' dropped): the same trials as the whole study's for those names."""
  if names is None:
    return
  study_optimizers = list(config.get("optimizers") or [])
  for name in names:
    if name not in study_optimizers:
      raise BadInputError(f"{OPTIMIZERS_OVERRIDE}: {name!r} is not one of the study's "
                          f"optimizers ({', '.join(study_optimizers)})")
    if names.count(name) > 1:
      raise BadInputError(f"{OPTIMIZERS_OVERRIDE}: {name!r} is listed twice")
  with config.unlocked():
    config.optimizers = names
    for field in ("search_spaces", "optimizer_files"):
      for name in list(config.get(field) or {}):
        if name not in names:
          del config[field][name]


def _parse_flags(argv: list[str]) -> list[str]:
  """absl parses the flags; config_flags reads its --config.FIELD overrides from sys.argv as
  well, so --config.optimizers (applied by the sweep, _select_optimizers) is hidden from
  both meanwhile."""
  saved = sys.argv
  sys.argv = _without_optimizers_override(sys.argv)
  try:
    return flags.FLAGS(_without_optimizers_override(argv))[1:]
  finally:
    sys.argv = saved


def _resolve_optimizer_files(config) -> None:
  """A study's optimizer_files paths, relative to the config file's directory (`~`
  expanded), made absolute: study.json holds the files that are used."""
  files = config.get("optimizer_files") if hasattr(config, "get") else None
  if not files or not hasattr(files, "items"):
    return  # (none, or study.validate names the bad field)
  from optcompare import plugins  # pylint: disable=g-import-not-at-top
  here = os.path.dirname(os.path.abspath(config_flags.get_config_filename(flags.FLAGS["config"])))
  for name, path in list(files.items()):
    if isinstance(path, str):
      files[name] = plugins.resolve_path(expand_path(path), here, f"optimizer_files.{name}")


def _check_optimizer(args, argv):
  """check-optimizer FILE: whether a plug-in optimizer file is usable (see --help)."""
  del argv  # only train reads the raw command line
  from optcompare import plugin_check  # pylint: disable=g-import-not-at-top
  if len(args) != 1:
    raise BadInputError("usage: optcompare check-optimizer FILE [--config=STUDY] (a Python "
                        "file defining HYPERPARAMETERS and make)")
  path = expand_path(args[0])
  study_line = [] if _CONFIG.value is None else [_check_study_of_plugin(_CONFIG.value, path)]
  print("\n".join(plugin_check.check(path) + study_line))  # (the study's quick check first)
  return 0


def _check_study_of_plugin(config, path: str) -> str:
  """The study config's check (search spaces included) for the plug-in at `path`, which its
  optimizer_files must name."""
  from optcompare import study  # pylint: disable=g-import-not-at-top
  _resolve_optimizer_files(config)
  files = dict(config.get("optimizer_files") or {})
  names = [n for n, p in files.items() if os.path.abspath(p) == os.path.abspath(path)]
  if not names:
    raise BadInputError(f"--config: its optimizer_files does not name {os.path.abspath(path)} "
                        f"(it names {files or 'no file'})")
  manifest = study.manifest_of(config)
  return (f"study: {names[0]} with {manifest.num_trials} trials over "
          f"{', '.join(sorted(manifest.search_spaces[names[0]]))}: valid")


def _check_trial_configs(config) -> None:
  """Checks the first trial of each optimizer as `train` will, data included
  (optcompare.preflight), before the study directory is written. Errors name the field
  under `base.`."""
  from optcompare import preflight, study  # pylint: disable=g-import-not-at-top
  preflight.check_study(study.manifest_of(config))  # BadInputError for a bad study config


def _status(args, argv):
  del argv  # only train reads the raw command line
  from optcompare import study  # pylint: disable=g-import-not-at-top
  _expect_args(args, 0)
  print(study.status_table(_require(_WORKDIR, "workdir")))
  return 0


def _analyze(args, argv):
  del argv  # only train reads the raw command line
  from optcompare import analysis, studydir  # pylint: disable=g-import-not-at-top
  _expect_args(args, 0)
  workdir = _require(_WORKDIR, "workdir")
  analysis.read_manifest(workdir)  # "no study here" before judging where the output goes
  if _OUT.value is None:
    inputs.check_writable_dir("workdir", os.path.join(workdir, studydir.ANALYSIS))
  else:
    inputs.check_writable_dir("out", _OUT.value)
  if _COMPARE.value is not None:
    inputs.check_nonempty("compare", _COMPARE.value)
  print(analysis.analyze(workdir, out=_OUT.value, compare=_COMPARE.value,
                         select=_SELECT.value))
  return 0


def _refine(args, argv):
  del argv  # only train reads the raw command line
  from optcompare import refine  # pylint: disable=g-import-not-at-top
  _expect_args(args, 0)
  workdir = _require(_WORKDIR, "workdir")
  out = _require(_OUT, "out")
  print(refine.refine(workdir, out, top=_TOP.value, margin=_MARGIN.value,
                      contain=_CONTAIN.value or (), force=_FORCE.value))
  return 0


def _data(args, argv):
  del argv  # only train reads the raw command line
  from optcompare.data import prepare  # pylint: disable=g-import-not-at-top
  if len(args) != 2 or args[0] != "prepare":
    raise BadInputError("usage: optcompare data prepare NAME [--manual_dir=DIR] [--data_dir=DIR]")
  inputs.check_nonempty("manual_dir", _MANUAL_DIR.value)
  inputs.check_writable_dir("data_dir", _DATA_DIR.value)
  print(prepare.prepare(args[1], manual_dir=_MANUAL_DIR.value, data_dir=_DATA_DIR.value))
  return 0


def _unknown_field(error: str, argv: list[str]) -> str:
  key = re.search(r"'([^'\\]+)", error)
  key = key.group(1) if key else error
  for arg in argv:
    path = arg.split("=", 1)[0]
    if path.startswith("--config.") and key in path.split("."):
      return f"{path}: no such field in the config"
  return f"--config: no such field {key!r}"


def _expect_args(args, n: int):
  if len(args) != n:
    raise BadInputError(f"unexpected arguments: {' '.join(args)}")


COMMANDS = {"train": _train, "sweep": _sweep, "status": _status, "analyze": _analyze,
            "refine": _refine,
            "data": _data, "check-optimizer": _check_optimizer}
TAKES_CONFIG = ("train", "sweep", "check-optimizer")

# Each verb: what `optcompare --help` says of it, and the flags it takes (what `VERB --help`
# lists; any other optcompare flag given to it is refused, not silently ignored). A verb
# missing here gets its function's docstring, lists every flag, and refuses none.
VERBS = {
    "train": ("train one trial (a workload, an optimizer, its hyperparameters) into WORKDIR",
              ("config", "workdir", "multihost", "coordinator_address", "num_processes",
               "process_id")),
    "sweep": ("run a study's trials (a search per optimizer) into WORKDIR; rerun to resume",
              ("config", "workdir", "parallel", "backend", "retries", "ray_address")),
    "status": ("count a study's trials by optimizer and status", ("workdir",)),
    "analyze": ("write a study's report, tables and figures (best-of-K, rankings, checks)",
                ("workdir", "out", "compare", "select")),
    "refine": ("write a study config whose search spaces are narrowed around an initial "
               "study's best trials", ("workdir", "out", "top", "margin", "contain", "force")),
    "data": ("data prepare NAME: build a TFDS dataset from its original files (offline if "
             "--manual_dir holds them)", ("manual_dir", "data_dir")),
    "check-optimizer": ("check-optimizer FILE: whether your optimizer file (HYPERPARAMETERS, "
                        "make) is usable in a study: traced, finite, deterministic; with "
                        "--config, the study's search space for it too", ("config",)),
}
# Flags and config fields that hold paths: `~` and $VARS are expanded (a shell leaves the `~`
# of `--data_dir=~/x` alone, and a literal `./~` directory is a trap: `rm -rf ~/`).
PATH_FLAGS = ("workdir", "data_dir", "manual_dir", "out", "compare", "contain")


def _takes_value(name: str) -> bool:
  """Whether `--name VALUE` consumes the next argument (absl: every non-boolean flag)."""
  if name.startswith("config."):
    return True
  flag = flags.FLAGS._flags().get(name)  # pylint: disable=protected-access
  return flag is not None and not flag.boolean


def _check_config_before_parsing(argv: list[str]) -> None:
  """config_flags executes the config file while absl parses the flags, raising whatever
  the file raises. So before parsing: a command that takes no config refuses --config (its
  file is never executed), and train/sweep check that the file loads (BadInputError naming
  it); what parsing raises after that comes from a --config.FIELD override."""
  positional, given = inputs.scan(argv[1:], _takes_value)
  config_flags_ = inputs.config_flags_given(given)
  if not config_flags_:
    return
  command = positional[0] if positional else None
  if command not in COMMANDS:
    raise BadInputError(f"expected a command, one of {', '.join(COMMANDS)}")
  if command not in TAKES_CONFIG:
    raise BadInputError(f"{config_flags_[0]}: {command} takes no config")
  if given.get("config") is not None:
    inputs.check_config_file(given["config"])


def expand_path(path):
  """`path` with `~` and $VAR / ${VAR} expanded (None and non-strings as they are)."""
  if not isinstance(path, str):
    return path
  return os.path.expandvars(os.path.expanduser(path))


def _expand_path_flags() -> None:
  for name in PATH_FLAGS:
    flag = flags.FLAGS[name]
    value = ([expand_path(v) for v in flag.value] if isinstance(flag.value, list)
             else expand_path(flag.value))
    if value != flag.value:
      flag.value = value


def _expand_config_path(config, field: str) -> None:
  """Expands the config's path `field` (dotted) in place, so the trial config and study.json
  hold the path that is used; absent in a custom config: nothing to do."""
  *parents, name = field.split(".")
  for parent in parents:
    config = getattr(config, parent, None) if hasattr(config, "keys") else None
  if config is not None and hasattr(config, "keys") and name in config:
    value = expand_path(config[name])
    if value != config[name]:
      setattr(config, name, value)


def _own_flags() -> list[str]:
  """The flags this module defines (absl's own, --verbosity and the like, are every verb's)."""
  return [h.name for h in globals().values() if isinstance(h, flags.FlagHolder)]


def _check_flags_taken(verb: str) -> None:
  if verb not in VERBS:
    return
  for name in _own_flags():
    if flags.FLAGS[name].present and name not in VERBS[verb][1]:
      raise BadInputError(f"--{name}: {verb} does not take it (see `optcompare {verb} --help`)")


EXIT_STATUS = " ".join(__doc__.split("\n\n")[2].split())


def _summary(verb: str) -> str:
  if verb in VERBS:
    return VERBS[verb][0]
  doc = (COMMANDS[verb].__doc__ or "").strip()
  return doc.splitlines()[0] if doc else ""


def _help(positional: list[str], wanted: str) -> int:
  """--help, -h: the verbs (or with a verb, its flags); --helpfull: absl's every flag."""
  usage = cli_help.usage_lines(__doc__)
  if wanted == "full":
    print(f"usage:\n{USAGE}\n\n{flags.FLAGS.get_help()}")
    return 0
  if not positional:
    print(cli_help.main_help({v: _summary(v) for v in COMMANDS}, usage, EXIT_STATUS), end="")
    return 0
  verb = positional[0]
  if verb not in COMMANDS:
    return _fail(f"unknown command {verb!r}; one of {', '.join(COMMANDS)}")
  names = VERBS[verb][1] if verb in VERBS else _own_flags()
  rows = [cli_help.flag_row(flags.FLAGS[n], verb) for n in names]
  if "config" in names:
    rows.insert(1, ("--config.FIELD=VALUE", "sets one field of the config (repeatable), e.g. "
                    "--config.num_train_steps=100"))
  print(cli_help.verb_help(verb, usage.get(verb), _summary(verb), rows, EXIT_STATUS,
                           _verb_notes(verb)), end="")
  return 0


def _verb_notes(verb: str) -> tuple[str, ...]:
  """What `VERB --help` says of the names its config fields and arguments take."""
  if verb in ("train", "sweep"):
    from optcompare import optimizers  # pylint: disable=g-import-not-at-top  (jax)
    names = f"optimizers: {', '.join(optimizers.REGISTRY)} (Table 1: " \
            f"{', '.join(optimizers.TABLE_1)}); your own: README \"Compare your own optimizer\"."
    if verb == "train":
      return (names, "Config fields (configs/workloads/<workload>.py, DESIGN.md §4): "
              "--config.optimizer.name, --config.optimizer.hparams.<name> (the optimizer's "
              "hyperparameters: learning_rate, momentum, beta1, ...), "
              "--config.optimizer.schedule.*, --config.num_train_steps, --config.batch_size, "
              "--config.dataset.data_dir; PATH:smoke is 20 steps on synthetic data, "
              "PATH:reduced the CPU-sized workload.")
    from optcompare import study  # pylint: disable=g-import-not-at-top
    return (names, "Study config fields (configs/studies/<protocol>/<workload>.py): "
            f"{', '.join(study.FIELDS + study.OPTIONAL_FIELDS)}; --config.optimizers=a,b sweeps a subset of the "
            "study's optimizers, --config.base.<field> sets a trial config field.")
  if verb == "data":
    from optcompare.data import prepare  # pylint: disable=g-import-not-at-top
    return (f"datasets (NAME): {', '.join(prepare.MANUAL_FILES)}.",)
  return ()


def _fail(message: str) -> int:
  lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
  # config_flags wraps a config file's exception as "...: Error whilst parsing ...:\n<trace>".
  line = lines[-1] if lines[0].endswith(":") else lines[0]
  print(f"optcompare: error: {line}", file=sys.stderr)
  return 2


def main(argv: list[str]) -> int:
  # First: JAX and TensorFlow are imported by the commands, and their C++ loggers read the
  # thresholds when they load.
  quiet.silence(argv)
  positional, given = inputs.scan(argv[1:], _takes_value)
  wanted = cli_help.help_wanted(given)
  if wanted:
    return _help(positional, wanted)
  try:
    _check_config_before_parsing(argv)
  except BadInputError as e:
    return _fail(str(e))
  try:
    positional = _parse_flags(argv)
  except (KeyError, AttributeError) as e:  # config_flags: --config.FIELD names a missing field
    return _fail(_unknown_field(str(e), argv))
  except (flags.Error, ValueError, TypeError, AttributeError, OSError) as e:
    return _fail(str(e))  # bad flag, unreadable config file, or a bad --config.FIELD override
  if not positional:  # the whole usage on stdout; stderr keeps bad input's one line
    print(cli_help.main_help({v: _summary(v) for v in COMMANDS}, cli_help.usage_lines(__doc__),
                             EXIT_STATUS), end="")
  if not positional or positional[0] not in COMMANDS:
    return _fail(f"expected a command, one of {', '.join(COMMANDS)}")
  try:
    _check_flags_taken(positional[0])
  except BadInputError as e:
    return _fail(str(e))
  _expand_path_flags()
  logging.use_absl_handler()
  quiet.cli_warning_lines(quiet.is_verbose(argv))
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.INFO)
  # Orbax logs every phase of every save at INFO, JAX every backend it did not find (TPU,
  # CUDA) when it starts, TFDS every file it writes; keep their warnings, drop the chatter
  # (--verbosity=1 keeps it).
  if not quiet.is_verbose(argv):
    logging.get_absl_handler().addFilter(
        lambda r: r.levelno >= logging.converter.STANDARD_WARNING or not any(
            part in r.pathname
            for part in ("/orbax/", "/jax/_src/xla_bridge", "/tensorflow_datasets/")))
  return _run_verb(positional, argv)


def _run_verb(positional: list[str], argv: list[str]) -> int:
  """Runs the verb; what it raises that is not a bug becomes one line and an exit status."""
  try:
    return COMMANDS[positional[0]](positional[1:], argv)
  except BadInputError as e:
    return _fail(str(e))
  except EnvironmentFailure as e:  # not bad input (exit 2), and not a bug (a traceback)
    print(f"optcompare: error: {e}", file=sys.stderr)
    return 1
  except OSError as e:  # a full disk, a file system gone: not bad input, and not a bug
    if e.errno is None:
      raise
    if errors.is_disk_full(e) and not isinstance(e, errors.DiskFullError):  # name the fs
      e = errors.disk_full(e.filename or _WORKDIR.value or os.getcwd())
    print(f"optcompare: error: {e}", file=sys.stderr)
    return 1
  except KeyboardInterrupt:  # (a sweep has said what it stopped)
    print("optcompare: interrupted; run the same command again to resume", file=sys.stderr)
    return 130


def run():
  sys.exit(main(sys.argv))


if __name__ == "__main__":
  run()
