#!/usr/bin/env python3
"""The ddpm_nb test command: `python3 tools/run_tests.py`.

On a machine with only Python >= 3.10 and git it creates `.venv/`, installs the package with its
development requirements, and then:
  1. checks that README.md is in sync with nbs/index.ipynb (tools/readme.py --check);
  2. checks that `nbdev_export` and `nbdev_clean` change no tracked file (package and notebooks in sync);
  3. checks that the installed package imports without nbdev, from a wheel built from the repository;
  4. checks every notebook with tools/check_notebooks.py (no history in the prose, every output fresh from its cell's
     current source, a stated run time within the 10-minute budget), after its own self-test;
  5. runs every notebook's tests once, with `nbdev_test --flags cuda --timing` as nbdev users run it: the `#| cuda`
     cells run too, and on a machine without a GPU each must skip itself (a learner's Run All does the same).
     Two workers with one thread each: beside other busy work torch's default threads measured 4.6-5.7x slower than
     one (bench/RESULTS.md, "Torch's CPU threads on a busy machine"), and each worker is such work for the other.
It ends with one line `N passed, M failed`, counting notebooks, and exits non-zero on any failure.

Options: --flags slow       also run cells flagged `#| slow`
         --no-install       reuse .venv as it is
         --workers N        nbdev_test workers (default 2); --threads T: torch threads per worker (default 1)
         NOTEBOOK ...       test only these notebooks (the checks still run)
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
            "assert not dev, f'the package imports development tools: {dev}'\n"
            "from ddpm_nb.quickstart import quickstart_model\n"
            "quickstart_model(device='cpu')   # the shipped quick-start model loads from the installed package\n")
    with tempfile.TemporaryDirectory() as tmp:
        r = run([PY, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps',
                 '--target', tmp, '.'], capture_output=True, text=True)
        if r.returncode: return [f'pip install of the repository failed:\n{r.stdout}{r.stderr}']
        r = run([PY, '-c', f'import sys; sys.path.insert(0, {tmp!r}); exec({code!r})', tmp],
                cwd=tmp, capture_output=True, text=True)
        if r.returncode: return [f'the installed package does not import cleanly:\n{r.stderr}']
    return []


def check_notebooks():
    problems = []
    if run([PY, 'tools/check_notebooks.py', '--self-test']).returncode:
        problems.append('tools/check_notebooks.py failed its self-test')
    if run([PY, 'tools/check_notebooks.py']).returncode:
        problems.append('tools/check_notebooks.py found problems in the notebooks: see the lines above')
    return problems


def nbdev_test(path, flags, workers, threads):
    "One `nbdev_test` over `path` (nbs/ when None); returns (name, passed) for each notebook it tested."
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [BIN / 'nbdev_test', '--flags', ' '.join(['cuda'] + flags), '--timing', '--n_workers', workers]
    if path is not None: cmd += ['--path', path]
    nbs = [path] if path is not None else sorted((ROOT / 'nbs').glob('[!_]*.ipynb'))
    start = time.time()
    r = run(cmd, env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)
    tail = r.stderr.split('Failed On The Following Notebooks:')
    failed = {l.strip() for l in tail[-1].splitlines()[2:] if l.strip()} if r.returncode and len(tail) > 1 else set()
    print(f'nbdev_test over {len(nbs)} notebook(s), {workers} worker(s) of {threads} thread(s): '
          f'{time.time() - start:.1f} s', flush=True)
    if r.returncode and not failed: return [(str(path or 'nbs/'), False)]   # it failed before naming a notebook
    return [(nb.name, nb.name not in failed) for nb in nbs]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('notebooks', nargs='*', type=Path, help='notebooks to test (default: all of nbs/)')
    p.add_argument('--flags', nargs='*', default=[], help='more test flags to enable, e.g. slow')
    p.add_argument('--no-install', action='store_true', help='reuse the existing .venv')
    p.add_argument('--workers', type=int, default=2, help='nbdev_test workers')
    p.add_argument('--threads', type=int, default=1, help='torch threads per worker')
    a = p.parse_args()
    if sys.version_info < (3, 10): sys.exit(f'ddpm_nb needs Python >= 3.10; this is {sys.version.split()[0]}')
    # Tests never download: make the Hugging Face libraries fail fast instead of retrying.
    os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
    t0 = time.time()
    if not a.no_install or not PY.exists(): install()
    print(f'environment ready in {time.time() - t0:.0f} s', flush=True)

    problems = check_export_clean() + check_readme() + check_installed_import() + check_notebooks()
    for msg in problems: print(f'FAIL  check: {msg}', flush=True)
    if not problems: print('PASS  checks: README in sync, export/clean idempotent, package imports without nbdev, '
                           'notebooks fresh and free of history')

    paths = [n.resolve() for n in a.notebooks] or [None]
    results = [res for path in paths for res in nbdev_test(path, a.flags, a.workers, a.threads)]
    passed = sum(ok for _, ok in results)
    for name, ok in results:
        if not ok: print(f'FAIL  {name}')
    print(f'total time {time.time() - t0:.0f} s')
    if problems: print(f'{len(problems)} repository check(s) failed: see the FAIL lines above')
    print(f'{passed} passed, {len(results) - passed} failed')
    sys.exit(0 if passed == len(results) and not problems else 1)


if __name__ == '__main__': main()
