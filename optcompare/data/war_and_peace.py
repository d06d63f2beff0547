"""A TFDS builder for War and Peace at the character level (Karpathy et al. 2015; DeepOBS
`tolstoi`; Choi et al. 2019's LSTM workload).

Source: Karpathy's `warpeace_input.txt` (3,258,246 characters, Project Gutenberg eBook #2600)
from `manual_dir` when it is there; otherwise the Project Gutenberg plain text is downloaded,
which is the same novel with Gutenberg's current header and line breaks, so numbers from the
two sources are not interchangeable. The text is decoded as UTF-8 and kept as is (BOM and CRLF
line ends included: they are characters of the corpus the paper counts).
Splits: fixed contiguous slices of the text, train 80% / validation 10% / test 10%.
Each example is a chunk `{"index": offset, "text": chunk}`; `read_text` puts a split back
together in order.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

MANUAL_FILE = "warpeace_input.txt"
GUTENBERG_URL = "https://www.gutenberg.org/cache/epub/2600/pg2600.txt"
SPLITS = {"train": (0.0, 0.8), "validation": (0.8, 0.9), "test": (0.9, 1.0)}
CHUNK = 100_000


class WarAndPeace(tfds.core.GeneratorBasedBuilder):
  """War and Peace as character chunks, split 80/10/10 by position."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Place Karpathy's {MANUAL_FILE} (War and Peace, 3,258,246 bytes) in manual_dir.")

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({"index": np.int64, "text": tfds.features.Text()}),
        homepage="https://www.gutenberg.org/ebooks/2600")

  def _split_generators(self, dl_manager):
    manual = getattr(dl_manager, "_manual_dir", None)
    if manual is not None and (manual / MANUAL_FILE).exists():
      path = manual / MANUAL_FILE
    else:
      path = dl_manager.download(GUTENBERG_URL)
    text = path.read_bytes().decode("utf-8")
    n = len(text)
    return {name: self._generate_examples(text[int(a * n):int(b * n)])
            for name, (a, b) in SPLITS.items()}

  def _generate_examples(self, text: str):
    for offset in range(0, len(text), CHUNK):
      yield offset, {"index": offset, "text": text[offset:offset + CHUNK]}


def read_text(builder: tfds.core.DatasetBuilder, split: str) -> str:
  """The split's text, chunks in order."""
  data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
  order = np.argsort(data["index"])
  return "".join(data["text"][i].decode("utf-8") for i in order)
