#!/usr/bin/env bash
# Rehearse bench/gpu_session.sh on a machine without a GPU, before spending device minutes on it (issue 17).
#     bash tools/rehearse_gpu_session.sh [PART ...]    (default: every part but `tests`, which runs the notebooks for real)
# Runs the session's parts with `python3` replaced by a shim: a Python command stops as soon as it has parsed its
# arguments (argparse), and a script that reads its own arguments runs until it asks for the GPU. So a script that does
# not import, an option it does not know or a missing file shows here, in seconds. Each command gets one line:
#   parsed        argparse accepted the arguments;
#   needs a GPU   it got as far as asking CUDA for a device (and stopped there, as it must on this machine);
#   FAILED        anything else, with the last line it printed.
# Exit status 1 if any command failed. Needs the dev environment (.venv, or PYTHON=...); installs nothing.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/site" "$work/out"
cat > "$work/site/sitecustomize.py" <<'EOF'
import argparse, os, sys
_parse = argparse.ArgumentParser.parse_args
def parse_args(self, *a, **k):
    _parse(self, *a, **k)                       # exits with status 2 and argparse's message on a bad option
    print('REHEARSAL: parsed', file=sys.stderr); sys.stderr.flush(); os._exit(0)
argparse.ArgumentParser.parse_args = parse_args
EOF
cat > "$work/bin/python3" <<EOF
#!/usr/bin/env bash
case "\$1" in -m|-c) mkdir -p /tmp/site/bin; exit 0 ;; esac      # pip's install of the wheels, the env.txt probe
err=\$(mktemp)
PYTHONPATH=$work/site:$PWD "$PY" "\$@" > /dev/null 2> "\$err"; rc=\$?
if [ \$rc = 0 ] && grep -q 'REHEARSAL: parsed' "\$err"; then what=parsed
elif grep -qiE 'no NVIDIA driver|Torch not compiled with CUDA|CUDA driver|no CUDA GPUs|cuda.*(not available|unavailable)' "\$err"; then what='needs a GPU'
else what="FAILED (exit \$rc): \$(grep -v '^\s*\$' "\$err" | tail -1 | cut -c1-200)"; fi
echo "\$what: \$*" >> "$work/rehearsal.log"; rm -f "\$err"
EOF
chmod +x "$work/bin/python3"
parts=${*:-speed check ab compile compile-lucidrains graphs probe grid}
OUT=$work/out PATH=$work/bin:$PATH bash bench/gpu_session.sh $parts > /dev/null 2>&1
[ -s "$work/rehearsal.log" ] || { echo 'rehearsal: no Python command ran'; exit 1; }
cat "$work/rehearsal.log"
n=$(wc -l < "$work/rehearsal.log"); bad=$(grep -c '^FAILED' "$work/rehearsal.log")
echo "rehearsal of bench/gpu_session.sh $parts: $n commands, $bad failed"
[ "$bad" = 0 ]
