#!/usr/bin/env python3
"""Classifier-free guidance against the sampler: how often the asked digit comes out at w = 0, 1, 3, for DDIM as `sample`
runs it (eps re-derived from the clipped x0 when guiding), DDIM with the network's own eps next to the clipped x0 (as
before 2026-11-27), DPM-Solver++(2M) (which steps with the clipped x0 alone), and DDIM without clipping, on one or more
digit models (quick-start runs).

  python tools/quickstart.py --out runs/qs_v                                   # the recipe: v with min-SNR-5
  .venv/bin/ddpm_nb train --train-steps 600 --preset tiny --channel-mults 1,2,2 --attn-res 7 --dropout 0 \\
      --batch-size 64 --lr 1e-3 --warmup-steps 50 --ema-decay 0.995 --target eps --min-snr-gamma 0 \\
      --ckpt-every 300 --out runs/qs_eps                                       # the same recipe predicting eps, unweighted
  python bench/guidance.py runs/qs_eps runs/qs_v                                # about 17 minutes on 2 CPU cores
  python bench/guidance.py runs/qs_eps runs/qs_v --eta 0 --weights 3 --only "DDIM 50, eta 0" "DDIM 50, eta 0, network's eps"

The judge is chapter 08's MLP classifier (trained here in about 20 s on 20,000 built-in digits). Every setting starts
from the same seed and labels (20 of each digit). Prints one line per model, sampler and w.
"""
import argparse, time
import torch
from ddpm_nb.checkpoints import load_model
from ddpm_nb.data import DigitsDataset, tensor_images
from ddpm_nb.metrics import predict_classes, train_classifier
from ddpm_nb.sampling import sample

def samplers(eta:float) -> dict:
    return {f'DDIM 50, eta {eta:g}': dict(sampler='ddim', steps=50, eta=eta),          # eps re-derived from the clipped x0 when guiding
            f"DDIM 50, eta {eta:g}, network's eps": dict(sampler='ddim', steps=50, eta=eta, rederive_eps=False),
            'DPM-Solver++ 20': dict(sampler='dpmpp_2m', steps=20),
            f'DDIM 50, eta {eta:g}, no clipping': dict(sampler='ddim', steps=50, eta=eta, clip_x0=False)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', help='run directories of class-conditional digit models')
    p.add_argument('--n', type=int, default=200, help='samples per setting (a multiple of 10)')
    p.add_argument('--weights', type=float, nargs='+', default=[0.0, 1.0, 3.0])
    p.add_argument('--eta', type=float, default=1.0, help="DDIM's eta (default 1)")
    p.add_argument('--only', nargs='*', help='sampler names to run (default: all)')
    a = p.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    judge = train_classifier(tensor_images(DigitsDataset(20_000, seed=0)), steps=1500, seed=1, arch='mlp')
    print(f'judge trained in {time.time() - t0:.0f} s', flush=True)
    labels = torch.arange(10).repeat(a.n // 10)
    for run in a.runs:
        model, schedule, meta = load_model(run, 'cpu')
        for name, kw in samplers(a.eta).items():
            if a.only and name not in a.only: continue
            for w in a.weights:
                x = sample(model, schedule, (len(labels), 1, 28, 28), y=labels, w=w, target=meta['target'],
                           generator=torch.Generator().manual_seed(1), **kw)
                acc = (predict_classes(judge, x) == labels).float().mean().item()
                print(f'{run} ({meta["target"]})  {name:28s} w = {w:g}: recognised as asked {acc:.2f}; '
                      f'pixels beyond +-0.9: {(x.abs() > 0.9).float().mean():.3f}', flush=True)


if __name__ == '__main__': main()
