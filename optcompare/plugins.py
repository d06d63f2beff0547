"""Optimizers from the user's own files: the plug-in contract (DESIGN.md §8).

A plug-in is a Python file anywhere on disk that defines

  HYPERPARAMETERS = {"learning_rate": 1e-3, "beta": 0.9, ...}   # name -> default (a number)
  def make(**hyperparameters) -> optax.GradientTransformation: ...

`learning_rate` is required: a study's learning-rate schedule applies to it, as to the
built-ins'. `make` is called inside the compiled update with traced values
(optimizers.traced), so one program serves every setting the search draws; a hyperparameter
used in Python control flow (`if beta > 0.5:`) cannot be traced and is refused by
`optcompare check-optimizer` (optcompare.plugin_check).

A study names its plug-ins in `optimizer_files = {name: path}`; study.json records each file's
path and SHA-256, a trial config carries them in `optimizer.file` and `optimizer.sha256`, and
every process that trains (a local worker, a Ray actor) loads the file itself through `load`,
which refuses a file whose content changed since the study began.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import inspect
import math
import numbers
import os
from typing import Any, Callable

from optcompare.errors import BadInputError

REQUIRED = "learning_rate"


@dataclasses.dataclass(frozen=True)
class Plugin:
  """A loaded plug-in. Equal (and hashed) by name, path and content, so that it can key
  compiled programs (a static argument of jax.jit) like a built-in optimizer's name."""
  name: str
  path: str
  sha256: str
  defaults: tuple[tuple[str, float], ...] = dataclasses.field(compare=False)
  make: Callable[..., Any] = dataclasses.field(compare=False, repr=False)

  @property
  def hyperparameters(self) -> tuple[str, ...]:
    return tuple(name for name, _ in self.defaults)


def file_sha256(path: str) -> str:
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def resolve_path(path: Any, relative_to: str | None, where: str) -> str:
  """`path` (`~` expanded; relative to the directory `relative_to` if given, else to the
  working directory) made absolute; BadInputError naming `where` if it is not a file."""
  if not isinstance(path, str) or not path:
    raise BadInputError(f"{where}: must be the path of a Python file, got {path!r}")
  path = os.path.expanduser(path)
  if not os.path.isabs(path) and relative_to:
    path = os.path.join(relative_to, path)
  path = os.path.abspath(path)
  if not os.path.isfile(path):
    raise BadInputError(f"{where}: no such file {path}")
  return path


def load(name: str, path: str, sha256: str | None = None, where: str | None = None
         ) -> Plugin:
  """The plug-in `name` in the file `path`; BadInputError naming `where` (default: the path)
  if the file is missing, does not import, breaks the contract, or (with `sha256`) has
  changed since that hash was taken."""
  where = where or path
  if not os.path.isfile(path):
    raise BadInputError(f"{where}: no such file {path}")
  actual = file_sha256(path)
  if sha256 is not None and actual != sha256:
    raise BadInputError(
        f"{where}: {path} has changed since the study began (SHA-256 {sha256[:12]}… then, "
        f"{actual[:12]}… now); restore it, or start another study (another --workdir)")
  return _load(name, os.path.abspath(path), actual, where)


@functools.lru_cache(maxsize=None)
def _load(name: str, path: str, sha256: str, where: str) -> Plugin:
  """Imports the file once per process and content (the same Plugin, so compiled programs
  keyed on it are reused)."""
  spec = importlib.util.spec_from_file_location(f"optcompare_plugin_{sha256[:16]}", path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except Exception as e:  # pylint: disable=broad-except  (the user's code: any error)
    raise BadInputError(f"{where}: does not import ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''})") from e
  defaults = check_hyperparameters(getattr(module, "HYPERPARAMETERS", None), where)
  make = getattr(module, "make", None)
  if not callable(make):
    raise BadInputError(f"{where}: defines no function `make(**hyperparameters) -> "
                        "optax.GradientTransformation`")
  check_signature(make, [n for n, _ in defaults], where)
  return Plugin(name, path, sha256, defaults, make)


def check_hyperparameters(value: Any, where: str) -> tuple[tuple[str, float], ...]:
  """HYPERPARAMETERS as sorted (name, default) pairs; BadInputError naming the problem."""
  if not isinstance(value, dict) or not value:
    raise BadInputError(f"{where}: defines no HYPERPARAMETERS (a dict {{name: default}} that "
                        f"includes {REQUIRED!r})")
  for key, default in value.items():
    if not isinstance(key, str) or not key.isidentifier():
      raise BadInputError(f"{where}: HYPERPARAMETERS key {key!r} is not a Python identifier")
    if (not isinstance(default, numbers.Real) or isinstance(default, bool)
        or not math.isfinite(default)):
      raise BadInputError(f"{where}: HYPERPARAMETERS[{key!r}] must be a finite number (the "
                          f"default), got {default!r}")
  if REQUIRED not in value:
    raise BadInputError(f"{where}: HYPERPARAMETERS has no {REQUIRED!r} (the study's "
                        "learning-rate schedule applies to it)")
  return tuple(sorted((k, float(v)) for k, v in value.items()))


def check_signature(make: Callable, names: list[str], where: str) -> None:
  """`make` accepts every hyperparameter by keyword (or **kwargs)."""
  try:
    parameters = inspect.signature(make).parameters
  except (TypeError, ValueError):
    return  # a builtin or C callable: the call itself will tell
  if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
    return
  for name in names:
    if name not in parameters or parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY:
      raise BadInputError(f"{where}: make() does not take the hyperparameter {name!r} "
                          "(declared in HYPERPARAMETERS) as a keyword argument")


def record(plugin: Plugin) -> dict[str, Any]:
  """What study.json records of a plug-in: its file, the file's hash and its
  hyperparameters' defaults (so that trial configs are built without importing the file)."""
  return {"path": plugin.path, "sha256": plugin.sha256, "hyperparameters": dict(plugin.defaults)}


def of_config(opt_cfg) -> "str | Plugin":
  """The optimizer a trial config's `optimizer` field names: a built-in's name, or the
  plug-in its `file` holds (loaded, and checked against its `sha256`)."""
  path = opt_cfg.get("file") if hasattr(opt_cfg, "get") else None
  if not path:
    return opt_cfg["name"]
  return load(opt_cfg["name"], path, opt_cfg.get("sha256"), where="optimizer.file")
