"""The package's shape: no import cycle; the study directory's layout and trial ids are
written in one module (studydir); no module uses another's underscore names."""
import ast
import functools
import glob
import os

import pytest

from optcompare import studydir
from tests.conftest import REPO

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "optcompare")

# Known remaining offences in modules that other changes of issue 22 switch over, as
# (module, the literal or expression found). Delete an entry once its module uses studydir's
# names: test_the_allow_list_holds_only_what_is_found fails on an entry no longer found.
ALLOWED: set = set()  # (module, literal) pairs still to move into studydir: none


@functools.lru_cache(maxsize=None)
def _parse(path: str) -> ast.Module:
  """The file's syntax tree, parsed once per session. CPython 3.11.7 raised "SystemError:
  AST constructor recursion depth mismatch" here once, late in a full test run: the
  interpreter's fault, not the file's, so it is retried once."""
  source = open(path, encoding="utf-8").read()
  try:
    return ast.parse(source)
  except SystemError:
    return ast.parse(source)


def _modules() -> dict[str, str]:
  """module name -> file path, for every module of the package."""
  out = {}
  for root, _, files in os.walk(PACKAGE):
    for f in files:
      if f.endswith(".py"):
        rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PACKAGE))[:-3]
        name = rel.replace(os.sep, ".").removesuffix(".__init__")
        out[name] = os.path.join(root, f)
  return out


def _imports(path: str, modules: dict[str, str]) -> set[str]:
  """Package modules that `path` imports anywhere (function-level imports included)."""
  found = set()
  for node in ast.walk(_parse(path)):
    names = []
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
    for name in names:
      if name in modules:
        found.add(name)
      elif name.rsplit(".", 1)[0] in modules and f"{name}" not in modules:
        found.add(name.rsplit(".", 1)[0])
  return found


def _graph() -> dict[str, set[str]]:
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    # An edge to a package's __init__ from its own submodule is Python's doing, not a cycle.
    graph[name] = {m for m in _imports(path, modules) if m != name and
                   not name.startswith(m + ".")}
  return graph


def _cycle(graph):
  state, stack = {}, []

  def visit(n):
    state[n] = "open"
    stack.append(n)
    for m in sorted(graph.get(n, ())):
      if state.get(m) == "open":
        return stack[stack.index(m):] + [m]
      if m not in state:
        found = visit(m)
        if found:
          return found
    stack.pop()
    state[n] = "done"
    return None

  for n in sorted(graph):
    if n not in state:
      found = visit(n)
      if found:
        return found
  return None


def test_no_import_cycle_under_optcompare():
  assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()))


def test_the_cycle_check_finds_a_cycle():
  assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _code_strings(path: str) -> list[tuple[int, str]]:
  """String constants outside docstrings, dictionary keys and subscripts (a manifest's
  "trials" list is JSON, not a path)."""
  tree = _parse(path)
  keys = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Subscript):
      keys.add(id(node.slice))
    elif isinstance(node, ast.Dict):
      keys |= {id(k) for k in node.keys if k is not None}
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
        node.func.attr in ("get", "setdefault", "pop"):
      keys |= {id(a) for a in node.args[:1]}
  docstrings = set()
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
      body = node.body
      if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        docstrings.add(id(body[0].value))
  return [(n.lineno, n.value) for n in ast.walk(tree)
          if isinstance(n, ast.Constant) and isinstance(n.value, str)
          and id(n) not in docstrings | keys]


def _path_parts(path: str) -> list[tuple[int, str]]:
  """String constants that build a path: arguments of os.path.join, operands of `/`."""
  out = []
  for node in ast.walk(_parse(path)):
    parts = []
    if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.path.join", "join"):
      parts = node.args
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
      parts = [node.left, node.right]
    out += [(p.lineno, p.value) for p in parts
            if isinstance(p, ast.Constant) and isinstance(p.value, str)]
  return out


def _others():
  """(module name, path) of every module but studydir."""
  return [(n, p) for n, p in sorted(_modules().items()) if n != "optcompare.studydir"]


def _layout_literals(path: str) -> list[tuple[int, str]]:
  """The layout names of studydir.LAYOUT_NAMES that the file spells in code (a message may
  name a file in a sentence). `trials` is also a mesh axis and a table column: it counts
  only where it builds a path (test_only_studydir_builds_trial_paths)."""
  names = set(studydir.LAYOUT_NAMES) - {studydir.TRIALS}
  return [(line, s) for line, s in _code_strings(path)
          if s in names or any(s.endswith("/" + n) for n in names)]


def _slash_splits(path: str) -> list[tuple[int, str]]:
  """Calls that cut a string at "/" (split, rsplit, partition, rpartition): how a trial id
  was taken apart before studydir.TrialId. The check cannot tell a trial id from another
  string, so every such call counts (a tag or a path has better tools: os.path, a pair)."""
  out = []
  for node in ast.walk(_parse(path)):
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("split", "rsplit", "partition", "rpartition") and node.args
        and isinstance(node.args[0], ast.Constant) and node.args[0].value == "/"):
      out.append((node.lineno, ast.unparse(node)))
  return out


def _private_uses(tree: ast.Module, modules) -> list[tuple[int, str]]:
  """Uses of another package module's underscore names: `module._name` where `module` was
  imported from the package, and `from optcompare.x import _name`."""
  aliases, out = set(), []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      aliases |= {a.asname or a.name.split(".")[0] for a in node.names
                  if a.name.split(".")[0] == "optcompare"}
    elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
          and node.module.split(".")[0] == "optcompare"):
      aliases |= {a.asname or a.name for a in node.names if f"{node.module}.{a.name}" in modules}
      out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names
              if a.name.startswith("_") and not a.name.startswith("__")]
  for node in ast.walk(tree):
    if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and ast.unparse(node.value).split(".")[0] in aliases):
      out.append((node.lineno, ast.unparse(node)))
  return out


def _offences(find) -> tuple[list[str], set[tuple[str, str]]]:
  """(the offences not allowed, as module:line: text; the allowed ones found)."""
  offenders, allowed = [], set()
  for name, path in _others():
    for line, text in find(path):
      if (name, text) in ALLOWED:
        allowed.add((name, text))
      else:
        offenders.append(f"{name}:{line}: {text}")
  return offenders, allowed


def _private_uses_of(path: str) -> list[tuple[int, str]]:
  return _private_uses(_parse(path), _modules())


def test_only_studydir_names_the_study_files():
  offenders, _ = _offences(_layout_literals)
  assert not offenders, ("spell these with studydir's constants (studydir.LAYOUT_NAMES): "
                         f"{offenders}")


def test_only_studydir_takes_trial_ids_apart():
  offenders, _ = _offences(_slash_splits)
  assert not offenders, f"use studydir.TrialId.parse or studydir.optimizer_of: {offenders}"


def test_no_module_uses_another_modules_underscore_names():
  offenders, _ = _offences(_private_uses_of)
  assert not offenders, f"make these public (or move them): {offenders}"


def test_the_allow_list_holds_only_what_is_found():
  found = set()
  for find in (_layout_literals, _slash_splits, _private_uses_of):
    found |= _offences(find)[1]
  assert ALLOWED <= found, f"fixed: delete from ALLOWED {sorted(ALLOWED - found)}"


_SAMPLE = '''import os
from optcompare import train
from optcompare.train import _step


def f(tid, d):
  """Reads d/worker.log."""
  opt = tid.split("/")[0]
  train._eval_sums(opt)
  return os.path.join(d, "checkpoints", "x/attempts.jsonl")
'''


def test_the_checks_find_what_they_look_for(tmp_path):
  source = tmp_path / "m.py"
  source.write_text(_SAMPLE)
  modules = {"optcompare.train": "", "optcompare.train._step": ""}
  assert [t for _, t in _layout_literals(str(source))] == ["checkpoints", "x/attempts.jsonl"]
  assert [t for _, t in _slash_splits(str(source))] == ["tid.split('/')"]
  assert sorted(t for _, t in _private_uses(_parse(str(source)), modules)) == [
      "optcompare.train._step", "train._eval_sums"]


def test_only_studydir_builds_trial_paths():
  offenders = []
  for name, path in _modules().items():
    if name != "optcompare.studydir":
      offenders += [f"{name}:{line}" for line, s in _path_parts(path) if s == "trials"]
  assert not offenders, offenders


def test_analysis_and_studydir_do_not_import_train_or_jax():
  graph = _graph()
  for name in ("optcompare.studydir", "optcompare.analysis.load", "optcompare.analysis.report"):
    assert "optcompare.train" not in graph[name], name
    assert "jax" not in {n.split(".")[0] for n in _external(name)}, name


def _external(name):
  path = _modules()[name]
  out = set()
  for node in _parse(path).body:  # module level only
    if isinstance(node, ast.Import):
      out |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
      out.add(node.module)
  return out


def test_no_function_in_the_package_is_over_sixty_lines():
  """Docstrings included: a function a newcomer reads in one screen."""
  long = []
  for path in glob.glob(os.path.join(REPO, "optcompare", "**", "*.py"), recursive=True):
    with open(path, encoding="utf-8") as f:
      tree = ast.parse(f.read())
    for n in ast.walk(tree):
      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if n.end_lineno - n.lineno + 1 > 60:
          long.append(f"{os.path.relpath(path, REPO)}:{n.lineno} {n.name}")
  assert not long, long
