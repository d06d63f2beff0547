"""A report as a list of sections, each a title, its Markdown and its figures.

Figure letters are not written by the sections: they are computed from the figures present,
in the order of the sections (figures of one group, one per optimizer, share a letter), so a
figure that is skipped leaves no gap. A section refers to a figure by its file name with
`ref(...)`; `render` writes the letters in. No analysis here, and no files written.
"""
from __future__ import annotations

import dataclasses
import re
import string
from typing import Any, Mapping, Sequence

_REF = re.compile(r"⟦figure:([^⟧]*)⟧")


@dataclasses.dataclass(frozen=True)
class FigureFile:
  """One figure of a report: the file it is saved as (`name`), the matplotlib Figure and its
  caption (without its letter). Figures of one `group` share a letter (default: its own)."""
  name: str
  figure: Any
  caption: str
  group: str = ""

  @property
  def key(self) -> str:
    return self.group or self.name


@dataclasses.dataclass(frozen=True)
class Section:
  """One section of a report: its "## " title ("" for the top of the report, which has
  none), its Markdown, its figures, and `notes`: lines of the figure list that are not
  figures (one that was skipped, and why)."""
  title: str
  markdown: str
  figures: tuple[FigureFile, ...] = ()
  notes: tuple[str, ...] = ()


def figure_files(*candidates: FigureFile | None) -> tuple[FigureFile, ...]:
  """The candidates whose figure was drawn (a figure function returns None when it has
  nothing to draw)."""
  return tuple(f for f in candidates if f is not None and f.figure is not None)


def ref(*names: str) -> str:
  """A reference to the figures saved as `names`, written as "figure b" or "figures g and h"
  by `render` (those that are not in the report left out)."""
  return f"⟦figure:{','.join(names)}⟧"


def letters(sections: Sequence[Section]) -> dict[str, str]:
  """Figure file name -> its letter: a, b, ... by group, in the order of the sections."""
  by_key: dict[str, str] = {}
  out = {}
  for s in sections:
    for f in s.figures:
      if f.key not in by_key:
        if len(by_key) == len(string.ascii_lowercase):
          raise ValueError("a report has at most 26 figure letters")
        by_key[f.key] = string.ascii_lowercase[len(by_key)]
      out[f.name] = by_key[f.key]
  return out


def _written(names: str, letter_of: Mapping[str, str]) -> str:
  """One reference, written: "figure b", "figures g and h", "figures a, b and c"."""
  found = list(dict.fromkeys(letter_of[n] for n in names.split(",") if n in letter_of))
  if not found:
    return "no figure"
  if len(found) == 1:
    return f"figure {found[0]}"
  return f"figures {', '.join(found[:-1])} and {found[-1]}"


def resolve(markdown: str, letter_of: Mapping[str, str]) -> str:
  """`markdown` with its `ref`s written as letters."""
  return _REF.sub(lambda m: _written(m.group(1), letter_of), markdown)


def figure_list(sections: Sequence[Section]) -> Section:
  """The closing "Figures" section: each figure's link, letter and caption, and the notes
  of figures skipped, in the order of the sections."""
  letter_of = letters(sections)
  lines = []
  for s in sections:
    lines += [f"- [{f.name}]({f.name}): ({letter_of[f.name]}) {resolve(f.caption, letter_of)}"
              for f in s.figures]
    lines += [f"- {resolve(note, letter_of)}" for note in s.notes]
  return Section("Figures", "\n".join(lines))


def render(sections: Sequence[Section]) -> str:
  """The report's Markdown: the sections in order (a blank line after each heading and each
  section), then the figure list."""
  letter_of = letters(sections)
  lines = []
  for s in list(sections) + [figure_list(sections)]:
    if s.title:
      lines += [f"## {s.title}", ""]
    lines += [resolve(s.markdown, letter_of), ""]
  return "\n".join(lines)
