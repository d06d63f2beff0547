"""Start-up noise off by default, back on with absl's `--verbosity=1` (or more).

Every command that imports TensorFlow (data preparation, training on TFDS data, each sweep
worker) used to open with lines a researcher can do nothing about: "All log messages before
absl::InitializeLog() is called", "oneDNN custom operations are on", cpu_feature_guard's
instruction list. They bury the lines that matter (a config error, a failed trial).

Two mechanisms, neither of which changes what is computed (TF_ENABLE_ONEDNN_OPTS, which does
change numerics, is left alone):
  - TF_CPP_MIN_LOG_LEVEL=1 drops TensorFlow's and XLA's C++ INFO lines (warnings and errors
    stay). Set with setdefault, so a value the user exported wins.
  - TensorFlow 2.21 logs the oneDNN line through absl's C++ logger while the library loads,
    which no environment variable reaches. So the first `import tensorflow` runs with file
    descriptor 2 captured into a temporary file; afterwards every captured line that is not
    one of NOISE is written back to stderr, in order: nothing else is lost.

Warnings are the command's own lines: `optcompare: warning: MESSAGE`, one line, whether a
Python warning (which Python prints with the warning's class, the path of the file that
issued it and that file's source line) or a log record at WARNING (which absl prefixes with
a timestamp, a thread id and the file:line). With --verbosity=1 the class and the place
follow the message (`cli_warning_lines`).

This runs before any heavy import (the top of optcompare/cli.py, the start of the worker's
main()), because the C++ loggers read their settings once, when the library loads. The
choice is passed to child processes in the environment (VERBOSE_ENV), since sweep workers
do not see the sweep's command line.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import sys
import tempfile
import warnings

VERBOSE_ENV = "OPTCOMPARE_VERBOSE"

# Thresholds of logging only (what is printed, never what is computed).
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "1"}

# Substrings of the lines dropped from what `import tensorflow` writes to stderr.
NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "rebuild TensorFlow with the appropriate compiler flags",  # cpu_feature_guard's 2nd line
    "Unable to initialize backend 'tpu'",
)


def verbosity(argv: list[str]) -> int | None:
  """absl's --verbosity (or -v) from a raw command line, before absl parses it (the C++
  loggers must be told before TensorFlow loads); None if absent or not an integer."""
  value = None
  for i, arg in enumerate(argv):
    name, eq, text = arg.lstrip("-").partition("=")
    if not arg.startswith("-") or name not in ("verbosity", "v"):
      continue
    if not eq:
      text = argv[i + 1] if i + 1 < len(argv) else ""
    try:
      value = int(text)
    except ValueError:
      value = None
  return value


def is_verbose(argv: list[str]) -> bool:
  """--verbosity of 1 or more here, or in the command that started this process."""
  level = verbosity(argv)
  return (level is not None and level >= 1) or os.environ.get(VERBOSE_ENV) == "1"


def is_noise(line: str) -> bool:
  return any(pattern in line for pattern in NOISE)


def silence(argv: list[str]) -> bool:
  """Quiets TensorFlow's start-up unless --verbosity asks for it (see the module docstring).
  Returns whether it did. Call before anything imports TensorFlow or JAX."""
  if is_verbose(argv):
    os.environ[VERBOSE_ENV] = "1"  # sweep workers inherit the choice
    return False
  for name, value in QUIET_ENV.items():
    os.environ.setdefault(name, value)
  if "tensorflow" not in sys.modules and not any(
      isinstance(f, _QuietImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietImport())
  return True


WARNING_PREFIX = "optcompare: warning: "


def warning_line(message, detail: str | None = None) -> str:
  """A warning as the command's line: its message's first line, with `detail` if given."""
  text = str(message).strip()
  first = text.splitlines()[0] if text else type(message).__name__
  return f"{WARNING_PREFIX}{first}{f' ({detail})' if detail else ''}"


def _show_warning(message, category, filename, lineno, file=None, line=None, *,
                  verbose: bool) -> None:
  del line  # the issuing file's source line: not the user's business
  detail = f"{category.__name__}, {filename}:{lineno}" if verbose else None
  _flush()
  print(warning_line(message, detail), file=file or sys.stderr, flush=True)


class _WarningLines(logging.Formatter):
  """Log records at WARNING as warning_line; every other record by `base`."""

  def __init__(self, base: logging.Formatter):
    super().__init__()
    self._base = base

  def format(self, record: logging.LogRecord) -> str:
    if record.levelno == logging.WARNING:
      return warning_line(record.getMessage())
    return self._base.format(record)


def cli_warning_lines(verbose: bool) -> None:
  """Python warnings, and absl's WARNING lines unless `verbose`, as warning_line (see the
  module docstring). Call once absl's handler is in use."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  warnings.showwarning = lambda *args, **kwargs: _show_warning(*args, **kwargs,
                                                               verbose=verbose)
  handler = absl_logging.get_absl_handler().python_handler
  if not verbose and not isinstance(handler.formatter, _WarningLines):
    handler.setFormatter(_WarningLines(handler.formatter or absl_logging.PythonFormatter()))


@contextlib.contextmanager
def filtered_stderr():
  """Captures what is written to file descriptor 2 (C++ loggers included) and writes back
  the lines that are not NOISE when done, also when the block raises."""
  with tempfile.TemporaryFile() as captured:
    _flush()
    saved = os.dup(2)
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      _flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(True)
              if not is_noise(line)]
      if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


def _flush() -> None:
  for stream in (sys.stdout, sys.stderr, sys.__stderr__):
    with contextlib.suppress(Exception):  # (a closed or replaced stream)
      stream.flush()


class _QuietImport(importlib.abc.MetaPathFinder):
  """Runs the first `import tensorflow` inside filtered_stderr(), then steps aside. (Not
  at the first look-up: etils.epath, under TFDS, asks importlib.util.find_spec whether
  TensorFlow is installed long before anything imports it.)"""

  def find_spec(self, name, path=None, target=None):
    if name != "tensorflow":
      return None
    for finder in sys.meta_path:  # the finder that would have found it without this one
      find = getattr(finder, "find_spec", None) if finder is not self else None
      spec = find(name, path, target) if find else None
      if spec is not None:
        if spec.loader is not None:
          spec.loader = _QuietLoader(spec.loader, self)
        return spec
    return None


class _QuietLoader(importlib.abc.Loader):
  """The real loader, with exec_module (where TensorFlow's libraries load) filtered."""

  def __init__(self, loader, finder: _QuietImport):
    self._loader, self._finder = loader, finder

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    if self._finder in sys.meta_path:
      sys.meta_path.remove(self._finder)  # loaded once per process: nothing left to filter
    with filtered_stderr():
      self._loader.exec_module(module)
    module.__loader__ = module.__spec__.loader = self._loader  # no trace of this wrapper

  def __getattr__(self, name):  # get_resource_reader, is_package, ...
    return getattr(self._loader, name)
