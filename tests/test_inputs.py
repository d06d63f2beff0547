"""optcompare.inputs: the checks the command line makes before anything runs."""
import math

import ml_collections
import pytest

from optcompare import inputs
from optcompare.errors import BadInputError


def _takes_value(name):
  return name in ("workdir", "config") or name.startswith("config.")


def test_scan_splits_flags_and_positionals_as_absl_would():
  assert inputs.scan(["--workdir", "x", "status", "--config", "c.py"], _takes_value) == (
      ["status"], {"workdir": "x", "config": "c.py"})
  assert inputs.scan(["train", "--config=c.py:smoke", "--config.seed=3", "--multihost"],
                     _takes_value) == (["train"], {"config": "c.py:smoke", "config.seed": "3",
                                                   "multihost": None})
  assert inputs.scan(["data", "prepare", "--", "--odd"], _takes_value)[0] == [
      "data", "prepare", "--odd"]
  assert inputs.config_flags_given({"config.seed": "3", "workdir": "w"}) == ["--config.seed"]


def test_a_good_config_file_passes_and_leaves_no_bytecode(tmp_path):
  path = tmp_path / "c.py"
  path.write_text("import ml_collections\n"
                  "def get_config(arg=None):\n  return ml_collections.ConfigDict({'a': arg})\n")
  inputs.check_config_file(f"{path}:x:y")  # split at the first colon, as config_flags does
  assert sorted(p.name for p in tmp_path.iterdir()) == ["c.py"]


@pytest.mark.parametrize("text,says", [
    ("def get_config(:\n", "c.py:1: syntax error"),
    ("raise RuntimeError('no')\n", "loading it raised RuntimeError: no"),
    ("get_config = 3\n", "defines no get_config function"),
    ("def get_config():\n  return {}['missing']\n", "get_config() raised KeyError: 'missing'"),
    ("def get_config():\n  return [1]\n", "returned list, not an ml_collections.ConfigDict"),
])
def test_a_bad_config_file_is_named_with_what_is_wrong(text, says, tmp_path):
  path = tmp_path / "c.py"
  path.write_text(text)
  with pytest.raises(BadInputError) as e:
    inputs.check_config_file(str(path))
  assert str(e.value).startswith(f"--config: {path}") and says in str(e.value)
  assert "\n" not in str(e.value)


def test_check_finite_names_the_field():
  c = ml_collections.ConfigDict({"a": {"b": [1.0, math.nan]}, "c": 1})
  with pytest.raises(BadInputError, match=r"^a\.b\[1\]: must be a finite number, got nan$"):
    inputs.check_finite(c)
  inputs.check_finite({"a": {"b": 1e308}, "s": "inf"})  # a string is not a number


def test_writable_dir(tmp_path):
  inputs.check_writable_dir("out", str(tmp_path / "new" / "deeper"))  # can be created
  inputs.check_writable_dir("out", None)
  inputs.check_writable_dir("out", "gs://bucket/x")  # remote: left to the writer
  (tmp_path / "f").write_text("x")
  for bad, says in ((str(tmp_path / "f"), "not a directory"), ("", "empty"),
                    (str(tmp_path / "f" / "x"), "is a file")):
    with pytest.raises(BadInputError, match=f"^--out: .*{says}"):
      inputs.check_writable_dir("out", bad)
