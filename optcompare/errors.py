"""The one exception type the command line maps to exit status 2 (bad input)."""


class BadInputError(ValueError):
  """Bad config, search space, command line, data or file on disk.

  The message is one line that names the offending field or file. Raised before anything is
  written, so a rejected command leaves no trace.
  """


class EnvironmentFailure(RuntimeError):
  """The machine, not the input, stopped a command before it did any work (a backend that
  would not start, a cluster that cannot be reached). The command line prints the message,
  one line, and exits with status 1; running the command again may succeed."""
