"""Checks of command-line input that no library module owns, made before anything runs.

The command line promises (DESIGN.md §4) that bad input gives one line naming the bad field
or file, exit status 2, and nothing written. The library checks what it owns (a trial
config's fields, a search space, a study directory's files); this module checks the rest:

  - which command an argv names, before absl parses it (ml_collections' config_flags executes
    the config file at flag-parse time, so a command that takes no config must refuse
    --config before parsing, not after);
  - that a config file loads: it exists, compiles, defines get_config, and get_config(arg)
    returns a config. Anything a config file raises is reported as the config file's fault;
    config_flags would raise it raw (a KeyError there reads like an unknown --config.FIELD);
  - that a directory to be written is a directory and writable (or can be created);
  - that a config holds no NaN or infinity (JSON cannot store them; a NaN bound passes every
    comparison).

No JAX here: `optcompare status` stays fast. Every function raises BadInputError.
"""
from __future__ import annotations

import math
import os
import types
from typing import Any, Callable, Iterator, Mapping

from optcompare.errors import BadInputError

_MAX_REASON = 200  # characters of an exception message quoted in a one-line error


def one_line(text: Any) -> str:
  """The first non-empty line of `text`, shortened: error messages stay one line."""
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  line = lines[0] if lines else ""
  return line if len(line) <= _MAX_REASON else line[:_MAX_REASON - 1] + "…"


def describe(e: BaseException) -> str:
  """`Type: message` of an exception, in one line."""
  message = one_line(e)
  return f"{type(e).__name__}: {message}" if message else type(e).__name__


# ---- the command line, before absl parses it ----

def _flag_name(arg: str) -> tuple[str, str | None]:
  """('name', 'value' or None) of a flag argument `--name[=value]` (or `-name...`)."""
  name, eq, value = arg.lstrip("-").partition("=")
  return name, (value if eq else None)


def scan(args: list[str], takes_value: Callable[[str], bool]) -> tuple[list[str], dict]:
  """(positional arguments, {flag name: value}) of `args` (argv without the program), as
  absl would split them (GNU style: flags and positionals mixed; `--` ends the flags).

  `takes_value(name)`: whether `--name VALUE` (no '=') consumes the next argument.
  """
  positional, given, i = [], {}, 0
  while i < len(args):
    arg = args[i]
    if arg == "--":
      positional.extend(args[i + 1:])
      break
    if arg.startswith("-") and arg != "-":
      name, value = _flag_name(arg)
      if value is None and takes_value(name) and i + 1 < len(args):
        i += 1
        value = args[i]
      given[name] = value
    else:
      positional.append(arg)
    i += 1
  return positional, given


def config_flags_given(given: Mapping[str, Any]) -> list[str]:
  """The --config and --config.FIELD flags among `given`, as written."""
  return [f"--{n}" for n in given if n == "config" or n.startswith("config.")]


# ---- config files ----

def _load_module(path: str) -> types.ModuleType:
  """Executes the config file as a fresh module (not registered, no bytecode cache
  written next to it): a failed check leaves no trace."""
  with open(path, "rb") as f:
    source = f.read()
  code = compile(source, path, "exec", dont_inherit=True)
  module = types.ModuleType("optcompare_config_check")
  module.__file__ = path
  exec(code, module.__dict__)  # pylint: disable=exec-used
  return module


def check_config_file(spec: str) -> None:
  """BadInputError naming --config and the file unless `spec` (PATH[:ARG], split at the
  first colon as config_flags splits it) loads and get_config returns a config."""
  path, colon, arg = spec.partition(":")
  if not path:
    raise BadInputError("--config: empty path; give PATH[:ARG]")
  if not os.path.exists(path):
    raise BadInputError(f"--config: {path}: no such file")
  if not os.path.isfile(path):
    raise BadInputError(f"--config: {path}: not a file")
  try:
    module = _load_module(path)
  except SyntaxError as e:
    raise BadInputError(f"--config: {path}:{e.lineno}: syntax error "
                        f"({one_line(e.msg)})") from e
  except OSError as e:
    raise BadInputError(f"--config: {path}: cannot be read ({describe(e)})") from e
  except Exception as e:  # pylint: disable=broad-except  (any fault of the file is bad input)
    raise BadInputError(f"--config: {path}: loading it raised {describe(e)}") from e
  get_config = getattr(module, "get_config", None)
  if not callable(get_config):
    raise BadInputError(f"--config: {path}: defines no get_config function")
  call = f"get_config({arg!r})" if colon else "get_config()"
  try:
    config = get_config(arg) if colon else get_config()
  except Exception as e:  # pylint: disable=broad-except
    raise BadInputError(f"--config: {path}: {call} raised {describe(e)}") from e
  if not (hasattr(config, "keys") and hasattr(config, "lock")):
    raise BadInputError(f"--config: {path}: {call} returned {type(config).__name__}, "
                        "not an ml_collections.ConfigDict")


# ---- values of a config ----

def _leaves(tree: Any, path: str) -> Iterator[tuple[str, Any]]:
  if hasattr(tree, "items"):
    for key, value in tree.items():
      yield from _leaves(value, f"{path}.{key}" if path else str(key))
  elif isinstance(tree, (list, tuple)):
    for i, value in enumerate(tree):
      yield from _leaves(value, f"{path}[{i}]")
  else:
    yield path, tree


def check_finite(config: Any, prefix: str = "") -> None:
  """BadInputError naming the first field of `config` (a ConfigDict or a dict) that holds
  NaN or an infinity."""
  for path, value in _leaves(config, prefix):
    if isinstance(value, float) and not math.isfinite(value):
      raise BadInputError(f"{path}: must be a finite number, got {value}")


# ---- directories ----

def _nearest_existing(path: str) -> str:
  while not os.path.lexists(path):
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return path


def _why_not_writable(path: str) -> str:
  try:
    read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
  except OSError:
    read_only = False
  return "read-only file system" if read_only else "permission denied"


def check_writable_dir(flag: str, path: str | None) -> None:
  """BadInputError naming `--flag` unless `path` is a writable directory, or one that can
  be created (its nearest existing ancestor is a writable directory). Remote paths
  (gs://...) are left to their writer."""
  if path is None:
    return
  if not path.strip():
    raise BadInputError(f"--{flag}: empty; give a directory")
  if "://" in path:
    return
  target = _nearest_existing(os.path.abspath(path))
  if not os.path.isdir(target):
    where = "" if target == os.path.abspath(path) else f" ({target} is a file)"
    raise BadInputError(f"--{flag}: {path}: not a directory{where}")
  if not os.access(target, os.W_OK | os.X_OK):
    created = "" if target == os.path.abspath(path) else f" (cannot create it in {target})"
    raise BadInputError(f"--{flag}: {path}: not writable, {_why_not_writable(target)}"
                        f"{created}")


def check_nonempty(flag: str, value: str | None) -> None:
  if value is not None and not value.strip():
    raise BadInputError(f"--{flag}: empty; give a directory")
