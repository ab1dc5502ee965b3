#!/usr/bin/env python3
"""Training-loop throughput on the built-in digits: the whole loop (data generated and loaded in the loop, EMA,
logging) against the model alone (forward + loss + backward + AdamW step on batches already in memory).

    python bench/training_speed.py [--preset mnist28] [--steps 40] [--batch 64]

The share of time spent outside the model is 1 - (model-only time / whole-loop time). The data pipeline renders digits
with PIL on the fly in the main process (the loop's default), which is the worst case for the data path.
"""
import argparse, json, platform, tempfile, time
import torch
from ddpm_nb.data import DigitsDataset
from ddpm_nb.diffusion import diffusion_loss
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.data import collate
from ddpm_nb.training import TrainConfig, train
from ddpm_nb.unet import UNet, count_params

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='mnist28'); p.add_argument('--steps', type=int, default=40)
    p.add_argument('--batch', type=int, default=64)
    a = p.parse_args()
    print(json.dumps(dict(python=platform.python_version(), torch=torch.__version__, threads=torch.get_num_threads(),
                          preset=a.preset, steps=a.steps, batch=a.batch)))
    data, s = DigitsDataset(20_000), NoiseSchedule.from_name('linear', 1000)
    # the model alone, on batches already in memory
    torch.manual_seed(0)
    m = UNet.from_preset(a.preset, num_classes=10)
    opt = torch.optim.AdamW(m.parameters(), 2e-4)
    batches = [collate([data[i] for i in range(k * a.batch, (k + 1) * a.batch)]) for k in range(4)]
    times = []
    for k in range(a.steps + 2):
        x, y = batches[k % 4]
        t0 = time.perf_counter()
        loss = diffusion_loss(m, s, x, y=y); opt.zero_grad(); loss.backward(); opt.step()
        times.append(time.perf_counter() - t0)
    model_step = sum(times) / len(times)      # a mean over as many steps as the loop runs, warm-up included, like the loop's
    # data alone: render and collate one batch
    t0 = time.perf_counter()
    for k in range(5): collate([data[i] for i in range(10_000 + k * a.batch, 10_000 + (k + 1) * a.batch)])
    data_step = (time.perf_counter() - t0) / 5
    # the whole loop
    torch.manual_seed(0)
    cfg = TrainConfig(steps=a.steps + 2, batch_size=a.batch, val_fraction=0, ckpt_every=10**9, sample_every=10**9,
                      log_every=1, progress=False)
    with tempfile.TemporaryDirectory() as out:
        r = train(UNet.from_preset(a.preset, num_classes=10), s, data, cfg, out, device='cpu')
    loop_step = r['history']['seconds'] / cfg.steps
    print(f'{a.preset} ({count_params(m):,d} parameters), batch {a.batch}, 2 CPU threads:')
    print(f'  model only     {model_step:.3f} s/step  {a.batch / model_step:6.1f} img/s')
    print(f'  data only      {data_step:.3f} s/batch {a.batch / data_step:6.0f} img/s (rendering digits + collate)')
    print(f'  whole loop     {loop_step:.3f} s/step  {a.batch / loop_step:6.1f} img/s')
    print(f'  share of time outside the model: {max(0.0, 1 - model_step / loop_step):.1%} (loop vs model-only; noisy, both are measured)')
    print(f'  share of a step spent making the batch: {data_step / loop_step:.1%} (rendering + collate, measured directly)')

if __name__ == '__main__': main()
