#!/usr/bin/env python3
"""Torch's CPU threads on a shared machine: a small training run with torch's default threads and with fewer, on a CPU
that is idle and on one where other processes are busy.

    python bench/threads.py [--rounds 3] [--steps 20] [--batch 8] [--preset tiny]

Each case is a fresh process that builds the `tiny` U-Net and times `--steps` training steps (forward, loss, backward,
AdamW) after one untimed step, with OMP_NUM_THREADS unset (torch's default: one thread per core) or set to 1. The
competitors are processes that keep one core busy each (a loop of 256x256 matmuls on one thread): none, one, or as
many as the machine has cores. Cases are interleaved, `--rounds` times, and the median of each is reported, with the
1-minute load average seen at its start. The machine's other load (anything else running) is not controlled: read the
`load` column.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP = r'''
import sys, time, torch
sys.path.insert(0, sys.argv[1])
from ddpm_nb.unet import UNet
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.diffusion import diffusion_loss
steps, batch, preset = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.manual_seed(0)
model = UNet.from_preset(preset)
sched = NoiseSchedule.from_name('linear', 1000)
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
x = torch.rand(batch, model.config.in_channels, model.config.image_size, model.config.image_size) * 2 - 1
def step():
    loss = diffusion_loss(model, sched, x); opt.zero_grad(); loss.backward(); opt.step()
step()
t0 = time.perf_counter()
for _ in range(steps): step()
print((time.perf_counter() - t0) / steps, torch.get_num_threads())
'''
BUSY = 'import torch\ntorch.set_num_threads(1)\na = torch.randn(256, 256)\nwhile True: a = (a @ a).tanh()\n'


def one(steps, batch, preset, threads):
    env = dict(os.environ)
    env.pop('OMP_NUM_THREADS', None); env.pop('MKL_NUM_THREADS', None)
    if threads: env['OMP_NUM_THREADS'] = str(threads)
    r = subprocess.run([sys.executable, '-c', STEP, str(ROOT), str(steps), str(batch), preset], env=env,
                       capture_output=True, text=True, check=True)
    s, n = r.stdout.split()
    return float(s), int(n)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--preset', default='tiny')
    p.add_argument('--out', type=Path, default=None, help='write the raw times as JSON here')
    a = p.parse_args()
    cores = os.cpu_count()
    cases = [(busy, threads) for busy in (0, 1, cores) for threads in (None, 1)]
    times = {c: [] for c in cases}; loads = {c: [] for c in cases}
    for r in range(a.rounds):
        for busy, threads in cases:
            procs = [subprocess.Popen([sys.executable, '-c', BUSY]) for _ in range(busy)]
            try:
                time.sleep(1.0 if busy else 0.0)
                loads[(busy, threads)].append(os.getloadavg()[0])
                s, n = one(a.steps, a.batch, a.preset, threads)
                times[(busy, threads)].append(s)
            finally:
                for q in procs: q.kill(); q.wait()
            print(f'round {r}: busy {busy}, threads {threads or "default"} ({n}): {s * 1e3:.1f} ms/step', flush=True)
    print(f'\n{cores} cores, preset {a.preset}, batch {a.batch}, {a.steps} steps, median of {a.rounds} rounds\n')
    print('| competing busy processes | threads | ms per step | vs 1 thread | load at start |')
    print('|---:|---|---:|---:|---:|')
    for busy, threads in cases:
        m = statistics.median(times[(busy, threads)]); m1 = statistics.median(times[(busy, 1)])
        print(f'| {busy} | {threads or "default"} | {m * 1e3:.1f} | {m / m1:.2f}x | {statistics.median(loads[(busy, threads)]):.1f} |')
    if a.out: a.out.write_text(json.dumps({f'{b}_{t}': v for (b, t), v in times.items()}, indent=1))


if __name__ == '__main__': main()
