#!/usr/bin/env bash
# Make what bench/gpu_session.sh needs beside the checkout, on this machine (pip's registry reachable), then rehearse it:
#     bash bench/gpu_prepare.sh [FASHION_MNIST_DIR]     (default: ../shared/data/fashion-mnist)
# .whl/    the wheels a GPU image without internet lacks (bench/gpu_wheels.txt, Python 3.12), about 11 MB;
# .fmnist/ the Fashion-MNIST idx files, about 30 MB; both ignored by git, so the device tool must carry them.
# Ends with the call to make, if the rehearsal (tools/rehearse_gpu_session.sh) passed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/data/fashion-mnist}
ls "$src"/train-images-idx3-ubyte* > /dev/null 2>&1 || { echo "gpu_prepare: no Fashion-MNIST idx files in $src (expected train-images-idx3-ubyte[.gz] and the rest)"; exit 1; }
rm -rf .whl && mkdir -p .whl .fmnist
grep -v '^#' bench/gpu_wheels.txt | xargs python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl 2> /dev/null
[ "$(ls .whl | wc -l)" = "$(grep -vc '^#' bench/gpu_wheels.txt)" ] || { echo "gpu_prepare: pip fetched $(ls .whl | wc -l) of $(grep -vc '^#' bench/gpu_wheels.txt) wheels"; exit 1; }
cp "$src"/*-ubyte* .fmnist/
echo "gpu_prepare: .whl $(du -sh .whl | cut -f1), .fmnist $(du -sh .fmnist | cut -f1)"
bash tools/rehearse_gpu_session.sh > /tmp/gpu_rehearsal.log || { cat /tmp/gpu_rehearsal.log; exit 1; }
tail -1 /tmp/gpu_rehearsal.log
echo "ready: run(command='bash bench/gpu_session.sh probe', carry=['.whl', '.fmnist'], timeout_s=600), then copy \$OUT's files"
