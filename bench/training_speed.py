#!/usr/bin/env python3
"""What the training loop adds to the model step: `train()` against a bare forward / loss / backward / AdamW
step of the same network on batches already in memory, both on data held as one uint8 tensor (chapter 05's TensorImages).

    python bench/training_speed.py [--preset tiny] [--batch 64] [--steps 30] [--rounds 3] [--device cpu]
    python bench/training_speed.py --device cuda --preset mnist28 --batch 128 --compile reduce-overhead
    python bench/training_speed.py --micro [--rounds 9] [--steps 100] [--cprofile 300]

`--micro` makes the model step as small as it gets, so that what the loop adds is not hidden by it: a U-Net of 8
channels and one level (`MICRO` below), on the built-in digits drawn at 8x8 (chapter 05's DigitsDataset, drawn once, held
as a tensor), batch 64, fp32. Each round runs the bare step and train() one after the other; train()'s per-step time is
the difference of two run lengths (n and 2n steps), so its set-up cancels. Both wall time and the process's CPU time are
reported (on a shared machine the CPU time is the steadier of the two), and the median over rounds of each, and of the
per-round difference. First it times the data path alone: a batch read from the held tensor against the same batch
drawn item by item; `--rounds 0` stops after that. `--cprofile N` then profiles a train() run of N steps and lists where its time goes.

The two are run in alternation, `--rounds` times, each for `--steps` steps, and the fastest round of each is compared
(the least disturbed by other work on the machine). The bare step uses what `train` uses for the model: the network
made fast (chapter 12) and fused AdamW. What the loop adds on top: batches by index, label dropout, the non-finite
check, gradient clipping, the learning-rate warm-up, the EMA update and the loss log. The ratio loop / bare is printed;
the target of issue 17 is at most 1.05 at the tiny preset and batch 64.

`--profile` instead counts, under torch's profiler, the ATen operations each side runs per step (leaf operations: on a
GPU each is at least one kernel launch) and lists what the loop adds by name. A small model on a fast GPU is bound by
these launches and by the host's Python around them, not by arithmetic, so the count is the number to watch on the CPU.
"""
import argparse, json, platform, sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.data import DigitsDataset, tensor_images
from ddpm_nb.devices import autocast_dtype
from ddpm_nb.diffusion import diffusion_loss
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.speed import keep_freed_memory, make_fast
from ddpm_nb.training import TrainConfig, train
from ddpm_nb.unet import UNet, UNetConfig, count_params

MICRO = UNetConfig(in_channels=1, image_size=8, base_channels=8, channel_mults=(1,), num_res_blocks=1, attn_resolutions=(),
                   dropout=0.0, num_classes=10)


def _net(preset):
    "A UNet from a preset name or a UNetConfig, class-conditional on the digits' 10 classes."
    return UNet(preset) if isinstance(preset, UNetConfig) else UNet.from_preset(preset, num_classes=10)


def bare(preset, data, schedule, steps, batch, device, amp='auto', compile=None) -> float:
    "Seconds per step of forward, loss, backward and a fused AdamW step, nothing else (autocast and compilation as train's)."
    return bare_times(preset, data, schedule, steps, batch, device, amp, compile)[0]


def bare_times(preset, data, schedule, steps, batch, device, amp='auto', compile=None) -> tuple:
    "(wall, process CPU) seconds per step of the bare step, set-up and the first steps not timed."
    torch.manual_seed(0)
    model = make_fast(_net(preset)).to(device).train()
    net = torch.compile(model, mode=compile) if compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, fused=True)
    batches = [tuple(t.to(device) for t in data.batch(torch.arange(k * batch, (k + 1) * batch))) for k in range(4)]
    dt = autocast_dtype(amp, device)
    def step(k):
        x, y = batches[k % 4]
        with torch.autocast(device.type, dtype=dt or torch.float32, enabled=dt is not None): loss = diffusion_loss(net, schedule, x, y=y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for k in range(3): step(k)                           # compilation, the first calls' set-up and allocations are not timed
    if device.type == 'cuda': torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps): step(k)
    if device.type == 'cuda': torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps


def loop(preset, data, schedule, steps, batch, device, amp='auto', compile=None) -> float:
    "Seconds per step of train(), timed by train itself after its set-up; with compile, from two run lengths, so that compiling cancels."
    if compile:   # train's own time includes compiling: time two run lengths and take the difference
        return (_train_seconds(preset, data, schedule, 2 * steps, batch, device, amp, compile)
                - _train_seconds(preset, data, schedule, steps, batch, device, amp, compile)) / steps
    return _train_seconds(preset, data, schedule, steps, batch, device, amp, None) / steps


def _train_seconds(preset, data, schedule, steps, batch, device, amp, compile) -> float:
    "train()'s own seconds for its loop, a run of `steps` steps."
    torch.manual_seed(0)
    cfg = TrainConfig(steps=steps, batch_size=batch, val_fraction=0, ckpt_every=10**9, sample_every=10**9, progress=False,
                      amp=amp, compile=compile, target='eps', min_snr_gamma=None)   # the bare step's loss: diffusion_loss's defaults
    with tempfile.TemporaryDirectory() as out:
        r = train(_net(preset), schedule, data, cfg, out, device=device)
    return r['history']['seconds']


def _fused(e) -> bool: return e.name.startswith(('aten::_foreach', 'aten::_fused'))    # one kernel (a few) on a GPU

def leaf_ops(fn) -> dict:
    "ATen operations that fn() runs, counted by name: leaves, with a foreach or fused operation counted once, as a GPU runs it."
    from collections import Counter
    from torch.profiler import profile, ProfilerActivity
    def inside_fused(e):
        while e.cpu_parent is not None:
            e = e.cpu_parent
            if _fused(e): return True
        return False
    with profile(activities=[ProfilerActivity.CPU]) as prof: fn()
    return Counter(e.name for e in prof.events() if e.name.startswith('aten::') and not inside_fused(e)
                   and (_fused(e) or not any(c.name.startswith('aten::') for c in e.cpu_children)))


def profile_ops(preset, data, schedule, steps, batch, device):
    "Operations per step of the bare step and of train() (the difference of two run lengths, so set-up cancels)."
    per_step = {}
    for name, f in (('bare', bare), ('train()', loop)):
        short, long = (leaf_ops(lambda n=n: f(preset, data, schedule, n, batch, device)) for n in (steps, 2 * steps))
        per_step[name] = {k: (long[k] - short.get(k, 0)) / steps for k in long}
    b, l = per_step['bare'], per_step['train()']
    print(f'ATen operations per step (a foreach or fused one counted once): bare {sum(b.values()):.0f}, train() {sum(l.values()):.0f}')
    extra = sorted(((n - b.get(k, 0), k) for k, n in l.items() if n - b.get(k, 0) > 0.05), reverse=True)
    print('what train() adds per step:', ', '.join(f'{k[6:]} {n:.1f}' for n, k in extra[:15]))


def _cpu_and_wall(f) -> tuple:
    "(process CPU seconds, wall seconds) of f()."
    c, w = time.process_time(), time.perf_counter()
    f()
    return time.process_time() - c, time.perf_counter() - w


def _profile(f) -> dict:
    "cProfile of f(): {function: (calls, own seconds)}."
    import cProfile, pstats
    pr = cProfile.Profile(); pr.enable(); f(); pr.disable()
    return {f'{Path(k[0]).name}:{k[1]}({k[2]})': (v[1], v[2]) for k, v in pstats.Stats(pr).stats.items()}


def profile_added(data, schedule, n:int, batch:int, device, top:int=15):
    """Where train()'s extra time goes: per function, own time per step of train() minus that of the bare step, each side
    the difference of an n-step and a 2n-step run under cProfile, so that set-up and the final checkpoint cancel."""
    per_step = {}
    for name, f in (('bare', lambda k: bare(MICRO, data, schedule, k, batch, device, 'none')),
                     ('train', lambda k: _train_seconds(MICRO, data, schedule, k, batch, device, 'none', None))):
        short, long = _profile(lambda: f(n)), _profile(lambda: f(2 * n))
        per_step[name] = {k: ((c - short.get(k, (0, 0))[0]) / n, (t - short.get(k, (0, 0))[1]) / n) for k, (c, t) in long.items()}
    b, l = per_step['bare'], per_step['train']
    added = sorted(((t - b.get(k, (0, 0))[1], c - b.get(k, (0, 0))[0], k) for k, (c, t) in l.items()), reverse=True)
    print(f'cProfile, train() minus the bare step, per step (runs of {n} and {2 * n} steps each; own time, profiler overhead included):')
    print(f'  total own time per step: bare {sum(t for _, t in b.values()) * 1e3:.2f} ms, train() {sum(t for _, t in l.values()) * 1e3:.2f} ms')
    for dt, dc, k in added[:top]: print(f'  {dt * 1e3:7.3f} ms  {dc:6.1f} calls  {k}')


def data_cost(data, batch:int, n:int=100):
    "CPU time per batch of the data path: one indexing of the held tensor (as train() reads it) against drawing each item."
    import random
    from ddpm_nb.data import batch_indices, batch_source, collate, pil_to_model, render_digit, split_train_val
    get = batch_source(split_train_val(data, 0.0, 0, 0)[0])
    per_item = lambda idx: collate([(pil_to_model(render_digit(i % 10, data.size, random.Random(f'{data.seed}:{i}'))), i % 10) for i in idx])
    for name, f in (('held as a tensor (batch_source, as train() reads it)', get), ('drawn item by item (render_digit, collate)', per_item)):
        c = time.process_time()
        for k in range(n): f(batch_indices(len(data), batch, k, 0))
        print(f'data path, {name}: {(time.process_time() - c) / n * 1e3:.3f} ms CPU per batch of {batch}', flush=True)


def micro(steps:int, rounds:int, cprofile:int, batch:int=64):
    "Per-step wall and CPU time of a bare step and of train() on the micro U-Net, interleaved; medians; then a profile."
    import statistics
    device = torch.device('cpu')
    data = DigitsDataset(8 * batch, size=8).draw()          # drawn once, up front: the steady state of a run
    schedule = NoiseSchedule.from_name('linear', 1000)
    print(f'micro U-Net: {count_params(UNet(MICRO)):,d} parameters, 8x8 digits ({len(data)}, held as a tensor), batch {batch}, fp32, '
          f'{steps} steps per side per round, {rounds} rounds', flush=True)
    data_cost(data, batch)
    if not rounds: return None
    rows = []
    for r in range(rounds):
        b_wall, b_cpu = bare_times(MICRO, data, schedule, steps, batch, device, 'none')
        (s_cpu, s_wall), (l_cpu, l_wall) = (_cpu_and_wall(lambda n=n: _train_seconds(MICRO, data, schedule, n, batch, device, 'none', None))
                                            for n in (steps, 2 * steps))
        row = dict(bare_wall=b_wall, bare_cpu=b_cpu, loop_wall=(l_wall - s_wall) / steps, loop_cpu=(l_cpu - s_cpu) / steps)
        row['added_wall'], row['added_cpu'] = row['loop_wall'] - row['bare_wall'], row['loop_cpu'] - row['bare_cpu']
        rows.append(row)
        print(f'round {r}: ' + ', '.join(f'{k} {v * 1e3:.2f} ms' for k, v in row.items()), flush=True)
    med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
    print('median per step over rounds: ' + ', '.join(f'{k} {v * 1e3:.2f} ms' for k, v in med.items()))
    print(f'train() adds {med["added_cpu"] * 1e3:.2f} ms of CPU time per step ({med["added_wall"] * 1e3:.2f} ms wall) to a bare step of '
          f'{med["bare_cpu"] * 1e3:.2f} ms CPU ({med["bare_wall"] * 1e3:.2f} ms wall): train() / bare = {med["loop_cpu"] / med["bare_cpu"]:.3f} (CPU)')
    if cprofile: profile_added(data, schedule, cprofile, batch, device)
    return med


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='tiny'); p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=30); p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--device', default='cpu')
    p.add_argument('--amp', default='auto', help="autocast on both sides, as TrainConfig.amp: 'auto' (CUDA: bf16), 'bf16', 'fp16', 'none'")
    p.add_argument('--compile', default=None, help="torch.compile mode on both sides, as TrainConfig.compile (default: eager)")
    p.add_argument('--profile', action='store_true', help='count the operations per step instead of timing')
    p.add_argument('--micro', action='store_true', help='the micro U-Net on 8x8 digits: what train() adds per step (see above)')
    p.add_argument('--cprofile', type=int, default=300, help='with --micro: steps of the profiled train() run (0: none)')
    a = p.parse_args()
    if a.micro:
        print(json.dumps(dict(python=platform.python_version(), torch=torch.__version__, threads=torch.get_num_threads())))
        keep_freed_memory()
        return micro(a.steps, a.rounds, a.cprofile)
    device = torch.device(a.device)
    if device.type == 'cpu': keep_freed_memory()         # as train does, so that both sides run under the same allocator
    print(json.dumps(dict(python=platform.python_version(), torch=torch.__version__, threads=torch.get_num_threads(),
                          preset=a.preset, batch=a.batch, steps=a.steps, rounds=a.rounds, device=str(device),
                          gpu=torch.cuda.get_device_name(device) if device.type == 'cuda' else None, amp=a.amp, compile=a.compile)))
    data, schedule = tensor_images(DigitsDataset(8 * a.batch)), NoiseSchedule.from_name('linear', 1000).to(device)
    if a.profile: return profile_ops(a.preset, data, schedule, a.steps, a.batch, device)
    times = dict(bare=[], loop=[])
    for r in range(a.rounds):
        times['bare'].append(bare(a.preset, data, schedule, a.steps, a.batch, device, a.amp, a.compile))
        times['loop'].append(loop(a.preset, data, schedule, a.steps, a.batch, device, a.amp, a.compile))
        print(f'round {r}: bare {times["bare"][-1] * 1000:.1f} ms/step, train() {times["loop"][-1] * 1000:.1f} ms/step', flush=True)
    b, l = min(times['bare']), min(times['loop'])
    n = count_params(UNet.from_preset(a.preset, num_classes=10))
    print(f'{a.preset} ({n:,d} parameters), batch {a.batch}, {device}, amp {a.amp}, compile {a.compile}: bare step {b * 1000:.1f} ms, train() {l * 1000:.1f} ms '
          f'(fastest of {a.rounds} rounds); train() / bare = {l / b:.3f}')

if __name__ == '__main__': main()
