#!/usr/bin/env bash
# Trains the `paper` layout on a lent GPU machine (JAX backend) in one call of under 10 minutes.
#
# That machine has JAX, NumPy, Pillow, scikit-image, h5py and absl-py but no TensorFlow, no
# Keras and no package registry, and one call carries at most 64 MiB of working tree. So:
#
# 1. Here, once (both folders are git-ignored):
#      python -m benchmarks.gpu_pack --dataset=voc_dir:../shared/data/voc2012_animals \
#          --output=gpu_pack/voc_train_224.npz            # ~45 MiB of JPEG crops + ab targets
#      python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#          --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#          -d .whl keras==3.15.1 namex optree              # Keras 3 and what it needs beyond
#                                                           # the machine's own packages
# 2. Through the device tool, with carry=["gpu_pack", ".whl"]:
#      bash benchmarks/gpu_train.sh          # trains for SECONDS_BUDGET=360 s
#    It writes $OUT/metrics.json (steps, images/s, losses), $OUT/train.log and the float16
#    weight shards that fit what one call brings back (8 files of <= 16 MiB): the paper
#    layout's 72 MiB do not, so at once (the machine is given back after 30 s idle) call
#      bash benchmarks/gpu_train.sh fetch    # the remaining shards
# 3. Back here, with every shard and metrics.json in one folder:
#      python -m benchmarks.gpu_weights --run_dir=DIR --output=runs/gpu/model.keras
#    then evaluate, export or warm-start from runs/gpu/model.keras as usual.
#
# Never run by CI or the tests (tests/test_gpu_train.py runs gpu_train.py on the CPU with
# KERAS_BACKEND=jax on a small generated pack).
set -euo pipefail

OUT="${OUT:-runs/gpu_train}"
SECONDS_BUDGET="${SECONDS_BUDGET:-360}"
SPILL_DIR="${SPILL_DIR:-/tmp/gpu_train_spill}"
mkdir -p "$OUT"

if [ "${1:-}" = "fetch" ]; then
  ls "$SPILL_DIR"/weights-*.npz >/dev/null 2>&1 || { echo "no spilled shards in $SPILL_DIR" >&2; exit 1; }
  mv "$SPILL_DIR"/weights-*.npz "$OUT"/ && ls -la "$OUT"
  exit 0
fi

if [ -d .whl ] && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
python3 -m benchmarks.gpu_train \
  --pack="${PACK:-gpu_pack/voc_train_224.npz}" \
  --output_dir="$OUT" \
  --spill_dir="$SPILL_DIR" \
  --seconds="$SECONDS_BUDGET" \
  --batch_size="${BATCH_SIZE:-64}" \
  "$@" 2>&1 | tee "$OUT/train.log"
