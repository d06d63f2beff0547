"""Prints the Ray recipe for a study: N one-host TPU VMs and one Filestore share (as
launch.tpu_vm), a Ray cluster over them (the head on the first VM, which is never a spot VM:
losing it ends the sweep), and one `optcompare sweep --backend=ray --ray_address=...` on the
head that sends trials to every VM's chips. Runs nothing; see launch/README.md, whose recipe
is this command's output.

  python -m launch.ray_cluster --study=PATH[:ARG] --tpu=v4-8 --nodes=N --zone=ZONE --dry_run
"""
from __future__ import annotations

import sys

from launch import recipe

PROG = "launch.ray_cluster"
DESCRIPTION = __doc__.split("\n\n", maxsplit=1)[0]
RAY = f"{recipe.CLONE}/.venv/bin/ray"


def header(o: recipe.Options) -> str:
  trials = o.nodes * o.trials_per_vm
  return (f"Ray recipe for {o.study} (untested: nothing here has run on Google Cloud): "
          f"{recipe.count(o.nodes, o.tpu.name + ' TPU VM')} in {o.zone} as one Ray cluster, "
          f"one sweep running {recipe.count(trials, 'trial')} at once on "
          f"{recipe.count(o.devices_per_trial, 'chip')} each. Run the steps one at a time, "
          "from a clone of this repository.")


def head_address() -> str:
  return f"$HEAD_IP:{recipe.RAY_PORT}"


def cluster_step(o: recipe.Options) -> recipe.Step:
  head, workers = o.vms[0], o.vms[1:]
  describe = recipe.wrap(
      [f"HEAD_IP=$(gcloud compute tpus tpu-vm describe {head}", f"--zone={o.zone}",
       "--format='value(networkEndpoints[0].ipAddress)')"])
  start_head = recipe.ssh(head, o.zone, [
      f"{RAY} start --head --port={recipe.RAY_PORT} --node-ip-address=$HEAD_IP"])
  start_workers = [recipe.ssh(vm, o.zone, [f"{RAY} start --address={head_address()}"])
                   for vm in workers]
  return recipe.Step(
      f"A Ray cluster over the VMs: the head on {head}, every other VM joins it. Ray's "
      "servers listen on every interface: the default network's firewall rules (internal "
      "traffic, and only ssh from outside) keep them inside the network; check yours.",
      [describe, start_head, *start_workers])


def sweep_step(o: recipe.Options) -> recipe.Step:
  parallel = o.nodes * o.trials_per_vm
  command = recipe.sweep_command(o, "--backend=ray", f"--ray_address={head_address()}",
                                 f"--parallel={parallel}")
  return recipe.Step(
      f"One sweep, on the head (nohup: it outlives the ssh session): each trial is a Ray "
      f"task asking for {recipe.count(o.devices_per_trial, 'TPU chip')}, on whichever VM Ray "
      "picks; a trial whose VM is lost counts as a crashed worker's (run again, up to "
      "--retries times, from its checkpoint).",
      [recipe.ssh(o.vms[0], o.zone, [command])])


def render(o: recipe.Options) -> str:
  spot = ("the head on demand, the others spot VMs"
          if o.spot else "on demand")
  steps = [recipe.filestore_step(o),
           recipe.Step(f"The TPU VMs ({spot}).",
                       recipe.create_commands(o, lambda i: o.spot and i > 0)),
           recipe.install_step(o, "tpu,ray"),
           recipe.data_step(o),
           cluster_step(o),
           sweep_step(o),
           recipe.status_step(o),
           recipe.teardown_step(o)]
  return recipe.render_steps(header(o), steps)


def main(argv: list[str]) -> int:
  return recipe.main(PROG, DESCRIPTION, render, argv)


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
