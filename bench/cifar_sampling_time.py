#!/usr/bin/env python3
"""How long DDIM with 50 steps takes for the paper's CIFAR-10 network on this machine (random weights: the time does not
depend on them), at the batch sizes chapters 04b (16 samples) and 07 (8) sample the released model with.

    OMP_NUM_THREADS=2 python bench/cifar_sampling_time.py
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import torch, time
from ddpm_nb.unet import UNet, TF_CONVENTIONS
from ddpm_nb.speed import make_fast
net = make_fast(UNet.from_preset('cifar10', dropout=0.0, **TF_CONVENTIONS)).eval()
for b in (8, 16):
    x = torch.randn(b, 3, 32, 32); t = torch.full((b,), 500)
    with torch.no_grad():
        net(x, t); t0 = time.perf_counter()
        for _ in range(3): net(x, t)
    dt = (time.perf_counter() - t0) / 3
    print(f'batch {b}: {dt:.2f} s a step, 50 steps {50*dt:.0f} s', flush=True)
