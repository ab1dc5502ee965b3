#!/usr/bin/env python3
"""What the training loop adds to the model step (issue 17): `train()` against a bare forward / loss / backward / AdamW
step of the same network on batches already in memory, both on data held as one uint8 tensor (chapter 05's TensorImages).

    python bench/training_speed.py [--preset tiny] [--batch 64] [--steps 30] [--rounds 3] [--device cpu]
    python bench/training_speed.py --device cuda --preset mnist28 --batch 128 --compile reduce-overhead   # issue 17's GPU case

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
from ddpm_nb.unet import UNet, count_params


def bare(preset, data, schedule, steps, batch, device, amp='auto', compile=None) -> float:
    "Seconds per step of forward, loss, backward and a fused AdamW step, nothing else (autocast and compilation as train's)."
    torch.manual_seed(0)
    model = make_fast(UNet.from_preset(preset, num_classes=10)).to(device).train()
    net = torch.compile(model, mode=compile) if compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, fused=True)
    batches = [tuple(t.to(device) for t in data.batch(torch.arange(k * batch, (k + 1) * batch))) for k in range(4)]
    dt = autocast_dtype(amp, device)
    def step(k):
        x, y = batches[k % 4]
        with torch.autocast(device.type, dtype=dt or torch.float32, enabled=dt is not None): loss = diffusion_loss(net, schedule, x, y=y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for k in range(3 if compile else 1): step(k)          # compilation (and the first call's set-up) is not timed
    if device.type == 'cuda': torch.cuda.synchronize()
    t0 = time.perf_counter()
    for k in range(steps): step(k)
    if device.type == 'cuda': torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


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
                      amp=amp, compile=compile)
    with tempfile.TemporaryDirectory() as out:
        r = train(UNet.from_preset(preset, num_classes=10), schedule, data, cfg, out, device=device)
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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='tiny'); p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=30); p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--device', default='cpu')
    p.add_argument('--amp', default='auto', help="autocast on both sides, as TrainConfig.amp: 'auto' (CUDA: bf16), 'bf16', 'fp16', 'none'")
    p.add_argument('--compile', default=None, help="torch.compile mode on both sides, as TrainConfig.compile (default: eager)")
    p.add_argument('--profile', action='store_true', help='count the operations per step instead of timing')
    a = p.parse_args()
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
