#!/usr/bin/env python3
"""The quick start: `python3 tools/quickstart.py`.

On a machine with only Python >= 3.10 and git it creates `.venv/` (shared with the test command), installs
ddpm_nb into it, trains a small class-conditional U-Net on the built-in digits for 17-19 minutes on a 2-core CPU
with `ddpm_nb train`, and draws a grid of samples (ten of each digit) and a GIF of the denoising path with
`ddpm_nb sample`. It prints each command it runs, so you can rerun or change them, and where the files are.
The package ships one such run (`quickstart_model()`, chapter 06b), copied from runs/quickstart by
`tools/ship_quickstart.py`, so the chapters that study this model need not train it.

Options: --steps N      optimizer steps (default 600: 17-19 minutes on 2 CPU cores, seconds on a GPU)
         --out DIR      run directory (default runs/quickstart; a rerun replaces the run there)
         --no-install   reuse .venv as it is
"""
import argparse, shlex, sys, time, venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_tests import BIN, PY, ROOT, VENV, run

# The recipe: chapter 06's tiny U-Net widened to three levels and a high learning rate with a short warm-up, because the
# run is short; an EMA decay that keeps the average short in longer runs (--steps over 1790); v-prediction with min-SNR-5
# weighting, the recipe search's winner (bench/RESULTS.md).
# Chapter 06b explains the recipe (QUICKSTART), chapter 07 samples from it, chapter 09 checks that this list and QUICKSTART agree.
RECIPE = ['--preset', 'tiny', '--channel-mults', '1,2,2', '--attn-res', '7', '--dropout', '0', '--batch-size', '64',
          '--lr', '1e-3', '--warmup-steps', '50', '--ema-decay', '0.995', '--target', 'v', '--min-snr-gamma', '5',
          '--ckpt-every', '300']


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--out', default='runs/quickstart')
    p.add_argument('--no-install', action='store_true')
    a = p.parse_args()
    if not a.no_install:
        if not PY.exists():
            print(f'creating the environment {VENV.relative_to(ROOT)}/', flush=True)
            venv.create(VENV, with_pip=True)
        print('installing ddpm_nb (pip install -e .; the first time this downloads PyTorch)', flush=True)
        if run([PY, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-e', '.']).returncode:
            sys.exit('pip install failed: see the messages above')
    out = Path(a.out)
    cli = BIN / 'ddpm_nb'
    steps = [[cli, 'train', '--train-steps', str(a.steps), *RECIPE, '--out', out, '--overwrite'],
             [cli, 'sample', out, '-n', '100', '--sampler', 'ddim', '--sample-steps', '50', '--eta', '1', '--out', out / 'samples.png',
              '--gif', out / 'denoising.gif']]
    t0 = time.time()
    for cmd in steps:
        print('\n$', shlex.join(str(c if c != cli else 'ddpm_nb') for c in cmd), flush=True)
        if run(cmd).returncode: sys.exit(f'quick start failed at: {cmd[1]}')
    print(f'\ndone in {time.time() - t0:.0f} s. Samples (one column per digit): {(ROOT / out / "samples.png")}\n'
          f'denoising path: {ROOT / out / "denoising.gif"}; checkpoints: {ROOT / out / "checkpoints"}\n'
          f'more samples: .venv/bin/ddpm_nb sample {out} --help')


if __name__ == '__main__': main()
