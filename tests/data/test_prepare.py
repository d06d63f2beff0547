"""Offline preparation: errors name the files; the real Fashion-MNIST when ../shared has it."""
import os
import re
import shutil
import socket
import time

import numpy as np
import pytest

from optcompare.data import prepare, tfds_images
from optcompare.errors import BadInputError, EnvironmentFailure
from tests.conftest import SHARED_DATA, run_optcompare


def test_missing_manual_files_are_named(tmp_path):
  (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
  with pytest.raises(BadInputError, match="t10k-labels-idx1-ubyte.gz"):
    prepare.prepare("fashion_mnist", manual_dir=str(tmp_path), data_dir=str(tmp_path / "tfds"))
  assert not os.path.exists(tmp_path / "tfds")


def test_unknown_dataset_and_missing_dir(tmp_path):
  with pytest.raises(BadInputError, match="unknown dataset"):
    prepare.prepare("nope", manual_dir=str(tmp_path))
  with pytest.raises(BadInputError, match="not a directory"):
    prepare.prepare("mnist", manual_dir=str(tmp_path / "absent"))


def test_unprepared_data_dir_is_a_clear_error(tmp_path):
  with pytest.raises(BadInputError, match="optcompare data prepare fashion_mnist"):
    tfds_images.load_splits("fashion_mnist", str(tmp_path), 10_000)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "fashion_mnist")),
                    reason="../shared/data/fashion_mnist is not here")
def test_real_fashion_mnist_prepared_offline(tmp_path):
  prepare.prepare("fashion_mnist", manual_dir=os.path.join(SHARED_DATA, "fashion_mnist"),
                  data_dir=str(tmp_path))
  splits = tfds_images.load_splits("fashion_mnist", str(tmp_path), 10_000)
  assert {k: v.inputs.shape for k, v in splits.items()} == {
      "train": (50_000, 28, 28, 1), "validation": (10_000, 28, 28, 1),
      "test": (10_000, 28, 28, 1)}
  np.testing.assert_array_equal(np.bincount(splits["test"].labels), [1000] * 10)
  assert splits["train"].inputs.dtype == np.uint8
  # The second load comes from the decoded-array cache and is the same data, which is the
  # tail of TFDS's own train split.
  assert os.path.exists(os.path.join(str(tmp_path), "fashion_mnist", "3.0.1",
                                     tfds_images.CACHE_NAME))
  again = tfds_images.load_splits("fashion_mnist", str(tmp_path), 10_000)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  reference = tfds.as_numpy(tfds.builder("fashion_mnist", data_dir=str(tmp_path)).as_dataset(
      split="train[50000:]", batch_size=-1, shuffle_files=False))
  np.testing.assert_array_equal(again["validation"].inputs, reference["image"])
  np.testing.assert_array_equal(again["validation"].labels, reference["label"])
  np.testing.assert_array_equal(again["train"].inputs, splits["train"].inputs)


EXPECTED = "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"


class _FailingBuilder:
  """Stands in for a TFDS builder whose download_and_prepare creates files, then fails."""

  def __init__(self, root, error):
    self.data_dir_root, self.error = str(root), error
    self.data_dir = os.path.join(str(root), "fashion_mnist", "3.0.1")

  def download_and_prepare(self, download_config):
    del download_config
    for d in ("downloads/extracted/GZIP.x", "fashion_mnist/3.0.1.incompleteABC"):
      os.makedirs(os.path.join(self.data_dir_root, d), exist_ok=True)
    with open(os.path.join(self.data_dir_root, "downloads", "partial.tmp"), "w") as f:
      f.write("half")
    raise self.error


def _checksum_error(path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds.core.download.download_manager.NonMatchingChecksumError(
      f"Artifact http://x/t10k-labels-idx1-ubyte.gz, downloaded to {path}, has wrong checksum:\n"
      f"* Expected: UrlInfo(size=5.03 KiB, checksum='{EXPECTED}', filename='t10k-labels')\n"
      "* Got: UrlInfo(size=1000 bytes, checksum='abc123', filename='t10k-labels')\n"
      "To debug, see: https://www.tensorflow.org/datasets/overview")


def _tree(root):
  return sorted(os.path.relpath(os.path.join(d, n), root)
                for d, dirs, files in os.walk(root) for n in dirs + files)


@pytest.mark.parametrize("existed", [False, True])
def test_a_failed_prepare_removes_only_what_it_created(existed, tmp_path):
  root = tmp_path / "tfds"
  if existed:  # another dataset and a download of an earlier call stay
    os.makedirs(root / "mnist" / "3.0.1")
    os.makedirs(root / "downloads")
    (root / "downloads" / "keep.gz").write_bytes(b"kept")
  before = _tree(tmp_path)
  bad = str(tmp_path / "manual" / "t10k-labels-idx1-ubyte.gz")
  with pytest.raises(BadInputError) as e:
    prepare._download_and_prepare(  # pylint: disable=protected-access
        _FailingBuilder(root, _checksum_error(bad)), str(tmp_path / "manual"))
  message = str(e.value)
  assert "\n" not in message and bad in message and EXPECTED in message and "abc123" in message
  assert _tree(tmp_path) == before


def test_other_failures_are_reraised_after_the_cleanup(tmp_path):
  root = tmp_path / "tfds"
  with pytest.raises(RuntimeError, match="disk full"):
    prepare._download_and_prepare(  # pylint: disable=protected-access
        _FailingBuilder(root, RuntimeError("disk full")), str(tmp_path))
  assert not root.exists()
  with pytest.raises(BadInputError, match=r"--manual_dir: a file in .*: damaged \(EOFError"):
    prepare._download_and_prepare(  # pylint: disable=protected-access
        _FailingBuilder(root, EOFError("Compressed file ended")), str(tmp_path))
  assert not root.exists()


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "fashion_mnist")),
                    reason="../shared/data/fashion_mnist is not here")
@pytest.mark.parametrize("damage,says", [
    (lambda p: os.truncate(p, 1000), "1000 bytes, but TFDS expects 5148"),
    (lambda p: os.truncate(p, 0), "0 bytes, but TFDS expects 5148"),
    (lambda p: open(p, "r+b").write(b"\0" * 64), "wrong checksum"),
])
def test_damaged_manual_file_is_named_and_nothing_is_left(damage, says, tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(SHARED_DATA, "fashion_mnist"), manual)
  os.chmod(manual, 0o755)
  bad = manual / "t10k-labels-idx1-ubyte.gz"
  os.chmod(bad, 0o644)
  damage(str(bad))
  with pytest.raises(BadInputError, match=re.escape(str(bad))) as e:
    prepare.prepare("fashion_mnist", manual_dir=str(manual), data_dir=str(tmp_path / "tfds"))
  assert says in str(e.value) and EXPECTED in str(e.value)
  assert not (tmp_path / "tfds").exists()


# ---- no network: fail fast, name the offline route ----

def test_unreachable_download_host_fails_fast_naming_the_offline_route(tmp_path, monkeypatch):
  """A host under .invalid never resolves (RFC 2606): as offline, whatever this machine's
  network. Nothing is left behind, not even the directories on the way to data_dir."""
  monkeypatch.setattr(prepare, "download_urls",
                      lambda name, dataset: ["http://fashion-mnist.invalid/x.gz"])
  start = time.monotonic()
  with pytest.raises(EnvironmentFailure) as raised:
    prepare.prepare("fashion_mnist", data_dir=str(tmp_path / "demo_out" / "tfds"))
  assert time.monotonic() - start < prepare.PROBE_TIMEOUT_S + 5
  message = str(raised.value)
  assert "\n" not in message and "fashion_mnist" in message, message
  assert "fashion-mnist.invalid does not resolve" in message, message
  assert "optcompare data prepare fashion_mnist --manual_dir=DIR" in message, message
  assert "make demo DATA=DIR" in message, message
  assert all(f in message for f in prepare.MANUAL_FILES["fashion_mnist"]), message
  assert os.listdir(tmp_path) == []


def test_unreachable_says_why(monkeypatch):
  with socket.socket() as listening:
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    assert prepare.unreachable(f"http://127.0.0.1:{port}/x") is None
  assert "refused" in prepare.unreachable(f"http://127.0.0.1:{port}/x").lower()
  monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")  # the proxy is what is asked
  assert "127.0.0.1" in prepare.unreachable("http://example.invalid/x")


def test_offline_prepare_through_the_cli_is_one_line_within_seconds(tmp_path):
  """The first README command, offline (skipped where the real host answers)."""
  url = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz"
  if prepare.unreachable(url) is None:
    pytest.skip("this machine reaches the download host")
  start = time.monotonic()
  proc = run_optcompare("data", "prepare", "fashion_mnist",
                        f"--data_dir={tmp_path / 'demo_out' / 'tfds'}", check=False, timeout=60)
  assert time.monotonic() - start < 30
  assert proc.returncode == 1, proc.stderr
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and "--manual_dir=DIR" in lines[0], proc.stderr
  assert os.listdir(tmp_path) == []
