#!/usr/bin/env python3
"""A/B of one implementation choice of ddpm_nb's U-Net: whole training steps, the two variants alternating in one process.

    python bench/ab_step.py upsample                        # paper's 32x32 model, fp32, batch 16, 10 rounds
    python bench/ab_step.py upsample --batch 64 --rounds 5
    python bench/ab_step.py upsample --amp bf16
    python bench/ab_step.py groupnorm --amp bf16 --rounds 6 # FloatGroupNorm against torch's bf16 GroupNorm
    python bench/ab_step.py upsample --layer                # the upsampling layers alone, at the preset's shapes
    python bench/ab_step.py dropout --amp bf16              # the CPU dropout mask: rand_like against keep_mask

Changes (each pair computes the same function, or for dropout draws from the same distribution; chapter 04 checks it):
- upsample:  Ho et al.'s layer as written (nearest upsampling, then a 3x3 convolution) against ddpm_nb's Upsample
             (one stride-2 transposed convolution with the folded 4x4 kernel).
- groupnorm: torch's GroupNorm on the activations' own dtype against ddpm_nb's FloatGroupNorm (float32 inside);
             the two differ only under --amp bf16.
- dropout:   a mask from rand_like (ddpm_nb's MaskDropout until 2026-11-23) against keep_mask's 16-bit slices of random
             64-bit words. These two draw different masks from the same distribution.

A training step is forward, MSE, backward and an AdamW step, in train mode. The variants alternate step by step, so
drift in a shared machine's speed hits both alike; reported are medians. Freed memory is kept, as ddpm_nb's train does on
the CPU.
"""
import argparse, statistics, time
import torch, torch.nn.functional as F
from torch import nn
from ddpm_nb.speed import FloatGroupNorm, FoldedUpsample, MaskDropout, keep_freed_memory, make_fast
from ddpm_nb.unet import UNet, Upsample

def dropout_rand_like(self, x):
    if not self.training or self.p == 0: return x
    return x * torch.rand_like(x).ge_(self.p).mul_(1 / (1 - self.p))

# change -> (the class whose forward is swapped, {variant name: forward}), the baseline first
CHANGES = {
    'upsample': (FoldedUpsample, {'nearest + 3x3 conv': Upsample.forward, 'folded transposed conv': FoldedUpsample.forward}),
    'dropout': (MaskDropout, {'rand_like mask': dropout_rand_like, 'keep_mask (16-bit words)': MaskDropout.forward}),
    'groupnorm': (FloatGroupNorm, {'torch GroupNorm': nn.GroupNorm.forward, 'FloatGroupNorm (float32)': FloatGroupNorm.forward}),
}

def median_times(variants:dict, run, rounds:int) -> dict:
    "Median seconds of run(variant) for each variant, alternating them round by round after one warm-up each."
    times = {k: [] for k in variants}
    for f in variants.values(): run(f)
    for _ in range(rounds):
        for k, f in variants.items():
            t0 = time.perf_counter(); run(f); times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}

def report(medians:dict, batch:int, what:str):
    base = next(iter(medians.values()))
    for k, m in medians.items():
        print(f'{k:26s} {what} {m * 1000:8.1f} ms  {batch / m:7.1f} img/s  speed-up {base / m:.3f}x')

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('change', choices=CHANGES)
    p.add_argument('--preset', default='cifar10'); p.add_argument('--batch', type=int, default=16)
    p.add_argument('--rounds', type=int, default=10); p.add_argument('--amp', choices=('fp32', 'bf16'), default='fp32')
    p.add_argument('--layer', action='store_true', help='time each upsampling layer alone (forward + backward)')
    a = p.parse_args()
    keep_freed_memory()
    torch.manual_seed(0)
    cls, variants = CHANGES[a.change]
    original = cls.forward
    model = make_fast(UNet.from_preset(a.preset))          # as train() runs it; one layer's forward is swapped below
    c = model.config
    bf16 = a.amp == 'bf16'
    print(f'{a.preset}, batch {a.batch}, {a.amp}, {a.rounds} rounds, torch {torch.__version__}, {torch.get_num_threads()} threads')
    try:
        if a.layer:
            if a.change != 'upsample': p.error('--layer is for the upsample change')
            res = c.image_size // 2 ** (c.levels - 1)
            for up in (m for m in model.up if isinstance(m, Upsample)):
                ch = up.conv.in_channels
                x = torch.randn(a.batch, ch, res, res).contiguous(memory_format=torch.channels_last).requires_grad_()
                def run(f):
                    cls.forward = f
                    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): y = up(x)
                    y.float().square().mean().backward()
                print(f'-- {ch} channels, {res}x{res} -> {2 * res}x{2 * res}')
                report(median_times(variants, run, a.rounds), a.batch, 'fwd+bwd')
                res *= 2
            return
        x, t = torch.randn(a.batch, c.in_channels, c.image_size, c.image_size), torch.randint(0, 1000, (a.batch,))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        def step(f):
            cls.forward = f
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): loss = F.mse_loss(model(x, t).float(), x)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        report(median_times(variants, step, a.rounds), a.batch, 'step')
    finally: cls.forward = original

if __name__ == '__main__': main()
