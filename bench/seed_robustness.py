"""How much do the chapters' statistical checks vary with the seed? The spreads behind the margins of two asserts.

`python bench/seed_robustness.py toy [--seeds 0 6]`: chapter 06's 2-D toy (MLP, 2500 steps, 2000 samples by Algorithm 2),
retrained and resampled per seed; prints the sliced Wasserstein distance to fresh data, five data-vs-data floors and the
distance of pure noise.
`python bench/seed_robustness.py classifier [--seeds 0 4]`: chapter 08's feature network (400 steps, the test-size
setting) trained per seed, and its calibration (floor, blur, noise, a missing class) at 1000 images per side.
CPU only; each toy seed takes about 20 s, each classifier seed about 3 minutes on 2 cores.
"""
import argparse, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.data import DigitsDataset, toy_2d
from ddpm_nb.diffusion import diffusion_loss
from ddpm_nb.metrics import extract_features, quality, train_classifier
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.data import collate
from ddpm_nb.sampling import sample
from ddpm_nb.training import sliced_wasserstein
from ddpm_nb.unet import MLPDenoiser


def toy(seed:int) -> str:
    "Chapter 06's toy run with every random choice following `seed`."
    torch.manual_seed(seed)
    sched, data = NoiseSchedule.from_name('linear', 1000), toy_2d('swiss_roll', 20_000)
    mlp = MLPDenoiser(hidden=256, depth=4)
    opt = torch.optim.AdamW(mlp.parameters(), lr=2e-3)
    lr_decay = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=2500)
    for _ in range(2500):
        loss = diffusion_loss(mlp, sched, data[torch.randint(0, len(data), (512,))])
        opt.zero_grad(); loss.backward(); opt.step(); lr_decay.step()
    samples = sample(mlp.eval(), sched, (2000, 2), 'ddpm', clip_x0=False, generator=torch.Generator().manual_seed(seed))
    fresh = toy_2d('swiss_roll', 2000, seed=1)
    floors = [sliced_wasserstein(toy_2d('swiss_roll', 2000, seed=100 + k), fresh) for k in range(5)]
    sw, noise = sliced_wasserstein(samples, fresh), sliced_wasserstein(torch.randn(2000, 2), fresh)
    return (f'sw {sw:.4f}  floors {" ".join(f"{f:.4f}" for f in floors)} (mean {sum(floors) / 5:.4f})  noise {noise:.3f}  '
            f'sw/mean floor {sw / (sum(floors) / 5):.2f}  sw/noise {sw / noise:.2f}')


def blur(x, sigma):
    r = torch.arange(-3, 4, dtype=torch.float32); k = torch.exp(-r ** 2 / (2 * sigma ** 2)); k = k / k.sum()
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode='replicate'), k.view(1, 1, 1, 7))
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode='replicate'), k.view(1, 1, 7, 1))


def classifier(seed:int, n_ref:int=1000) -> str:
    "Chapter 08's calibration with the feature network trained from `seed`."
    train_ds, test_ds = DigitsDataset(20_000, seed=0), DigitsDataset(2 * n_ref, seed=1)
    real_x, _ = collate([test_ds[i] for i in range(len(test_ds))])
    pool_x, pool_y = collate([train_ds[i] for i in range(2 * n_ref)])
    clean, g = pool_x[:n_ref], torch.Generator().manual_seed(seed)
    net = train_classifier(train_ds, steps=400, seed=seed)
    ref = extract_features(net, real_x[:n_ref])
    variants = {'floor': clean, 'blur0.7': blur(clean, 0.7), 'blur1.2': blur(clean, 1.2),
                'noise0.1': (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(-1, 1),
                'noise0.3': (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(-1, 1), 'nozeros': pool_x[pool_y != 0][:n_ref]}
    cal = {k: quality(net, ref, v) for k, v in variants.items()}
    return ' | '.join(f"{k} fd {q['fd']:.2f} kid {q['kid']:.4f} p {q['precision']:.3f} r {q['recall']:.3f}" for k, q in cal.items())


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('what', choices=['toy', 'classifier'])
    p.add_argument('--seeds', nargs=2, type=int, default=[0, 6], help='first seed and one past the last')
    a = p.parse_args()
    for seed in range(*a.seeds):
        t0 = time.time()
        line = (toy if a.what == 'toy' else classifier)(seed)
        print(f'seed {seed} ({time.time() - t0:.0f} s): {line}', flush=True)
