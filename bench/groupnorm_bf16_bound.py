"""How far FloatGroupNorm (float32 inside) is from torch's bf16 GroupNorm under CPU autocast, over many random weights.

Chapter 12 asserts |ours - theirs| <= 2^-6 (|y| + |w x_hat|) on 100 inputs with whatever weights the global generator
gives. This script checks the bound's margin over `--seeds` seeds of weights and inputs (100 inputs each) and prints the
largest ratio |ours - theirs| / (|y| + |w x_hat|), to compare with one bf16 step (2^-7), and the largest share of
differing entries. Usage: python bench/groupnorm_bf16_bound.py [--seeds 30]
"""
import argparse
import torch
import torch.nn.functional as F
from torch import nn
from ddpm_nb.speed import FloatGroupNorm

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--seeds', type=int, default=30)
    a = p.parse_args()
    worst, worst_frac = 0.0, 0.0
    for seed in range(a.seeds):
        torch.manual_seed(seed)
        with torch.no_grad():
            gn, ref = FloatGroupNorm(32, 64), nn.GroupNorm(32, 64)
            gn.weight.normal_(); gn.bias.normal_(); ref.load_state_dict(gn.state_dict())
            with torch.autocast('cpu', dtype=torch.bfloat16):
                g = torch.Generator().manual_seed(seed)
                for _ in range(100):
                    xb = torch.randn(2, 64, 8, 8, generator=g).bfloat16()
                    ours, theirs = gn(xb).float(), ref(xb).float()
                    scale = theirs.abs() + (gn.weight.view(1, -1, 1, 1) * F.group_norm(xb.float(), 32)).abs()
                    worst = max(worst, ((ours - theirs).abs() / scale).max().item())
                    worst_frac = max(worst_frac, (ours != theirs).float().mean().item())
    print(f'{a.seeds} seeds x 100 inputs: largest |ours - theirs| / (|y| + |w x_hat|) = {worst:.5f} '
          f'({worst / 2**-7:.2f} bf16 steps of 2^-7; the chapter allows 2); largest share of differing entries {worst_frac:.2e}')

if __name__ == '__main__': main()
