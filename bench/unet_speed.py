#!/usr/bin/env python3
"""U-Net speed: ddpm_nb's UNet against diffusers' UNet2DModel and denoising-diffusion-pytorch's Unet at equal
parameter counts (within 10%), at 28x28 grayscale (our `mnist28` preset) and 32x32 RGB (the DDPM paper's CIFAR-10 model).

    pip install -r bench/requirements.txt
    python bench/unet_speed.py                   # CPU, fp32
    python bench/unet_speed.py --sizes cifar10 --cpu-bf16   # CPU, fp32 and bf16 autocast (CPUs with bf16 instructions)
    python bench/unet_speed.py --device cuda --train-batch 128   # GPU: fp32, bf16 autocast, bf16 + torch.compile
    python bench/unet_speed.py --sizes cifar10 --compile --interleave --steps 10   # CPU, eager and torch.compile
    python bench/unet_speed.py --sizes cifar10 --train-batch 64 --keep-memory   # CPU, every model with freed memory kept

Training throughput: images/s of forward + MSE + backward + AdamW step, in train mode with dropout 0.1 in every model.
MFU: the training step's FLOPs (torch's flop counter on one forward + backward: matmuls, convolutions, attention) per
second, over the peak of a large square matmul measured in the same run in the step's precision (bf16 under --amp runs,
fp32 otherwise).
Sampling cost: seconds per network evaluation for a batch of 64 in eval mode without gradients.
Each model runs in a fresh subprocess, so its peak memory is its own; times are medians over the timed steps.
--keep-memory calls ddpm_nb's keep_freed_memory() in every model's process (glibc keeps freed blocks instead of unmapping
them; ddpm_nb's train and sample do this on the CPU); kernel (sys) and user CPU seconds of the training steps are recorded.
--repeats R runs the whole list R times, round-robin, and pools each model's timed steps over its R runs: on a shared
machine whose speed drifts, every model then sees the same slow and fast stretches.
--interleave builds every model in one process (freed memory kept, so that they do not change each other's malloc
thresholds) and alternates them step by step: the most drift-proof ratio, reported as the median of per-round ratios;
it records no sampling times and no per-model peak memory; MFU as above.
--settings picks what is timed, e.g. `--settings bf16 bf16+compile`; --compile-mode sets torch.compile's mode for them
(reduce-overhead: CUDA graphs, which take the launches off the host).
--compile on the CPU also times every model under torch.compile (inductor; the first steps, which compile, are not timed).

    python bench/unet_speed.py --sizes cifar10 --interleave --steps 20
    python bench/unet_speed.py --device cuda --sizes cifar10 --train-batch 128 --interleave --settings bf16 --cudnn-benchmark \
        --kinds ours ours-bf16gn diffusers lucidrains     # issue 17: cuDNN's timed algorithms, GroupNorm without casts
    python bench/unet_speed.py --merge A.json B.json  # issue 17's target: ours at its best over the faster peer at its best

With more than one setting, --interleave ends with each model's best setting and ours at its best over each peer at its
best (chained through ours's round-by-round ratios, see best_settings); --merge does the same over the --out files of
several runs, taking each peer's ratio from one run.
"""
import argparse, json, platform, resource, statistics, subprocess, sys, time
from pathlib import Path

SIZES = {
    'mnist28': dict(channels=1, size=28, train_batch=32),
    'cifar10': dict(channels=3, size=32, train_batch=16),
}

def input_dtype_group_norm():
    "A candidate for issue 17, not in the package until a GPU measures it: GroupNorm in the input's dtype, autocast off."
    import torch
    import torch.nn.functional as F
    from ddpm_nb.speed import FloatGroupNorm
    class InputDtypeGroupNorm(FloatGroupNorm):
        "No casts around the kernel (CUDA's keeps its statistics in float32 for bf16 input); weight and bias cast to the input's dtype."
        def forward(self, x):
            with torch.autocast(x.device.type, enabled=False):
                return F.group_norm(x, self.num_groups, self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)
    return InputDtypeGroupNorm

def build(kind, size_name):
    "Return (model, call) for one benchmark entry; call(model, x, t) -> prediction tensor."
    if kind.startswith('ours'):       # ours: chapter 12's fast layers, channels-last; -contiguous: without channels-last;
        from ddpm_nb.speed import make_fast, FloatGroupNorm   # -plain: chapter 04's paper layers as they are;
        from ddpm_nb.unet import UNet                         # -bf16gn: ours with GroupNorm in the input's dtype;
        m = UNet.from_preset(size_name)
        if kind != 'ours-plain': m = make_fast(m, channels_last=(kind != 'ours-contiguous'))
        if kind == 'ours-fused':                              # -fused: GroupNorm, scale-shift and SiLU in one op
            from fused_groupnorm import fuse_group_norms      # (bench/fused_groupnorm.py: Triton on CUDA)
            fuse_group_norms(m)
        if kind == 'ours-bf16gn':
            cls = input_dtype_group_norm()
            for mod in m.modules():
                if type(mod) is FloatGroupNorm: mod.__class__ = cls
        return m, lambda m, x, t: m(x, t)
    if kind in ('diffusers', 'diffusers-heads8'):  # one attention head, as ours and the paper's model (google/ddpm-*'s configs);
        from diffusers import UNet2DModel        # -heads8: diffusers' default of 8-channel heads (32 heads at 256 channels)
        if size_name == 'mnist28':   # our preset's layout, with diffusers' own scale-shift ResNet blocks
            cfg = dict(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(64, 128, 128),
                       down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D'),
                       up_block_types=('UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'), resnet_time_scale_shift='scale_shift')
        else:                        # the configuration of google/ddpm-cifar10-32: the paper's model
            cfg = dict(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
                       down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'),
                       up_block_types=('UpBlock2D', 'UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'))
        m = UNet2DModel(layers_per_block=2, dropout=0.1, attention_head_dim=8 if kind == 'diffusers-heads8' else None, **cfg)
        return m, lambda m, x, t: m(x, t).sample
    if kind == 'lucidrains':
        from denoising_diffusion_pytorch import Unet
        if size_name == 'mnist28': m = Unet(dim=76, dim_mults=(1, 2, 2), channels=1, full_attn=(False, True, False), dropout=0.1)
        else: m = Unet(dim=144, dim_mults=(1, 2, 2, 2), channels=3, full_attn=(False, True, False, False), dropout=0.1)
        return m, lambda m, x, t: m(x, t)
    raise ValueError(kind)

def keep_freed():
    "Keep freed memory in this process, as ddpm_nb's train does on the CPU."
    from ddpm_nb.speed import keep_freed_memory
    assert keep_freed_memory(), 'keep_freed_memory needs Linux with glibc'

def one_step(call, model, opt, x, t, autocast):
    "The timed unit of training: forward, MSE against x, backward, AdamW step."
    import torch.nn.functional as F
    with autocast(): loss = F.mse_loss(call(model, x, t).float(), x)
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()

def train_flops(call, model, x, t, autocast) -> int:
    "FLOPs of one forward + backward, as torch's flop counter counts them (matmuls, convolutions, attention)."
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        with autocast(): loss = F.mse_loss(call(model, x, t).float(), x)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()

def matmul_peak(device, amp) -> float:
    """TFLOP/s of a large square matmul in the run's precision (bf16 under amp, else fp32): the practical peak for MFU.
    On CUDA the fp32 peak is TF32's, which cuDNN's convolutions use by default (an fp32 matmul peak would put MFU above 100%)."""
    import torch
    n, reps = (8192, 20) if device == 'cuda' else (1024, 5)
    old = torch.backends.cuda.matmul.allow_tf32
    if device == 'cuda' and not amp: torch.backends.cuda.matmul.allow_tf32 = True     # restored below
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16 if amp else torch.float32) for _ in range(2))
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    for _ in range(3): a @ b
    sync(); t0 = time.perf_counter()
    for _ in range(reps): a @ b
    sync(); torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e12

def run_one(kind, size_name, device, amp, compile_, steps, sample_evals, train_batch=None, keep_memory=False, mode=None):
    import torch
    if keep_memory: keep_freed()
    torch.manual_seed(0)
    spec = SIZES[size_name]
    model, call = build(kind, size_name)
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    fn = torch.compile(model, mode=mode) if compile_ else model
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    autocast = (lambda: torch.autocast(device, dtype=torch.bfloat16, enabled=amp))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == 'cuda': torch.cuda.reset_peak_memory_stats()
    B, C, S = train_batch or spec['train_batch'], spec['channels'], spec['size']
    x = torch.randn(B, C, S, S, device=device); t = torch.randint(0, 1000, (B,), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train(); flops = train_flops(call, model, x, t, autocast)      # counted on the eager model (also a warm-up)
    times = []; cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(2 + steps):
        sync(); t0 = time.perf_counter()
        one_step(call, fn, opt, x, t, autocast)
        sync(); times.append(time.perf_counter() - t0)
    train_step = statistics.median(times[2:]); cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    peak_train = (torch.cuda.max_memory_allocated() / 2**20 if device == 'cuda'
                  else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    model.eval(); xs = torch.randn(64, C, S, S, device=device); ts = torch.full((64,), 500, device=device); evals = []
    with torch.no_grad():
        for i in range(1 + sample_evals):
            sync(); t0 = time.perf_counter()
            with autocast(): call(fn, xs, ts)
            sync(); evals.append(time.perf_counter() - t0)
    return dict(kind=kind, size=size_name, params=n_params, train_img_s=B / train_step, train_step_s=train_step,
                train_flops_per_image=flops / B, train_tflops=flops / train_step / 1e12,
                train_step_spread=[min(times[2:]), max(times[2:])], sample_s_per_eval=statistics.median(evals[1:]),
                train_step_times=times[2:], sample_eval_times=evals[1:], batch=B,
                peak_mem_mb=peak_train, mem_before_train_mb=rss0, device=device, amp=amp, compile=compile_, keep_memory=keep_memory,
                train_sys_s=cpu1.ru_stime - cpu0.ru_stime, train_user_s=cpu1.ru_utime - cpu0.ru_utime)

def interleaved(size_name, device, amp, steps, train_batch=None, compile_=False, kinds=('ours', 'diffusers', 'lucidrains'), mode=None):
    "Training steps of every model in one process, alternating step by step; the median step time of each and per-round ratios."
    import torch
    if device == 'cpu': keep_freed()
    torch.manual_seed(0)
    spec = SIZES[size_name]
    B, C, S = train_batch or spec['train_batch'], spec['channels'], spec['size']
    x = torch.randn(B, C, S, S, device=device); t = torch.randint(0, 1000, (B,), device=device)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    autocast = (lambda: torch.autocast(device, dtype=torch.bfloat16, enabled=amp))
    models, flops = {}, {}
    for kind in kinds:
        m, call = build(kind, size_name); m = m.to(device).train()
        flops[kind] = train_flops(call, m, x, t, autocast)               # counted on the eager model
        models[kind] = (torch.compile(m, mode=mode) if compile_ else m, call, torch.optim.AdamW(m.parameters(), lr=1e-4))
    for kind, (m, call, opt) in list(models.items()):   # warm-up (compiling, when asked), each model reported as it ends
        t0 = time.perf_counter()
        try:
            for _ in range(2): one_step(call, m, opt, x, t, autocast)
            sync()
        except Exception as e:                           # one failing peer must not cost the others' numbers
            if kind == 'ours': raise
            print(f'{kind} dropped: its warm-up failed with {type(e).__name__}: {str(e)[:300]}', flush=True); del models[kind]; continue
        print(f'{size_name} amp={int(amp)} compile={int(compile_)}: {kind} warmed up in {time.perf_counter() - t0:.1f} s', flush=True)
    times = {k: [] for k in models}
    for i in range(steps):
        for kind, (m, call, opt) in models.items():
            sync(); t0 = time.perf_counter()
            one_step(call, m, opt, x, t, autocast)
            sync(); times[kind].append(time.perf_counter() - t0)
    ratios = {k: [a / b for a, b in zip(times[k], times['ours'])] for k in models if k != 'ours'}
    flops = {k: flops[k] for k in models}
    return dict(size=size_name, device=device, amp=amp, compile=compile_, batch=B, steps=steps, step_times=times,
                train_img_s={k: B / statistics.median(v) for k, v in times.items()}, train_flops_per_image={k: f / B for k, f in flops.items()},
                train_tflops={k: flops[k] / statistics.median(v) / 1e12 for k, v in times.items()},
                ours_over={k: statistics.median(v) for k, v in ratios.items()},
                ours_over_quartiles={k: statistics.quantiles(v, n=4)[::2] for k, v in ratios.items()})

def versions():
    import torch, diffusers, ddpm_nb
    from importlib.metadata import version
    return dict(python=platform.python_version(), torch=torch.__version__, diffusers=diffusers.__version__,
                denoising_diffusion_pytorch=version('denoising-diffusion-pytorch'), ddpm_nb=ddpm_nb.__version__,
                cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)

def same(r, q): return all(r[k] == q[k] for k in ('kind', 'size', 'amp', 'compile'))

def pooled(rs):
    "One result from several runs of one model: medians over all their timed steps and evaluations, the largest peak memory."
    steps = [s for r in rs for s in r['train_step_times']]
    step, evals = statistics.median(steps), [e for r in rs for e in r['sample_eval_times']]
    return {**rs[-1], 'runs': len(rs), 'train_step_s': step, 'train_img_s': rs[-1]['batch'] / step,
            'train_step_spread': [min(steps), max(steps)], 'train_step_times': steps, 'sample_eval_times': evals,
            'sample_s_per_eval': statistics.median(evals), 'peak_mem_mb': max(r['peak_mem_mb'] for r in rs),
            'train_sys_s': statistics.median(r['train_sys_s'] for r in rs), 'train_user_s': statistics.median(r['train_user_s'] for r in rs)}

def show(r, label='', peak=None):
    mfu = f"  {r['train_tflops']:.2f} TFLOP/s" + (f", MFU {r['train_tflops'] / peak:.1%} of {peak:.1f}" if peak else '')
    print(f"{r['size']:8s} {r['kind']:16s} amp={int(r['amp'])} compile={int(r['compile'])} params {r['params']:>11,d}  "
          f"train {r['train_img_s']:7.1f} img/s{mfu} ({r['train_flops_per_image'] / 1e9:.2f} GFLOP/img; step {r['train_step_s']:.3f} s, {r['train_step_spread'][0]:.3f}-"
          f"{r['train_step_spread'][1]:.3f})  sample {r['sample_s_per_eval']:.3f} s/eval@64  peak {r['peak_mem_mb']:.0f} MB  "
          f"(training CPU s: user {r['train_user_s']:.0f}, sys {r['train_sys_s']:.0f}) {label}", flush=True)

PEERS = ('diffusers', 'lucidrains')

def setting_name(r) -> str: return ('bf16' if r['amp'] else 'fp32') + ('+compile' if r.get('compile') else '')   # older files: eager only

def best_settings(results:list, size:str) -> dict:
    """Each model's fastest setting among one process's interleaved results at `size`, and ours at its best over each
    peer at its best (issue 17's target: 1.3x the faster peer). The ratio is chained through ours, so that the part
    measured round by round carries it: (ours over the peer, per-round median, in the peer's best setting) x (ours in
    its best setting over ours in that one). When both bests share a setting, the second factor is 1."""
    rows = {setting_name(r): r for r in results if r['size'] == size}
    best = {}
    for name, r in rows.items():
        for k, v in r['train_img_s'].items():
            if k not in best or v > best[k]['img_s']: best[k] = dict(img_s=v, setting=name, mfu=r.get('mfu', {}).get(k))
    if 'ours' not in best: return dict(size=size, settings=list(rows), best=best, ours_over={})
    o = best['ours']
    over = {k: rows[b['setting']]['ours_over'][k] * o['img_s'] / rows[b['setting']]['train_img_s']['ours']
            for k, b in best.items() if k in PEERS}
    return dict(size=size, settings=list(rows), best=best, ours_over=over)

def show_best(b:dict, source:str=''):
    if not b['ours_over']: return
    print(f"{b['size']} at each model's best of {', '.join(b['settings'])}{source}: " +
          ', '.join(f"{k} {v['img_s']:.1f} img/s ({v['setting']}" + (f", MFU {v['mfu']:.1%})" if v['mfu'] is not None else ')')
                    for k, v in b['best'].items()) +
          '; ours at its best over ' + ', '.join(f'{k} at its best {v:.2f}x' for k, v in b['ours_over'].items()), flush=True)

def merge(files:list):
    """Ours at its best over each peer at its best, from the --interleave JSON files of several runs (bench/gpu_session.sh
    times compiled diffusers and compiled lucidrains in separate calls). Each peer's ratio comes from the run that timed it
    in the most settings (then: one with a compiled setting; then the later file), so it never spans two runs; the headline
    is the smallest, against the faster peer."""
    runs = []
    for f in files:
        d = json.load(open(f))
        if not d.get('interleave'): raise SystemExit(f'{f} is not the --out file of an --interleave run: nothing to merge')
        runs.append((f, d['results']))
    for size in dict.fromkeys(r['size'] for _, rs in runs for r in rs):
        chosen, rank = {}, lambda b: (len(b['settings']), any(n.endswith('+compile') for n in b['settings']))
        for f, rs in runs:
            b = best_settings(rs, size)
            for k, v in b['ours_over'].items():
                if k not in chosen or rank(b) >= rank(chosen[k][2]): chosen[k] = (v, f, b)
        for f, b in {f: b for v, f, b in chosen.values()}.items(): show_best(b, f' ({Path(f).name})')
        if chosen:
            k, (v, f, _) = min(chosen.items(), key=lambda kv: kv[1][0])
            print(f'{size}: ours at its best over the faster peer at its best ({k}, {Path(f).name}): {v:.2f}x', flush=True)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cpu'); p.add_argument('--steps', type=int, default=6)
    p.add_argument('--sizes', nargs='*', default=list(SIZES)); p.add_argument('--out', default=None)
    p.add_argument('--train-batch', type=int, default=None, help='training batch for every size (default: 32 at 28x28, 16 at 32x32)')
    p.add_argument('--cpu-bf16', action='store_true', help='on the CPU, also time bf16 autocast (every model)')
    p.add_argument('--compile', action='store_true', help='on the CPU, also time torch.compile (every model, every precision)')
    p.add_argument('--compile-mode', default=None, help="torch.compile's mode for the +compile settings, e.g. reduce-overhead (CUDA graphs)")
    p.add_argument('--keep-memory', action='store_true', help="call ddpm_nb's keep_freed_memory() in every model's process")
    p.add_argument('--repeats', type=int, default=1, help='run every model this many times, round-robin, pooling the steps')
    p.add_argument('--interleave', action='store_true', help='all models in one process, alternating step by step (training only)')
    p.add_argument('--settings', nargs='*', choices=['fp32', 'bf16', 'fp32+compile', 'bf16+compile'],
                   help='precisions and compilation to time (default: CPU fp32 [+bf16, +compile]; GPU fp32, bf16, bf16+compile)')
    p.add_argument('--kinds', nargs='*', default=['ours', 'diffusers', 'lucidrains'],
                   help="models for --interleave, 'ours' among them (also: ours-contiguous, ours-plain, ours-bf16gn, ours-fused, diffusers-heads8)")
    p.add_argument('--cudnn-benchmark', action='store_true', help='with --interleave on CUDA: cuDNN times its convolution algorithms for every model')
    p.add_argument('--merge', nargs='+', metavar='JSON', help='only summarise: ours at its best over each peer at its best, from --interleave --out files')
    p.add_argument('--one', nargs=4, metavar=('KIND', 'SIZE', 'AMP', 'COMPILE'), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.merge: return merge(a.merge)
    if a.one:
        kind, size, amp, comp = a.one
        print(json.dumps(run_one(kind, size, a.device, amp == '1', comp == '1', a.steps, 3, a.train_batch, a.keep_memory, a.compile_mode))); return
    print(json.dumps(versions()), flush=True)
    if a.cudnn_benchmark:
        import torch; torch.backends.cudnn.benchmark = True
        print('cudnn.benchmark on: the first steps of every shape time the algorithms (untimed warm-up)', flush=True)
    amps = [False] + [True] * a.cpu_bf16
    settings = ([(amp, comp) for comp in [False] + [True] * a.compile for amp in amps] if a.device == 'cpu'
                else [(False, False), (True, False), (True, True)])
    if a.settings: settings = [(s.startswith('bf16'), s.endswith('+compile')) for s in a.settings]
    if a.interleave:
        if a.steps < 2: p.error('--interleave needs --steps 2 or more (it reports quartiles of the per-round ratios)')
        if 'ours' not in a.kinds: p.error("--kinds must include 'ours': the ratios are against it")
        results, peaks = [], {amp: matmul_peak(a.device, amp) for amp in sorted({amp for amp, _ in settings})}
        print('matmul peak, TFLOP/s: ' + ', '.join(f"{'bf16' if amp else 'fp32'} {v:.2f}" for amp, v in peaks.items()), flush=True)
        for size in a.sizes:
            for amp, comp in settings:
                r = interleaved(size, a.device, amp, a.steps, a.train_batch, comp, a.kinds, a.compile_mode); results.append(r)
                r['mfu'] = {k: v / peaks[amp] for k, v in r['train_tflops'].items()}
                print(f"{size} amp={int(amp)} compile={int(comp)} batch {r['batch']}, {r['steps']} interleaved rounds: train img/s " +
                      ', '.join(f'{k} {v:.2f} (MFU {r["mfu"][k]:.1%})' for k, v in r['train_img_s'].items()) + '; ours over ' +
                      ', '.join(f"{k} {v:.2f}x (quartiles {q[0]:.2f}-{q[1]:.2f})" for (k, v), q in
                                zip(r['ours_over'].items(), r['ours_over_quartiles'].values())), flush=True)
        if len(settings) > 1:
            for size in a.sizes: show_best(best_settings(results, size))
        if a.out:
            with open(a.out, 'w') as f: json.dump(dict(versions=versions(), interleave=True, cudnn_benchmark=a.cudnn_benchmark,
                                                       compile_mode=a.compile_mode, peaks_tflops=peaks, results=results), f, indent=1)
        return
    kinds = ['ours', 'ours-contiguous', 'diffusers', 'lucidrains']
    results, runs = [], []
    peaks = {amp: matmul_peak(a.device, amp) for amp in sorted({amp for amp, _ in settings})}
    print('matmul peak, TFLOP/s: ' + ', '.join(f"{'bf16' if amp else 'fp32'} {v:.2f}" for amp, v in peaks.items()), flush=True)
    for size in a.sizes:
        for amp, comp in settings:
            todo = kinds * a.repeats
            for i, kind in enumerate(todo):
                cmd = [sys.executable, __file__, '--device', a.device, '--steps', str(a.steps), '--one', kind, size, str(int(amp)), str(int(comp))]
                if a.train_batch: cmd += ['--train-batch', str(a.train_batch)]
                if a.keep_memory: cmd += ['--keep-memory']
                if a.compile_mode: cmd += ['--compile-mode', a.compile_mode]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode: print(f'{kind} {size} failed:\n{out.stderr[-2000:]}', flush=True); continue
                r = json.loads(out.stdout.strip().splitlines()[-1]); runs.append(r)
                last_round = i >= len(todo) - len(todo) // a.repeats
                if last_round: results.append(pooled([q for q in runs if same(q, r)]))
                show(results[-1] if last_round else r, 'pooled' if last_round and a.repeats > 1 else '', peaks[amp])
    for size in a.sizes:
        for amp, comp in settings:
            rows = {r['kind']: r for r in results if r['size'] == size and r['amp'] == amp and r['compile'] == comp}
            if 'ours' not in rows: continue
            peers = [rows[k] for k in PEERS if k in rows]
            if not peers: continue
            best = max(peers, key=lambda r: r['train_img_s'])
            print(f"{size} amp={int(amp)} compile={int(comp)}: ours / faster peer ({best['kind']}) training throughput = "
                  f"{rows['ours']['train_img_s'] / best['train_img_s']:.2f}x; MFU ours {rows['ours']['train_tflops'] / peaks[amp]:.1%}, "
                  f"{best['kind']} {best['train_tflops'] / peaks[amp]:.1%}; sampling "
                  f"{min(r['sample_s_per_eval'] for r in peers) / rows['ours']['sample_s_per_eval']:.2f}x; "
                  f"params ours {rows['ours']['params']:,d} vs " + ', '.join(f"{r['kind']} {r['params']:,d} ({r['params'] / rows['ours']['params'] - 1:+.1%})" for r in peers))
    if a.out:
        with open(a.out, 'w') as f: json.dump(dict(versions=versions(), repeats=a.repeats, compile_mode=a.compile_mode, peaks_tflops=peaks,
                                                   results=results, runs=runs), f, indent=1)

if __name__ == '__main__': main()
