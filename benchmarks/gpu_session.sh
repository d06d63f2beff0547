#!/usr/bin/env bash
# The accelerator check on a lent GPU machine that has jax with CUDA but no registry and no
# TensorFlow: everything else it needs is carried there as wheels, with Fashion-MNIST as .npz.
#
#   benchmarks/gpu_session.sh carry TFDS_DIR   # here: writes gpu_carry/ (git-ignored, ~65 MB)
#   benchmarks/gpu_session.sh run [FLAGS...]   # there: installs gpu_carry/wheels offline into
#                                              # gpu_carry/site, runs accelerator_check.py
#
# TFDS_DIR: a prepared TFDS directory with fashion_mnist (`optcompare data prepare`). `run`
# writes to $OUT when it is set (the device tool's output folder), else benchmarks/results;
# FLAGS go to accelerator_check.py (e.g. --budget_s=420 to fit a 10-minute command).
# PYTHON (default python3) is the interpreter with jax: 3.12 on x86-64 Linux, as GPU images are.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=${CARRY:-gpu_carry}
PYTHON=${PYTHON:-python3}

# What the accelerator path imports beyond what GPU images ship, resolved with its dependencies.
PACKAGES=("flax==0.12.10" "optax==0.2.8" "orbax-checkpoint==0.12.8" "ml-collections==1.1.0"
          "absl-py" "etils[epath]")
# Shipped by the image (jax's own dependencies), or never imported on this path: not carried.
NOT_CARRIED='^(jax|jaxlib|numpy|scipy|ml_dtypes|opt_einsum|uvloop)-[0-9]'
PLATFORM=(--python-version 3.12 --implementation cp --only-binary=:all:
          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
          --platform manylinux2010_x86_64 --platform manylinux1_x86_64)

carry() {
  local tfds_dir=${1:?usage: gpu_session.sh carry TFDS_DIR}
  rm -rf "$CARRY"
  mkdir -p "$CARRY/wheels"
  "$PYTHON" -m pip download -q -d "$CARRY/wheels" "${PLATFORM[@]}" "${PACKAGES[@]}"
  # tensorboard only for its HParams protos (hparams_board.py): none of its server's packages.
  "$PYTHON" -m pip download -q -d "$CARRY/wheels" "${PLATFORM[@]}" --no-deps tensorboard==2.21.0
  for wheel in "$CARRY"/wheels/*.whl; do
    if [[ $(basename "$wheel") =~ $NOT_CARRIED ]]; then rm "$wheel"; fi
  done
  "$PYTHON" benchmarks/export_npz.py --data_dir="$tfds_dir" --out="$CARRY/fashion_mnist.npz"
  du -sh "$CARRY"
}

run() {
  "$PYTHON" -c 'import jax; print("jax", jax.__version__, jax.devices())'
  rm -rf "$CARRY/site"
  # --no-deps: the wheels are the whole set; jax and numpy stay the image's own.
  "$PYTHON" -m pip install -q --no-index --no-deps --target "$CARRY/site" "$CARRY"/wheels/*.whl
  PYTHONPATH="$PWD:$PWD/$CARRY/site" "$PYTHON" benchmarks/accelerator_check.py \
      --data="$CARRY/fashion_mnist.npz" --out="${OUT:-benchmarks/results}" "$@"
}

case "${1:-}" in
  carry) shift; carry "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: benchmarks/gpu_session.sh carry TFDS_DIR | run [FLAGS...]" >&2; exit 2 ;;
esac
