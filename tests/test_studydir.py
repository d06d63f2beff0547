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
