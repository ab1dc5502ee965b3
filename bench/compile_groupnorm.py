#!/usr/bin/env python3
"""Why torch.compile slows ddpm_nb's U-Net down on the CPU: its GroupNorm layers, eager against compiled, one by one.

    python bench/compile_groupnorm.py                      # the paper's 32x32 model, batch 16, channels-last, fp32
    python bench/compile_groupnorm.py --contiguous         # the same layers in the contiguous layout

A forward hook records the input shape of every GroupNorm in one forward pass of the preset; each distinct shape is
then timed forward and backward, eager and compiled (inductor), and the times are summed over the layers that have it.
"""
import argparse, statistics, time
from collections import Counter
import torch
from ddpm_nb.unet import FloatGroupNorm, UNet, group_norm

def norm_shapes(preset:str) -> Counter:
    "(channels, height, width) of the input of every GroupNorm in one forward pass of the preset, with counts."
    m, seen = UNet.from_preset(preset).train(), []
    for mod in m.modules():
        if isinstance(mod, FloatGroupNorm): mod.register_forward_hook(lambda mod, i, o: seen.append(tuple(i[0].shape[1:])))
    c = m.config
    with torch.no_grad(): m(torch.randn(1, c.in_channels, c.image_size, c.image_size), torch.tensor([0]))
    return Counter(seen)

def median_time(f, n:int) -> float:
    for _ in range(3): f()                 # warm up (and compile)
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='cifar10'); p.add_argument('--batch', type=int, default=16)
    p.add_argument('--contiguous', action='store_true'); p.add_argument('--reps', type=int, default=15)
    a = p.parse_args()
    fmt = torch.contiguous_format if a.contiguous else torch.channels_last
    torch.manual_seed(0); total = Counter()
    print(f'{a.preset}, batch {a.batch}, {"contiguous" if a.contiguous else "channels-last"}, {torch.get_num_threads()} threads')
    for (C, H, W), k in sorted(norm_shapes(a.preset).items()):
        norm = group_norm(C).to(memory_format=fmt)
        x = torch.randn(a.batch, C, H, W).to(memory_format=fmt).requires_grad_()
        compiled = torch.compile(norm, dynamic=False)
        def step(m): m(x).sum().backward()
        e, c = median_time(lambda: step(norm), a.reps), median_time(lambda: step(compiled), a.reps)
        total['eager'] += k * e; total['compiled'] += k * c
        print(f'{C:4d} ch {H:3d}x{W:<3d} x{k:2d}: eager {e * 1e3:6.1f} ms, compiled {c * 1e3:6.1f} ms ({c / e:.1f}x)', flush=True)
    print(f"all {sum(norm_shapes(a.preset).values())} GroupNorms, forward and backward: eager {total['eager'] * 1e3:.0f} ms, "
          f"compiled {total['compiled'] * 1e3:.0f} ms per step")

if __name__ == '__main__': main()
