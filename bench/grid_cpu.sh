#!/usr/bin/env bash
# Issue 36's recipe grid on a 2-core CPU: the twelve arms of one budget (ours, diffusers, lucidrains; eps and
# v + min-SNR-5; seeds 0 and 1) run by two one-thread workers that share one queue, every arm resumable where a
# cut-off left it.
#     bash bench/grid_cpu.sh [STEPS]            (default 3000; folder bench/results/grid-STEPS)
# At 3000 steps an arm takes about 4 hours here for lucidrains, 1.5 for diffusers and 0.9 for ours, so the queue
# starts with arms a cut-off left half done, then the longest: a free worker takes the next arm nobody holds, which
# keeps both cores busy to the end (two fixed streams left one idle for hours). Each arm's samples and row of
# results.json land in the folder as it finishes, and an arm already in results.json is skipped.
# Progress: bench/results/grid-STEPS/progress.log. Score and tabulate the folder afterwards with
#     python bench/robust_eval.py --results bench/results/grid-STEPS && python bench/grid_table.py bench/results/grid-STEPS
# The folder scores with the 800-step grid's feature network and yardsticks (copied in), so both budgets meet the same
# networks. Run one copy at a time: it clears the folder's claims when it starts.
set -u
steps=${1:-3000}
dir=bench/results/grid-$steps
py=${PYTHON:-python3}
mkdir -p "$dir"
for f in feature_net.pt yardstick_cnn.pt yardstick_mlp.pt; do
  [ -f "$dir/$f" ] || cp "bench/results/grid-800/$f" "$dir/"
done
order="lucidrains_v:0 lucidrains_eps:0 lucidrains_v:1 lucidrains_eps:1 diffusers_v:0 diffusers_eps:0
       diffusers_v:1 diffusers_eps:1 ours_v:0 ours_eps:0 ours_v:1 ours_eps:1"
queue=""
for spec in $order; do   # half-done arms (a saved state) first, so a cut-off costs least
  [ -f "$dir/${spec%:*}_s${spec#*:}_state.pt" ] && queue="$queue $spec"
done
for spec in $order; do
  case " $queue " in *" $spec "*) ;; *) queue="$queue $spec" ;; esac
done
rm -rf "$dir/claims"; mkdir -p "$dir/claims"
worker() {
  for spec in $queue; do
    arm=${spec%:*}; seed=${spec#*:}
    if grep -q "\"${arm}_s${seed}\"" "$dir/results.json" 2>/dev/null; then continue; fi
    mkdir "$dir/claims/${arm}_s${seed}" 2>/dev/null || continue   # mkdir is atomic: one worker per arm
    echo "$(date -u +%FT%T) start ${arm} s${seed}" >> "$dir/progress.log"
    OMP_NUM_THREADS=1 $py bench/quality_per_compute.py --methods "$arm" --seed "$seed" --steps "$steps" \
      --n-samples 2000 --clf-steps 1000 --out "$dir" >> "$dir/log_${arm}_s${seed}.txt" 2>&1
    echo "$(date -u +%FT%T) end ${arm} s${seed} (exit $?)" >> "$dir/progress.log"
  done
}
worker & sleep 1; worker &
wait
