"""study.json: StudyManifest reads, writes and validates it (optcompare.study_manifest)."""
import json
import os

import pytest

from optcompare import study_manifest
from optcompare import studydir
from optcompare.errors import BadInputError


def test_manifest_with_a_traversing_id_is_refused(tmp_path):
  (tmp_path / "study.json").write_text(json.dumps(
      {"config": {}, "trials": [{"id": "../../x/0", "optimizer": "adam", "index": 0}]}))
  with pytest.raises(BadInputError, match="study.json.*trials\\[0\\].id"):
    study_manifest.StudyManifest.read(tmp_path)


def _committed_manifests():
  root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")
  return sorted(os.path.dirname(os.path.join(d, f)) for d, _, files in os.walk(root)
                for f in files if f == studydir.MANIFEST)


@pytest.mark.parametrize("study_dir", _committed_manifests())
def test_committed_manifests_load_and_write_back_unchanged(study_dir, tmp_path):
  manifest = study_manifest.StudyManifest.read(study_dir)
  assert manifest.trials and manifest.pack_size >= 1 and manifest.schedule
  manifest.write(str(tmp_path))
  with open(os.path.join(study_dir, studydir.MANIFEST)) as f:
    committed = json.load(f)
  with open(tmp_path / studydir.MANIFEST) as f:
    assert json.load(f) == {"reruns": [], **committed}


def _old_manifest():
  """A study.json written before pack_size, reruns, trial ids and the top-level seed."""
  return {"config": {"seed": 7, "num_trials": 2, "optimizers": ["adam"],
                     "base": {"seed": 3, "optimizer": {"schedule": {"name": "constant"}},
                              "target": {"split": "test", "metric": "accuracy", "value": 0.9}}},
          "trials": [{"optimizer": "adam", "index": 0, "hparams": {"learning_rate": 0.1}},
                     {"optimizer": "adam", "index": 1, "hparams": {"learning_rate": None}}]}


def test_an_old_manifest_loads_with_its_defaults(tmp_path):
  (tmp_path / "study.json").write_text(json.dumps(_old_manifest()))
  m = study_manifest.StudyManifest.read(tmp_path)
  assert m.search_ids == m.trial_ids == ["adam/0", "adam/1"] and m.reruns == ()
  assert (m.pack_size, m.seed, m.base_seed, m.schedule, m.num_trials) == (1, 7, 3, "constant", 2)
  assert m.target == ("test", "accuracy") and m.target_spec["value"] == 0.9
  assert m.trials[1] == study_manifest.TrialEntry("adam/1", "adam", 1, {"learning_rate": None})
  assert study_manifest.StudyManifest.from_json(m.to_json()) == m  # defaults filled in, round trip


def test_manifest_reruns_and_entries(tmp_path):
  rerun = study_manifest.RerunEntry(study_manifest.rerun_id("adam/1", 4), "adam/1", 4)
  m = study_manifest.StudyManifest.from_json(_old_manifest()).with_reruns([rerun])
  m.write(str(tmp_path))
  again = study_manifest.StudyManifest.read(tmp_path)
  assert again == m and again.trial_ids == ["adam/0", "adam/1", "adam/1s4"]
  assert again.entry("adam/1s4") == (m.trials[1], 4) and again.entry("adam/0") == (m.trials[0],
                                                                                  None)
  with pytest.raises(KeyError):
    again.entry("adam/2")


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.update(trials={}), r"corrupt study manifest \(no 'trials' list\)"),
    (lambda m: m.update(config=[]), r"'config' is not an object"),
    (lambda m: m["config"].update(num_trials=0), r"config.num_trials: 0 is not an integer >= 1"),
    (lambda m: m["trials"].append(dict(m["trials"][0])), r"trials\[2\].id 'adam/0' is listed twice"),
    (lambda m: m["trials"][0].update(id="adam/1"), r"trials\[0\].id 'adam/1' disagrees"),
    (lambda m: m["trials"][0].update(hparams={"lr": "x"}), r"trials\[0\].hparams.lr: 'x' is not"),
    (lambda m: m.update(reruns=[{"id": "adam/0s1", "of": "adam/0", "seed": 2}]),
     r"reruns\[0\].id 'adam/0s1' disagrees with its trial and seed"),
    (lambda m: m.update(reruns=[{"id": "adam/5s1", "of": "adam/5", "seed": 1}]),
     r"reruns\[0\] is not a re-run of a trial of this study"),
])
def test_a_bad_manifest_is_one_error_naming_the_file_and_field(tmp_path, edit, message):
  manifest = _old_manifest()
  edit(manifest)
  (tmp_path / "study.json").write_text(json.dumps(manifest))
  with pytest.raises(BadInputError, match=r"study.json: .*" + message):
    study_manifest.StudyManifest.read(tmp_path)
  with pytest.raises(BadInputError, match=message):  # nor made from JSON, so never written
    study_manifest.StudyManifest.from_json(manifest)
