"""The look of every figure of a report: print settings, and one look per optimizer.

`RC` holds the matplotlib settings for print (sizes in points for figures about 7 inches
wide, a page's text width; one sans-serif font that has the glyphs the labels use: λ, ⊆,
₂); `styled` applies them while a figure function builds its Figure, `save` while it is
written. Nothing here changes matplotlib's global state.

An optimizer's `Look` (colour, marker, line style) is the same in every figure of a report
and across reports, so a reader who learns that Adam is purple reads every figure by it:
the built-ins' looks are fixed in `BUILT_IN` (every name of optimizers.REGISTRY; a test holds
the two lists equal). Any other name, a user's plug-in optimizer, gets a colour of
`PLUGIN_COLORS` (none of them a built-in's) and a marker of `PLUGIN_MARKERS`, chosen by the
SHA-256 of its name (stable across processes, unlike Python's `hash`). Markers and line
styles differ between optimizers so that a figure printed in grey stays readable.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

import matplotlib as mpl
from etils import epath

DPI = 200  # PNG resolution: 7 inches are 1400 pixels, sharp on screen and in print
WIDTH = 7.0  # inches: the text width of a paper's page (a figure spanning both columns)
RC: Mapping[str, Any] = {
    "font.family": "DejaVu Sans",  # has λ, ⊆, ₂ and ≤; shipped with matplotlib
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "legend.title_fontsize": 7,
    "figure.titlesize": 10, "lines.linewidth": 1.4, "lines.markersize": 4.5,
    "axes.linewidth": 0.7, "grid.linewidth": 0.5, "grid.alpha": 0.35,
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "errorbar.capsize": 3, "savefig.dpi": DPI, "figure.dpi": 100,
    "figure.constrained_layout.h_pad": 0.04, "figure.constrained_layout.w_pad": 0.04,
}


@dataclasses.dataclass(frozen=True)
class Look:
  """How one optimizer is drawn: `color` (a hex string), `marker` (a matplotlib marker) and
  `linestyle` (a named style or an on-off dash tuple)."""
  color: str
  marker: str
  linestyle: Any = "-"


# The paper's six keep the colours of the reports committed before this module (tab10's
# first six); the others take the rest of tab10 and black, each with its own marker.
BUILT_IN: Mapping[str, Look] = {
    "sgd": Look("#1f77b4", "o", "-"),
    "momentum": Look("#ff7f0e", "s", "--"),
    "nesterov": Look("#2ca02c", "^", "-."),
    "rmsprop": Look("#d62728", "v", ":"),
    "adam": Look("#9467bd", "D", (0, (6, 2))),
    "nadam": Look("#8c564b", "P", (0, (4, 1.5, 1, 1.5, 1, 1.5))),
    "adamw": Look("#e377c2", "X", (0, (2, 1))),
    "nadamw": Look("#7f7f7f", "<", (0, (8, 2, 2, 2))),
    "lion": Look("#bcbd22", ">", (0, (1, 1))),
    "muon": Look("#17becf", "p", (0, (5, 1, 1, 1))),
    "sfadamw": Look("#393b79", "h", (0, (3, 3))),
    "adopt": Look("#000000", "*", (0, (10, 3))),
}
# For plug-ins: colours and markers no built-in uses, far enough from theirs to tell apart.
PLUGIN_COLORS = ("#637939", "#843c39", "#7b4173", "#d6a000", "#5254a3", "#00a087",
                 "#b15928")
PLUGIN_MARKERS = ("d", "8", "H")
PLUGIN_LINESTYLE = (0, (1, 2))


def _digest(name: str) -> int:
  return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def look(name: str) -> Look:
  """The look of optimizer `name`: fixed for a built-in; for another name a colour and a
  marker chosen by the SHA-256 of the name (the marker by other bits than the colour, so
  two plug-ins that share a colour most likely differ in marker)."""
  if name in BUILT_IN:
    return BUILT_IN[name]
  h = _digest(name)
  return Look(PLUGIN_COLORS[h % len(PLUGIN_COLORS)],
              PLUGIN_MARKERS[(h // len(PLUGIN_COLORS)) % len(PLUGIN_MARKERS)],
              PLUGIN_LINESTYLE)


def color(name: str) -> str:
  return look(name).color


def gid(name: str) -> str:
  """The id that marks an artist as optimizer `name`'s (Artist.set_gid; kept in SVG output):
  how the figure tests find every optimizer's artists."""
  return f"optimizer:{name}"


def optimizer_of_gid(value: str | None) -> str | None:
  """The optimizer an artist's gid names, or None."""
  prefix = gid("")
  return value[len(prefix):] if value and value.startswith(prefix) else None


LETTER_GID = "figure-letter"

_F = TypeVar("_F", bound=Callable[..., Any])


def styled(make: _F) -> _F:
  """A figure function made under `RC` (matplotlib reads most settings when an artist is
  made, so the settings must hold while the figure is built, not only when it is saved)."""
  @functools.wraps(make)
  def wrapper(*args, **kwargs):
    with mpl.rc_context(dict(RC)):
      return make(*args, **kwargs)
  return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def settings() -> Iterator[None]:
  """`RC` in force, for code that draws on a figure outside a figure function."""
  with mpl.rc_context(dict(RC)):
    yield


def save(fig, path: epath.PathLike) -> None:
  """PNG at `DPI`, no time stamp in its metadata (the same figure gives the same bytes)."""
  with settings(), epath.Path(path).open("wb") as f:
    fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None})


def letter(fig, value: str) -> None:
  """The figure's letter, "(b)", in bold in its top left corner (outside every axes: the
  layout keeps the corner free above the first panel's labels)."""
  with settings():
    fig.text(0.004, 0.996, f"({value})", ha="left", va="top", fontweight="bold",
             fontsize=RC["figure.titlesize"], gid=LETTER_GID)


def thin_ticks(values: Iterable[float], max_ticks: int = 8) -> list[float]:
  """At most `max_ticks` of `values` (sorted, distinct), every n-th one counted from the
  last, so that an axis of evaluation steps is ticked at evaluation steps only and the last
  one (the budget) is always among them."""
  v = sorted(set(float(x) for x in values))
  if len(v) <= max_ticks:
    return v
  every = -(-len(v) // max_ticks)  # ceil
  return v[::-1][::every][::-1]
