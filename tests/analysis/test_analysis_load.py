"""load_study / load_curves / trial tables: layout, damaged files, bad manifests."""
import json

import numpy as np
import pandas as pd
import pytest
from etils import epath
from etils.epath import testing as epath_testing

from optcompare import errors
from optcompare.analysis import load
from optcompare.analysis import load_curves
from optcompare.analysis import load_study
from optcompare.analysis import StudyFileWarning


def test_fixture_layout_follows_design(study_dir):
  manifest = json.loads((study_dir / "study.json").read_text())
  assert set(manifest) >= {"config", "seed", "trials"}
  assert set(manifest["config"]) >= {"base", "seed", "num_trials", "search_spaces"}
  assert manifest["config"]["base"]["target"] == {"metric": "error", "split": "validation",
                                                  "value": 0.12}
  assert len(manifest["trials"]) == 3 * 8
  for t in manifest["trials"]:
    assert set(t) == {"id", "optimizer", "index", "hparams"}
    assert t["id"] == f"{t['optimizer']}/{t['index']}"
    assert set(t["hparams"]) == set(manifest["config"]["search_spaces"][t["optimizer"]])
    tdir = study_dir / "trials" / t["optimizer"] / str(t["index"])
    assert json.loads((tdir / "config.json").read_text())["optimizer"]["name"] == t["optimizer"]
    result = json.loads((tdir / "result.json").read_text())
    assert set(result) == {"status", "steps", "final", "steps_to_target", "wall_time_s",
                           "error"}
    assert result["status"] in ("completed", "diverged")
    for line in (tdir / "metrics.jsonl").read_text().splitlines():
      rec = json.loads(line)
      assert {"step", "split", "loss", "wall_time_s"} <= set(rec)
      assert rec["split"] in ("train", "validation", "test")


def test_fixture_is_what_the_sweep_writes(study_dir):
  """study.json is manifest_of a real study config that `validate` accepts, so a sweep
  on that config would take the directory as its own; config.json is each trial's config."""
  from optcompare import study
  from optcompare import study_manifest
  from optcompare.analysis import synthetic
  config = synthetic.study_config(("sgd", "momentum", "adam"), num_trials=8)
  manifest = study_manifest.StudyManifest.read(study_dir)
  assert study.manifest_of(config).to_json() == json.loads((study_dir / "study.json").read_text())
  assert study.validate(manifest.config)[0] == manifest.config
  assert not study.check_workdir(str(study_dir), manifest)  # the same study: nothing to write
  for t in manifest.trials:
    resolved = study.trial_config(manifest, t.id).to_json_best_effort(sort_keys=True)
    tdir = study_dir / "trials" / t.optimizer / str(t.index)
    assert json.loads((tdir / "config.json").read_text()) == json.loads(resolved)


def test_load_study_columns_and_values(study_dir):
  df = load_study(study_dir)
  assert len(df) == 24
  assert list(df.columns[:4]) == ["trial_id", "optimizer", "index", "status"]
  for col in ("hp.learning_rate", "hp.decay_factor", "hp.momentum", "hp.beta1",
              "hp.learning_rate_over_epsilon", "final.validation.error", "final.test.error",
              "final.validation.loss", "steps_to_target"):
    assert col in df.columns, col
  manifest = json.loads((study_dir / "study.json").read_text())
  for t in manifest["trials"]:
    row = df[df["trial_id"] == t["id"]].iloc[0]
    for name, value in t["hparams"].items():
      assert row[f"hp.{name}"] == value
    result = json.loads((study_dir / "trials" / t["optimizer"] / str(t["index"]) /
                         "result.json").read_text())
    assert row["status"] == result["status"]
    if result["status"] == "completed":
      assert row["final.validation.error"] == result["final"]["validation"]["error"]
      assert row["final.test.loss"] == result["final"]["test"]["loss"]
      expected = result["steps_to_target"]
      assert (np.isnan(row["steps_to_target"]) if expected is None
              else row["steps_to_target"] == expected)
    else:
      assert np.isnan(row["final.validation.error"])
  assert df.attrs["config"]["num_trials"] == 8
  assert df.attrs["issues"] == []


def _damage(study_dir):
  t = study_dir / "trials"
  # adam/0: metrics.jsonl cut in the middle of its last line (a trial killed mid-write).
  m = t / "adam" / "0" / "metrics.jsonl"
  text = m.read_text()
  m.write_text(text[: len(text) - 25])
  # adam/1: still running (claim, metrics, no result).
  (t / "adam" / "1" / "result.json").unlink()
  (t / "adam" / "1" / "claim.json").write_text('{"host": "x"}')
  # adam/2: not started (no result, no metrics).
  (t / "adam" / "2" / "result.json").unlink()
  (t / "adam" / "2" / "metrics.jsonl").unlink()
  # adam/3: claimed by the ledger (claims/<generation>.json), nothing else yet.
  (t / "adam" / "3" / "result.json").unlink()
  (t / "adam" / "3" / "metrics.jsonl").unlink()
  (t / "adam" / "3" / "claims").mkdir()
  (t / "adam" / "3" / "claims" / "1.json").write_text("{}")
  # sgd/3: corrupt result.json (truncated JSON).
  r = t / "sgd" / "3" / "result.json"
  r.write_text(r.read_text()[:30])
  # momentum/4: result.json is not an object with a known status.
  (t / "momentum" / "4" / "result.json").write_text('"done"')
  # momentum/5: its trial directory does not exist at all.
  for f in (t / "momentum" / "5").iterdir():
    f.unlink()
  (t / "momentum" / "5").rmdir()


def test_load_study_damaged_directory(study_dir):
  _damage(study_dir)
  with pytest.warns(StudyFileWarning) as record:
    df = load_study(study_dir)
  messages = [str(w.message) for w in record]
  assert any("trials/sgd/3/result.json" in m for m in messages)
  assert any("trials/momentum/4/result.json" in m for m in messages)
  assert len(df) == 24  # every manifest trial has a row
  status = df.set_index("trial_id")["status"]
  assert status["adam/0"] in ("completed", "diverged")  # metrics damage does not matter here
  assert status["adam/1"] == "unfinished"
  assert status["adam/2"] == "pending"
  assert status["adam/3"] == "unfinished"
  assert status["sgd/3"] == "corrupt"
  assert status["momentum/4"] == "corrupt"
  assert status["momentum/5"] == "pending"
  assert np.isnan(df.set_index("trial_id").loc["sgd/3", "final.validation.error"])
  assert sorted(i.split(":")[0] for i in df.attrs["issues"]) == [
      "trials/momentum/4/result.json", "trials/sgd/3/result.json"]


def test_load_curves_skips_truncated_last_line(study_dir):
  m = study_dir / "trials" / "adam" / "0" / "metrics.jsonl"
  lines = m.read_text().splitlines()
  m.write_text("\n".join(lines) + "\n" + '{"step": 999, "split": "valid')
  with pytest.warns(StudyFileWarning, match=r"trials/adam/0/metrics.jsonl: truncated last"):
    curves = load_curves(study_dir, ["adam/0", "sgd/1"])
  assert set(curves["trial_id"]) == {"adam/0", "sgd/1"}
  a0 = curves[curves["trial_id"] == "adam/0"]
  assert len(a0) == len(lines) and 999 not in set(a0["step"])
  assert list(curves.columns[:5]) == ["trial_id", "optimizer", "index", "step", "split"]
  assert {"loss", "error", "wall_time_s"} <= set(curves.columns)


def test_load_curves_corrupt_middle_line_and_duplicates(study_dir):
  m = study_dir / "trials" / "sgd" / "0" / "metrics.jsonl"
  lines = m.read_text().splitlines()
  dup = json.loads(lines[1])
  dup["loss"] = 123.0
  m.write_text("\n".join(lines[:1] + ["{not json"] + lines[1:] + [json.dumps(dup)]) + "\n")
  with pytest.warns(StudyFileWarning, match=r"sgd/0/metrics.jsonl: corrupt line 2"):
    curves = load_curves(study_dir, ["sgd/0"])
  assert len(curves) == len(lines)  # bad line dropped, duplicate (step, split) collapsed
  row = curves[(curves["step"] == dup["step"]) & (curves["split"] == dup["split"])]
  assert row["loss"].tolist() == [123.0]  # the last line wins


def test_load_curves_unknown_trial(study_dir):
  with pytest.raises(errors.BadInputError, match="unknown trial ids"):
    load_curves(study_dir, ["adam/99"])


def test_missing_manifest_raises_bad_input(tmp_path):
  with pytest.raises(errors.BadInputError, match=r"study.json: no study here"):
    load_study(tmp_path)


@pytest.mark.parametrize("entry", [
    {"id": "../../x/0", "optimizer": "sgd", "index": 0},
    {"optimizer": "../../x", "index": 0},             # the id defaults to ../../x/0
    {"id": "sgd/0", "optimizer": "../x", "index": 0},  # the id disagrees with its path
])
def test_manifest_ids_never_lead_outside_the_study(study_dir, tmp_path, entry):
  """A hand-edited study.json is refused before any trial file is read, by every reader."""
  outside = tmp_path / "x" / "0"
  outside.mkdir(parents=True)
  (outside / "result.json").write_text('{"status": "completed"}')
  manifest = json.loads((study_dir / "study.json").read_text())
  manifest["trials"][0] = dict(entry, hparams={})
  (study_dir / "study.json").write_text(json.dumps(manifest))
  for read in (load_study, load_curves, load.load_table):
    with pytest.raises(errors.BadInputError, match=r"study.json: trials\[0\]"):
      read(study_dir)


@pytest.mark.parametrize("text", ["{\"trials\": [", "[]", "{\"trials\": [{\"id\": 1}]}"])
def test_corrupt_manifest_raises_bad_input(study_dir, text):
  (study_dir / "study.json").write_text(text)
  with pytest.raises(errors.BadInputError, match=r"study.json: corrupt study manifest"):
    load_study(study_dir)


def test_all_io_goes_through_epath(study_dir):
  """gs:// support relies on every read going through etils.epath: count them."""
  opened = []

  def counting_open(original, path, mode):
    opened.append(str(path))
    return original(path, mode)

  with epath_testing.mock_epath(open=counting_open):
    df = load_study(epath.Path(study_dir))
    load_curves(epath.Path(study_dir), ["sgd/0"])
  assert str(study_dir / "study.json") in opened
  assert str(study_dir / "trials" / "adam" / "7" / "result.json") in opened
  assert str(study_dir / "trials" / "sgd" / "0" / "metrics.jsonl") in opened
  assert len(df) == 24


def test_table_round_trip_is_exact(study_dir, tmp_path):
  df = load_study(study_dir)
  load.save_table(df, tmp_path / "trials.csv")
  back = load.read_table(tmp_path / "trials.csv")
  pd.testing.assert_frame_equal(df, back, check_dtype=False, check_exact=True)
  # load_table on a directory with only study.json + trials.csv reads the table.
  table_dir = tmp_path / "committed"
  table_dir.mkdir()
  (table_dir / "study.json").write_text((study_dir / "study.json").read_text())
  (table_dir / "trials.csv").write_text((tmp_path / "trials.csv").read_text())
  pd.testing.assert_frame_equal(df, load.load_table(table_dir), check_dtype=False, check_exact=True)


def test_a_table_written_before_unfinished_reads_running_as_unfinished(study_dir, tmp_path):
  df = load_study(study_dir)
  df.loc[df["trial_id"] == "adam/1", "status"] = "running"  # (what older versions wrote)
  load.save_table(df, tmp_path / "trials.csv")
  back = load.read_table(tmp_path / "trials.csv").set_index("trial_id")["status"]
  assert back["adam/1"] == "unfinished" and "running" not in set(back)


def test_analyze_names_each_damaged_file_once(make_study, tmp_path):
  """On the console of `optcompare analyze`: one line per damaged file (a result.json that
  load_study skips, a metrics.jsonl line that the curves skip), not a log line and a warning
  line for each."""
  from tests.conftest import run_optcompare  # pylint: disable=g-import-not-at-top
  study = make_study("study", optimizers=("sgd", "adam"), num_trials=4)
  result = study / "trials" / "sgd" / "3" / "result.json"
  result.write_text(result.read_text()[:30])
  metrics = study / "trials" / "adam" / "0" / "metrics.jsonl"
  metrics.write_text(metrics.read_text()[:-25])
  proc = run_optcompare("analyze", f"--workdir={study}", f"--out={tmp_path / 'out'}")
  named = [line for line in proc.stderr.splitlines() if "/trials/" in line]
  assert len(named) == 2, proc.stderr
  assert named[0].startswith(f"optcompare: warning: {result}: corrupt or truncated result.json "
                             "skipped (invalid JSON"), named
  assert named[1] == f"optcompare: warning: {metrics}: truncated last line skipped", named
