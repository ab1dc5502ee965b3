#!/usr/bin/env python3
"""Where a training step's time goes on a GPU (issue 17): host-bound or device-bound, and which kernels.

On the H100 a bf16 step of the CIFAR-10 paper model took about 74 ms at batch 128, while `bench/roofline.py` puts the
same kernels at their roofline at about 20 ms; `mnist28` took 65 ms against a roofline of 7 ms. This script says why.
It times `--steps` steps plainly (wall time per step), then profiles the same number with torch's profiler and sums the
time the device spent in kernels. Device time far below wall time means the host (Python, dispatch, launches) is the
limit, which CUDA graphs remove; device time near wall time means the kernels are, and the table says which: convolutions,
GroupNorm, copies between layouts, casts, attention, or the rest. It also compares, on the same weights and batch, our
network with GroupNorm in float32 (the package's FloatGroupNorm) and the candidates of bench/unet_speed.py among
--kinds: GroupNorm in bf16 (`ours-bf16gn`) and GroupNorm + scale-shift + SiLU fused (`ours-fused`): the error of each
one's bf16 step against the same step in float32, output and gradients.

    python bench/gpu_profile.py --device cuda --preset cifar10 --batch 128 --steps 10 [--cudnn-benchmark] [--kinds ours ours-bf16gn ours-fused]
    python bench/gpu_profile.py --device cpu --preset tiny --batch 8 --steps 2      # the code path, on the CPU (host times only)
"""
import argparse, collections, json, re, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent)); sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from unet_speed import build

# kernel name -> group; the first pattern that matches wins (cuDNN, CUTLASS and ATen kernel names)
GROUPS = [('layout copy', r'nchwToNhwc|nhwcToNchw|transpose|permute'),
          ('groupnorm', r'[Gg]roup_?[Nn]orm|gn_(moments|affine|apply|grad)|RowwiseMoments|ComputeInternalGradients|ComputeFusedParams|GammaBeta|ComputeBackwardFusedParams'),
          ('attention', r'flash|fmha|attention|softmax'),
          ('conv / gemm', r'conv|gemm|cutlass|xmma|sm\d\d_|implicit|wgrad|dgrad|fprop|cudnn|Kernel2d|winograd'),
          ('cast / copy', r'copy|Copy|to_copy|bfloat16_copy|convert'),
          ('optimizer', r'adam|Adam|multi_tensor|foreach'),
          ('reduction', r'reduce|Reduce|sum_kernel'),
          ('elementwise', r'.')]

def group_of(name):
    return next(g for g, pat in GROUPS if re.search(pat, name))

def make(kind, preset, device):
    torch.manual_seed(0)
    model, call = build(kind, preset)
    return model.to(device).train(), call

def step_fn(model, call, opt, x, t, device):
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16): loss = F.mse_loss(call(model, x, t).float(), x)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return step

def profile(kind, preset, device, batch, steps):
    model, call = make(kind, preset, device)
    cfg = model.config
    x = torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, device=device)
    t = torch.randint(0, 1000, (batch,), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    step = step_fn(model, call, opt, x, t, device)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    for _ in range(3): step()                                   # warm-up (and cuDNN's timing, when benchmark is on)
    sync(); t0 = time.perf_counter()
    for _ in range(steps): step()
    sync(); wall = (time.perf_counter() - t0) / steps
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with torch.profiler.profile(activities=acts) as prof:
        for _ in range(steps): step()
        sync()
    groups, kernels = collections.Counter(), collections.Counter()
    counts = collections.Counter()
    for e in prof.key_averages():
        if device.type == 'cuda':
            if e.device_type != torch.autograd.DeviceType.CUDA: continue
            us = getattr(e, 'self_device_time_total', None)
            us = e.self_cuda_time_total if us is None else us
        else: us = e.self_cpu_time_total                        # the CPU: every operation's own time, children excluded
        if us <= 0: continue
        kernels[e.key] += us / steps / 1e3; counts[e.key] += e.count / steps
        groups[group_of(e.key)] += us / steps / 1e3
    busy = sum(groups.values())
    out = dict(kind=kind, preset=preset, batch=batch, wall_ms=wall * 1e3, busy_ms=busy, groups=dict(groups),
               top=[(k, round(v, 3), round(counts[k], 1)) for k, v in kernels.most_common(25)])
    what = 'device busy' if device.type == 'cuda' else 'host ops (self CPU time)'
    print(f'\n{preset} {kind}, batch {batch}: wall {wall * 1e3:.1f} ms/step, {what} {busy:.1f} ms/step '
          f'({busy / (wall * 1e3):.0%} of wall)', flush=True)
    for g, v in groups.most_common(): print(f'  {g:14s} {v:8.2f} ms  {v / busy:6.1%}')
    print('  top kernels (ms per step, calls per step):')
    for k, v, n in out['top'][:15]: print(f'    {v:7.3f} ms  x{n:<5g} {k[:110]}')
    return out

def compare_groupnorms(preset, device, batch, kinds=('ours', 'ours-bf16gn')):
    """Error of a bf16 step against the same step in float32, for ours (GroupNorm in float32) and the candidates
    (ours-bf16gn: in bf16; ours-fused: bench/fused_groupnorm.py, statistics in float32):
    largest |bf16 - fp32| / max|fp32| of the output, and of each parameter's gradient (median and worst tensor, over the
    tensors whose largest float32 gradient is at least 1e-3 of the largest of all)."""
    from ddpm_nb.unet import randomize_zero_params
    a, call = make('ours', preset, device)
    randomize_zero_params(a)                                      # every branch switched on, as after training
    models = {'ours': a}
    for k in kinds:
        if k != 'ours': models[k] = make(k, preset, device)[0]; models[k].load_state_dict(a.state_dict())
    cfg = a.config
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, device=device, generator=g)
    t = torch.randint(0, 1000, (batch,), device=device, generator=g)
    def run(m, amp):
        m.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp): out = call(m, x, t).float()
        F.mse_loss(out, x).backward()
        return out.detach(), [p.grad.float().clone() for p in m.parameters()]
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False    # the reference in true float32
    ref_out, ref_grads = run(a, False)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    rel = lambda u, v: ((u - v).abs().max() / v.abs().max().clamp_min(1e-30)).item()
    cmp = {}
    for name, m in models.items():
        out, grads = run(m, True)
        big = max(v.abs().max().item() for v in ref_grads)      # tensors whose gradient is near zero would divide noise by ~0
        errs = sorted(rel(u, v) for u, v in zip(grads, ref_grads) if v.abs().max().item() > 1e-3 * big)
        cmp[name] = dict(output=rel(out, ref_out), median_gradient=errs[len(errs) // 2], worst_gradient=errs[-1])
    print(f'\nbf16 step against float32, {preset}, batch {batch}: largest error relative to the largest float32 entry')
    for name, c in cmp.items():
        print(f"  {name:12s} output {c['output']:.2e}, gradients {c['median_gradient']:.2e} (median tensor), {c['worst_gradient']:.2e} (worst)")
    return cmp

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda'); p.add_argument('--preset', default='cifar10')
    p.add_argument('--batch', type=int, default=128); p.add_argument('--steps', type=int, default=10)
    p.add_argument('--kinds', nargs='*', default=['ours', 'ours-bf16gn'])
    p.add_argument('--cudnn-benchmark', action='store_true', help='let cuDNN time its convolution algorithms')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    device = torch.device(a.device)
    if a.cudnn_benchmark: torch.backends.cudnn.benchmark = True
    results = dict(device=torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu', torch=torch.__version__,
                   cudnn_benchmark=a.cudnn_benchmark, profiles=[], failed={})
    for k in a.kinds:                       # one failing candidate must not cost the others' profiles (device minutes are few)
        try: results['profiles'].append(profile(k, a.preset, device, a.batch, a.steps))
        except Exception as e:
            if k == 'ours': raise
            results['failed'][k] = f'{type(e).__name__}: {str(e)[:300]}'; print(f'{k} dropped: {results["failed"][k]}', flush=True)
    candidates = [k for k in a.kinds if k in ('ours-bf16gn', 'ours-fused') and k not in results['failed']]
    def save():
        if a.out:
            with open(a.out, 'w') as f: json.dump(results, f, indent=1)
    save()                                  # the profiles are kept even if the comparison below fails
    if candidates: results['bf16_error'] = compare_groupnorms(a.preset, device, min(a.batch, 32), ['ours'] + candidates); save()

if __name__ == '__main__': main()
