"""launch/: the recipe commands (python -m launch.tpu_vm, launch.ray_cluster).

The printed script is run by bash against a stand-in `gcloud` that records each call (PATH
holds nothing else, so no real gcloud can run): the checks read what gcloud would have been
asked, after the shell expanded $FILESTORE_IP and $HEAD_IP, not the printed text. Then
launch/README.md's recipe blocks are compared with the output of the commands it states,
and its words on the engine with `optcompare sweep --help`.
"""
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from launch import ray_cluster
from launch import recipe
from launch import tpu_vm
from tests.conftest import REPO, run_optcompare

FILESTORE_IP, HEAD_IP = "10.1.2.3", "10.9.8.7"
STUDIES = os.path.join("configs", "studies")
CHOI = os.path.join(STUDIES, "choi2019", "fashion_mnist_simple_cnn.py")

# The stand-in gcloud: one JSON line of argv per call; `describe` answers an IP.
FAKE_GCLOUD = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["GCLOUD_LOG"], "a") as f:
  f.write(json.dumps(sys.argv[1:]) + "\\n")
if "describe" in sys.argv:
  print("{FILESTORE_IP}" if "filestore" in sys.argv else "{HEAD_IP}")
"""


def printed(module, argv: list[str]) -> str:
  proc = subprocess.run([sys.executable, "-m", module, *argv], cwd=REPO, capture_output=True,
                        text=True, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr
  return proc.stdout


def gcloud_calls(script: str, tmp_path) -> list[list[str]]:
  """The argv of every gcloud call that bash makes running `script`."""
  bindir = tmp_path / "bin"
  bindir.mkdir()
  (bindir / "gcloud").write_text(FAKE_GCLOUD)
  (bindir / "gcloud").chmod(0o755)
  log = tmp_path / "gcloud.jsonl"
  env = {"PATH": str(bindir), "HOME": str(tmp_path), "GCLOUD_LOG": str(log)}
  proc = subprocess.run(["/bin/bash", "-c", script], env=env, cwd=tmp_path,
                        capture_output=True, text=True, timeout=60, check=False)
  assert proc.returncode == 0 and not proc.stderr, proc.stderr
  return [json.loads(line) for line in log.read_text().splitlines()]


def remote(call: list[str]) -> str:
  """The text an ssh call runs on the VM, continuation lines joined as bash joins them."""
  (command,) = [a.removeprefix("--command=") for a in call if a.startswith("--command=")]
  return re.sub(r"\s+", " ", command).strip()


def ssh_by_vm(calls: list[list[str]]) -> dict[str, list[str]]:
  out: dict[str, list[str]] = {}
  for call in calls:
    if call[:4] == ["compute", "tpus", "tpu-vm", "ssh"]:
      out.setdefault(call[4], []).append(remote(call))
  return out


def check_vms(calls, vms: list[str], zone: str, tpu: str, runtime: str, spot: list[bool]):
  creates = [c for c in calls if c[:4] == ["compute", "tpus", "tpu-vm", "create"]]
  assert [c[4] for c in creates] == vms
  for call, is_spot in zip(creates, spot):
    assert {f"--zone={zone}", f"--accelerator-type={tpu}", f"--version={runtime}"} <= set(call)
    assert ("--spot" in call) == is_spot
  ssh_zones = {a for c in calls if "ssh" in c for a in c if a.startswith("--zone=")}
  assert ssh_zones == {f"--zone={zone}"}


def check_share_and_install(calls, vms: list[str], zone: str, extras: str):
  """The Filestore share is made once, and every VM mounts it at the IP gcloud gave."""
  (create,) = [c for c in calls if c[:3] == ["filestore", "instances", "create"]]
  assert f"--zone={zone}" in create and "--file-share=name=studies,capacity=1TB" in create
  for vm in vms:
    install = ssh_by_vm(calls)[vm][0]
    assert f"sudo mount -t nfs {FILESTORE_IP}:/studies /mnt/studies" in install
    assert f"python3.11 -m venv .venv && .venv/bin/pip install -q -e '.[{extras}]'" in install
  assert not [c for c in calls if "delete" in c], "the printed script must not delete"


def check_data(calls, first: str, dataset: str | None):
  scps = [c for c in calls if c[:4] == ["compute", "tpus", "tpu-vm", "scp"]]
  prepares = [(vm, r) for vm, rs in ssh_by_vm(calls).items() for r in rs if "data prepare" in r]
  if dataset is None:  # synthetic data: nothing to copy or prepare
    assert not scps and not prepares
    return
  assert [c[-1] for c in scps] == [f"{first}:originals"]
  assert prepares == [(first, f"optcompare/.venv/bin/optcompare data prepare {dataset} "
                              "--manual_dir=originals --data_dir=/mnt/studies/tfds")]


def sweep_flags(command: str) -> dict[str, str]:
  """The --flags of the `optcompare sweep` in a remote command."""
  words = shlex.split(command.split(" < /dev/null")[0])
  assert words[:5] == ["cd", "optcompare", "&&", "nohup", ".venv/bin/optcompare"]
  assert words[5] == "sweep"
  return dict(w.removeprefix("--").split("=", 1) for w in words[6:])


def check_sweep_flags(flags: dict[str, str], study: str, devices: int, parallel: int,
                      real_data: bool):
  from absl import flags as absl_flags  # pylint: disable=g-import-not-at-top
  from optcompare import cli  # pylint: disable=g-import-not-at-top,unused-import  (its flags)
  assert flags["config"] == study and os.path.isfile(os.path.join(REPO, study.split(":")[0]))
  assert flags["config.devices_per_trial"] == str(devices)
  assert flags["parallel"] == str(parallel)
  assert flags["workdir"].startswith("/mnt/studies/")
  assert (flags.get("config.base.dataset.data_dir") == "/mnt/studies/tfds") == real_data
  unknown = [f for f in flags if not f.startswith("config.") and f not in absl_flags.FLAGS]
  assert not unknown, f"not optcompare flags: {unknown}"


TPU_CASES = [  # study, tpu, nodes, zone, extra flags, runtime, chips per trial, trials per VM
    (CHOI, "v4-8", 2, "us-central2-b", [], "tpu-ubuntu2204-base", 1, 4),
    (os.path.join(STUDIES, "wilson2017", "war_and_peace_lstm.py") + ":reduced", "v6e-8", 3,
     "us-east5-b", ["--devices_per_trial=2", "--no-spot"], "v2-alpha-tpuv6e", 2, 4),
    (os.path.join(STUDIES, "schneider2019", "fashion_mnist_simple_cnn.py") + ":smoke",
     "v5litepod-4", 1, "us-west4-a", ["--name=fm"], "v2-alpha-tpuv5-lite", 1, 4),
]


def _dataset(study: str) -> str | None:
  return None if study.endswith(":smoke") else (
      "war_and_peace" if "war_and_peace" in study else "fashion_mnist")


@pytest.mark.parametrize("study,tpu,nodes,zone,extra,runtime,devices,per_vm", TPU_CASES)
def test_tpu_vm_recipe_runs_the_same_sweep_on_every_vm(study, tpu, nodes, zone, extra, runtime,
                                                       devices, per_vm, tmp_path):
  argv = [f"--study={study}", f"--tpu={tpu}", f"--nodes={nodes}", f"--zone={zone}", *extra,
          "--dry_run"]
  calls = gcloud_calls(printed("launch.tpu_vm", argv), tmp_path)
  name = "fm" if "--name=fm" in extra else "optcompare"
  vms = [f"{name}-{i}" for i in range(1, nodes + 1)]
  check_vms(calls, vms, zone, tpu, runtime, ["--no-spot" not in extra] * nodes)
  check_share_and_install(calls, vms, zone, "tpu")
  check_data(calls, vms[0], _dataset(study))
  sweeps = {vm: [r for r in rs if " sweep " in r] for vm, rs in ssh_by_vm(calls).items()}
  assert sorted(sweeps) == vms and all(len(s) == 1 for s in sweeps.values())
  assert len({s[0] for s in sweeps.values()}) == 1, "not the same sweep on every VM"
  flags = sweep_flags(sweeps[vms[0]][0])
  check_sweep_flags(flags, study, devices, per_vm, _dataset(study) is not None)
  assert "backend" not in flags and "ray_address" not in flags


def test_ray_cluster_recipe_starts_head_and_workers_and_one_sweep(tmp_path):
  argv = [f"--study={CHOI}", "--tpu=v4-8", "--nodes=3", "--zone=us-central2-b", "--dry_run"]
  calls = gcloud_calls(printed("launch.ray_cluster", argv), tmp_path)
  vms = ["optcompare-1", "optcompare-2", "optcompare-3"]
  check_vms(calls, vms, "us-central2-b", "v4-8", "tpu-ubuntu2204-base", [False, True, True])
  check_share_and_install(calls, vms, "us-central2-b", "tpu,ray")
  check_data(calls, vms[0], "fashion_mnist")
  ray = "optcompare/.venv/bin/ray start"
  by_vm = ssh_by_vm(calls)
  assert f"{ray} --head --port=6379 --node-ip-address={HEAD_IP}" in by_vm[vms[0]]
  for vm in vms[1:]:
    assert f"{ray} --address={HEAD_IP}:6379" in by_vm[vm]
    assert not [r for r in by_vm[vm] if " sweep " in r]
  (sweep,) = [r for r in by_vm[vms[0]] if " sweep " in r]
  flags = sweep_flags(sweep)
  check_sweep_flags(flags, CHOI, 1, 12, True)
  assert flags["backend"] == "ray" and flags["ray_address"] == f"{HEAD_IP}:6379"


def test_remote_commands_are_valid_bash(tmp_path):
  argv = [f"--study={CHOI}", "--tpu=v4-8", "--nodes=2", "--zone=us-central2-b", "--dry_run"]
  calls = gcloud_calls(printed("launch.ray_cluster", argv), tmp_path)
  commands = [r for rs in ssh_by_vm(calls).values() for r in rs]
  assert len(commands) == 2 + 1 + 2 + 1 + 1  # install, data, ray start, sweep, status
  for command in commands:
    proc = subprocess.run(["/bin/bash", "-n", "-c", command], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, (command, proc.stderr)


BAD_FLAGS = [  # extra argv (after a good --study), the start of the error line
    (["--tpu=v9-8", "--zone=us-central2-b"], "--tpu=v9-8: unknown accelerator type"),
    (["--tpu=v4-16", "--zone=us-central2-b"], "--tpu=v4-16: a slice of several hosts"),
    (["--tpu=v4-8", "--zone=us-central2-b", "--nodes=0"], "--nodes=0: must be at least 1"),
    (["--tpu=v4-8"], "--zone is required"),
    (["--tpu=v4-8", "--zone=central"], "--zone=central: not a zone"),
    (["--tpu=v4-8", "--zone=us-central2-b", "--devices_per_trial=3"], "--devices_per_trial=3"),
    (["--tpu=v4-8", "--zone=us-central2-b", "--repository=a;b"], "--repository=a;b"),
]


@pytest.mark.parametrize("module", [tpu_vm, ray_cluster])
@pytest.mark.parametrize("extra,error", BAD_FLAGS)
def test_a_bad_flag_is_one_line_naming_it(module, extra, error, capsys):
  assert module.main([f"--study={CHOI}", *extra, "--dry_run"]) == 2
  out, err = capsys.readouterr()
  assert not out and err.count("\n") == 1
  assert err.startswith(f"{module.PROG}: error: {error}"), err


@pytest.mark.parametrize("study,error", [
    ("configs/studies/choi2019/nope.py", "--study: configs/studies/choi2019/nope.py: no such"),
    (CHOI + ":bogus", "--study: " + CHOI + ": get_config('bogus') raised ValueError"),
    ("configs/workloads/fashion_mnist_simple_cnn.py", "--study=configs/workloads/"
     "fashion_mnist_simple_cnn.py: not a study config"),
    (os.path.dirname(REPO) + "/elsewhere.py", "--study=" + os.path.dirname(REPO)
     + "/elsewhere.py: not in this repository"),
])
def test_a_study_that_does_not_load_is_one_line(study, error, capsys):
  argv = [f"--study={study}", "--tpu=v4-8", "--zone=us-central2-b", "--dry_run"]
  assert tpu_vm.main(argv) == 2
  out, err = capsys.readouterr()
  assert not out and err.count("\n") == 1
  assert err.startswith(f"launch.tpu_vm: error: {error}"), err


@pytest.mark.parametrize("module", [tpu_vm, ray_cluster])
def test_without_dry_run_it_refuses_and_runs_nothing(module, capsys):
  argv = [f"--study={CHOI}", "--tpu=v4-8", "--zone=us-central2-b"]
  assert module.main(argv) == 2
  out, err = capsys.readouterr()
  assert not out
  assert err.startswith(f"{module.PROG}: error: --dry_run is required") and err.count("\n") == 1


def readme() -> str:
  with open(os.path.join(REPO, "launch", "README.md"), encoding="utf-8") as f:
    return f.read()


def test_readme_recipes_are_the_commands_output():
  blocks = re.findall(r"Generated by `(python -m launch\.[a-z_]+ [^`]*)`:\n\n```sh\n(.*?)```",
                      readme(), re.DOTALL)
  assert sorted(shlex.split(c)[2] for c, _ in blocks) == ["launch.ray_cluster", "launch.tpu_vm"]
  for command, block in blocks:
    words = shlex.split(command)
    assert block == printed(words[2], words[3:]), f"launch/README.md is not the output of {command}"


def test_readme_says_of_retries_what_sweep_help_says():
  help_text = run_optcompare("sweep", "--help").stdout
  (default,) = re.findall(r"--retries\s.*?\(default (\d+)\)", help_text, re.DOTALL)
  said = re.findall(r"`--retries=N` reruns .*?\(default (\d+)\)", readme(), re.DOTALL)
  assert said == [default]
  assert "long-lived worker" in readme() and "separate process" not in readme()


def test_ray_cluster_yaml_installs_as_the_recipes_do():
  yaml = pytest.importorskip("yaml")
  with open(os.path.join(REPO, "launch", "ray_cluster.yaml"), encoding="utf-8") as f:
    config = yaml.safe_load(f)
  assert config["setup_commands"] == recipe.setup_commands("FILESTORE-IP",
                                                           recipe.REPOSITORY, "ray")
  start = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
  assert f"--port={recipe.RAY_PORT}" in start and f":{recipe.RAY_PORT}" in start
  jsonschema = pytest.importorskip("jsonschema")
  ray_autoscaler = pytest.importorskip("ray.autoscaler")
  schema = os.path.join(os.path.dirname(ray_autoscaler.__file__), "ray-schema.json")
  with open(schema, encoding="utf-8") as f:
    jsonschema.validate(config, json.load(f))
