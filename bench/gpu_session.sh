#!/usr/bin/env bash
# One prepared session on a GPU machine without internet (issues 14 and 17). Run from the repository root:
#     bash bench/gpu_session.sh [PART ...]      PART: speed, check, compile (default: speed check)
# Needs, beside the checkout: .whl/ with the wheels the machine lacks (bench/RESULTS.md lists them; docs: gpu-notes)
# and .fmnist/ with the Fashion-MNIST idx files. Every part runs under its own time limit and writes into $OUT as it goes:
#   speed   train() against a bare step (mnist28, batch 128, bf16) and the U-Net against its peers, eager;
#   check   tools/gpu_check.py: every notebook under `nbdev_test --flags cuda`, beside the training, sampling and CLI checks;
#   compile the same speed measurements under torch.compile (default and reduce-overhead modes).
set -u
OUT=${OUT:-/tmp/gpu_session}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 DDPM_NB_FASHION_MNIST=$PWD/.fmnist
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PATH=/tmp/site/bin:$PATH
printf '#!/usr/bin/env python3\nfrom ddpm_nb.cli import main\nmain()\n' > /tmp/site/bin/ddpm_nb && chmod +x /tmp/site/bin/ddpm_nb
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())'; } > "$OUT/env.txt" 2>&1
say() { echo "== $(date -u +%T) $*" | tee -a "$OUT/speed.log"; }
for part in ${@:-speed check}; do case $part in
speed)
  say training_speed eager
  timeout 80 python3 bench/training_speed.py --device cuda --preset mnist28 --batch 128 --steps 50 --rounds 3 >> "$OUT/speed.log" 2>&1
  say unet_speed cifar10 eager
  timeout 120 python3 bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --steps 20 \
      --settings fp32 bf16 --out "$OUT/unet_cifar10.json" >> "$OUT/speed.log" 2>&1
  say unet_speed mnist28 eager
  timeout 50 python3 bench/unet_speed.py --device cuda --sizes mnist28 --train-batch 128 --interleave --steps 20 \
      --settings bf16 --out "$OUT/unet_mnist28.json" >> "$OUT/speed.log" 2>&1
  say speed done ;;
check)    # the notebooks (8 at a time, 2 threads each on 16 cores) beside the other checks
  OMP_NUM_THREADS=2 timeout 280 python3 tools/gpu_check.py --only-notebooks --workers 8 --timeout 135 --out "$OUT/nbs" > /dev/null 2>&1 &
  timeout 280 python3 tools/gpu_check.py --skip-notebooks --out "$OUT/other" > /dev/null 2>&1
  wait ;;
compile)
  say training_speed reduce-overhead
  timeout 200 python3 bench/training_speed.py --device cuda --preset mnist28 --batch 128 --steps 50 --rounds 2 --compile reduce-overhead >> "$OUT/speed.log" 2>&1
  say unet_speed cifar10 compiled
  timeout 300 python3 bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --steps 20 \
      --settings bf16+compile --out "$OUT/unet_cifar10_compiled.json" >> "$OUT/speed.log" 2>&1
  say compile done ;;
esac; done
