#!/usr/bin/env python3
"""bf16 CPU training step of the paper's 32x32 U-Net with ddpm_nb's FloatGroupNorm against torch's own GroupNorm.

    python bench/groupnorm_bf16.py                      # batch 16, 10 rounds
    python bench/groupnorm_bf16.py --batch 64 --rounds 3

Both variants compute the same numbers (chapter 04 checks it), so they differ only in speed. They alternate step by step
in one process, so that drift in the machine's speed hits both alike; reported are median step times.
"""
import argparse, statistics, time
import torch, torch.nn.functional as F
from torch import nn
from ddpm_nb.unet import FloatGroupNorm, UNet, keep_freed_memory

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--batch', type=int, default=16); p.add_argument('--rounds', type=int, default=10)
    a = p.parse_args()
    keep_freed_memory()                                   # as ddpm_nb's train does on the CPU
    torch.manual_seed(0)
    model = UNet.from_preset('cifar10')
    x, t = torch.randn(a.batch, 3, 32, 32), torch.randint(0, 1000, (a.batch,))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    variants = {'torch GroupNorm (bf16)': nn.GroupNorm.forward, 'FloatGroupNorm (float32)': FloatGroupNorm.forward}
    def step(forward):
        FloatGroupNorm.forward = forward                  # every norm of the model is a FloatGroupNorm
        with torch.autocast('cpu', dtype=torch.bfloat16): loss = F.mse_loss(model(x, t).float(), x)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    times = {k: [] for k in variants}
    for f in variants.values(): step(f)                   # warm-up
    for _ in range(a.rounds):
        for k, f in variants.items():
            t0 = time.perf_counter(); step(f); times[k].append(time.perf_counter() - t0)
    base = statistics.median(times['torch GroupNorm (bf16)'])
    for k, v in times.items():
        m = statistics.median(v)
        print(f'{k:26s} step {m:.3f} s  {a.batch / m:5.1f} img/s  speed-up {base / m:.3f}x')

if __name__ == '__main__': main()
