#!/usr/bin/env python3
"""Run notebooks top to bottom and save them with their outputs, so GitHub, Colab and the docs show the pictures.

`python tools/execute.py nbs/01_forward_process.ipynb ...` (inside the dev environment). Cells flagged
with a test flag (`#| slow`, `#| cuda`) are skipped unless named with --flags, exactly as `nbdev_test`
does; figures are saved as plain PNG (not retina) to keep notebooks small. Run `nbdev_clean` afterwards.

A failing cell stops the run and leaves the notebook as it was; the outputs up to the failure are written to
`<tmp>/<name>.failed.ipynb`, so the numbers behind a failed assert can be read.

`--cells 4 5 6 11 14` runs only those cells (indices into the notebook's cells, markdown included) and keeps every other
cell's stored outputs: for refreshing a few cells of a long chapter. List the cells they depend on too."""
import argparse, sys, tempfile, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config


class Shell(CaptureShell):
    "execnb's shell, except that a cell ending in ';' keeps what it prints: like Jupyter, the ';' hides only the value."
    def _run(self, raw_cell, *args, **kwargs):
        code = raw_cell.rstrip()
        if code.endswith(';'): raw_cell = code[:-1] + '\nNone'   # execnb would drop the cell's stdout; a final None shows nothing
        return super()._run(raw_cell, *args, **kwargs)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('notebooks', nargs='+', type=Path)
    p.add_argument('--flags', nargs='*', default=[])
    p.add_argument('--cells', nargs='*', type=int, default=None, help='run only these cells; the others keep their outputs')
    a = p.parse_args()
    skip = set(get_config().tst_flags.split()) - set(a.flags)

    def no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
        if a.cells is not None and cell.idx_ not in a.cells: return True   # keeps its stored outputs
        if any(l.replace(' ', '') == '#|eval:false' for l in cell.source.splitlines()): return True   # as nbdev_test does
        flags = {l[2:].strip().split()[0] for l in cell.source.splitlines() if l.startswith('#|') and l[2:].strip()}
        if flags & skip: cell.outputs = []; return True
        return False

    for path in a.notebooks:
        start = time.time()
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
        write_nb(nb, path)
        print(f'{path}: executed in {time.time() - start:.1f} s, {path.stat().st_size / 1e6:.2f} MB')


if __name__ == '__main__': main()
