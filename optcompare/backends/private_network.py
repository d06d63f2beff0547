"""A private network for a Ray instance started by a sweep: only the loopback interface.

Why: Ray 2.60's gcs_server, raylet and core-worker gRPC servers listen on every interface
whatever node IP they are given (`ss -ltnp` shows `*:PORT` with `_node_ip_address=
"127.0.0.1"`; no ray.init option changes it). Anyone who can reach the machine could then
talk to a sweep's Ray instance. So `optcompare sweep --backend=ray` without `--ray_address`
re-executes itself in a new Linux network namespace (`unshare --net`, inside a user namespace
when not root) whose only interface is the loopback one, brought up here: Ray's servers, the
driver and every actor share that namespace, and no port of theirs exists outside it. Files,
processes, devices and the study directory are those of the caller (only the network is
private). A sweep pointed at a cluster (`--ray_address`) is the user's network choice and is
left alone.

Where unprivileged user namespaces are disabled (some distributions, some containers),
`reexec` raises Unavailable, naming the alternatives; it never falls back to listening on
every interface. Inside, ENV_MARK is set, so the re-executed command does not re-execute again.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys

ENV_MARK = "OPTCOMPARE_PRIVATE_NETWORK"
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


class Unavailable(RuntimeError):
  """This machine cannot make a private network namespace for us."""


def active() -> bool:
  """Whether this process runs in the private network made by `reexec`."""
  return os.environ.get(ENV_MARK) == "1"


def command(python_args: list[str]) -> list[str]:
  """`python *python_args` run in a new network namespace with its loopback interface up."""
  user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
  return ["unshare", *user, "--net", "--", sys.executable, "-m", __name__, *python_args]


def check_available() -> None:
  """Raises Unavailable, with the reason, when `command` cannot run here."""
  if sys.platform != "linux" or not shutil.which("unshare"):
    raise Unavailable("needs Linux network namespaces (the `unshare` command)")
  probe = subprocess.run(command(["-c", "pass"]), capture_output=True, text=True, check=False)
  if probe.returncode:
    reason = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
    raise Unavailable(f"cannot create a network namespace: {reason}")


def reexec(argv: list[str]) -> None:
  """Replaces this process by `python -m optcompare.cli argv[1:]` in a private network (the
  same pid, so signals and exit status reach the caller as before). Raises Unavailable."""
  check_available()
  sys.stdout.flush()
  sys.stderr.flush()
  args = command(["-m", "optcompare.cli", *argv[1:]])
  os.execvp(args[0], args)


def loopback_up() -> None:
  """Brings the namespace's `lo` up (a new network namespace starts with it down)."""
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    request = struct.pack("16sH14s", b"lo", 0, b"")
    flags = struct.unpack("16sH", fcntl.ioctl(s, _SIOCGIFFLAGS, request)[:18])[1]
    fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | _IFF_UP, b""))


def _main(python_args: list[str]) -> None:
  loopback_up()
  os.environ[ENV_MARK] = "1"
  os.execv(sys.executable, [sys.executable, *python_args])


if __name__ == "__main__":
  _main(sys.argv[1:])
