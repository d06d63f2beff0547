"""The exceptions the command line maps to one line: BadInputError (exit status 2), the
machine's failures, EnvironmentFailure and DiskFullError, an OSError (exit status 1)."""
from __future__ import annotations

import errno
import os


class BadInputError(ValueError):
  """Bad config, search space, command line, data or file on disk.

  The message is one line that names the offending field or file. Raised before anything is
  written, so a rejected command leaves no trace.
  """


class EnvironmentFailure(RuntimeError):
  """The machine, not the input, stopped a command before it did any work (a backend that
  would not start, a cluster that cannot be reached). The command line prints the message,
  one line, and exits with status 1; running the command again may succeed."""


class DiskFullError(OSError):
  """A write failed for want of space (ENOSPC, a quota, TensorStore's RESOURCE_EXHAUSTED).

  The message is one line naming the file system, its free space and the space needed; it
  starts with the system's words, "No space left on device" (which the sweep looks for). What
  was written before stays valid (files are replaced atomically, checkpoints are renamed
  into place once complete), so the command resumes where it stopped once space is freed.
  An OSError with errno ENOSPC, so that what handles a full disk's OSError handles it; the
  command line prints it in one line, exit status 1.
  """

  def __init__(self, message: str):
    super().__init__(errno.ENOSPC, message)

  def __str__(self) -> str:
    return self.strerror

  def __reduce__(self):  # (pickled to the sweep by Ray workers)
    return type(self), (self.strerror,)


def is_disk_full(error: BaseException | None) -> bool:
  """Whether `error`, or an exception it was raised from, is a full disk or quota."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
      return True
    text = str(error)
    if "No space left on device" in text or "Disk quota exceeded" in text:
      return True
    error = error.__cause__ or error.__context__
  return False


def _mount_point(path: str) -> str:
  path = os.path.abspath(path)
  while not os.path.exists(path):  # (a directory the failed write was to create)
    path = os.path.dirname(path)
  while not os.path.ismount(path):
    path = os.path.dirname(path)
  return path


def _fs_type(mount: str) -> str:
  """The file system type of `mount` from /proc/mounts ("" where there is none)."""
  try:
    with open("/proc/mounts", encoding="utf-8") as f:
      types = {fields[1]: fields[2] for fields in (line.split() for line in f)
               if len(fields) > 2}
  except OSError:
    return ""
  return types.get(mount, "")


def size_text(n: float) -> str:
  for unit in ("B", "KiB", "MiB", "GiB"):
    if n < 1024 or unit == "GiB":
      return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
    n /= 1024
  return f"{n:.1f} TiB"  # (not reached)


def disk_full(path: str, needed: int | None = None, what: str | None = None) -> DiskFullError:
  """The DiskFullError of a failed write to `path` (`what`: how to name it, default the
  path; `needed`: the bytes the write needs, where known)."""
  mount = _mount_point(path)
  kind = _fs_type(mount)
  try:
    stat = os.statvfs(mount)
    free = (f"{size_text(stat.f_bavail * stat.f_frsize)} free of "
            f"{size_text(stat.f_blocks * stat.f_frsize)}")
  except OSError:
    free = "free space unknown"
  need = f"about {size_text(needed)} needed; free space" if needed else "free some space"
  return DiskFullError(
      f"No space left on device: the file system at {mount}{f' ({kind})' if kind else ''}, "
      f"{free}, "
      f"writing {what or path}: {need}, then run the same command again (it resumes from "
      "what was saved; nothing written so far is lost)")
