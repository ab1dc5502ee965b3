#!/usr/bin/env python3
"""Run notebooks top to bottom, as a learner's "Run All" does, and save them with their outputs and a freshness stamp.

`python tools/execute.py nbs/01_forward_process.ipynb ...` (inside the dev environment). Every code cell runs, those
flagged `#| slow` and `#| cuda` included (a cuda cell checks for a GPU itself and says in one line what it skipped), and
`IN_TEST` is removed from the environment so the chapter runs at learner settings. Each executed code cell gets
`metadata.source_hash`, a hash of its source, which `nbdev_clean` keeps (`allowed_cell_metadata_keys` in settings.ini)
and `tools/check_notebooks.py` compares with the source: an output whose cell changed since is reported stale. A whole
run also records its wall time and its CPU time in the notebook's metadata (`run_seconds`, `cpu_seconds`); the checker
compares the smaller with the chapter's `**Run time:**` line (on a machine busy with other work the wall time grows, the
CPU time does not, and on an idle 2-core machine a run takes at most its CPU time). Figures are saved as plain PNG to keep notebooks small. Run `nbdev_clean` afterwards.

A failing cell stops the run and leaves the notebook as it was; the outputs up to the failure are written to
`<tmp>/<name>.failed.ipynb`, so the numbers behind a failed assert can be read.

`--cells 4 5 6 11 14` runs only those cells (indices into the notebook's cells, markdown included) and keeps every other
cell's stored outputs and stamps: for refreshing a few cells of a long chapter. List the cells they depend on too.
`--skip slow` skips cells with that flag (their outputs and stamps are cleared), for a quicker look while editing."""
import argparse, hashlib, os, resource, sys, tempfile, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory


def source_hash(source: str) -> str:
    "The stamp of a code cell: the first 16 hex digits of the SHA-256 of its source."
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class Shell(CaptureShell):
    "execnb's shell, except that a cell ending in ';' keeps what it prints: like Jupyter, the ';' hides only the value."
    def _run(self, raw_cell, *args, **kwargs):
        code = raw_cell.rstrip()
        if code.endswith(';'): raw_cell = code[:-1] + '\nNone'   # execnb would drop the cell's stdout; a final None shows nothing
        return super()._run(raw_cell, *args, **kwargs)


def _cpu_seconds():
    "User and system CPU seconds of this process and of the child processes it has waited for."
    return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ('ru_utime', 'ru_stime'))


def flags_of(source):
    return {l[2:].strip().split()[0] for l in source.splitlines() if l.startswith('#|') and l[2:].strip()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('notebooks', nargs='+', type=Path)
    p.add_argument('--skip', nargs='*', default=[], help='test flags whose cells are not run (default: run every cell)')
    p.add_argument('--cells', nargs='*', type=int, default=None, help='run only these cells; the others keep their outputs')
    a = p.parse_args()
    os.environ.pop('IN_TEST', None)   # learner settings, not the test's
    skip = set(a.skip)

    def no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
        if a.cells is not None and cell.idx_ not in a.cells: return True   # keeps its stored outputs and stamp
        if any(l.replace(' ', '') == '#|eval:false' for l in cell.source.splitlines()): return True   # as nbdev_test does
        if flags_of(cell.source) & skip:
            cell.outputs = []; cell.metadata.pop('source_hash', None); return True
        cell.outputs = []   # execnb keeps a cell's old outputs when it now shows nothing: a stale figure under a fresh stamp
        cell.metadata['source_hash'] = source_hash(cell.source)
        return False

    for path in a.notebooks:
        start, cpu0 = time.time(), _cpu_seconds()
        nb = read_nb(path)
        shell = Shell(path, mpl_format='png')
        shell._fname = path
        try:
            with working_directory(path.resolve().parent): shell.run_all(nb, exc_stop=True, preproc=no_eval)
        except Exception:
            sys.stderr.write(shell.prettytb(fname=path) + '\n')
            kept = Path(tempfile.gettempdir()) / f'{path.stem}.failed.ipynb'   # outside nbs/, where nbdev_test would find it
            write_nb(nb, kept)                          # the outputs up to the failure, to read the numbers behind it
            sys.exit(f'{path} failed: not saved; its outputs up to the failing cell are in {kept}')
        secs = time.time() - start
        cpu = _cpu_seconds() - cpu0
        if a.cells is None and not skip:   # a whole Run All, timed: wall clock, and CPU time (what a busy machine cannot inflate)
            nb.metadata['run_seconds'] = round(secs); nb.metadata['cpu_seconds'] = round(cpu)
        write_nb(nb, path)
        print(f'{path}: executed in {secs:.1f} s ({cpu:.1f} s of CPU), {path.stat().st_size / 1e6:.2f} MB')


if __name__ == '__main__': main()
