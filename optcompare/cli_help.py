"""The text of `optcompare --help` and `optcompare VERB --help`, from the command line's tables.

absl's own --help comes with absl.app, which `optcompare` does not use (it parses the flags
itself, to map every failure to exit status 2); and absl's text lists every flag of every
module (logging's included). A new user needs the verbs, then one verb's flags: these pure
functions render those from what optcompare/cli.py declares, so help cannot drift from what
the parser accepts.
"""
from __future__ import annotations

import re
import textwrap

HELP_FLAGS = ("help", "h", "helpshort", "helpfull")
WIDTH = 92


def usage_lines(doc: str) -> dict[str, str]:
  """verb -> its usage line, from the `  optcompare VERB ...` lines of cli.py's docstring."""
  out, verb = {}, None
  for line in doc.splitlines():
    words = line.split()
    if len(words) > 1 and words[0] == "optcompare":
      verb = words[1] if words[1] not in out else None
      if verb:
        out[verb] = " ".join(words)
    elif verb and words and line.startswith("  ") and words[0].startswith("["):
      out[verb] += " " + " ".join(words)  # a usage line continued
    else:
      verb = None
  return out


def help_wanted(given: dict) -> str | None:
  """'full' for --helpfull, 'short' for --help/-h/--helpshort, None otherwise (`given`: the
  flags of a raw argv, inputs.scan's second value)."""
  if "helpfull" in given:
    return "full"
  return "short" if any(name in given for name in HELP_FLAGS) else None


def _rows(rows: list[tuple[str, str]], indent: int = 2) -> list[str]:
  """Two columns, the second wrapped at WIDTH and aligned."""
  left = max((len(name) for name, _ in rows), default=0) + indent + 2
  out = []
  for name, text in rows:
    lines = textwrap.wrap(text, WIDTH - left) or [""]
    out.append(" " * indent + name.ljust(left - indent) + lines[0])
    out.extend(" " * left + line for line in lines[1:])
  return out


def main_help(summaries: dict[str, str], usage: dict[str, str], footer: str) -> str:
  """`optcompare --help`: a line per verb, then how to learn more."""
  lines = ["usage: optcompare VERB [flags]", "", "verbs:"]
  lines += _rows([(verb, text) for verb, text in summaries.items()])
  lines += ["", "usage of each:"]
  lines += ["  " + usage[verb] for verb in summaries if verb in usage]
  lines += ["", "`optcompare VERB --help` lists a verb's flags; `optcompare --helpfull` every "
            "flag (absl's included). Every verb takes absl's --verbosity: 1 or more shows "
            "TensorFlow's start-up lines and TFDS progress bars, hidden by default.", "",
            footer]
  return "\n".join(_wrap_paragraphs(lines)) + "\n"


def _wrap_paragraphs(lines: list[str]) -> list[str]:
  out = []
  for line in lines:
    out.extend(textwrap.wrap(line, WIDTH) if not line.startswith(" ") and line else [line])
  return out


def verb_part(text: str, verb: str) -> str:
  """The part of a flag's help about `verb`: helps shared by verbs read "analyze: ...;
  refine: ...", and each verb's help shows its own part only."""
  part = re.search(rf"(?:^|; ){verb}(?: prepare)?: (.*?)(?=; [\w-]+: |$)", text, re.S)
  return part.group(1) if part else text


def flag_row(flag, verb: str) -> tuple[str, str]:
  """(`--name`, its help) of an absl Flag, without the `verb:` prefix its help carries for
  readers of --helpfull, and with its default or choices when they say something."""
  text = re.sub(r"^<[^>]*>: ", "", flag.help or "")  # absl's prefix of an enum's help
  text = re.sub(r";\s*repeat this option to specify a list of values$", "", text)  # a multi's
  text = verb_part(text, verb)
  extra = []
  choices = getattr(flag.parser, "enum_values", None)
  if choices:
    extra.append("|".join(choices))
  if flag.default is not None and not isinstance(flag.default, bool) and not hasattr(
      flag.default, "keys"):
    extra.append(f"default {flag.default}")
  return f"--{flag.name}", text + (f" ({'; '.join(extra)})" if extra else "")


def verb_help(verb: str, usage: str | None, summary: str, rows: list[tuple[str, str]],
              footer: str, notes: tuple[str, ...] = ()) -> str:
  """`optcompare VERB --help`: its usage, what it does, its flags a line each, then `notes`
  (paragraphs: what names the verb's config fields or arguments take)."""
  lines = ["", summary, "", "flags:"]
  lines += _rows(rows) if rows else ["  (none)"]
  for note in notes:
    lines += ["", note]
  lines += ["", "Also absl's --verbosity (see `optcompare --helpfull`).", "", footer]
  usage = f"usage: {usage or f'optcompare {verb} [flags]'}"  # (one line: never wrapped)
  return "\n".join([usage] + _wrap_paragraphs(lines)) + "\n"
