"""The War and Peace TFDS builder, prepared offline from a manual file."""
from optcompare.data import prepare, text, war_and_peace


def test_prepare_offline_and_split_by_position(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  corpus = "".join(f"Chapter {i}. Prince Andrew looked at the sky.\r\n" for i in range(3000))
  (manual / war_and_peace.MANUAL_FILE).write_bytes(corpus.encode("utf-8"))
  prepare.prepare("war_and_peace", manual_dir=str(manual), data_dir=str(tmp_path / "tfds"))
  builder = prepare.builder("war_and_peace", str(tmp_path / "tfds"))
  splits = {s: war_and_peace.read_text(builder, s) for s in ("train", "validation", "test")}
  n = len(corpus)
  assert splits["train"] == corpus[:int(0.8 * n)]
  assert splits["validation"] == corpus[int(0.8 * n):int(0.9 * n)]
  assert "".join(splits.values()) == corpus
  assert len(text.vocabulary(*splits.values())) == len(set(corpus))
