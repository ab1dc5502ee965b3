#!/usr/bin/env bash
# One prepared session on a GPU machine without internet (issues 14 and 17). Run from the repository root:
#     bash bench/gpu_session.sh [PART ...]      PART: speed, check, ab, tests, compile, compile-lucidrains, graphs,
#                                                     fused-check, candidates, profile, probe, grid (default: speed check)
# Needs, beside the checkout: .whl/ with the wheels the machine lacks, made on a machine with pip's registry by
#     grep -v '^#' bench/gpu_wheels.txt | xargs python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl
# and .fmnist/ with the Fashion-MNIST idx files (both folders ignored by git, carried to the machine). Rehearse it on the
# CPU first (`bash tools/rehearse_gpu_session.sh`, 20 s): every command must parse its options or reach the GPU.
# `bash bench/gpu_prepare.sh` makes both folders and rehearses, in about 10 s.
# Every part runs under its own time limit and writes into $OUT as it goes:
#   speed   train() against a bare step (mnist28, batch 128, bf16) and the U-Net against its peers, eager (diffusers with
#           one attention head as ours, and with its default 8-channel heads as the H100 entry of 2026-11-27 measured);
#   check   tools/gpu_check.py: every notebook under `nbdev_test --flags cuda`, beside the training, sampling and CLI checks
#           (and the count of train()'s host synchronisations, 4 steps against 12);
#   ab      our U-Net against itself without channels-last and with the paper's plain layers, and the peers (cifar10);
#   tests   every notebook in its own process, 6 at a time, with its time (chapter 08 executed, its outputs kept);
#   compile  torch.compile on the GPU: train() with CUDA graphs ('reduce-overhead') against a bare step on mnist28, and
#            the CIFAR-10 model against diffusers (the faster peer in eager bf16), each eager and compiled in one
#            process, then ours at its best over each peer at its best (`unet_speed.py --merge`): at most 8 minutes;
#   compile-lucidrains  the same against denoising-diffusion-pytorch (at most 4 minutes);
#   graphs   mnist28 compiled with CUDA graphs (reduce-overhead), ours against ours-fused (at most 4.7 minutes);
#   fused-check  bench/fused_groupnorm.py --check --device cuda: the fused GroupNorm's Triton kernels, compiled for the
#            card, against autograd of torch's operations, then one step of each preset's fused network, which
#            compiles the kernels the benchmarks need (at most 110 s); then the op alone against torch's GroupNorm +
#            SiLU, for three tile sizes and two warp counts: time and effective bandwidth (at most 75 s);
#   candidates  ours against the candidates, each in the same call as the eager baseline and diffusers, bf16: the fused
#            GroupNorm (ours-fused), GroupNorm in bf16 (ours-bf16gn), cuDNN's timed algorithms (--cudnn-benchmark);
#            CIFAR-10, then mnist28 (at most 5.1 minutes);
#   profile  where a step's time goes (bench/gpu_profile.py: device busy against wall time, kernels by kind, and the
#            bf16 error of ours-fused against float32 on CUDA), CIFAR-10: at most 70 s;
#   grid     issue 36's recipe grid (bench/quality_per_compute.py): ours, diffusers and lucidrains, each with eps and with
#            v + min-SNR-5, seeds 0 and 1, at 800 then 3000 steps (at 800, last, the controls diffusers-matched and
#            lucidrains-matched: each peer with our optimizer, rate, EMA, schedule and sampler), six processes at a time
#            on the one card, every arm in float32 and scored with the CPU grid's feature network; samples and
#            results.json in $OUT/grid-STEPS-cuda, tables by `python bench/grid_table.py FOLDER` (at most 9.5 minutes);
#   probe    fused-check, candidates, profile: at most 9.4 minutes of commands (give the device tool its 600 s limit).
# With 15 minutes of device time (a start of a minute or two, then about 12 for commands), the order that answers most
# about issue 17's targets (bench/RESULTS.md, "A fused GroupNorm for CUDA" and "A roofline for the GPU step"): `probe`
# first. It tests two predictions: the fused GroupNorm cuts the step's counted bytes from 53.8 to 25.1 GB (1.8-2.2x
# faster if its kernels move bytes as fast as today's), GroupNorm in bf16 to 32.2 GB (1.4-1.7x). Then `compile` in a
# later session (compiling halves the counted bytes; compiling took 82 s for mnist28 on the H100), with `graphs` if the
# fused op pays, and `compile-lucidrains`.
set -u
OUT=${OUT:-/tmp/gpu_session}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 DDPM_NB_FASHION_MNIST=$PWD/.fmnist DDPM_NB_FASHION=$PWD/.fmnist
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PATH=/tmp/site/bin:$PATH
printf '#!/usr/bin/env python3\nimport sys\nfrom ddpm_nb.cli import main\nsys.exit(main())\n' > /tmp/site/bin/ddpm_nb && chmod +x /tmp/site/bin/ddpm_nb
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())'; } > "$OUT/env.txt" 2>&1
say() { echo "== $(date -u +%T) $*" | tee -a "$OUT/speed.log"; }
best() { say ours at its best against each peer at its best
         timeout 20 python3 bench/unet_speed.py --merge "$OUT"/unet_cifar10*.json >> "$OUT/speed.log" 2>&1; }   # every CIFAR-10 run so far
for part in ${@:-speed check}; do case $part in
speed)
  say training_speed eager
  timeout 80 python3 bench/training_speed.py --device cuda --preset mnist28 --batch 128 --steps 50 --rounds 3 >> "$OUT/speed.log" 2>&1
  say unet_speed cifar10 eager
  timeout 120 python3 bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --steps 20 \
      --settings fp32 bf16 --kinds ours diffusers diffusers-heads8 lucidrains --out "$OUT/unet_cifar10.json" >> "$OUT/speed.log" 2>&1
  say unet_speed mnist28 eager
  timeout 50 python3 bench/unet_speed.py --device cuda --sizes mnist28 --train-batch 128 --interleave --steps 20 \
      --settings bf16 --out "$OUT/unet_mnist28.json" >> "$OUT/speed.log" 2>&1
  say speed done ;;
check)    # the notebooks (8 at a time, 2 threads each on 16 cores) beside the other checks
  OMP_NUM_THREADS=2 timeout 280 python3 tools/gpu_check.py --only-notebooks --workers 8 --timeout 135 --out "$OUT/nbs" > /dev/null 2>&1 &
  timeout 280 python3 tools/gpu_check.py --skip-notebooks --out "$OUT/other" > /dev/null 2>&1
  wait ;;
ab)       # which of chapter 12's changes pays under bf16 on the GPU: ours against ours without channels-last and the paper's layers
  say unet_speed cifar10 variants
  timeout 90 python3 bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --steps 20 --settings fp32 bf16 \
      --kinds ours ours-contiguous ours-plain diffusers lucidrains >> "$OUT/speed.log" 2>&1 ;;
tests)    # each notebook in a process of its own, 6 at a time, with its time; chapter 08 through tools/execute.py, keeping its outputs
  run_nb() { n=$(basename "$1" .ipynb); s=$(date +%s); OMP_NUM_THREADS=2 timeout 200 nbdev_test --flags cuda --path "$1" > "/tmp/nb_$n.log" 2>&1
             echo "$n rc=$? $(( $(date +%s) - s )) s" >> "$OUT/nbs_summary.txt"; }
  export -f run_nb; export OUT
  ls nbs/[0-9]*.ipynb nbs/index.ipynb | grep -v 08_evaluation | timeout 270 xargs -P 6 -I{} bash -c 'run_nb {}' &
  s=$(date +%s); IN_TEST=1 OMP_NUM_THREADS=2 timeout 200 python3 tools/execute.py --flags cuda -- nbs/08_evaluation.ipynb > /tmp/nb_08_evaluation.log 2>&1
  echo "08_evaluation (tools/execute.py) rc=$? $(( $(date +%s) - s )) s" >> "$OUT/nbs_summary.txt"
  cp nbs/08_evaluation.ipynb /tmp/08_evaluation.failed.ipynb "$OUT/" 2>/dev/null
  wait
  for f in /tmp/nb_*.log; do echo "=== $f"; tail -c 2500 "$f"; done > "$OUT/nbs_tails.log" ;;
compile)
  say training_speed reduce-overhead
  timeout 200 python3 bench/training_speed.py --device cuda --preset mnist28 --batch 128 --steps 50 --rounds 2 --compile reduce-overhead >> "$OUT/speed.log" 2>&1
  say unet_speed cifar10 compiled, ours and diffusers
  timeout 270 python3 bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --steps 20 \
      --settings bf16 bf16+compile --kinds ours diffusers --out "$OUT/unet_cifar10_compiled.json" >> "$OUT/speed.log" 2>&1
  best
  say compile done ;;
compile-lucidrains)
  say unet_speed cifar10 compiled, ours and lucidrains
  timeout 230 python3 bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --steps 20 \
      --settings bf16 bf16+compile --kinds ours lucidrains --out "$OUT/unet_cifar10_compiled_lucidrains.json" >> "$OUT/speed.log" 2>&1
  best
  say compile-lucidrains done ;;
graphs)   # mnist28 with CUDA graphs, ours against ours-fused: issue 17's 3x target
  say unet_speed mnist28 bf16 CUDA graphs
  timeout 280 python3 bench/unet_speed.py --device cuda --sizes mnist28 --train-batch 128 --interleave --steps 20 \
      --settings bf16+compile --compile-mode reduce-overhead --kinds ours ours-fused --out "$OUT/unet_mnist28_graphs.json" >> "$OUT/speed.log" 2>&1
  say graphs done ;;
grid)     # 12 arms per budget, and 8 control arms at 800 steps; an arm that runs out of time is missing from results.json (lucidrains' resume from their state)
  for steps in 800 3000; do
    g=$OUT/grid-$steps-cuda; mkdir -p "$g"; cp bench/results/grid-800/feature_net.pt "$g/"
    say grid $steps steps
    controls=$([ $steps = 800 ] && echo diffusers-matched_v lucidrains-matched_v diffusers-matched_eps lucidrains-matched_eps)   # last: the first to go if time runs out
    for seed in 0 1; do for arm in ours_eps ours_v diffusers_eps diffusers_v lucidrains_eps lucidrains_v; do echo "$arm $seed"; done; done |
      { cat; for seed in 0 1; do for arm in $controls; do echo "$arm $seed"; done; done; } |
      timeout $([ $steps = 800 ] && echo 240 || echo 330) xargs -P 6 -L 1 bash -c 'OMP_NUM_THREADS=2 python3 bench/quality_per_compute.py \
        --device cuda --methods $0 --seed $1 --steps '"$steps"' --n-samples 2000 --clf-steps 1000 --sample-batch 500 --out '"$g"' \
        >> '"$g"'/log.txt 2>&1'
    python3 bench/grid_table.py "$g" >> "$OUT/speed.log" 2>&1
  done
  say grid done ;;
fused-check|probe)
  say fused_groupnorm check on cuda
  timeout 110 python3 bench/fused_groupnorm.py --check --device cuda >> "$OUT/speed.log" 2>&1
  say fused_groupnorm op alone
  timeout 75 python3 bench/fused_groupnorm.py --bench --device cuda >> "$OUT/speed.log" 2>&1
  say fused-check done ;;&
candidates|probe)
  cand() { local size=$1 limit=$2 tag=$3; shift 3     # the rest: --kinds ... [--cudnn-benchmark]
    say unet_speed $size bf16 $tag
    timeout $limit python3 bench/unet_speed.py --device cuda --sizes $size --train-batch 128 --interleave --steps 10 --settings bf16 \
        "$@" --out "$OUT/unet_${size}_bf16${tag}.json" >> "$OUT/speed.log" 2>&1; }
  cand cifar10 150 '' --kinds ours ours-fused ours-bf16gn diffusers
  cand cifar10 80 _cudnn_benchmark --kinds ours ours-fused diffusers --cudnn-benchmark
  cand mnist28 75 '' --kinds ours ours-fused diffusers
  say candidates done ;;&
profile|probe)
  say gpu_profile cifar10
  timeout 70 python3 bench/gpu_profile.py --device cuda --preset cifar10 --batch 128 --steps 10 --kinds ours ours-fused \
      --out "$OUT/profile_cifar10.json" >> "$OUT/speed.log" 2>&1
  say profile done ;;
esac; done
