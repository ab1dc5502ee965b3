#!/usr/bin/env python3
"""Why torch.compile slows ddpm_nb's U-Net down on the CPU: its GroupNorm layers, eager against compiled, one by one.

    python bench/compile_groupnorm.py                      # the paper's 32x32 model, batch 16, channels-last, fp32
    python bench/compile_groupnorm.py --contiguous         # the same layers in the contiguous layout

A forward hook records the input shape of every GroupNorm in one forward pass of the preset; each distinct shape is
then timed forward and backward, eager and compiled (inductor) alternating (ab_step.py's median_times), and the times are
summed over the layers that have it.
"""
import argparse
from collections import Counter
import torch
from ab_step import median_times
from ddpm_nb.speed import FloatGroupNorm, make_fast
from ddpm_nb.unet import UNet, group_norm

def norm_shapes(preset:str) -> Counter:
    "(channels, height, width) of the input of every GroupNorm in one forward pass of the preset, with counts."
    m, seen = make_fast(UNet.from_preset(preset)).train(), []
    for mod in m.modules():
        if isinstance(mod, FloatGroupNorm): mod.register_forward_hook(lambda mod, i, o: seen.append(tuple(i[0].shape[1:])))
    c = m.config
    with torch.no_grad(): m(torch.randn(1, c.in_channels, c.image_size, c.image_size), torch.tensor([0]))
    return Counter(seen)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='cifar10'); p.add_argument('--batch', type=int, default=16)
    p.add_argument('--contiguous', action='store_true'); p.add_argument('--reps', type=int, default=15)
    a = p.parse_args()
    fmt = torch.contiguous_format if a.contiguous else torch.channels_last
    torch.manual_seed(0); total, shapes = Counter(), norm_shapes(a.preset)
    print(f'{a.preset}, batch {a.batch}, {"contiguous" if a.contiguous else "channels-last"}, {torch.get_num_threads()} threads')
    for (C, H, W), k in sorted(shapes.items()):
        norm = make_fast(group_norm(C)).to(memory_format=fmt)   # FloatGroupNorm, as in the fast network
        x = torch.randn(a.batch, C, H, W).to(memory_format=fmt).requires_grad_()
        def step(m): m(x).sum().backward()            # the first call of the compiled layer compiles (a warm-up call)
        t = median_times({'eager': norm, 'compiled': torch.compile(norm, dynamic=False)}, step, a.reps)
        for kind in t: total[kind] += k * t[kind]
        print(f"{C:4d} ch {H:3d}x{W:<3d} x{k:2d}: eager {t['eager'] * 1e3:6.1f} ms, compiled {t['compiled'] * 1e3:6.1f} ms "
              f"({t['compiled'] / t['eager']:.1f}x)", flush=True)
    print(f"all {sum(shapes.values())} GroupNorms, forward and backward: eager {total['eager'] * 1e3:.0f} ms, "
          f"compiled {total['compiled'] * 1e3:.0f} ms per step")

if __name__ == '__main__': main()
