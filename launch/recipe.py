"""What launch.tpu_vm and launch.ray_cluster share: their flags, the study, the TPU type, and
the steps both recipes take (the shared file system, the VMs, the install, the data, the
status, the teardown), as shell text.

Everything here is a pure function of the flags except `load_study`, which executes the study
config file as `optcompare sweep` would. Nothing here runs gcloud, ray or any other command.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import textwrap
from typing import Any, Callable

from optcompare import inputs
from optcompare.data import prepare
from optcompare.errors import BadInputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOUNT = "/mnt/studies"  # where every VM mounts the share: the same path on every node
SHARE = "studies"  # the Filestore file share
DATA_DIR = f"{MOUNT}/tfds"  # datasets are prepared once, on the share, for every VM
CLONE = "optcompare"  # the repository's clone in each VM's home directory
# TPU VM images (and ray_cluster.yaml's) are Ubuntu 22.04, whose python3 is 3.10; setup.py
# needs >= 3.11, which 22.04 packages as python3.11.
PYTHON = "python3.11"
RAY_PORT = 6379
REPOSITORY = "YOUR-REPOSITORY-URL"
ORIGINALS = "YOUR-DIRECTORY-OF-ORIGINAL-FILES"
WIDTH = 95  # columns of the printed commands (what launch/README.md's blocks hold)


class FlagError(Exception):
  """Bad input: its str is the one line, naming the flag, that the command prints."""


@dataclasses.dataclass(frozen=True)
class Tpu:
  """A Cloud TPU VM type of one host."""
  name: str  # the accelerator type, e.g. v4-8
  chips: int  # TPU chips on its host
  runtime: str  # the TPU VM software version (gcloud's --version)


# Generation -> (software version, {size in the type's name: chips}) of its one-host types:
# v2 to v5p name TensorCores (two a chip), v5litepod (v5e) and v6e name chips. A larger size
# of the same generation is a slice of several hosts.
GENERATIONS = {
    "v2": ("tpu-ubuntu2204-base", {8: 4}),
    "v3": ("tpu-ubuntu2204-base", {8: 4}),
    "v4": ("tpu-ubuntu2204-base", {8: 4}),
    "v5p": ("v2-alpha-tpuv5", {8: 4}),
    "v5litepod": ("v2-alpha-tpuv5-lite", {1: 1, 4: 4, 8: 8}),
    "v6e": ("v2-alpha-tpuv6e", {1: 1, 4: 4, 8: 8}),
}


def one_host_types() -> list[str]:
  return [f"{gen}-{size}" for gen, (_, sizes) in GENERATIONS.items() for size in sizes]


def tpu_type(name: str) -> Tpu:
  """The Tpu of accelerator type `name`; FlagError for an unknown or a multi-host type (a
  sweep trains each trial on one host: several one-host VMs do what a slice would)."""
  match = re.fullmatch(r"(v[0-9][a-z]*)-([0-9]+)", name)
  if not match or match[1] not in GENERATIONS:
    raise FlagError(f"--tpu={name}: unknown accelerator type; one of "
                    f"{', '.join(one_host_types())}")
  generation, size = match[1], int(match[2])
  runtime, sizes = GENERATIONS[generation]
  if size in sizes:
    return Tpu(name, sizes[size], runtime)
  largest = f"{generation}-{max(sizes)}"
  if size > max(sizes) and size & (size - 1) == 0:
    raise FlagError(f"--tpu={name}: a slice of several hosts, and a sweep trains each trial on "
                    f"one host; use --tpu={largest} and --nodes")
  raise FlagError(f"--tpu={name}: no such {generation} type; one of "
                  f"{', '.join(t for t in one_host_types() if t.startswith(generation + '-'))}")


# ---- flags ----

class _Parser(argparse.ArgumentParser):

  def error(self, message):  # argparse prints its usage too; the convention is one line
    raise FlagError(message)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
  p = _Parser(prog=prog, description=description, allow_abbrev=False)
  add = p.add_argument
  add("--study", help="the study config, PATH[:ARG], a file in this repository")
  add("--tpu", help=f"the TPU VM type, one host: {', '.join(one_host_types())}")
  add("--nodes", type=int, default=1, help="TPU VMs (default 1)")
  add("--zone", help="the zone of the TPU VMs, e.g. us-central2-b (v4)")
  add("--filestore_zone", help="the zone of the Filestore share (default --zone)")
  add("--name", default="optcompare", help="VM names NAME-1 ... NAME-N, share NAME-nfs")
  add("--spot", action=argparse.BooleanOptionalAction, default=True,
      help="spot VMs: a preempted trial is taken over and resumed (default on)")
  add("--devices_per_trial", type=int, default=1,
      help="TPU chips per trial: 1, 2 or all of the VM's (default 1)")
  add("--repository", default=REPOSITORY, help="the git URL the VMs clone")
  add("--originals", default=ORIGINALS,
      help="a local directory of the dataset's original files, copied to the first VM")
  add("--dry_run", action="store_true",
      help="print the commands (required: this command runs nothing)")
  return p


_ZONE = re.compile(r"[a-z]+-[a-z]+[0-9]+-[a-z]")
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,40}[a-z0-9])?")  # what gcloud takes as a VM name
# Characters that no shell interprets: values pasted into the commands must be only these
# (the remote commands sit in double quotes, so that $FILESTORE_IP expands where it was set).
_PLAIN = re.compile(r"[A-Za-z0-9@%+=:,./_~-]+")


def check_plain(flag: str, value: str) -> None:
  if not _PLAIN.fullmatch(value):
    raise FlagError(f"--{flag}={value}: use letters, digits and @%+=:,./_~- only (the value "
                    "goes into shell commands)")


def check_flags(args: argparse.Namespace) -> Tpu:
  """FlagError naming the first bad flag; the TPU type otherwise."""
  for flag in ("study", "tpu", "zone"):
    if not getattr(args, flag):
      raise FlagError(f"--{flag} is required")
  if args.nodes < 1:
    raise FlagError(f"--nodes={args.nodes}: must be at least 1")
  for flag in ("zone", "filestore_zone"):
    value = getattr(args, flag)
    if value is not None and not _ZONE.fullmatch(value):
      raise FlagError(f"--{flag}={value}: not a zone (e.g. us-central2-b)")
  if not _NAME.fullmatch(args.name):
    raise FlagError(f"--name={args.name}: lower-case letters, digits and -, starting with a "
                    "letter (at most 42)")
  for flag in ("repository", "originals"):
    check_plain(flag, getattr(args, flag))
  tpu = tpu_type(args.tpu)
  k = args.devices_per_trial
  if k not in (1, 2, tpu.chips) or k > tpu.chips:
    raise FlagError(f"--devices_per_trial={k}: 1, 2 or all {tpu.chips} chips of a {tpu.name} "
                    "(what a sweep can give one trial)")
  return tpu


# ---- the study ----

def load_study(spec: str) -> tuple[str, Any]:
  """(PATH[:ARG] with PATH relative to the repository, the study config): FlagError unless
  `spec` names a study config in this repository that loads (the VMs run its clone)."""
  path, colon, arg = spec.partition(":")
  relative = os.path.relpath(os.path.abspath(path), REPO)
  if relative.startswith(os.pardir + os.sep):  # (checked before the file is executed)
    raise FlagError(f"--study={spec}: not in this repository ({REPO}), whose clone the VMs "
                    "run; commit the study there")
  check_plain("study", relative + colon + arg)
  try:
    inputs.check_config_file(spec)
  except BadInputError as e:
    raise FlagError("--study" + str(e).removeprefix("--config")) from e
  config = _get_config(path, arg if colon else None)
  if not all(field in config for field in ("base", "num_trials", "search_spaces")):
    raise FlagError(f"--study={spec}: not a study config (no base, num_trials, "
                    "search_spaces: a trial config? studies are in configs/studies/)")
  return relative + colon + arg, config


def _get_config(path: str, arg: str | None) -> Any:
  """get_config(arg) of the config file at `path` (inputs.check_config_file has run it)."""
  namespace = {"__file__": path, "__name__": "launch_study"}
  with open(path, encoding="utf-8") as f:
    exec(compile(f.read(), path, "exec"), namespace)  # pylint: disable=exec-used
  return namespace["get_config"](arg) if arg is not None else namespace["get_config"]()


# ---- the options of one recipe ----

@dataclasses.dataclass(frozen=True)
class Options:
  """Checked flags, and what the recipes derive from them."""
  study: str  # PATH[:ARG], PATH relative to the repository
  config: Any  # the study config
  tpu: Tpu
  nodes: int
  zone: str
  filestore_zone: str
  name: str
  spot: bool
  devices_per_trial: int
  repository: str
  originals: str

  @property
  def vms(self) -> list[str]:
    return [f"{self.name}-{i}" for i in range(1, self.nodes + 1)]

  @property
  def filestore(self) -> str:
    return f"{self.name}-nfs"

  @property
  def workdir(self) -> str:
    """The study directory on the share: <protocol>_<workload>[_<arg>]."""
    path, _, arg = self.study.partition(":")
    parts = [os.path.basename(os.path.dirname(path)), os.path.splitext(os.path.basename(path))[0]]
    return f"{MOUNT}/{'_'.join(parts + ([arg] if arg else []))}"

  @property
  def trials_per_vm(self) -> int:
    return self.tpu.chips // self.devices_per_trial

  @property
  def dataset(self) -> str | None:
    """The dataset to prepare; None when the trials train on synthetic data."""
    return None if self.config.base.dataset.synthetic else self.config.base.dataset.name


def parse(prog: str, description: str, argv: list[str]) -> Options:
  """The Options of `argv` (without the program); FlagError naming the first bad flag."""
  args = parser(prog, description).parse_args(argv)
  tpu = check_flags(args)
  study, config = load_study(args.study)
  if not args.dry_run:
    raise FlagError("--dry_run is required: this command only prints the recipe (it runs no "
                    "gcloud or ray command); read it, then run its steps")
  return Options(study=study, config=config, tpu=tpu, nodes=args.nodes, zone=args.zone,
                 filestore_zone=args.filestore_zone or args.zone, name=args.name,
                 spot=args.spot, devices_per_trial=args.devices_per_trial,
                 repository=args.repository, originals=args.originals)


def main(prog: str, description: str, render: Callable[[Options], str],
         argv: list[str]) -> int:
  """Prints render(options); bad flags are one line `PROG: error: ...` and exit status 2."""
  try:
    options = parse(prog, description, argv)
  except FlagError as e:
    print(f"{prog}: error: {e}", file=sys.stderr)
    return 2
  sys.stdout.write(render(options))
  return 0


# ---- shell text ----

def wrap(words: list[str], indent: str = "    ", column: int = 0) -> str:
  """`words` (each already quoted) as one command, continued with backslashes past WIDTH;
  `column`: where its first line starts (inside an ssh command's text)."""
  lines, current = [], " " * column
  for word in words:
    if current.strip() and len(current) + 1 + len(word) > WIDTH - 2:
      lines.append(current + " \\")
      current = indent + word
    else:
      current = f"{current} {word}" if current.strip() else current + word
  return "\n".join(lines + [current])[column:]


def comment(text: str, first: str = "# ", rest: str = "# ") -> str:
  return textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=rest,
                       break_on_hyphens=False, break_long_words=False)


def count(n: int, noun: str) -> str:
  return f"{n} {noun}{'' if n == 1 else 's'}"


def commented_out(command: str) -> str:
  return "\n".join("# " + line for line in command.splitlines())


def tpu_vm(verb: str, vm: str, zone: str, *words: str) -> list[str]:
  return ["gcloud", "compute", "tpus", "tpu-vm", verb, vm, f"--zone={zone}", *words]


def scp(zone: str, source: str, destination: str) -> str:
  return wrap(["gcloud", "compute", "tpus", "tpu-vm", "scp", f"--zone={zone}", "--recurse",
               source, destination])


def ssh(vm: str, zone: str, commands: list[str]) -> str:
  """gcloud's ssh to `vm` running `commands`, each only if those before it succeeded. The
  remote text sits in double quotes so that $FILESTORE_IP and $HEAD_IP expand here, where
  they were set; nothing else in it may be special inside double quotes."""
  body = " &&\n  ".join(commands)
  leftover = re.sub(r"\$(FILESTORE_IP|HEAD_IP)\b|\\\n", "", body)
  assert not re.search(r'["`$\\]', leftover), body  # a value check_plain let through
  return " ".join(tpu_vm("ssh", vm, zone)) + f' --command="\n  {body}"'


@dataclasses.dataclass(frozen=True)
class Step:
  title: str  # what the step does, and why, in prose
  commands: list[str]


def render_steps(header: str, steps: list[Step]) -> str:
  """The header, then the steps numbered, each its title as a comment and its commands."""
  blocks = [comment(header)]
  for i, step in enumerate(steps, 1):
    blocks.append("\n".join([comment(step.title, f"# {i}. ", "#    "), *step.commands]))
  return "\n\n".join(blocks) + "\n"


# ---- the steps both recipes take ----

def filestore_step(o: Options) -> Step:
  zone = f"--zone={o.filestore_zone}"
  return Step(
      f"A shared file system for the study: Filestore NFS, mounted at {MOUNT} on every VM (not "
      "gcsfuse, whose O_EXCL and rename are not atomic across machines). Filestore is not "
      "offered in every zone (`gcloud filestore locations list`); --filestore_zone can put it "
      "in another zone of the same network.",
      [wrap(["gcloud", "filestore", "instances", "create", o.filestore, zone,
             "--tier=BASIC_HDD", f"--file-share=name={SHARE},capacity=1TB",
             "--network=name=default"]),
       wrap([f"FILESTORE_IP=$(gcloud filestore instances describe {o.filestore}", zone,
             "--format='value(networks[0].ipAddresses[0])')"])])


def create_commands(o: Options, spot: Callable[[int], bool]) -> list[str]:
  """`gcloud ... create` of each VM; `spot(i)`: whether VM i (from 0) is a spot VM."""
  return [wrap(tpu_vm("create", vm, o.zone, f"--accelerator-type={o.tpu.name}",
                      f"--version={o.tpu.runtime}", *(["--spot"] if spot(i) else [])))
          for i, vm in enumerate(o.vms)]


def setup_commands(filestore_ip: str, repository: str, extras: str) -> list[str]:
  """What every node runs once: mount the share, clone, install (launch/ray_cluster.yaml's
  setup_commands are these too)."""
  return [
      f"sudo apt-get update -q && sudo apt-get install -yq nfs-common {PYTHON}-venv git",
      f"sudo mkdir -p {MOUNT}",
      f"(mountpoint -q {MOUNT} || sudo mount -t nfs {filestore_ip}:/{SHARE} {MOUNT})",
      f"(test -d {CLONE} || git clone {repository} {CLONE})",
      f"cd {CLONE} && {PYTHON} -m venv .venv && .venv/bin/pip install -q -e '.[{extras}]'",
  ]


def install_step(o: Options, extras: str) -> Step:
  commands = setup_commands("$FILESTORE_IP", o.repository, extras)
  return Step(f"On every VM: mount the share, clone the repository, install it (jax with "
              f"libtpu, pinned by setup.py: pip install -e '.[{extras}]').",
              [ssh(vm, o.zone, commands) for vm in o.vms])


def data_step(o: Options) -> Step:
  if o.dataset is None:
    return Step("The data: none to prepare (this study's trials train on synthetic data).", [])
  files = " ".join(prepare.MANUAL_FILES[o.dataset])
  first = o.vms[0]
  return Step(
      f"The data, once, into the share: copy {o.dataset}'s original files ({files}) to "
      f"{first}, which prepares them (the VMs need no internet for it).",
      [scp(o.zone, o.originals, f"{first}:originals"),
       ssh(first, o.zone, [wrap([f"{CLONE}/.venv/bin/optcompare", "data", "prepare", o.dataset,
                                 "--manual_dir=originals", f"--data_dir={DATA_DIR}"],
                                "      ", column=2)])])


def sweep_command(o: Options, *extra: str) -> str:
  """The sweep as a VM runs it, in the background so that it outlives the ssh session."""
  words = ["cd", CLONE, "&&", "nohup", ".venv/bin/optcompare", "sweep", f"--config={o.study}",
           f"--config.devices_per_trial={o.devices_per_trial}"]
  if o.dataset is not None:
    words.append(f"--config.base.dataset.data_dir={DATA_DIR}")
  words += [f"--workdir={o.workdir}", *extra, "< /dev/null > sweep.log 2>&1 &"]
  return wrap(words, "      ", column=2)


def status_step(o: Options) -> Step:
  return Step("Where the study stands (from any VM: the files on the share say it all).",
              [ssh(o.vms[0], o.zone, [wrap([f"{CLONE}/.venv/bin/optcompare", "status",
                                            f"--workdir={o.workdir}"], "      ", column=2)])])


def teardown_step(o: Options) -> Step:
  """Commented out: deleting the share deletes the study, and a pasted script must not."""
  study = os.path.basename(o.workdir)
  commands = [scp(o.zone, f"{o.vms[0]}:{o.workdir}", "."),
              f"optcompare analyze --workdir={study}"]
  commands += [" ".join(tpu_vm("delete", vm, o.zone, "--quiet")) for vm in o.vms]
  commands.append(f"gcloud filestore instances delete {o.filestore} "
                  f"--zone={o.filestore_zone} --quiet")
  return Step("Once the study is finished: copy it here, analyse it, and delete what costs "
              "money (commented out: the share holds the study).",
              [commented_out(c) for c in commands])
