#!/usr/bin/env bash
# Seconds each chapter's tests take under plain nbdev_test, one notebook at a time (run it on an idle machine).
# Usage: bash bench/chapter_test_time.sh [nbs/NN_name.ipynb ...]   (default: every notebook)
set -uo pipefail
cd "$(dirname "$0")/.."
nbdev_test=${NBDEV_TEST:-.venv/bin/nbdev_test}
for nb in ${@:-nbs/[0-9]*.ipynb nbs/index.ipynb}; do
  start=$(date +%s.%N)
  if "$nbdev_test" --path "$nb" --n_workers 1 > /dev/null 2>&1; then status=pass; else status=FAIL; fi
  printf '%-32s %4s %7.1f s\n' "$(basename "$nb")" "$status" "$(echo "$(date +%s.%N) - $start" | bc)"
done
