"""Ray backend: each trial is a Ray task that runs the same worker command as the local backend.

The task asks Ray for `threads_per_trial` CPUs and, when the cluster has accelerators,
`devices_per_trial` GPUs (Ray sets CUDA_VISIBLE_DEVICES for the task) or TPU chips
(resources={"TPU": k}); the worker process it starts claims the trial through the study
directory's claim files, exactly as a local worker does, so Ray sweeps and local sweeps on
one directory never run a trial twice. Without `address`, a local Ray instance is started
with parallel · threads_per_trial CPUs and shut down at the end. With a cluster, the study
directory must be on a file system every node mounts at the same path, and optcompare must be
installed on every node. Ray is imported only here (`pip install 'optcompare[ray]'`).

Tested here: a local Ray instance on CPU. Clusters, GPUs and TPUs through Ray: untested recipes
(launch/README.md).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from optcompare.backends import local
from optcompare.errors import BadInputError


def _run_worker(args: list[str], log_path: str, env_overrides: dict[str, str]) -> int:
  """The Ray task: runs the worker command on this node; returns its exit status."""
  env = local.cache_env(dict(os.environ, **env_overrides))
  env["OPTCOMPARE_PARENT_PID"] = str(os.getpid())
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  with open(log_path, "ab") as log:
    proc = subprocess.Popen([sys.executable, *local.WORKER, *args],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env)
  try:
    return proc.wait()
  except BaseException:  # cancelled: the worker releases its claim on SIGTERM
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    raise


class RayLauncher:
  """Submits one Ray task per trial, at most `parallel` in flight."""

  def __init__(self, study_dir: str, *, parallel: int, threads_per_trial: int,
               devices_per_trial: int, lease_seconds: float, address: str | None = None):
    try:
      import ray  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise BadInputError("--backend=ray: Ray is not installed "
                          "(pip install 'optcompare[ray]')") from e
    self._ray = ray
    self.study_dir, self.lease_seconds = study_dir, lease_seconds
    self.parallel, self.threads = parallel, threads_per_trial
    self._owns_ray = not ray.is_initialized()
    if self._owns_ray:
      if address:
        ray.init(address=address, log_to_driver=False)
      else:
        ray.init(num_cpus=parallel * threads_per_trial, include_dashboard=False,
                 log_to_driver=False)
    resources = ray.cluster_resources()
    options = {"num_cpus": threads_per_trial, "max_retries": 0}
    if devices_per_trial and resources.get("GPU"):
      options["num_gpus"] = devices_per_trial
    elif devices_per_trial and resources.get("TPU"):
      options["resources"] = {"TPU": devices_per_trial}
    self._task = ray.remote(_run_worker).options(**options)
    self._refs: dict = {}  # ObjectRef -> trial_id
    self.sweep_id = os.urandom(6).hex()

  def start(self, trial_id: str, *, retry: bool) -> None:
    args = local.worker_args(self.study_dir, trial_id, lease_seconds=self.lease_seconds,
                             retry=retry, owner=f"{self.sweep_id}-{trial_id}")
    log = os.path.join(self.study_dir, "trials", *trial_id.split("/"), "worker.log")
    ref = self._task.remote(args, log, local.thread_env(self.threads))
    self._refs[ref] = trial_id

  def poll(self) -> list[tuple[str, int]]:
    if not self._refs:
      return []
    ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
    out = []
    for ref in ready:
      trial_id = self._refs.pop(ref)
      try:
        out.append((trial_id, int(self._ray.get(ref))))
      except self._ray.exceptions.RayError as e:  # the node or the task's process died
        print(f"sweep: {trial_id}: Ray task failed: {str(e).splitlines()[0]}",
              file=sys.stderr)
        out.append((trial_id, -1))
    return out

  def close(self) -> None:
    for ref in list(self._refs):
      self._ray.cancel(ref)
    self._refs.clear()
    if self._owns_ray:
      self._ray.shutdown()
