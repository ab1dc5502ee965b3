#!/usr/bin/env python3
"""Issue 17's candidate against the bytes around GroupNorm on CUDA (bench/RESULTS.md, "A roofline for the GPU step"):
GroupNorm, the block's scale-shift and SiLU as one operation that reads channels-last bf16 where it lies, with its
statistics in float32. Bench-only until a GPU has measured it.

    y = silu(u),  u = (xhat * w + b) * (1 + s) + sh,  xhat = (x - mean_g) * rstd_g

Every step folds into one affine map per (sample, channel), u = x * A + B, so a pass over x needs only A and B:
- forward: per-tile moments of x (one read), then A, B and the group statistics (tiny), then y (one read, one write);
- backward: per-tile sums of du and du * xhat (one read of x and dy), then per-(sample, channel) coefficients (tiny),
  then dx = du * P + x * Q + R (one more read of x and dy, one write). u is recomputed from x; nothing else is saved.
For a bf16 activation that is 16 bytes per entry, forward and backward, where `FloatGroupNorm` alone moves 44 (chapter
12) before CUDA's layout copies around it, the scale-shift and SiLU. On CUDA the passes are Triton
kernels; on the CPU the same algorithm runs in torch, or, with TRITON_INTERPRET=1, the Triton kernels themselves run in
Triton's interpreter, which is how `--check` tests them without a GPU.

    python bench/fused_groupnorm.py --check      # kernels (interpreted) and the torch path against autograd of torch's own ops
    python bench/fused_groupnorm.py --check --full            # also the mnist28 and CIFAR-10 networks (minutes more)
    python bench/fused_groupnorm.py --check --device cuda     # the compiled kernels on a GPU (fewer cases: each compiles)
    python bench/fused_groupnorm.py --check --compile         # also torch.compile(fullgraph=True) through the op
    python bench/fused_groupnorm.py --bench --device cuda     # the op alone: time and effective bandwidth per tile size
    python bench/fused_groupnorm.py --offline [--arch 90]     # no GPU: every kernel the networks launch, through Triton's
                                                              # real compiler for an H100 (sm_90): registers, spills, shared memory
"""
import os, sys
from pathlib import Path
ON_CUDA = '--device' in sys.argv and sys.argv[sys.argv.index('--device') + 1:][:1] == ['cuda']
if __name__ == '__main__' and '--check' in sys.argv and not ON_CUDA:   # before triton is imported: on CUDA the check is of
    os.environ.setdefault('TRITON_INTERPRET', '1')                      # the compiled kernels, never the interpreter
from typing import Optional
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

try:
    import triton
    import triton.language as tl
except ImportError: triton = None

INTERPRET = os.environ.get('TRITON_INTERPRET') == '1'
OFFLINE = False                    # set by compile_offline: CPU tensors go through the kernels' launches, which only compile
TILE, WARPS = 4096, 8              # elements of x per program (BLOCK_P pixels x BLOCK_C channels), and its warps

def use_triton(x: Tensor) -> bool: return triton is not None and (x.is_cuda or INTERPRET or OFFLINE)

if triton is not None:
    @triton.jit
    def gn_tile(HW, C, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
        "This program's sample n and pixel tile k; the tile's pixels p, channels c, and which of them exist."
        n, k = tl.program_id(0), tl.program_id(1)
        p, c = k * BLOCK_P + tl.arange(0, BLOCK_P), tl.arange(0, BLOCK_C)
        return n, k, p, c, (p < HW)[:, None] & (c < C)[None, :]

    @triton.jit
    def gn_row(t, n, C, c):
        "A per-(sample, channel) float32 tensor's row for sample n, as a row of the tile."
        return tl.load(t + n * C + c, mask=c < C, other=0.0)[None, :]

    @triton.jit
    def gn_group(part, n, g, K, CG, C, K_PAD: tl.constexpr, CG_PAD: tl.constexpr):
        "Group g's channels c (and which exist), and the two per-tile sums part[n, :, 0] and part[n, :, 1] over them."
        k, j = tl.arange(0, K_PAD), tl.arange(0, CG_PAD)
        c, cm = g * CG + j, j < CG
        mask = (k < K)[:, None] & cm[None, :]
        at = part + (n * K + k[:, None]) * 2 * C + c[None, :]
        return k, c, cm, mask, tl.load(at, mask=mask, other=0.0), tl.load(at + C, mask=mask, other=0.0)

    @triton.jit
    def gn_moments(x, part, HW, C, sxn, sxc, sxp, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
        "Per (sample n, pixel tile k, channel c): the tile's mean and sum of squared deviations, into part[n, k, 0:2, c]."
        n, k, p, c, mask = gn_tile(HW, C, BLOCK_P, BLOCK_C)
        v = tl.load(x + n * sxn + p[:, None] * sxp + c[None, :] * sxc, mask=mask, other=0.0).to(tl.float32)
        mean = tl.sum(v, axis=0) / tl.minimum(HW - k * BLOCK_P, BLOCK_P).to(tl.float32)
        d = tl.where(mask, v - mean[None, :], 0.0)
        out = part + (n * tl.num_programs(1) + k) * 2 * C + c
        tl.store(out, mean, mask=c < C)
        tl.store(out + C, tl.sum(d * d, axis=0), mask=c < C)

    @triton.jit
    def gn_affine(part, w, b, s, sh, A, B, mean_g, rstd_g, HW, C, K, CG, ssn, shn, eps,
                  HAS_SS: tl.constexpr, BLOCK_P: tl.constexpr, K_PAD: tl.constexpr, CG_PAD: tl.constexpr):
        "Per (sample n, group g): combine the tiles' moments (Chan et al.), then A and B for the group's channels."
        n, g = tl.program_id(0), tl.program_id(1)
        k, c, cm, mask, m, m2 = gn_group(part, n, g, K, CG, C, K_PAD, CG_PAD)
        count = tl.where(k < K, tl.minimum(HW - k * BLOCK_P, BLOCK_P), 0).to(tl.float32)[:, None]
        total = HW * CG * 1.0           # HW or CG may arrive as the constant 1
        mean = tl.sum(tl.sum(m * count, axis=1), axis=0) / total
        dev = tl.where(mask, m - mean, 0.0)
        var = (tl.sum(tl.sum(m2, axis=1), axis=0) + tl.sum(tl.sum(count * dev * dev, axis=1), axis=0)) / total
        rstd = 1.0 / tl.sqrt(var + eps)
        wv = tl.load(w + c, mask=cm, other=0.0).to(tl.float32)
        a, bb = rstd * wv, tl.load(b + c, mask=cm, other=0.0).to(tl.float32) - mean * rstd * wv
        if HAS_SS:
            f = 1.0 + tl.load(s + n * ssn + c, mask=cm, other=0.0).to(tl.float32)
            a, bb = a * f, bb * f + tl.load(sh + n * shn + c, mask=cm, other=0.0).to(tl.float32)
        tl.store(A + n * C + c, a, mask=cm)
        tl.store(B + n * C + c, bb, mask=cm)
        tl.store(mean_g + n * tl.num_programs(1) + g, mean)
        tl.store(rstd_g + n * tl.num_programs(1) + g, rstd)

    @triton.jit
    def gn_apply(x, y, A, B, HW, C, sxn, sxc, sxp, ACT: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
        "y = silu(x * A + B) (or x * A + B), over one pixel tile of one sample; y laid out as x."
        n, k, p, c, mask = gn_tile(HW, C, BLOCK_P, BLOCK_C)
        at = n * sxn + p[:, None] * sxp + c[None, :] * sxc
        u = tl.load(x + at, mask=mask, other=0.0).to(tl.float32) * gn_row(A, n, C, c) + gn_row(B, n, C, c)
        if ACT: u = u * tl.sigmoid(u)
        tl.store(y + at, u.to(y.dtype.element_ty), mask=mask)

    @triton.jit
    def gn_du(x, dy, A, B, n, p, c, mask, sxn, sxc, sxp, syn, syc, syp, C, ACT: tl.constexpr):
        "Load one tile of x and dy; return x and du = dy * silu'(u), with u recomputed as x * A + B."
        v = tl.load(x + n * sxn + p[:, None] * sxp + c[None, :] * sxc, mask=mask, other=0.0).to(tl.float32)
        g = tl.load(dy + n * syn + p[:, None] * syp + c[None, :] * syc, mask=mask, other=0.0).to(tl.float32)
        if ACT:
            u = v * gn_row(A, n, C, c) + gn_row(B, n, C, c)
            sig = tl.sigmoid(u)
            g = g * sig * (1.0 + u * (1.0 - sig))
        return v, g

    @triton.jit
    def gn_grad_moments(x, dy, A, B, mean_g, rstd_g, part, HW, C, G, CG, sxn, sxc, sxp, syn, syc, syp,
                        ACT: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
        "Per (sample, pixel tile, channel): sums of du and of du * xhat, into part[n, k, 0:2, c]."
        n, k, p, c, mask = gn_tile(HW, C, BLOCK_P, BLOCK_C)
        v, du = gn_du(x, dy, A, B, n, p, c, mask, sxn, sxc, sxp, syn, syc, syp, C, ACT)
        grp = n * G + tl.minimum(c // CG, G - 1)
        xhat = (v - tl.load(mean_g + grp)[None, :]) * tl.load(rstd_g + grp)[None, :]
        out = part + (n * tl.num_programs(1) + k) * 2 * C + c
        tl.store(out, tl.sum(du, axis=0), mask=c < C)
        tl.store(out + C, tl.sum(du * xhat, axis=0), mask=c < C)     # du is 0 where masked

    @triton.jit
    def gn_grad_coefficients(part, w, b, s, mean_g, rstd_g, dWn, dBn, dS, dSh, P, Q, R, HW, C, K, CG, ssn,
                             HAS_SS: tl.constexpr, K_PAD: tl.constexpr, CG_PAD: tl.constexpr):
        """Per (sample, group): with S1 = sum du and S2 = sum du * xhat per channel, the parameters' gradients per sample
        (a = xhat * w + b, u = a * (1 + s) + sh: dw = (1 + s) S2, db = (1 + s) S1, ds = sum du * a, dsh = S1) and the
        coefficients of dx = du * P + x * Q + R."""
        n, g = tl.program_id(0), tl.program_id(1)
        k, c, cm, mask, s1, s2 = gn_group(part, n, g, K, CG, C, K_PAD, CG_PAD)
        s1, s2 = tl.sum(s1, axis=0), tl.sum(s2, axis=0)
        wv = tl.load(w + c, mask=cm, other=0.0).to(tl.float32)
        at = n * C + c
        if HAS_SS:
            f = 1.0 + tl.load(s + n * ssn + c, mask=cm, other=0.0).to(tl.float32)
            tl.store(dS + at, (wv * s2 + tl.load(b + c, mask=cm, other=0.0).to(tl.float32) * s1).to(dS.dtype.element_ty), mask=cm)
            tl.store(dSh + at, s1.to(dSh.dtype.element_ty), mask=cm)
        else: f = 1.0
        kc = wv * f                                                  # dxhat = du * w * (1 + s)
        tl.store(dWn + at, f * s2, mask=cm); tl.store(dBn + at, f * s1, mask=cm)
        total = HW * CG * 1.0
        m1, m2 = tl.sum(kc * s1, axis=0) / total, tl.sum(kc * s2, axis=0) / total   # group means of dxhat, dxhat * xhat
        mean, rstd = tl.load(mean_g + n * tl.num_programs(1) + g), tl.load(rstd_g + n * tl.num_programs(1) + g)
        tl.store(P + at, rstd * kc, mask=cm)
        tl.store(Q + at, tl.zeros_like(kc) - rstd * rstd * m2, mask=cm)
        tl.store(R + at, tl.zeros_like(kc) + rstd * (rstd * m2 * mean - m1), mask=cm)

    @triton.jit
    def gn_grad_apply(x, dy, dx, A, B, P, Q, R, HW, C, sxn, sxc, sxp, syn, syc, syp,
                      ACT: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
        "dx = du * P + x * Q + R over one pixel tile; dx laid out as x."
        n, k, p, c, mask = gn_tile(HW, C, BLOCK_P, BLOCK_C)
        v, du = gn_du(x, dy, A, B, n, p, c, mask, sxn, sxc, sxp, syn, syc, syp, C, ACT)
        g = du * gn_row(P, n, C, c) + v * gn_row(Q, n, C, c) + gn_row(R, n, C, c)
        tl.store(dx + n * sxn + p[:, None] * sxp + c[None, :] * sxc, g.to(dx.dtype.element_ty), mask=mask)

def _pixel_strides(t: Tensor, name: str):
    "(n, c, pixel) strides of an (N, C, H, W) tensor whose H and W flatten into one pixel index (channels-first or -last)."
    N, C, H, W = t.shape
    if t.stride(2) != W * t.stride(3): raise ValueError(f'{name} must be channels-first or channels-last, got strides {t.stride()}')
    return t.stride(0), t.stride(1), t.stride(3)

def _blocks(C: int, HW: int):
    block_c = triton.next_power_of_2(C)
    block_p = min(triton.next_power_of_2(HW), max(1, TILE // block_c))
    return block_p, block_c, triton.cdiv(HW, block_p)

def tile_sums_bytes(N: int, C: int, HW: int) -> int:
    "Bytes one direction (forward or backward) moves in its float32 tile sums: part[N, K, 2, C], written and read once."
    return 2 * N * _blocks(C, HW)[2] * 2 * C * 4

def _per_channel(t: Optional[Tensor], N: int, C: int) -> Optional[Tensor]:
    "A (N, C[, 1, 1]) scale or shift as an (N, C) view with unit channel stride."
    if t is None: return None
    t = t.reshape(N, C)
    return t if t.stride(1) == 1 else t.contiguous()

# --- the operation: forward (y, A, B, group mean, group rstd), and its backward (dx and the parameters' gradients) -----
@torch.library.custom_op('ddpm_bench::group_norm_act', mutates_args=())
def group_norm_act(x: Tensor, weight: Tensor, bias: Tensor, scale: Optional[Tensor], shift: Optional[Tensor],
                   groups: int, eps: float, act: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    N, C, H, W = x.shape
    if (scale is None) != (shift is None): raise ValueError('scale and shift come together, or neither')
    if x.numel() >= 2**31: raise ValueError(f'the kernels index with 32-bit integers: at most 2**31 - 1 elements, got {x.numel()}')
    s, sh = _per_channel(scale, N, C), _per_channel(shift, N, C)
    y = torch.empty_like(x)
    if not use_triton(x):         # the same algorithm in torch: group statistics in float32, then the affine map
        xf = x.float().reshape(N, groups, -1)
        var, mean = torch.var_mean(xf, dim=2, unbiased=False)
        rstd = torch.rsqrt(var + eps)
        A, B = _fold(weight, bias, s, sh, mean, rstd, C // groups)
        u = x.float() * A[:, :, None, None] + B[:, :, None, None]
        y.copy_(F.silu(u) if act else u)
        return y, A, B, mean, rstd
    block_p, block_c, K = _blocks(C, H * W)
    part = torch.empty(N, K, 2, C, device=x.device, dtype=torch.float32)
    A, B = (torch.empty(N, C, device=x.device, dtype=torch.float32) for _ in range(2))
    mean, rstd = (torch.empty(N, groups, device=x.device, dtype=torch.float32) for _ in range(2))
    sx = _pixel_strides(x, 'x')
    assert y.stride() == x.stride()
    gn_moments[(N, K)](x, part, H * W, C, *sx, BLOCK_P=block_p, BLOCK_C=block_c, num_warps=WARPS)
    CG = C // groups
    gn_affine[(N, groups)](part, weight, bias, s if s is not None else A, sh if sh is not None else A, A, B, mean, rstd,
                           H * W, C, K, CG, s.stride(0) if s is not None else 0, sh.stride(0) if sh is not None else 0, eps,
                           HAS_SS=s is not None, BLOCK_P=block_p, K_PAD=triton.next_power_of_2(K),
                           CG_PAD=triton.next_power_of_2(CG))
    gn_apply[(N, K)](x, y, A, B, H * W, C, *sx, ACT=act, BLOCK_P=block_p, BLOCK_C=block_c, num_warps=WARPS)
    return y, A, B, mean, rstd

def _channels(stat, CG): return stat.repeat_interleave(CG, 1)      # (N, G) -> (N, C): each group's value for its channels

def _fold(weight, bias, s, sh, mean, rstd, CG):
    "A, B of u = x * A + B per (sample, channel), from the group statistics (torch path)."
    m, r = _channels(mean, CG), _channels(rstd, CG)
    A, B = r * weight.float(), bias.float() - m * r * weight.float()
    if s is not None: f = 1 + s.float(); A, B = A * f, B * f + sh.float()
    return A, B

@group_norm_act.register_fake
def _(x, weight, bias, scale, shift, groups, eps, act):
    N, C = x.shape[:2]
    f = lambda *shape: x.new_empty(shape, dtype=torch.float32)
    return torch.empty_like(x), f(N, C), f(N, C), f(N, groups), f(N, groups)

@torch.library.custom_op('ddpm_bench::group_norm_act_backward', mutates_args=())
def group_norm_act_backward(dy: Tensor, x: Tensor, weight: Tensor, bias: Tensor, scale: Optional[Tensor], A: Tensor,
                            B: Tensor, mean: Tensor, rstd: Tensor, act: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    "dx, then per sample the gradients of weight and bias (float32, to be summed over samples), then those of scale and shift."
    N, C, H, W = x.shape
    G = mean.shape[1]; CG = C // G
    s = _per_channel(scale, N, C)
    ds, dsh = (x.new_empty((N, C) if s is not None else (0,), dtype=s.dtype if s is not None else x.dtype) for _ in range(2))
    if not use_triton(x):
        xf, u = x.float(), x.float() * A[:, :, None, None] + B[:, :, None, None]
        du = dy.float()
        if act: sig = torch.sigmoid(u); du = du * sig * (1 + u * (1 - sig))
        xhat = (xf - _channels(mean, CG)[:, :, None, None]) * _channels(rstd, CG)[:, :, None, None]
        S1, S2 = du.sum((2, 3)), (du * xhat).sum((2, 3))
        f = 1 + s.float() if s is not None else 1
        if s is not None: ds.copy_(weight.float() * S2 + bias.float() * S1); dsh.copy_(S1)
        kc = weight.float() * f
        group_mean = lambda v: v.reshape(N, G, CG).sum(2) / (H * W * CG)      # over the group's pixels and channels
        m1, m2 = group_mean(kc * S1), group_mean(kc * S2)                     # of dxhat, and of dxhat * xhat
        P, Q, R = _channels(rstd, CG) * kc, _channels(-rstd * rstd * m2, CG), _channels(rstd * (rstd * m2 * mean - m1), CG)
        dx = torch.empty_like(x)
        dx.copy_(du * P[:, :, None, None] + xf * Q[:, :, None, None] + R[:, :, None, None])
        return dx, f * S2, f * S1, ds, dsh
    block_p, block_c, K = _blocks(C, H * W)
    sx, sy = _pixel_strides(x, 'x'), _pixel_strides(dy, 'the gradient')
    part = torch.empty(N, K, 2, C, device=x.device, dtype=torch.float32)
    gn_grad_moments[(N, K)](x, dy, A, B, mean, rstd, part, H * W, C, G, CG, *sx, *sy,
                            ACT=act, BLOCK_P=block_p, BLOCK_C=block_c, num_warps=WARPS)
    dWn, dBn, P, Q, R = (torch.empty(N, C, device=x.device, dtype=torch.float32) for _ in range(5))
    gn_grad_coefficients[(N, G)](part, weight, bias, s if s is not None else A, mean, rstd, dWn, dBn,
                                 ds if s is not None else A, dsh if s is not None else A, P, Q, R, H * W, C, K, CG,
                                 s.stride(0) if s is not None else 0, HAS_SS=s is not None,
                                 K_PAD=triton.next_power_of_2(K), CG_PAD=triton.next_power_of_2(CG))
    dx = torch.empty_like(x)
    gn_grad_apply[(N, K)](x, dy, dx, A, B, P, Q, R, H * W, C, *sx, *sy, ACT=act, BLOCK_P=block_p, BLOCK_C=block_c, num_warps=WARPS)
    return dx, dWn, dBn, ds, dsh

@group_norm_act_backward.register_fake
def _(dy, x, weight, bias, scale, A, B, mean, rstd, act):
    N, C = x.shape[:2]
    f = lambda: x.new_empty(N, C, dtype=torch.float32)
    ss = lambda: x.new_empty((N, C) if scale is not None else (0,), dtype=scale.dtype if scale is not None else x.dtype)
    return torch.empty_like(x), f(), f(), ss(), ss()

def _setup(ctx, inputs, output):
    x, weight, bias, scale, shift, groups, eps, act = inputs
    y, A, B, mean, rstd = output
    ctx.save_for_backward(x, weight, bias, scale, A, B, mean, rstd)
    ctx.act = act
    ctx.mark_non_differentiable(A, B, mean, rstd)
    ctx.set_materialize_grads(False)        # else autograd makes zero gradients for those four: four kernels per call

def _backward(ctx, dy, *_):
    x, weight, bias, scale, A, B, mean, rstd = ctx.saved_tensors
    dx, dWn, dBn, ds, dsh = group_norm_act_backward(dy, x, weight, bias, scale, A, B, mean, rstd, ctx.act)
    dw, db = dWn.sum(0).to(weight.dtype), dBn.sum(0).to(bias.dtype)     # two small kernels: the rest is in the op
    if scale is None: return dx, dw, db, None, None, None, None, None
    return dx, dw, db, ds.reshape(scale.shape), dsh.reshape(scale.shape), None, None, None

group_norm_act.register_autograd(_backward, setup_context=_setup)

# --- the candidate network: ddpm_nb's UNet (chapter 12's fast layers, channels-last) with these layers swapped in --------
class FusedGroupNorm(nn.GroupNorm):
    "GroupNorm, then an optional per-(sample, channel) scale-shift and SiLU, in one fused operation."
    act = False
    def forward(self, x: Tensor, scale: Tensor = None, shift: Tensor = None) -> Tensor:
        return group_norm_act(x, self.weight, self.bias, scale, shift, self.num_groups, self.eps, self.act)[0]

def fuse_group_norms(model: nn.Module) -> nn.Module:
    "Swap FusedGroupNorm into a ddpm_nb UNet in place (same parameters): in every ResBlock, the attention norms and the output."
    from ddpm_nb.unet import ResBlock
    class FusedResBlock(ResBlock):
        def forward(self, x: Tensor, emb: Tensor) -> Tensor:
            e = self.emb(F.silu(emb))
            h = self.norm1(x, *e.chunk(2, dim=1)) if self.emb_mode == 'scale_shift' else self.norm1(x)
            h = self.conv1(h)
            if self.emb_mode == 'add': h = h + e[:, :, None, None]
            return self.conv2(self.drop(self.norm2(h))).add_(self.skip(x))
    for m in model.modules():
        if isinstance(m, nn.GroupNorm): m.__class__ = FusedGroupNorm
        if type(m) is ResBlock:
            m.__class__ = FusedResBlock
            m.norm1.act = m.norm2.act = True
    model.out[0].act, model.out[1] = True, nn.Identity()        # the output's GroupNorm + SiLU
    return model

# --- the checks (on the CPU, or on a GPU with --device cuda), and the op timed alone -----------------------------------
def reference(x, weight, bias, scale, shift, groups, eps, act):
    "The same function from torch's own operations, in float64, for autograd to differentiate."
    u = F.group_norm(x.double(), groups, weight.double(), bias.double(), eps)
    if scale is not None: u = u * (1 + scale.double().reshape(*scale.shape[:2], 1, 1)) + shift.double().reshape(*shift.shape[:2], 1, 1)
    return F.silu(u) if act else u

def check_op(N, C, H, W, groups, dtype, channels_last, scale_shift, act, seed=0, device='cpu'):
    "Largest error of y and of every gradient, relative to the largest float64 entry, against autograd of `reference`."
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(N, C, H, W, generator=g) * 2 + torch.randn(1, C, 1, 1, generator=g) * 3).to(dtype)
    if channels_last: x = x.contiguous(memory_format=torch.channels_last)
    w, b = 1 + 0.5 * torch.randn(C, generator=g), 0.5 * torch.randn(C, generator=g)
    s = sh = None
    if scale_shift: s, sh = (0.5 * torch.randn(N, 2 * C, 1, 1, generator=g)).to(dtype).chunk(2, dim=1)   # views, as the block makes them
    dy = torch.randn(N, C, H, W, generator=g).to(dtype)
    x, w, b, s, sh, dy = (t.to(device) if t is not None else None for t in (x, w, b, s, sh, dy))
    leaves = [t.detach().clone().requires_grad_() if t is not None else None for t in (x, w, b, s, sh)]
    y = group_norm_act(*leaves, groups, 1e-5, act)[0]
    y.backward(dy)
    ref_leaves = [t.detach().double().requires_grad_() if t is not None else None for t in (x, w, b, s, sh)]
    ref = reference(*ref_leaves, groups, 1e-5, act)
    ref.backward(dy.double())
    err = lambda u, v: relative_error(u.double(), v)
    errs = dict(y=err(y.detach(), ref.detach()))
    for name, t, r in zip(('x', 'w', 'b', 's', 'sh'), leaves, ref_leaves):
        if t is not None: errs['d' + name] = err(t.grad, r.grad)
    assert y.dtype == x.dtype and y.stride() == x.stride() and leaves[0].grad.stride() == x.stride()
    return errs

def bf16_rounding(n=4096):
    "How a Triton kernel (here, the interpreter) converts float32 to bf16: the share that differs from torch's round-to-nearest, and of those the share rounded toward zero."
    x = torch.randn(n, generator=torch.Generator().manual_seed(0))
    y = torch.empty(n, dtype=torch.bfloat16)
    gn_apply[(1, 1)](x.reshape(1, n, 1, 1), y, torch.ones(n), torch.zeros(n), 1, n, n, 1, 1, ACT=False, BLOCK_P=1, BLOCK_C=n)
    differ = y != x.to(torch.bfloat16)
    return differ.float().mean().item(), (y[differ].float().abs() < x[differ].abs()).float().mean().item()

def check_unet(emb_mode=None, preset='tiny', batch=2, device='cpu'):
    """A UNet (the tiny one unless told) with the fused layers against the same weights without them, in float32: largest
    error of the output, and of each gradient, relative to its largest entry (over the tensors whose gradient is at least
    1e-3 of the largest of all: some are zero up to rounding, as a bias before a one-channel group)."""
    from ddpm_nb.speed import make_fast
    from ddpm_nb.unet import UNet, randomize_zero_params
    torch.manual_seed(0)
    kw = dict(dropout=0.0, **(dict(emb_mode=emb_mode) if emb_mode else {}))
    a = make_fast(UNet.from_preset(preset, **kw)); randomize_zero_params(a)
    b = make_fast(UNet.from_preset(preset, **kw)); b.load_state_dict(a.state_dict())
    fuse_group_norms(b); a.to(device); b.to(device)
    c = a.config
    x = torch.randn(batch, c.in_channels, c.image_size, c.image_size).contiguous(memory_format=torch.channels_last).to(device)
    t = torch.randint(0, 1000, (batch,)).to(device)
    outs = []
    for m in (a, b):
        out = m(x, t); F.mse_loss(out, x).backward(); outs.append(out.detach())
    return relative_error(outs[1], outs[0]), worst_gradient_error([p.grad for p in b.parameters()], [q.grad for q in a.parameters()])

def relative_error(u, ref): return ((u - ref).abs().max() / ref.abs().max()).item()

def worst_gradient_error(grads, ref_grads):
    "Largest relative_error over the tensors whose reference gradient is at least 1e-3 of the largest of all."
    big = max(r.abs().max().item() for r in ref_grads)
    return max(relative_error(g, r) for g, r in zip(grads, ref_grads) if r.abs().max() > 1e-3 * big)

def main():
    global INTERPRET, TILE
    device = sys.argv[sys.argv.index('--device') + 1] if '--device' in sys.argv else 'cpu'
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    torch.set_grad_enabled(True)
    if '--bench' in sys.argv:
        batch = int(sys.argv[sys.argv.index('--batch') + 1]) if '--batch' in sys.argv else 128
        bench_op(device, batch); return
    if '--offline' in sys.argv:
        arch = int(sys.argv[sys.argv.index('--arch') + 1]) if '--arch' in sys.argv else 90
        report_offline(compile_offline(arch), arch); return
    if '--check' not in sys.argv: print(__doc__); return
    if device == 'cuda':          # the compiled kernels; TF32 off so that the float32 references are float32
        interpreted = [k for k, v in globals().items() if type(v).__name__ == 'InterpretedFunction']
        if interpreted: raise SystemExit(f'TRITON_INTERPRET is set: {", ".join(interpreted)} would run in the interpreter, '
                                         'not as compiled kernels; unset it to check the GPU')
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        cases, layouts, paths = [(2, 96, 7, 7, 32), (4, 256, 16, 16, 32)], (True,), ['triton']
    else:
        cases, layouts = [(2, 64, 8, 8, 32), (2, 96, 7, 7, 32), (3, 128, 16, 16, 32), (1, 48, 5, 9, 8), (2, 256, 4, 4, 32)], (False, True)
        paths = (['triton (interpreted)'] if INTERPRET and triton is not None else []) + ['torch']
    for path in paths:
        INTERPRET = path == 'triton (interpreted)'
        worst, n = {}, 0
        for N, C, H, W, G in cases:
            for dtype in (torch.float32, torch.bfloat16):
                for cl in layouts:
                    for ss, act in ((True, True), (False, True), (False, False)):
                        e = check_op(N, C, H, W, G, dtype, cl, ss, act, device=device); n += 1
                        tol = 2e-5 if dtype == torch.float32 else 1e-2       # bf16: one rounding of y and of dx
                        bad = {k: v for k, v in e.items() if v > (tol if k in ('y', 'dx', 'ds', 'dsh') or dtype == torch.float32 else 2e-5)}
                        assert not bad, f'{path}: {(N, C, H, W, G, dtype, cl, ss, act)}: {bad}'
                        for k, v in e.items(): worst[(str(dtype), k)] = max(worst.get((str(dtype), k), 0), v)
        print(f'{path} on {device}: {n} cases, largest errors:', ', '.join(f'{k[0][6:]} {k[1]} {v:.1e}' for k, v in sorted(worst.items())))
        if path == 'triton (interpreted)':
            differ, toward_zero = bf16_rounding()
            print(f'{path}: float32 -> bf16 differs from round-to-nearest for {differ:.0%} of 4096 Gaussian draws, '
                  f'{toward_zero:.0%} of those rounded toward zero')
            # other tilings (--bench times them): one pixel per tile, and larger tiles
            default = TILE
            for TILE in (64, 2048, 8192):
                for dtype in (torch.float32, torch.bfloat16):
                    e = check_op(2, 128, 16, 16, 32, dtype, True, True, True, device=device)
                    assert max(e.values()) < (2e-5 if dtype == torch.float32 else 1e-2), (TILE, dtype, e)
            TILE = default
            print(f'{path} on {device}: the same at tiles of 64, 2048 and 8192 elements')
        for emb_mode in ('scale_shift', 'add'):
            out_err, grad_err = check_unet(emb_mode, device=device)
            print(f'{path} on {device}: tiny UNet ({emb_mode}), fused against chapter 12 layers (float32): output {out_err:.1e}, '
                  f'worst gradient {grad_err:.1e}')
            assert out_err < 1e-4 and grad_err < 1e-4, (emb_mode, out_err, grad_err)
        for preset in (('mnist28', 'cifar10') if '--full' in sys.argv else ()):    # every shape the real networks have
            out_err, grad_err = check_unet(preset=preset, batch=1, device=device)
            print(f'{path} on {device}: {preset} UNet, fused against chapter 12 layers (float32, batch 1): output {out_err:.1e}, '
                  f'worst gradient {grad_err:.1e}')
            assert out_err < 1e-4 and grad_err < 1e-4, (preset, out_err, grad_err)
    if '--compile' in sys.argv:
        out_err, grad_err = check_compiled(device)
        print(f'torch.compile(fullgraph=True) of the fused tiny UNet on {device}: output {out_err:.1e}, worst gradient {grad_err:.1e} '
              'against the same model eager')
        assert out_err < 1e-5 and grad_err < 1e-5, (out_err, grad_err)
    if device == 'cuda': warm_up(device)
    print('fused GroupNorm: all checks passed')

def check_compiled(device, batch=2):
    "The fused tiny UNet compiled whole (the op traced through its fake implementations) against itself eager."
    from ddpm_nb.speed import make_fast
    from ddpm_nb.unet import UNet, randomize_zero_params
    torch.manual_seed(0)
    m = fuse_group_norms(make_fast(UNet.from_preset('tiny'))).to(device); randomize_zero_params(m)
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last).to(device)
    t = torch.randint(0, 1000, (batch,)).to(device)
    runs = []
    for f in (m, torch.compile(m, fullgraph=True)):
        out = f(x, t); F.mse_loss(out, x).backward()
        runs.append((out.detach(), [p.grad.clone() for p in m.parameters()])); m.zero_grad(set_to_none=True)
    (o1, g1), (o2, g2) = runs
    return relative_error(o2, o1), worst_gradient_error(g2, g1)

def bench_op(device, batch=128, reps=20):
    """Forward + backward of one GroupNorm + SiLU in bf16, channels-last, at the CIFAR-10 model's three largest activation
    shapes: the fused op (at several tile sizes and warp counts for the largest), against FloatGroupNorm + SiLU (as ours runs them) and
    torch's GroupNorm on the bf16 input + SiLU. The rate is the bytes the fused kernels must move (16 per entry, and
    their float32 tile sums) over each one's time: an effective bandwidth to set beside the card's and the roofline's."""
    global TILE, WARPS
    import statistics, time
    from ddpm_nb.speed import FloatGroupNorm
    cuda = torch.device(device).type == 'cuda'
    def seconds(f):
        for _ in range(3): f()
        ts = []
        for _ in range(reps):
            if cuda: torch.cuda.synchronize()
            t0 = time.perf_counter(); f()
            if cuda: torch.cuda.synchronize()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)
    old, results = (TILE, WARPS), []
    for C, S in ((128, 32), (256, 16), (256, 8)):
        x = torch.randn(batch, C, S, S, device=device).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        x.requires_grad_()
        dy = torch.randn_like(x)
        fused, ref = FusedGroupNorm(32, C).to(device), FloatGroupNorm(32, C).to(device)
        fused.act = True
        def step(f):
            def run(): x.grad = None; f().backward(dy)
            return run
        kinds = [('FloatGroupNorm + SiLU', step(lambda: F.silu(ref(x))), old),
                 ('bf16 GroupNorm + SiLU', step(lambda: F.silu(F.group_norm(x, 32, ref.weight.to(x.dtype), ref.bias.to(x.dtype)))), old)]
        configs = [old] + ([(t, w) for t in (2048, 4096, 8192) for w in (4, 8) if (t, w) != old] if C == 128 else [])
        kinds += [(f'fused, tile {t}, {w} warps', step(lambda: fused(x)), (t, w)) for t, w in configs]   # each compiles
        moved = 16 * x.numel() + 2 * tile_sums_bytes(batch, C, S * S)
        for name, f, (TILE, WARPS) in kinds:
            t = seconds(f)
            results.append(dict(shape=(batch, C, S, S), kind=name, ms=t * 1e3, tbs=moved / t / 1e12))
            print(f'{f"{batch}x{C}x{S}x{S}":12s} {name:28s} {t * 1e3:8.3f} ms {moved / t / 1e9:8.1f} GB/s of the fused bytes', flush=True)
    TILE, WARPS = old
    return results

def warm_up(device, batch=2):
    """One bf16 training step of each preset's fused network at a small batch: Triton compiles a kernel for each new
    channel count and resolution on its first call (cached on disk), so the timed benchmarks that follow do not."""
    import time
    from ddpm_nb.speed import make_fast
    from ddpm_nb.unet import UNet
    for preset in ('cifar10', 'mnist28'):
        m = fuse_group_norms(make_fast(UNet.from_preset(preset))).to(device)
        c = m.config
        x = torch.randn(batch, c.in_channels, c.image_size, c.image_size, device=device).contiguous(memory_format=torch.channels_last)
        t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16): loss = F.mse_loss(m(x, torch.randint(0, 1000, (batch,), device=device)).float(), x)
        loss.backward()
        if device == 'cuda': torch.cuda.synchronize()
        print(f'{preset}: first fused step (compiling its kernels) {time.perf_counter() - t0:.1f} s', flush=True)

# --- ahead of time: the kernels through Triton's real compiler for a CUDA card this machine does not have ---------------
KERNELS = ('gn_moments', 'gn_affine', 'gn_apply', 'gn_grad_moments', 'gn_grad_coefficients', 'gn_grad_apply')

class OfflineDriver:
    "What Triton's launcher asks its driver before compiling: a target (here chosen, not detected), a device and a stream."
    def __init__(self, arch: int):
        from triton.backends.compiler import GPUTarget
        self.target = GPUTarget('cuda', arch, 32)
    def get_current_target(self): return self.target
    def get_current_device(self): return 0
    def get_current_stream(self, device=None): return 0

class CompileOnly:
    "Stands in for a kernel: `kernel[grid](*args)` compiles it for those arguments (Triton's warmup) and launches nothing."
    def __init__(self, kernel, compiled: dict): self.kernel, self.compiled = kernel, compiled
    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            k = self.kernel.warmup(*args, grid=grid, **kwargs)
            self.compiled.setdefault(k.hash, (k.name, k))
        return launch

def compile_offline(arch: int = 90, batch: int = 1) -> dict:
    """Every kernel specialisation that one bf16 training step (forward and backward, channels-last) of the fused mnist28
    and CIFAR-10 networks launches, compiled to a cubin for compute capability `arch` by the installed Triton, ptxas
    included, without a GPU: the step runs on the CPU with the kernels' launches swapped for compilation. The activations
    the kernels would have written are left unset, so the step's numbers mean nothing; its shapes, dtypes and strides are
    the real ones (Triton specialises on sizes and strides divisible by 16 or equal to 1, the same at any batch).
    Returns {preset: {hash: (kernel name, CompiledKernel)}}."""
    global OFFLINE
    from triton.runtime.driver import driver
    from ddpm_nb.speed import make_fast
    from ddpm_nb.unet import UNet
    saved, before, out = {k: globals()[k] for k in KERNELS}, driver._active, {}
    driver.set_active(OfflineDriver(arch))
    OFFLINE = True
    try:
        for preset in ('mnist28', 'cifar10'):
            out[preset] = {}
            globals().update({k: CompileOnly(saved[k], out[preset]) for k in KERNELS})
            torch.manual_seed(0)
            m = fuse_group_norms(make_fast(UNet.from_preset(preset)))
            c = m.config
            x = torch.randn(batch, c.in_channels, c.image_size, c.image_size).contiguous(memory_format=torch.channels_last)
            with torch.autocast('cpu', dtype=torch.bfloat16): y = m(x, torch.randint(0, 1000, (batch,)))
            y.float().sum().backward()
    finally:
        globals().update(saved); OFFLINE = False; driver.set_active(before)
    return out

def resources(kernel) -> dict:
    "Registers per thread, local memory per thread (spills) and static shared memory of a compiled kernel, read from its cubin by CUDA's cuobjdump (shipped with Triton)."
    import re, subprocess, tempfile
    tool = Path(triton.__file__).parent / 'backends' / 'nvidia' / 'bin' / 'cuobjdump'
    with tempfile.NamedTemporaryFile(suffix='.cubin') as f:
        f.write(kernel.asm['cubin']); f.flush()
        text = subprocess.run([str(tool), '--dump-resource-usage', f.name], capture_output=True, text=True, check=True).stdout
    return {k: int(v) for k, v in re.findall(r'\b(REG|LOCAL|SHARED):(\d+)', text)}

def occupancy(regs: int, warps: int, shared: int, sm_regs=65536, sm_warps=64, sm_blocks=32, sm_shared=228 * 1024) -> float:
    """Share of an H100 SM's 64 warp slots that programs of this kernel can fill at once, as registers (allocated per warp
    in units of 256), shared memory and the SM's limit of 32 programs allow (NVIDIA's occupancy rules for sm_90)."""
    per_warp = -(-regs * 32 // 256) * 256
    blocks = min(sm_blocks, sm_warps // warps, sm_regs // (per_warp * warps), sm_shared // max(shared, 1))
    return blocks * warps / sm_warps

def vector_loads(kernel) -> int:
    "How many 128-bit global loads (ld.global.v4) the kernel's PTX has: the tile kernels should read x and dy 8 bf16 at a time."
    import re
    return len(re.findall(r'\bld\.global(?:\.\w+)*\.v4\.', kernel.asm['ptx']))

TILE_KERNELS = ('gn_moments', 'gn_apply', 'gn_grad_moments', 'gn_grad_apply')      # the ones that read x (and dy)

def report_offline(compiled: dict, arch: int):
    """Print what the compiler made of each kernel, per preset; fail if any kernel spills registers to local memory, or
    if a kernel that reads x does so without 128-bit loads."""
    print(f'Triton {triton.__version__}, compiled for sm_{arch} without a GPU (tile {TILE} elements, {WARPS} warps)')
    bad = []
    for preset, kernels in compiled.items():
        print(f'{preset}: {len(kernels)} kernel specialisations')
        for name in KERNELS:
            ks = [k for n, k in kernels.values() if n == name]
            if not ks: continue
            use = [dict(resources(k), dyn=k.metadata.shared, warps=k.metadata.num_warps, v4=vector_loads(k)) for k in ks]
            bad += [(preset, name, 'spills', u['LOCAL']) for u in use if u['LOCAL']]
            bad += [(preset, name, 'no 128-bit loads') for u in use if name in TILE_KERNELS and not u['v4']]
            # shared memory per program: cuobjdump's static count (1 KB whenever the kernel uses any) and Triton's dynamic
            # request; it never limits these kernels' occupancy, registers do
            occ = [occupancy(u['REG'], u['warps'], u['SHARED'] + u['dyn']) for u in use]
            rng = lambda v: f'{min(v)}' if min(v) == max(v) else f'{min(v)}-{max(v)}'
            print(f'  {name:22s} {len(ks):3d} x  registers {rng([u["REG"] for u in use]):>5s}  local {rng([u["LOCAL"] for u in use])} B  '
                  f'shared {rng([u["SHARED"] + u["dyn"] for u in use]):>9s} B  warps {rng([u["warps"] for u in use])}  '
                  f'occupancy {rng([round(100 * o) for o in occ]):>6s}%  128-bit loads {rng([u["v4"] for u in use])}')
    assert not bad, f'kernels that spill registers or read x without 128-bit loads: {bad}'
    print('no kernel spills registers; every kernel that reads x does so with 128-bit loads')

if __name__ == '__main__': main()
