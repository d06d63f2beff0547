"""TensorBoard HParams data of a study, read back with TensorBoard's own hparams plugin.

The reader (TensorBoard's event multiplexer, its data provider and the hparams plugin's
GetExperiment / ListSessionGroups handlers, as `tensorboard --logdir STUDY` serves them) runs
in a subprocess on TensorBoard's TF stub: no server, and no TensorFlow in the test process.
"""
import json
import math
import os
import subprocess
import sys

import pytest

from optcompare import event_writer, hparams_board, study, study_manifest, studydir
from tests.conftest import REPO
from tests.test_study import smoke_study

READER = r"""
import json, sys, types
sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
from google.protobuf import json_format
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment
from tensorboard.plugins.hparams import list_session_groups
logdir = sys.argv[1]
mux = plugin_event_multiplexer.EventMultiplexer()
mux.AddRunsFromDirectory(logdir)
mux.Reload()
ctx = backend_context.Context(base_plugin.TBContext(
    data_provider=data_provider.MultiplexerDataProvider(mux, logdir), logdir=logdir))
rc = context.RequestContext()
experiment = get_experiment.Handler(rc, ctx, "", api_pb2.GetExperimentRequest()).run()
request = api_pb2.ListSessionGroupsRequest(
    start_index=0, slice_size=1000, allowed_statuses=list(api_pb2.Status.values()))
groups = list_session_groups.Handler(rc, ctx, "", request).run()
print(json.dumps({"experiment": json_format.MessageToDict(experiment),
                  "groups": json_format.MessageToDict(groups).get("sessionGroups", []),
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def read_hparams(logdir) -> dict:
  """{"experiment": GetExperiment's answer, "groups": ListSessionGroups' session groups}."""
  proc = subprocess.run([sys.executable, "-c", READER, str(logdir)], cwd=REPO,
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert not out.pop("tensorflow")
  return out


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
  """A finished smoke study (adam and sgd, 1 trial each: two sessions with different
  hyperparameters) and what TensorBoard reads of it."""
  workdir = str(tmp_path_factory.mktemp("hparams") / "study")
  summary = study.sweep(smoke_study(num_trials=1), workdir, progress=False)
  assert summary["completed"] == 2
  return workdir, read_hparams(workdir)


def test_the_study_root_holds_the_experiment(smoke_sweep):
  workdir, _ = smoke_sweep
  assert os.path.exists(os.path.join(workdir, hparams_board.EXPERIMENT_FILE))
  assert not [n for n in os.listdir(workdir) if n.endswith(".tmp")]


def test_session_groups_are_the_trials_with_their_hparams_and_final_metrics(smoke_sweep):
  workdir, board = smoke_sweep
  manifest = study_manifest.StudyManifest.read(workdir)
  groups = {g["sessions"][0]["name"]: g for g in board["groups"]}
  assert all(len(g["sessions"]) == 1 for g in board["groups"])
  assert sorted(groups) == sorted(f"trials/{t.id}/tensorboard" for t in manifest.trials)
  for t in manifest.trials:
    tdir = studydir.trial_dir(workdir, t.id)
    group = groups[f"trials/{t.id}/tensorboard"]
    with open(os.path.join(tdir, "config.json"), encoding="utf-8") as f:
      config = json.load(f)
    hparams = hparams_board.trial_hparams(config)
    assert group["hparams"] == pytest.approx(hparams), t.id
    assert hparams["optimizer"] == t.optimizer
    for name in set(t.hparams) & set(hparams):  # the searched values, as the manifest has them
      assert hparams[name] == pytest.approx(t.hparams[name], rel=1e-12), (t.id, name)
    assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
    metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
    final = studydir.read_result(tdir).final
    for split, values in final.items():
      for metric, value in values.items():
        assert metrics[f"{split}/{metric}"] == pytest.approx(value, rel=1e-6), (t.id, split)


def test_the_experiment_lists_every_hparam_and_metric(smoke_sweep):
  workdir, board = smoke_sweep
  manifest = study_manifest.StudyManifest.read(workdir)
  infos = {h["name"]: h for h in board["experiment"]["hparamInfos"]}
  names = set()
  for t in manifest.trials:
    with open(os.path.join(studydir.trial_dir(workdir, t.id), "config.json"),
              encoding="utf-8") as f:
      names |= set(hparams_board.trial_hparams(json.load(f)))
  assert set(infos) == names
  assert infos["optimizer"]["domainDiscrete"] == ["adam", "sgd"]
  lr = [g["hparams"]["learning_rate"] for g in board["groups"]]
  assert infos["learning_rate"]["domainInterval"] == pytest.approx(
      {"minValue": min(lr), "maxValue": max(lr)})
  tags = [m["name"]["tag"] for m in board["experiment"]["metricInfos"]]
  assert tags == hparams_board.metric_tags(("loss", "error"), None)
  assert tags[:2] == ["validation/loss", "validation/error"] and "train_eval/error" in tags


def test_a_diverged_session_is_a_failure(tmp_path):
  """The session end carries the trial's status; a NaN final metric is no metric value."""
  writer = event_writer.EventFileWriter(str(tmp_path / "trial" / "tensorboard"))
  writer.write_hparams({"optimizer": "sgd", "learning_rate": 1e12, "seed": 0})
  writer.write_scalars(5, {"validation/error": 0.9, "validation/loss": math.nan})
  writer.write_session_end(studydir.DIVERGED)
  writer.close()
  (group,) = read_hparams(tmp_path)["groups"]
  assert group["hparams"] == {"optimizer": "sgd", "learning_rate": 1e12, "seed": 0}
  assert group["sessions"][0]["status"] == "STATUS_FAILURE"
  values = {m["name"]["tag"]: m.get("value") for m in group["sessions"][0]["metricValues"]}
  assert values["validation/error"] == pytest.approx(0.9)


def test_the_analysis_keeps_train_line_extras_out_of_its_tables(smoke_sweep):
  """load_curves carries the train lines' learning rate and norms; the evaluation table
  (curves.csv) and the trial table do not."""
  from optcompare import analysis  # pylint: disable=g-import-not-at-top
  from optcompare.analysis import robustness  # pylint: disable=g-import-not-at-top
  workdir, _ = smoke_sweep
  curves = analysis.load_curves(workdir)
  train = curves[curves["split"] == "train"]
  assert (train["learning_rate"] > 0).all() and (train["grad_norm"] > 0).all()
  assert curves.loc[curves["split"] != "train", "learning_rate"].isna().all()
  table = robustness.curves_table(curves)
  assert not {"learning_rate", "grad_norm", "update_norm", "param_norm"} & set(table.columns)
  df = analysis.load_study(workdir)
  assert len(df) == 2 and not [c for c in df.columns if c.endswith("_norm")]


def test_trial_hparams_show_the_paper_search_coordinates_beside_the_learning_rate():
  """α0/ε (Adam's family) and η0/√ε (RMSProp), what the studies search; SGD has neither."""
  from optcompare import hparams_board  # pylint: disable=g-import-not-at-top
  def config(name, **hps):
    return {"seed": 0, "optimizer": {"name": name, "hparams": hps,
                                     "schedule": {"name": "constant"}}}
  adam = hparams_board.trial_hparams(config("adam", learning_rate=1e-3, epsilon=1e-2))
  assert adam["learning_rate_over_epsilon"] == pytest.approx(0.1)
  rms = hparams_board.trial_hparams(config("rmsprop", learning_rate=1e-3, epsilon=1e-4))
  assert rms["learning_rate_over_sqrt_epsilon"] == pytest.approx(0.1)
  assert "learning_rate_over_sqrt_epsilon" not in adam
  assert set(hparams_board.trial_hparams(config("sgd", learning_rate=0.1))) == {
      "optimizer", "seed", "learning_rate", "schedule"}
