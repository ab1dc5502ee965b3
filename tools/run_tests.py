#!/usr/bin/env python3
"""The ddpm_nb test command: `python3 tools/run_tests.py`.

On a machine with only Python >= 3.10 and git it creates `.venv/`, installs the package with its
development requirements, and then:
  1. checks that README.md is in sync with nbs/index.ipynb (tools/readme.py --check);
  2. checks that `nbdev_export` and `nbdev_clean` change no tracked file (package and notebooks in sync);
  3. checks that the installed package imports without nbdev, from a wheel built from the repository;
  4. runs every notebook's tests with plain `nbdev_test`, all in one command as nbdev users run it (several notebooks share
     a worker process, so a notebook that leaves global state behind breaks the ones after it);
  5. runs them again one notebook per process, timing each (a failure here and not in 4, or the reverse, points at
     state shared between notebooks).
It ends with one line `N passed, M failed`, counting the notebook runs of 5 and the combined run of 4, and exits
non-zero on any failure.

Options: --flags slow cuda   also run cells flagged `#| slow` / `#| cuda`
         --no-install        reuse .venv as it is
         --no-combined       skip step 4 (quicker while editing one notebook)
         NOTEBOOK ...        test only these notebooks (the checks still run)
"""
import argparse, hashlib, os, subprocess, sys, tempfile, time, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / '.venv'
BIN = VENV / ('Scripts' if os.name == 'nt' else 'bin')
PY = BIN / ('python.exe' if os.name == 'nt' else 'python')


def run(cmd, **kw):
    "Run `cmd` in the repository root; return the CompletedProcess."
    return subprocess.run([str(c) for c in cmd], cwd=kw.pop('cwd', ROOT), **kw)


def install():
    if not PY.exists():
        print(f'creating the environment {VENV.relative_to(ROOT)}/', flush=True)
        venv.create(VENV, with_pip=True)
    print('installing ddpm_nb with its dev requirements (pip install -e ".[dev]")', flush=True)
    r = run([PY, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-e', '.[dev]'])
    if r.returncode: sys.exit('pip install failed: see the messages above')


def tracked_files():
    r = run(['git', 'ls-files', '-z'], capture_output=True)
    if r.returncode: return None  # not a git checkout: nothing to compare against
    return [ROOT / p for p in r.stdout.decode().split('\0') if p]


def digest(files): return {f: hashlib.sha1(f.read_bytes()).hexdigest() if f.exists() else None for f in files}


def check_readme():
    r = run([PY, 'tools/readme.py', '--check'])
    return [] if r.returncode == 0 else ['README.md is out of sync with nbs/index.ipynb: run `python tools/readme.py`']


def check_export_clean():
    files = tracked_files()
    if files is None: return []
    before = digest(files)
    for tool in ('nbdev_export', 'nbdev_clean'):
        r = run([BIN / tool])
        if r.returncode: return [f'{tool} failed']
    changed = [str(f.relative_to(ROOT)) for f, h in digest(files).items() if h != before[f]]
    return [f'nbdev_export/nbdev_clean changed tracked files: {", ".join(changed)} '
            '(export and clean the notebooks, then commit)'] if changed else []


def check_installed_import():
    "Build a wheel of the repository, install it without dependencies into a scratch folder, import from there."
    code = ("import sys, ddpm_nb, ddpm_nb.diffusion, ddpm_nb.schedules, ddpm_nb.viz, ddpm_nb.unet, ddpm_nb.data, ddpm_nb.training, ddpm_nb.sampling, ddpm_nb.metrics, ddpm_nb.devices, ddpm_nb.cli\n"
            "assert ddpm_nb.__file__.startswith(sys.argv[1]), ddpm_nb.__file__\n"
            "dev = sorted(m for m in sys.modules if m.split('.')[0] in ('nbdev', 'execnb', 'fastcore'))\n"
            "assert not dev, f'the package imports development tools: {dev}'\n")
    with tempfile.TemporaryDirectory() as tmp:
        r = run([PY, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps',
                 '--target', tmp, '.'], capture_output=True, text=True)
        if r.returncode: return [f'pip install of the repository failed:\n{r.stdout}{r.stderr}']
        r = run([PY, '-c', f'import sys; sys.path.insert(0, {tmp!r}); exec({code!r})', tmp],
                cwd=tmp, capture_output=True, text=True)
        if r.returncode: return [f'the installed package does not import cleanly:\n{r.stderr}']
    return []


def test_combined(flags):
    "Plain `nbdev_test` over nbs/, with nbdev's default number of workers."
    start = time.time()
    r = run([BIN / 'nbdev_test'] + (['--flags', ' '.join(flags)] if flags else []))
    secs = time.time() - start
    print(f'{"PASS" if r.returncode == 0 else "FAIL"}  nbdev_test over all notebooks, in one command  ({secs:.1f} s)', flush=True)
    return [('nbdev_test (all)', r.returncode == 0, secs)]


def test_notebooks(nbs, flags):
    results = []
    for nb in nbs:
        cmd = [BIN / 'nbdev_test', '--path', nb] + (['--flags', ' '.join(flags)] if flags else [])
        start = time.time()
        r = run(cmd)
        secs = time.time() - start
        results.append((nb, r.returncode == 0, secs))
        print(f'{"PASS" if r.returncode == 0 else "FAIL"}  {nb.relative_to(ROOT)}  ({secs:.1f} s)', flush=True)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('notebooks', nargs='*', type=Path, help='notebooks to test (default: all of nbs/)')
    p.add_argument('--flags', nargs='*', default=[], help='test flags to enable, e.g. slow cuda')
    p.add_argument('--no-install', action='store_true', help='reuse the existing .venv')
    p.add_argument('--no-combined', action='store_true', help='skip the run of nbdev_test over all notebooks in one command')
    a = p.parse_args()
    if sys.version_info < (3, 10): sys.exit(f'ddpm_nb needs Python >= 3.10; this is {sys.version.split()[0]}')
    # Tests never download: make the Hugging Face libraries fail fast instead of retrying.
    os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
    t0 = time.time()
    if not a.no_install or not PY.exists(): install()
    print(f'environment ready in {time.time() - t0:.0f} s', flush=True)

    problems = check_export_clean() + check_readme() + check_installed_import()
    for msg in problems: print(f'FAIL  check: {msg}', flush=True)
    if not problems: print('PASS  checks: README in sync, export/clean idempotent, package imports without nbdev')

    nbs = [n.resolve() for n in a.notebooks] or sorted((ROOT / 'nbs').glob('[!_]*.ipynb'))
    results = ([] if a.no_combined or a.notebooks else test_combined(a.flags)) + test_notebooks(nbs, a.flags)
    passed = sum(ok for _, ok, _ in results)
    print(f'total time {time.time() - t0:.0f} s')
    if problems: print(f'{len(problems)} repository check(s) failed: see the FAIL lines above')
    print(f'{passed} passed, {len(results) - passed} failed')
    sys.exit(0 if passed == len(results) and not problems else 1)


if __name__ == '__main__': main()
