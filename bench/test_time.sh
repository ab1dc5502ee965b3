#!/usr/bin/env bash
# Time the README's test command on a fresh clone of this repository, install included.
# Usage: bash bench/test_time.sh [--cold]   (--cold: bypass pip's cache, as on a brand-new machine)
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d)
git clone -q "$repo" "$work/ddpm_nb"
[ "${1:-}" = "--cold" ] && export PIP_NO_CACHE_DIR=1
cd "$work/ddpm_nb"
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(python3 --version)"
start=$(date +%s)
bash .ci/run 2>&1 | grep -E '^(PASS|FAIL|environment ready|total time|[0-9]+ passed)'
echo "wall time $(( $(date +%s) - start )) s"
rm -rf "$work"
