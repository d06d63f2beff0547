"""Writes a workload's train/validation/test arrays to one compressed .npz file.

The arrays are the very ones the workload trains on: read through the project's own loading
path (the workload's `load_splits`, i.e. optcompare.data.tfds_images for Fashion-MNIST) from a
prepared TFDS directory, in TFDS order, validation held out as the workload's config says.
optcompare.data.npz.load_splits reads the file back, for machines without TFDS:

  optcompare data prepare fashion_mnist --manual_dir=IDX_DIR --data_dir=TFDS_DIR
  python benchmarks/export_npz.py --data_dir=TFDS_DIR --out=fashion_mnist.npz
"""
from __future__ import annotations

import hashlib

from absl import app, flags

from configs.workloads import fashion_mnist_simple_cnn
from optcompare import workloads
from optcompare.data import npz

_DATA_DIR = flags.DEFINE_string("data_dir", None, "Prepared TFDS directory.", required=True)
_OUT = flags.DEFINE_string("out", None, "The .npz file to write.", required=True)


def export(data_dir: str, out: str) -> dict:
  """Loads Fashion-MNIST as the workload does and writes it to `out`; returns the splits."""
  config = fashion_mnist_simple_cnn.get_config()
  config.dataset.data_dir = data_dir
  splits = workloads.create(config).load_splits()
  npz.save_splits(out, splits)
  return splits


def main(argv):
  del argv
  splits = export(_DATA_DIR.value, _OUT.value)
  for name, split in splits.items():
    digest = hashlib.sha256(split.inputs.tobytes() + split.labels.tobytes()).hexdigest()[:16]
    print(f"{name}: inputs {split.inputs.shape} {split.inputs.dtype}, labels "
          f"{split.labels.shape} {split.labels.dtype}, sha256 {digest}")
  print(f"wrote {_OUT.value}")


if __name__ == "__main__":
  app.run(main)
