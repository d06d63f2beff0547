"""The committed reproductions carry no machine-specific paths."""
import glob
import json
import os

from tests.conftest import REPO


def test_committed_manifests_have_no_absolute_paths():
  manifests = glob.glob(os.path.join(REPO, "results", "*", "*", "study.json"))
  assert manifests
  for path in manifests:
    with open(path, encoding="utf-8") as f:
      data_dir = json.load(f)["config"]["base"]["dataset"]["data_dir"]
    assert data_dir is None or not os.path.isabs(data_dir), (path, data_dir)
