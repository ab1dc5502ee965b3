#!/usr/bin/env python3
"""Where a forward pass of ddpm_nb's U-Net spends its time, by kind of layer, measured in place on the CPU.

    python bench/forward_breakdown.py                       # the paper's 32x32 model, batch 16, fp32
    python bench/forward_breakdown.py --preset mnist28 --batch 32
    python bench/forward_breakdown.py --amp bf16           # under CPU bf16 autocast

Hooks read the clock before and after every leaf layer of a training-mode forward pass (dropout on, no gradients).
CPU operations are synchronous, so each interval is that layer's own time; what blocks compute with functions rather
than layers (the ResNet blocks' SiLU, attention arithmetic, concatenations, residual adds) is reported as "between
layers". Convolution rates are FLOP (2 per
multiply-add) per second. The torch profiler is not used: on this machine it inflated small element-wise operations
several times over.
"""
import argparse, time
from collections import defaultdict
import torch
from torch import nn
from ddpm_nb.speed import FloatGroupNorm, MaskDropout, keep_freed_memory, make_fast
from ddpm_nb.unet import UNet, Upsample

def kind(m:nn.Module) -> str:
    if isinstance(m, Upsample): return 'Upsample (folded 4x4 transposed)'
    if isinstance(m, nn.Conv2d): return f'conv {m.kernel_size[0]}x{m.kernel_size[1]}, stride {m.stride[0]}'
    return type(m).__name__

def flop(m:nn.Module, x, y) -> int:
    if isinstance(m, Upsample): return 2 * x.numel() * m.conv.out_channels * 16          # 4x4 taps per input pixel
    if isinstance(m, nn.Conv2d): return 2 * y.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
    return 0

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='cifar10'); p.add_argument('--batch', type=int, default=16)
    p.add_argument('--passes', type=int, default=5); p.add_argument('--amp', choices=('fp32', 'bf16'), default='fp32')
    a = p.parse_args()
    keep_freed_memory(); torch.manual_seed(0)
    model = make_fast(UNet.from_preset(a.preset)).train()
    c = model.config
    x, t = torch.randn(a.batch, c.in_channels, c.image_size, c.image_size), torch.randint(0, 1000, (a.batch,))
    inner = {id(m.conv) for m in model.modules() if isinstance(m, Upsample)}     # Upsample calls no child module
    leaves = [m for m in model.modules() if id(m) not in inner and
              isinstance(m, (nn.Conv2d, FloatGroupNorm, nn.Linear, nn.SiLU, MaskDropout, Upsample))]
    seconds, flops, start = defaultdict(float), defaultdict(int), {}
    def before(m, inp): start[id(m)] = time.perf_counter()
    def after(m, inp, out):
        seconds[kind(m)] += time.perf_counter() - start[id(m)]; flops[kind(m)] += flop(m, inp[0], out)
    for m in leaves: m.register_forward_pre_hook(before); m.register_forward_hook(after)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.amp == 'bf16'):
        for _ in range(2): model(x, t)                                            # warm-up
        seconds.clear(); flops.clear()
        t0 = time.perf_counter()
        for _ in range(a.passes): model(x, t)
        total = (time.perf_counter() - t0) / a.passes
    print(f'{a.preset}, batch {a.batch}, {a.amp}, {torch.get_num_threads()} threads: forward pass {total * 1000:.0f} ms, '
          f'{sum(flops.values()) / a.passes / total / 1e9:.0f} GFLOP/s overall')
    for k, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        rate = f'{flops[k] / s / 1e9:6.0f} GFLOP/s' if flops[k] else ''
        print(f'  {k:34s} {s / a.passes * 1000:7.1f} ms {s / a.passes / total:6.1%}  {rate}')
    rest = total - sum(seconds.values()) / a.passes
    print(f'  {"between layers":34s} {rest * 1000:7.1f} ms {rest / total:6.1%}')

if __name__ == '__main__': main()
