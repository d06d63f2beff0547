"""notebooks/inspect_trials.ipynb, executed with nbclient as `jupyter execute` would run it
(the kernel's working directory is notebooks/): on a real smoke study given by a path relative
to the directory jupyter was started in, on a study given by an absolute path, on the synthetic
study only when asked for by name, and failing, with a message naming the path, on a missing
study."""
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
import pytest

from tests.conftest import REPO

NOTEBOOK = os.path.join(REPO, "notebooks", "inspect_trials.ipynb")


def execute(study: str, monkeypatch, start_dir=None):
  """The executed notebook with OPTCOMPARE_STUDY=`study`, $PWD = `start_dir` (the directory
  jupyter was started in) and the kernel in notebooks/."""
  monkeypatch.setenv("OPTCOMPARE_STUDY", study)
  monkeypatch.delenv("OPTCOMPARE_START_DIR", raising=False)
  if start_dir is not None:
    monkeypatch.setenv("PWD", str(start_dir))
  nb = nbformat.read(NOTEBOOK, as_version=4)
  # kernel_name "python3": jupyter_client runs a kernelspec whose argv[0] is "python" with
  # sys.executable, i.e. this venv's interpreter; the notebook prints its prefix to check.
  client = NotebookClient(nb, kernel_name="python3", timeout=180,
                          resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
  client.execute()
  return nb


def outputs(nb):
  """(stream text, Markdown outputs, number of PNG images, errors) of an executed notebook."""
  outs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
  text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")
  md = "\n".join(o["data"]["text/markdown"] for o in outs if "text/markdown" in o.get("data", {}))
  images = sum("image/png" in o.get("data", {}) for o in outs)
  return text, md, images, [o for o in outs if o.output_type == "error"]


def test_parameters_cell_is_tagged_for_papermill():
  nb = nbformat.read(NOTEBOOK, as_version=4)
  tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
  assert len(tagged) == 1 and 'STUDY = os.environ.get("OPTCOMPARE_STUDY"' in tagged[0].source
  assert "OPTCOMPARE_STUDY" in nb.cells[0].source and "$PWD" in nb.cells[0].source


def test_notebook_on_a_smoke_study(tmp_path, monkeypatch):
  """A real (tiny) sweep, named relative to the directory jupyter was started in."""
  from optcompare import study
  from tests.test_study import smoke_study
  study.sweep(smoke_study(optimizers=("sgd", "momentum"), num_trials=2), str(tmp_path / "study"),
              progress=False)
  nb = execute("study", monkeypatch, start_dir=tmp_path)
  text, md, images, errors = outputs(nb)
  assert not errors
  assert f"kernel prefix: {sys.prefix}" in text
  assert f"study: {tmp_path / 'study'}" in text and "4 trials, metric: error" in text
  assert "synthetic_study" not in text  # it used the study we gave it
  assert "**Workload:** fashion_mnist_simple_cnn; model simple_cnn" in md
  assert images >= 2  # curves and best-of-K
  # The inclusion verdicts as a table: with 2 trials each, inconclusive, and the caveat why.
  assert "| inclusion | K | verdict |" in md and "| sgd ⊆ momentum | 2 | ⬜ inconclusive |" in md
  assert "With 2 trials per optimizer and K = 2, the study cannot tell" in md


def test_notebook_on_an_absolute_path(study_dir, monkeypatch):
  nb = execute(str(study_dir), monkeypatch, start_dir="/")
  text, md, images, errors = outputs(nb)
  assert not errors and "24 trials" in text and images >= 2
  assert "| sgd ⊆ momentum | 8 | " in md


def test_notebook_fails_on_a_missing_study(tmp_path, monkeypatch):
  missing = tmp_path / "no_such_study"
  with pytest.raises(CellExecutionError) as e:
    execute("no_such_study", monkeypatch, start_dir=tmp_path)
  assert f"No study at {missing}: no study.json there" in str(e.value)
  assert "FileNotFoundError" in str(e.value)


def test_synthetic_study_only_by_name(monkeypatch):
  nb = execute("synthetic", monkeypatch)
  text, _, images, errors = outputs(nb)
  assert not errors and "writing a made-up demo study" in text and images >= 2
