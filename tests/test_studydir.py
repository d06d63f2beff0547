"""studydir: trial ids never lead outside the study; Result round-trips; writes are atomic."""
import json
import os

import pytest

from optcompare import studydir
from optcompare.errors import BadInputError


@pytest.mark.parametrize("tid", ["adam/0", "sgd/12", "nadamw/3"])
def test_valid_trial_ids_map_under_the_study(tmp_path, tid):
  path = studydir.trial_dir(str(tmp_path), tid)
  assert os.path.commonpath([path, str(tmp_path / "trials")]) == str(tmp_path / "trials")
  assert path == os.path.join(str(tmp_path), "trials", *tid.split("/"))


@pytest.mark.parametrize("tid", ["../../x/0", "adam/../../0", "/etc/0", "adam/01", "adam/-1",
                                 "adam", "adam/0/1", "Adam/0", "adam/0 ", "", None, 3])
def test_bad_trial_ids_are_refused(tmp_path, tid):
  with pytest.raises(BadInputError, match="trial id"):
    studydir.trial_dir(str(tmp_path), tid)


@pytest.mark.parametrize("text,parts,search", [("adam/0", ("adam", 0, None), "adam/0"),
                                               ("sgd/12s3", ("sgd", 12, 3), "sgd/12"),
                                               ("nadamw/3s0", ("nadamw", 3, 0), "nadamw/3")])
def test_trial_id_parses_and_prints_back(text, parts, search):
  tid = studydir.TrialId.parse(text)
  assert (tid.optimizer, tid.index, tid.seed) == parts
  assert str(tid) == text and studydir.TrialId(*parts) == tid
  assert tid.search_id == search
  assert studydir.optimizer_of(text) == parts[0]


@pytest.mark.parametrize("parts", [("adam", True), ("adam", -1), ("Adam", 0), ("adam", 0, "1"),
                                   ("../x", 0)])
def test_trial_id_refuses_bad_parts(parts):
  with pytest.raises(BadInputError, match="trial id"):
    studydir.TrialId(*parts)


def test_a_rerun_lives_beside_its_trial(tmp_path):
  assert studydir.trial_dir(str(tmp_path), "adam/3s1") == str(tmp_path / "trials" / "adam" / "3s1")
  assert studydir.TrialId.parse("adam/3s1").search_id == "adam/3"


def test_manifest_with_a_traversing_id_is_refused(tmp_path):
  (tmp_path / "study.json").write_text(json.dumps(
      {"config": {}, "trials": [{"id": "../../x/0", "optimizer": "adam", "index": 0}]}))
  with pytest.raises(BadInputError, match="study.json.*trials\\[0\\].id"):
    studydir.StudyManifest.read(tmp_path)


def test_result_round_trips_and_nan_becomes_null(tmp_path):
  result = studydir.Result("completed", 20, {"validation": {"error": 0.5, "loss": float("nan")}},
                           steps_to_target=10, wall_time_s=1.23456)
  studydir.write_result(str(tmp_path), result)
  on_disk = json.loads((tmp_path / "result.json").read_text())
  assert on_disk["final"]["validation"] == {"error": 0.5, "loss": None}
  assert on_disk["wall_time_s"] == 1.235
  assert studydir.read_result(tmp_path) == studydir.Result.from_json(on_disk)
  assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left


@pytest.mark.parametrize("text", ["", "{", '{"status": "done"}', '{"status": "completed", '
                                  '"steps": "x"}', "[1, 2]", "\xff\xfe"])
def test_damaged_result_is_reported_naming_the_file(tmp_path, text):
  (tmp_path / "result.json").write_bytes(text.encode("latin-1"))
  with pytest.raises(studydir.DamagedFileError, match="result.json"):
    studydir.read_result(tmp_path)
  assert studydir.read_result(tmp_path / "absent") is None


def test_set_aside_keeps_every_damaged_copy(tmp_path):
  path = tmp_path / "result.json"
  for text in ("a", "b"):
    path.write_text(text)
    studydir.set_aside(str(path))
  assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json.corrupt",
                                                        "result.json.corrupt.1"]


def test_write_json_atomic_leaves_no_temporary_file_even_on_failure(tmp_path):
  studydir.write_json_atomic(str(tmp_path / "r.json"), {"a": 1})
  with pytest.raises(ValueError):
    studydir.write_json_atomic(str(tmp_path / "s.json"), {"a": float("nan")})
  assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# ---- the manifest ----

def _committed_manifests():
  root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")
  return sorted(os.path.dirname(os.path.join(d, f)) for d, _, files in os.walk(root)
                for f in files if f == studydir.MANIFEST)


@pytest.mark.parametrize("study_dir", _committed_manifests())
def test_committed_manifests_load_and_write_back_unchanged(study_dir, tmp_path):
  manifest = studydir.StudyManifest.read(study_dir)
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
  m = studydir.StudyManifest.read(tmp_path)
  assert m.search_ids == m.trial_ids == ["adam/0", "adam/1"] and m.reruns == ()
  assert (m.pack_size, m.seed, m.base_seed, m.schedule, m.num_trials) == (1, 7, 3, "constant", 2)
  assert m.target == ("test", "accuracy") and m.target_spec["value"] == 0.9
  assert m.trials[1] == studydir.TrialEntry("adam/1", "adam", 1, {"learning_rate": None})
  assert studydir.StudyManifest.from_json(m.to_json()) == m  # defaults filled in, round trip


def test_manifest_reruns_and_entries(tmp_path):
  rerun = studydir.RerunEntry(studydir.rerun_id("adam/1", 4), "adam/1", 4)
  m = studydir.StudyManifest.from_json(_old_manifest()).with_reruns([rerun])
  m.write(str(tmp_path))
  again = studydir.StudyManifest.read(tmp_path)
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
    studydir.StudyManifest.read(tmp_path)
  with pytest.raises(BadInputError, match=message):  # nor made from JSON, so never written
    studydir.StudyManifest.from_json(manifest)
