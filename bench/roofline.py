#!/usr/bin/env python3
"""A roofline for one training step of our U-Net on a GPU, counted on the CPU (issue 17).

Every ATen operation of one forward + MSE + backward (the kernels a GPU would launch, bar the optimizer) is recorded by
chapter 12's TrafficCounter with the FLOPs torch's flop counter gives it and the bytes it must at least read and write
(its tensor inputs and outputs, each element once; views move nothing). On a card with matmul peak P and memory bandwidth W an operation takes at
least max(FLOPs / P, bytes / W). Summing that bound gives the fastest step that runs the same kernels (eager), hence
the highest MFU eager execution can reach; removing the bytes that fusion could save gives the ceilings for fused
code. The defaults are one H100 SXM: P = 790 TFLOP/s, the bf16 matmul peak measured on the card (bench/RESULTS.md,
2026-11-27), and W = 3.35 TB/s, its HBM3 specification (kernels reach about 90% of it at best).

    python bench/roofline.py                                   # CIFAR-10 paper model, batch 128, bf16 autocast
    python bench/roofline.py --preset mnist28 --variants ours ours-bf16gn
    python bench/roofline.py --variants ours --compiled          # also the step compiled by inductor (minutes on a CPU)

Variants: `ours` (chapter 12's layers: FloatGroupNorm casts to float32 and back), `ours-bf16gn` (GroupNorm on the
bfloat16 input, float32 statistics inside the kernel, as CUDA's kernel computes them: no casts), `ours-contiguous`
(ours channels-first), `ours-fused` (ours with bench/fused_groupnorm.py's GroupNorm + scale-shift + SiLU: one
operation each way, counted at its least bytes plus the second pass over its input and its partial sums that its kernels
make), `ours-plain` (chapter 04's layers), and the peers `diffusers` and `lucidrains` as
bench/unet_speed.py builds them. Under bf16, torch's own GroupNorm layers (ours-plain's, diffusers') run as CUDA
autocast runs them: on a float32 copy, with a float32 output. Otherwise CPU autocast casts the same operations as CUDA
autocast for our network and diffusers' (convolutions, linear layers and attention to bf16). lucidrains' RMSNorm is not
adjusted: CUDA autocast computes its `norm` in float32, CPU autocast does not, so its bf16 count is low. The CPU's
kernels are not the GPU's: a GPU library may fuse where the CPU does not, or split where it fuses.
`--compiled` also compiles the step with torch.compile (inductor, on this CPU) and sums the bytes its scheduler's
kernels read and write after fusion (inductor's own count): extern kernels (convolutions, matmuls, attention) at least at
their eager roofline, the generated ones at their bytes over W. Inductor fuses with C++ here and with Triton on a GPU,
so this estimates the compiled GPU step's traffic; it does not measure it. Compiled, `ours-fused`'s GroupNorm stays
one extern kernel each way; it is timed by its bytes and its second passes, apart from the convolutions.
`--fp32` counts the step without autocast, the same on both (its peak should then be TF32's: --peak-tflops 414).
"""
import argparse, collections, json, logging, sys
from pathlib import Path
import torch
import torch.nn.functional as F
from torch.utils._pytree import tree_flatten

sys.path.insert(0, str(Path(__file__).resolve().parent)); sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.speed import TrafficCounter, extent_bytes

# what an operation is, for the table: the groups that fusion would treat alike
GROUPS = [('conv', ('convolution',)), ('attention', ('attention',)), ('matmul', ('mm', 'addmm', 'bmm')),
          ('norm', ('group_norm',)), ('cast', ('_to_copy', 'copy_')), ('loss', ('mse_loss',))]

def group_of(name: str) -> str:
    for g, keys in GROUPS:
        if any(k in name for k in keys): return g
    return 'elementwise'

class Traffic(TrafficCounter):
    "Chapter 12's TrafficCounter, each record with its group, dtypes, and the copies CUDA's GroupNorm would add."
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        n = len(self.ops)
        out = super().__torch_dispatch__(func, types, args, kwargs)
        if len(self.ops) > n:
            o, ts = self.ops[-1], [a for a in tree_flatten((args, kwargs or {}, out))[0] if isinstance(a, torch.Tensor)]
            o['group'], o['dtypes'] = group_of(o['op']), sorted({str(t.dtype).replace('torch.', '') for t in ts})
            # CUDA's group_norm makes a channels-last input contiguous and returns a contiguous output, which the next
            # convolution turns back: two copies forward and (by the same token) two backward, each reading and writing it
            o['relayout'] = 4 * 2 * extent_bytes(args[0]) if o['op'] == 'native_group_norm' and not args[0].is_contiguous() else 0
            o['reread'] = fused_second_pass(o['op'], args)
        return out

def fused_second_pass(name, args):
    """What bench/fused_groupnorm.py's kernels move beyond the least bytes the counter gives its operations: forward, a
    second read of x; backward, second reads of x and dy; both, their per-tile partial sums (float32, written and read)."""
    if name not in ('group_norm_act', 'group_norm_act_backward'): return 0
    from fused_groupnorm import tile_sums_bytes
    x = args[0] if name == 'group_norm_act' else args[1]
    N, C, H, W = x.shape
    return extent_bytes(x) * (1 if name == 'group_norm_act' else 2) + tile_sums_bytes(N, C, H * W)

def cuda_dropout(m):
    "Dropout as CUDA runs it in training: one fused kernel writing the output and a bool mask (the CPU runs three)."
    return lambda x: torch.ops.aten.native_dropout(x, m.p, True)[0] if m.training and m.p > 0 else x

def build(variant, preset, amp):
    """(model, call) as bench/unet_speed.py builds them, dropout as CUDA runs it. Under amp, torch's own GroupNorm layers
    (ours-plain's, diffusers') run as CUDA autocast runs them: on a float32 copy of the input, with a float32 output."""
    from unet_speed import build as speed_build
    from ddpm_nb.unet import UNet
    if variant == 'ours-plain': model, call = UNet.from_preset(preset), (lambda m, x, t: m(x, t))   # chapter 04's layers
    else: model, call = speed_build(variant, preset)
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout): m.forward = cuda_dropout(m)
        if amp and type(m) is torch.nn.GroupNorm:
            m.forward = (lambda m: lambda x: F.group_norm(x.float(), m.num_groups, m.weight, m.bias, m.eps))(m)
    return model, call

def prepare(variant, preset, batch, amp):
    "The variant's (model, call) in training mode and a random batch (x, t), laid out as train would lay them out."
    torch.manual_seed(0)
    model, call = build(variant, preset, amp)
    C, S = (1, 28) if preset == 'mnist28' else (3, 32)
    x = torch.randn(batch, C, S, S)
    if variant in ('ours', 'ours-bf16gn', 'ours-fused'): x = x.contiguous(memory_format=torch.channels_last)
    return model.train(), call, x, torch.randint(0, 1000, (batch,))

def step(model, call, x, t, amp):
    "One forward + MSE + backward."
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp): loss = F.mse_loss(call(model, x, t).float(), x)
    loss.backward()

def count(variant, preset, batch, amp):
    "The step's operations as a Traffic counter records them (building the model is not counted), and the parameter count."
    model, call, x, t = prepare(variant, preset, batch, amp)
    with Traffic() as mode: step(model, call, x, t, amp)
    return mode.ops, sum(p.numel() for p in model.parameters())

def compiled_bytes(variant, preset, batch, amp):
    """Bytes of the same step compiled by torch.compile (inductor, on this CPU): what the scheduler's kernels read and
    write after fusion: `extern` (convolutions, matmuls, attention), `custom` (bench/fused_groupnorm.py's op, which
    inductor keeps as an extern kernel too) and `fused` (the kernels inductor generates by fusing the rest).
    Inductor on a GPU fuses with Triton instead of C++, so this is an estimate of the GPU's compiled traffic."""
    import torch._inductor.graph as inductor_graph
    records, count_bytes = [], inductor_graph.GraphLowering.count_bytes      # called once per graph when metrics log
    def recording(self):
        total, counts, runtimes = count_bytes(self)
        records.extend((type(node).__name__, str(getattr(getattr(node, 'node', None), 'op_overload', '')), n4 * 4)
                       for node, n4 in counts)   # counts are in 4-byte words; an extern kernel's node names its op
        return total, counts, runtimes
    inductor_graph.GraphLowering.count_bytes = recording
    log = logging.getLogger('torch._inductor.compile_fx.__inductor_metrics')   # inductor counts only when this logs
    old_level, old_propagate = log.level, log.propagate
    log.setLevel(logging.INFO); log.propagate = False; log.addHandler(handler := logging.NullHandler())
    try:
        from torch._inductor import config as inductor_config
        from torch._functorch import config as functorch_config
        torch._dynamo.reset()
        with inductor_config.patch(fx_graph_cache=False), functorch_config.patch(enable_autograd_cache=False):  # a cached graph is not counted
            model, call, x, t = prepare(variant, preset, batch, amp)
            step(torch.compile(model), call, x, t, amp)
    finally:
        inductor_graph.GraphLowering.count_bytes = count_bytes
        log.setLevel(old_level); log.propagate = old_propagate; log.removeHandler(handler)
    extern = sum(b for kind, _, b in records if kind.startswith('Extern'))
    custom = sum(b for kind, op, b in records if kind.startswith('Extern') and op.startswith('ddpm_bench'))   # the fused GroupNorm
    return dict(extern=extern - custom, custom=custom, fused=sum(b for *_, b in records) - extern, kernels=len(records))

def summarize(ops, params, B, peak, bw, variant, preset, cuda_layout=True, compiled=None):
    "Per group: kernels, FLOPs, bytes and the roofline time; then the step's ceilings."
    rows = collections.OrderedDict()
    for o in ops:
        r = rows.setdefault(o['group'], dict(n=0, flops=0, bytes=0, t=0.0))
        f, b = o['flops'], o['bytes']
        r['n'] += 1; r['flops'] += f; r['bytes'] += b; r['t'] += max(f / peak, b / bw)
    # the optimizer: fused AdamW reads p, grad, m, v and writes p, m, v in float32; the EMA reads both and writes one
    rows['optimizer+EMA'] = dict(n=2, flops=0, bytes=(7 + 3) * 4 * params, t=(7 + 3) * 4 * params / bw)
    relayout = sum(o['relayout'] for o in ops)
    if relayout and cuda_layout: rows['layout (CUDA)'] = dict(n=4 * sum(o['relayout'] > 0 for o in ops), flops=0, bytes=relayout, t=relayout / bw)
    reread = sum(o['reread'] for o in ops)
    if reread: rows['fused 2nd pass'] = dict(n=sum(o['reread'] > 0 for o in ops), flops=0, bytes=reread, t=reread / bw)
    total_f = sum(r['flops'] for r in rows.values()); total_b = sum(r['bytes'] for r in rows.values())
    total_t = sum(r['t'] for r in rows.values())
    print(f'\n{preset} {variant}: batch {B}, {params / 1e6:.1f}M parameters, {total_f / B / 1e9:.2f} GFLOP per training image'
          f' (forward + backward), peak {peak / 1e12:.0f} TFLOP/s, bandwidth {bw / 1e12:.2f} TB/s')
    print(f"{'group':14s} {'kernels':>8s} {'TFLOP':>8s} {'GB':>8s} {'roofline ms':>12s} {'share':>6s}")
    for g, r in sorted(rows.items(), key=lambda kv: -kv[1]['t']):
        print(f"{g:14s} {r['n']:>8d} {r['flops'] / 1e12:8.3f} {r['bytes'] / 1e9:8.2f} "
              f"{r['t'] * 1e3:12.2f} {r['t'] / total_t:6.1%}")
    mfu = total_f / total_t / peak
    mm_t = sum(r['t'] for g, r in rows.items() if g in ('conv', 'attention', 'matmul'))
    print(f"{'total':14s} {sum(r['n'] for r in rows.values()):>8d} {total_f / 1e12:8.3f} {total_b / 1e9:8.2f} {total_t * 1e3:12.2f}")
    print(f'eager ceiling: {B / total_t:,.0f} img/s, MFU {mfu:.1%} (every kernel at its roofline, none fused)')
    print(f'fused ceiling: {B / (mm_t + rows["optimizer+EMA"]["t"]):,.0f} img/s, MFU {total_f / (mm_t + rows["optimizer+EMA"]["t"]) / peak:.1%}'
          f' (every normalisation, activation, addition and cast folded into the convolutions, which stay at their roofline)')
    out = dict(variant=variant, preset=preset, batch=B, params=params, flops=total_f, bytes=total_b, roofline_s=total_t,
               eager_mfu_ceiling=mfu, groups=rows)
    if compiled:   # extern kernels at least at their eager roofline; the generated ones and the fused GroupNorm by their bytes
        custom = compiled['custom'] + reread             # the fused GroupNorm's kernels, their second passes included
        ext_t = max(mm_t, compiled['extern'] / bw); t_c = ext_t + (compiled['fused'] + custom) / bw + rows['optimizer+EMA']['t']
        total_c = compiled['extern'] + compiled['fused'] + custom
        print(f"compiled (inductor on this CPU): {compiled['kernels']} kernels, {compiled['extern'] / 1e9:.2f} GB extern + "
              + (f"{custom / 1e9:.2f} GB fused GroupNorm + " if custom else '') +
              f"{compiled['fused'] / 1e9:.2f} GB generated = {total_c / 1e9:.2f} GB; "
              f"ceiling {t_c * 1e3:.2f} ms, {B / t_c:,.0f} img/s, MFU {total_f / t_c / peak:.1%}")
        out.update(compiled=compiled, compiled_roofline_s=t_c, compiled_mfu_ceiling=total_f / t_c / peak)
    return out

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='cifar10'); p.add_argument('--batch', type=int, default=128)
    p.add_argument('--variants', nargs='*', default=['ours', 'ours-bf16gn', 'ours-plain'],
                   help='ours, ours-bf16gn, ours-fused, ours-contiguous, ours-plain, diffusers, lucidrains')
    p.add_argument('--fp32', action='store_true', help='no autocast (the fp32 / TF32 step)')
    p.add_argument('--peak-tflops', type=float, default=790.0); p.add_argument('--bandwidth-tbs', type=float, default=3.35)
    p.add_argument('--no-cuda-layout', action='store_true', help="leave out the copies CUDA's GroupNorm makes of channels-last input")
    p.add_argument('--compiled', action='store_true', help='also compile the step (inductor, on this CPU) and count its bytes')
    p.add_argument('--top', type=int, default=0, help='also list the N operations with the largest roofline time')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    torch.set_grad_enabled(True)
    results = []
    for v in a.variants:
        ops, params = count(v, a.preset, a.batch, not a.fp32)
        comp = compiled_bytes(v, a.preset, a.batch, not a.fp32) if a.compiled else None
        results.append(summarize(ops, params, a.batch, a.peak_tflops * 1e12, a.bandwidth_tbs * 1e12, v, a.preset, not a.no_cuda_layout, comp))
        if a.top:
            by = collections.defaultdict(lambda: [0, 0, 0.0, set()])
            for o in ops:
                r = by[o['op']]; r[0] += 1; r[1] += o['bytes']
                r[2] += max(o['flops'] / (a.peak_tflops * 1e12), o['bytes'] / (a.bandwidth_tbs * 1e12)); r[3].update(o['dtypes'])
            for name, (n, b, t, dt) in sorted(by.items(), key=lambda kv: -kv[1][2])[:a.top]:
                print(f'  {name:40s} x{n:<4d} {b / 1e9:7.2f} GB {t * 1e3:7.2f} ms  {",".join(sorted(dt))}')
    if a.out:
        with open(a.out, 'w') as f: json.dump(results, f, indent=1, default=str)

if __name__ == '__main__': main()
