#!/usr/bin/env python3
"""Seconds per training step of the quick-start model (QUICKSTART's U-Net, batch 64, v + min-SNR-5, AdamW) on the CPU.

    python bench/quickstart_step.py [--steps 10]          # torch's default threads
    OMP_NUM_THREADS=1 python bench/quickstart_step.py     # one thread

One untimed step, then `--steps` timed ones on one batch held in memory; prints wall and CPU seconds per step."""
import argparse, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.quickstart import QUICKSTART
from ddpm_nb.unet import UNet
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.diffusion import diffusion_loss

p = argparse.ArgumentParser(description=__doc__); p.add_argument('--steps', type=int, default=10); a = p.parse_args()
m = dict(QUICKSTART['model']); net = UNet.from_preset(m.pop('preset'), **m)
s = NoiseSchedule.from_name('linear', 1000); opt = torch.optim.AdamW(net.parameters(), QUICKSTART['train']['lr'])
x = torch.rand(64, 1, 28, 28) * 2 - 1; y = torch.randint(0, 10, (64,))
def step():
    loss = diffusion_loss(net, s, x, y=y, target=QUICKSTART['train']['target'], min_snr_gamma=QUICKSTART['train']['min_snr_gamma'])
    opt.zero_grad(); loss.backward(); opt.step()
step()
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(a.steps): step()
print(f'{torch.get_num_threads()} thread(s): {(time.perf_counter() - t0) / a.steps:.2f} s per step (wall), '
      f'{(time.process_time() - c0) / a.steps:.2f} s (CPU)')
