#!/usr/bin/env python3
"""What the training loop adds to the model step (issue 17): `train()` against a bare forward / loss / backward / AdamW
step of the same network on batches already in memory, both on data held as one uint8 tensor (chapter 05's TensorImages).

    python bench/training_speed.py [--preset tiny] [--batch 64] [--steps 30] [--rounds 3] [--device cpu]

The two are run in alternation, `--rounds` times, each for `--steps` steps, and the fastest round of each is compared
(the least disturbed by other work on the machine). The bare step uses what `train` uses for the model: the network
made fast (chapter 12) and fused AdamW. What the loop adds on top: batches by index, label dropout, the non-finite
check, gradient clipping, the learning-rate warm-up, the EMA update and the loss log. The ratio loop / bare is printed;
the target of issue 17 is at most 1.05 at the tiny preset and batch 64.
"""
import argparse, json, platform, sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.data import DigitsDataset, tensor_images
from ddpm_nb.diffusion import diffusion_loss
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.speed import keep_freed_memory, make_fast
from ddpm_nb.training import TrainConfig, train
from ddpm_nb.unet import UNet, count_params


def bare(preset, data, schedule, steps, batch, device) -> float:
    "Seconds per step of forward, loss, backward and a fused AdamW step, nothing else."
    torch.manual_seed(0)
    model = make_fast(UNet.from_preset(preset, num_classes=10)).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, fused=True)
    batches = [tuple(t.to(device) for t in data.batch(torch.arange(k * batch, (k + 1) * batch))) for k in range(4)]
    t0 = time.perf_counter()
    for k in range(steps):
        x, y = batches[k % 4]
        loss = diffusion_loss(model, schedule, x, y=y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    if device.type == 'cuda': torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def loop(preset, data, schedule, steps, batch, device) -> float:
    "Seconds per step of train(), timed by train itself (after its set-up)."
    torch.manual_seed(0)
    cfg = TrainConfig(steps=steps, batch_size=batch, val_fraction=0, ckpt_every=10**9, sample_every=10**9, progress=False)
    with tempfile.TemporaryDirectory() as out:
        r = train(UNet.from_preset(preset, num_classes=10), schedule, data, cfg, out, device=device)
    return r['history']['seconds'] / steps


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='tiny'); p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=30); p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--device', default='cpu')
    a = p.parse_args()
    device = torch.device(a.device)
    if device.type == 'cpu': keep_freed_memory()         # as train does, so that both sides run under the same allocator
    print(json.dumps(dict(python=platform.python_version(), torch=torch.__version__, threads=torch.get_num_threads(),
                          preset=a.preset, batch=a.batch, steps=a.steps, rounds=a.rounds, device=str(device))))
    data, schedule = tensor_images(DigitsDataset(8 * a.batch)), NoiseSchedule.from_name('linear', 1000).to(device)
    times = dict(bare=[], loop=[])
    for r in range(a.rounds):
        times['bare'].append(bare(a.preset, data, schedule, a.steps, a.batch, device))
        times['loop'].append(loop(a.preset, data, schedule, a.steps, a.batch, device))
        print(f'round {r}: bare {times["bare"][-1] * 1000:.1f} ms/step, train() {times["loop"][-1] * 1000:.1f} ms/step', flush=True)
    b, l = min(times['bare']), min(times['loop'])
    n = count_params(UNet.from_preset(a.preset, num_classes=10))
    print(f'{a.preset} ({n:,d} parameters), batch {a.batch}, {device}: bare step {b * 1000:.1f} ms, train() {l * 1000:.1f} ms '
          f'(fastest of {a.rounds} rounds); train() / bare = {l / b:.3f}')

if __name__ == '__main__': main()
