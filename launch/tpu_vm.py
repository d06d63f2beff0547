"""Prints the Cloud TPU VM recipe for a study: N one-host TPU VMs, one Filestore share, and
the same `optcompare sweep` on every VM (the claim files keep them from running a trial
twice). Runs nothing; see launch/README.md, whose recipe is this command's output.

  python -m launch.tpu_vm --study=PATH[:ARG] --tpu=v4-8 --nodes=N --zone=ZONE --dry_run
"""
from __future__ import annotations

import sys

from launch import recipe

PROG = "launch.tpu_vm"
DESCRIPTION = __doc__.split("\n\n", maxsplit=1)[0]


def header(o: recipe.Options) -> str:
  return (f"Cloud TPU recipe for {o.study} (untested: nothing here has run on Google "
          f"Cloud): {recipe.count(o.nodes, o.tpu.name + ' TPU VM')} in {o.zone}, each "
          f"sweeping {recipe.count(o.trials_per_vm, 'trial')} at once on "
          f"{recipe.count(o.devices_per_trial, 'chip')} each. Run the steps one at a time, "
          "from a clone of this repository.")


def sweep_step(o: recipe.Options) -> recipe.Step:
  command = recipe.sweep_command(o, f"--parallel={o.trials_per_vm}")
  return recipe.Step(
      "On every VM, the same sweep (nohup: it outlives the ssh session). Each works through "
      "the same trial list, takes over the trials of a VM that disappears (after the study's "
      "lease_seconds), and exits when the whole study is finished.",
      [recipe.ssh(vm, o.zone, [command]) for vm in o.vms])


def render(o: recipe.Options) -> str:
  spot = "spot VMs: a preempted trial is taken over and resumed" if o.spot else "on demand"
  steps = [recipe.filestore_step(o),
           recipe.Step(f"The TPU VMs ({spot}).", recipe.create_commands(o, lambda i: o.spot)),
           recipe.install_step(o, "tpu"),
           recipe.data_step(o),
           sweep_step(o),
           recipe.status_step(o),
           recipe.teardown_step(o)]
  return recipe.render_steps(header(o), steps)


def main(argv: list[str]) -> int:
  return recipe.main(PROG, DESCRIPTION, render, argv)


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
