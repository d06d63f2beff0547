"""`optcompare data prepare NAME`: build a TFDS dataset offline from its original files.

TFDS's download manager takes a file from `manual_dir` instead of downloading it when a file
of the expected name is there (its checksum is still verified), so offline preparation is the
ordinary `download_and_prepare` with `DownloadConfig(manual_dir=...)`. Without a manual_dir,
TFDS downloads as usual.

Bad original files are bad input (exit status 2, nothing left behind): before TFDS runs, the
manual files are checked to be there, readable, non-empty, and of the size and sha256 that
TFDS registered for them (the error names the file and the checksum TFDS expects); a
checksum error from TFDS itself (files too large to checksum twice) is reported alike.
Whatever this call created under data_dir (the dataset's directories, downloads/) is removed
on failure; what was there before stays.

Without a manual_dir, the download hosts are probed first (name lookup and a TCP connect, at
most PROBE_TIMEOUT_S): offline, TFDS would retry each URL for minutes and end in a chained
traceback. A host that cannot be reached ends the command at once with one line naming the
dataset, the offline route (`--manual_dir`, `make demo DATA=DIR`) and the files it takes.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import re
import shutil
import sys
import socket
import tarfile
import threading
import urllib.parse
import urllib.request
import zlib

from optcompare import inputs
from optcompare import quiet
from optcompare.errors import BadInputError, EnvironmentFailure

# The original files each dataset is prepared from (names as the authors publish them).
MANUAL_FILES = {
    "fashion_mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "war_and_peace": ("warpeace_input.txt",),
    "cifar10": ("cifar-10-binary.tar.gz",),
    "cifar100": ("cifar-100-binary.tar.gz",),
    "lm1b": ("1-billion-word-language-modeling-benchmark-r13output.tar.gz",),
    "imagenet2012": ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"),
}

# Too large for memory: read by random access (optcompare/data/random_access.py), which needs
# TFDS's ArrayRecord file format.
RANDOM_ACCESS = ("lm1b", "imagenet2012")

# What reading a damaged archive or text raises (from the standard library's readers).
_DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError, UnicodeDecodeError)


def builder(name: str, data_dir: str | None):
  """The TFDS builder of `name`: optcompare's own builders first, then TFDS's registry."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if name == "war_and_peace":
    from optcompare.data import war_and_peace  # pylint: disable=g-import-not-at-top
    return war_and_peace.WarAndPeace(data_dir=data_dir)
  if name in RANDOM_ACCESS:
    return tfds.builder(name, data_dir=data_dir, file_format="array_record")
  return tfds.builder(name, data_dir=data_dir)


def check_manual_dir(name: str, manual_dir: str) -> None:
  """BadInputError naming the directory or file unless every original file of `name` is
  in `manual_dir`, a readable file. An unreadable directory is said to be
  unreadable, not to lack files it may hold."""
  if not os.path.isdir(manual_dir):
    raise BadInputError(f"--manual_dir: {manual_dir} is not a directory")
  try:
    present = set(os.listdir(manual_dir))
  except OSError as e:
    raise BadInputError(f"--manual_dir: {manual_dir}: cannot be read ({e.strerror})") from e
  if not os.access(manual_dir, os.R_OK | os.X_OK):
    raise BadInputError(f"--manual_dir: {manual_dir}: cannot be read (permission denied)")
  missing = [f for f in MANUAL_FILES[name] if f not in present]
  if missing:
    raise BadInputError(f"--manual_dir: {manual_dir} lacks {', '.join(missing)} "
                        f"(expected for {name}: {', '.join(MANUAL_FILES[name])})")
  for f in MANUAL_FILES[name]:
    path = os.path.join(manual_dir, f)
    if not os.path.isfile(path):
      raise BadInputError(f"--manual_dir: {path}: not a file")
    if not os.access(path, os.R_OK):
      raise BadInputError(f"--manual_dir: {path}: cannot be read (permission denied)")


def check_not_empty(name: str, manual_dir: str) -> None:
  """BadInputError naming the first empty original file (for those TFDS has no size of)."""
  for f in MANUAL_FILES[name]:
    path = os.path.join(manual_dir, f)
    if os.path.getsize(path) == 0:
      raise BadInputError(f"--manual_dir: {path}: empty file (expected the original {f})")


# Manual files up to this size are checksummed here, before TFDS starts; larger ones (the
# ImageNet tars) only have their size checked here, and TFDS's own checksum judges them.
CHECKSUM_HERE_MAX_BYTES = 8 << 30


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def check_registered(manual_dir: str, url_infos) -> None:
  """BadInputError naming the first manual file that is not the one TFDS registered
  (`url_infos`: url -> UrlInfo(size, checksum, filename); None when TFDS has none): of
  another size (truncated), or of another sha256 (up to CHECKSUM_HERE_MAX_BYTES).

  Checked here because once TFDS has started, a failure leaves its worker threads
  extracting the other files into downloads/ after the error has been reported.
  """
  for info in (url_infos or {}).values():
    path = os.path.join(manual_dir, info.filename or "")
    if not info.filename or not os.path.isfile(path):
      continue
    size, want = os.path.getsize(path), int(info.size)
    if size != want:
      raise BadInputError(f"--manual_dir: {path}: {size} bytes, but TFDS expects {want} "
                          f"(sha256 {info.checksum}); truncated or not the original file")
    if size <= CHECKSUM_HERE_MAX_BYTES and info.checksum:
      got = _sha256(path)
      if got != info.checksum:
        raise BadInputError(f"--manual_dir: {path}: wrong checksum (TFDS expects sha256 "
                            f"{info.checksum}, the file has {got}); not the original file")


def checksum_error_line(message: str, manual_dir: str | None) -> str:
  """One line naming the file of a TFDS NonMatchingChecksumError and the checksum TFDS
  expected (its message spans lines, and its last line only points to a web page)."""
  path = re.search(r"downloaded to (.+?), has wrong checksum", message)
  expected = re.search(r"Expected: .*?checksum='([0-9a-f]+)'", message)
  got = re.search(r"Got: .*?checksum='([0-9a-f]+)'", message)
  where = path.group(1) if path else f"a file in {manual_dir}"
  expects = f"TFDS expects sha256 {expected.group(1)}" if expected else "TFDS expects another"
  has = f", the file has {got.group(1)}" if got else ""
  return f"--manual_dir: {where}: wrong checksum ({expects}{has}); not the original file"


def _watched_dirs(dataset) -> list[str]:
  """The directories under data_dir that download_and_prepare creates entries in: the
  root, downloads/ and its extracted/, and each ancestor of the dataset's version
  directory (root/NAME[/CONFIG])."""
  root = os.path.abspath(os.fspath(str(dataset.data_dir_root)))
  dirs = [root, os.path.join(root, "downloads"), os.path.join(root, "downloads", "extracted")]
  d = os.path.abspath(os.fspath(str(dataset.data_dir)))
  while d.startswith(root + os.sep) and os.path.dirname(d) != root:
    d = os.path.dirname(d)
    dirs.append(d)
  return dirs


def snapshot(dirs: list[str]) -> dict[str, set[str] | None]:
  """Each directory's entries (None: it does not exist)."""
  return {d: set(os.listdir(d)) if os.path.isdir(d) else None for d in dirs}


def remove_created(before: dict[str, set[str] | None]) -> None:
  """Removes what appeared in the snapshotted directories since `before` (and those that
  did not exist then): only what the failed call created, never what was there."""
  for d in sorted(before, key=lambda p: p.count(os.sep), reverse=True):
    if not os.path.isdir(d):
      continue
    if before[d] is None:
      shutil.rmtree(d, ignore_errors=True)
      continue
    for entry in set(os.listdir(d)) - before[d]:
      path = os.path.join(d, entry)
      if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        with contextlib.suppress(OSError):  # (never hide the error being reported)
          os.remove(path)


def is_prepared(dataset) -> bool:
  """Whether TFDS has the dataset under its data_dir (it then downloads nothing)."""
  return os.path.exists(os.path.join(str(dataset.data_path), "dataset_info.json"))


def _download_and_prepare(dataset, manual_dir: str | None, files: tuple = ()) -> None:
  """download_and_prepare; on failure removes what it created; bad manual files ->
  BadInputError naming them (`files`: the manual files; one is named by its path)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  before = snapshot(_watched_dirs(dataset))
  if not (sys.stderr.isatty() or quiet.is_verbose([])):
    tfds.disable_progress_bar()  # in a log or a pipe, each redraw of a bar is a line: ~100
  printed = io.StringIO()  # TFDS prints "Downloading and preparing dataset …" on stdout
  try:
    with contextlib.redirect_stdout(printed):
      dataset.download_and_prepare(
          download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  except BaseException as e:
    remove_created(before)
    if isinstance(e, tfds.core.download.download_manager.NonMatchingChecksumError):
      raise BadInputError(checksum_error_line(str(e), manual_dir)) from e
    if manual_dir is not None and isinstance(e, _DAMAGED):
      where = (os.path.join(manual_dir, files[0]) if len(files) == 1
               else f"a file in {manual_dir}")
      raise BadInputError(f"--manual_dir: {where}: damaged ({inputs.describe(e)})") from e
    raise
  finally:
    for line in printed.getvalue().splitlines():  # to the log: shown with --verbosity=1
      if line.strip():
        logging.debug("tfds: %s", line.strip())


# Seconds the download hosts get to resolve and accept a connection before TFDS starts.
PROBE_TIMEOUT_S = 3.0


def download_urls(name: str, dataset) -> list[str]:
  """The URLs TFDS would download `name` from (none: a dataset TFDS takes only manually)."""
  if name == "war_and_peace":
    from optcompare.data import war_and_peace  # pylint: disable=g-import-not-at-top
    return [war_and_peace.GUTENBERG_URL]
  return sorted((dataset.url_infos or {}).keys())


def unreachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
  """Why `url`'s host (or the proxy for it) takes no connection within `timeout` seconds;
  None when it does. The lookup runs in a thread: getaddrinfo takes no timeout."""
  parts = urllib.parse.urlsplit(url)
  proxy = urllib.request.getproxies().get(parts.scheme)
  target = urllib.parse.urlsplit(proxy if "://" in (proxy or "") else f"http://{proxy}"
                                 ) if proxy else parts
  host = target.hostname or ""
  port = target.port or (443 if target.scheme == "https" else 80)
  outcome = {}

  def connect():
    try:
      socket.create_connection((host, port), timeout=timeout).close()
      outcome["why"] = None
    except socket.gaierror:
      outcome["why"] = f"{host} does not resolve"
    except OSError as e:
      outcome["why"] = f"{host}:{port}: {e.strerror or 'no answer'}"

  thread = threading.Thread(target=connect, daemon=True)
  thread.start()
  thread.join(timeout)
  return outcome.get("why", f"{host}:{port}: no answer within {timeout:g} s")


def check_download_reachable(name: str, dataset) -> None:
  """EnvironmentFailure naming the offline route unless every download host answers."""
  hosts = {}
  for url in download_urls(name, dataset):
    hosts.setdefault(urllib.parse.urlsplit(url).hostname, url)
  for url in hosts.values():
    why = unreachable(url)
    if why is not None:
      demo = " (`make demo DATA=DIR` does this)" if name == "fashion_mnist" else ""
      raise EnvironmentFailure(
          f"data prepare {name}: cannot download it ({why}; no network?). Offline: put "
          f"its original files {', '.join(MANUAL_FILES[name])} in a directory DIR and run "
          f"`optcompare data prepare {name} --manual_dir=DIR`{demo}")


def _nearest_existing(path: str) -> str:
  path = os.path.abspath(path)
  while not os.path.exists(path) and os.path.dirname(path) != path:
    path = os.path.dirname(path)
  return path


def _remove_empty_dirs(path: str, keep: str) -> None:
  """Removes `path` and its ancestors below `keep` while they are empty directories."""
  path, keep = os.path.abspath(path), os.path.abspath(keep)
  while path.startswith(keep + os.sep) and os.path.isdir(path) and not os.listdir(path):
    os.rmdir(path)
    path = os.path.dirname(path)


def prepare(name: str, manual_dir: str | None = None, data_dir: str | None = None) -> str:
  """Prepares `name` under data_dir (TFDS's default when None); returns the dataset path."""
  if name not in MANUAL_FILES:
    raise BadInputError(f"data prepare: unknown dataset {name!r}; known: {sorted(MANUAL_FILES)}")
  if manual_dir is not None:
    check_manual_dir(name, manual_dir)
  existed = _nearest_existing(data_dir) if data_dir and "://" not in data_dir else None
  try:
    dataset = builder(name, data_dir)
    if manual_dir is not None:
      check_registered(manual_dir, dataset.url_infos)  # (names the sha256 TFDS expects)
      check_not_empty(name, manual_dir)
    elif not is_prepared(dataset):
      check_download_reachable(name, dataset)
    _download_and_prepare(dataset, manual_dir, MANUAL_FILES[name])
  except BaseException:
    if existed is not None:  # (directories made on the way to data_dir, left empty)
      _remove_empty_dirs(data_dir, existed)
    raise
  if name == "lm1b":  # its subword tokenizer is trained on the prepared training split
    from optcompare.data import lm1b  # pylint: disable=g-import-not-at-top
    lm1b.prepare_tokenizer(dataset)
  return str(dataset.data_path)
