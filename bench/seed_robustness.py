"""How much do the chapters' statistical checks vary with the seed? The spreads behind the margins of their asserts.

`python bench/seed_robustness.py toy [--seeds 0 6] [--steps 2500] [--hidden 128]`: chapter 06's 2-D toy (MLP, 2000
samples by Algorithm 2), retrained and resampled per seed; prints the sliced Wasserstein distance to fresh data, five
data-vs-data floors and the distance of pure noise.
`python bench/seed_robustness.py samplers [--steps 5000] [--hidden 128] [--n 2000]`: chapter 07's toy check, every
sampler at several step counts, with the chapter's four asserts evaluated per seed.
`python bench/seed_robustness.py classifier [--seeds 0 4] [--steps 400] [--batch 128] [--n-train 20000]`: chapter 08's
feature network trained per seed, its test accuracy and its calibration (floor, blur, noise, a missing class) at 1000
images per side, with the chapter's asserts evaluated per seed.
CPU only; a toy seed takes about 20 s, a samplers seed about a minute, a classifier seed one to three minutes on 2 cores.
"""
import argparse, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.data import DigitsDataset, tensor_images, toy_2d
from ddpm_nb.diffusion import diffusion_loss
from ddpm_nb.metrics import extract_features, quality, train_classifier
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.data import collate
from ddpm_nb.sampling import sample
from ddpm_nb.training import sliced_wasserstein
from ddpm_nb.unet import MLPDenoiser


def trained_toy(seed:int, steps:int, hidden:int) -> tuple:
    "The chapters' 2-D toy: an MLP `hidden` wide trained on the swiss roll for `steps`, every random choice from `seed`."
    torch.manual_seed(seed)
    sched, data = NoiseSchedule.from_name('linear', 1000), toy_2d('swiss_roll', 20_000)
    mlp = MLPDenoiser(hidden=hidden, depth=4)
    opt = torch.optim.AdamW(mlp.parameters(), lr=2e-3)
    lr_decay = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    for _ in range(steps):
        loss = diffusion_loss(mlp, sched, data[torch.randint(0, len(data), (512,))])
        opt.zero_grad(); loss.backward(); opt.step(); lr_decay.step()
    return mlp.eval(), sched


def toy(seed:int, steps:int=2500, hidden:int=128) -> str:
    "Chapter 06's toy check: the trained toy sampled by Algorithm 2, against fresh data, data-vs-data floors and noise."
    mlp, sched = trained_toy(seed, steps, hidden)
    samples = sample(mlp, sched, (2000, 2), 'ddpm', clip_x0=False, generator=torch.Generator().manual_seed(seed))
    fresh = toy_2d('swiss_roll', 2000, seed=1)
    floors = [sliced_wasserstein(toy_2d('swiss_roll', 2000, seed=100 + k), fresh) for k in range(5)]
    sw, noise = sliced_wasserstein(samples, fresh), sliced_wasserstein(torch.randn(2000, 2), fresh)
    return (f'sw {sw:.4f}  floors {" ".join(f"{f:.4f}" for f in floors)} (mean {sum(floors) / 5:.4f})  noise {noise:.3f}  '
            f'sw/mean floor {sw / (sum(floors) / 5):.2f}  sw/noise {sw / noise:.2f}')


def samplers(seed:int, steps:int=5000, hidden:int=128, n:int=2000) -> str:
    "Chapter 07's toy check: the trained toy sampled by every sampler at several step counts, n points each."
    mlp, sched = trained_toy(seed, steps, hidden)
    fresh, fresh2 = toy_2d('swiss_roll', n, seed=1), toy_2d('swiss_roll', n, seed=2)
    floor, sw = sliced_wasserstein(fresh2, fresh), {}
    for name, counts in [('ddpm', [1000]), ('ddim', [5, 10, 20, 50, 1000]), ('dpmpp_2m', [5, 10, 20])]:
        for k in counts:
            x = sample(mlp, sched, (n, 2), name, steps=k, clip_x0=False, generator=torch.Generator().manual_seed(seed),
                       **(dict(eta=0.0) if name == 'ddim' else {}))
            sw[name, k] = sliced_wasserstein(x, fresh)
    checks = dict(near_floor=sw['ddpm', 1000] < 2 * floor and sw['ddim', 1000] < 2 * floor and sw['dpmpp_2m', 20] < 2 * floor,
                  more_steps=sw['ddim', 5] > sw['ddim', 20] and sw['dpmpp_2m', 5] > sw['dpmpp_2m', 20],
                  second_order=sw['dpmpp_2m', 10] < sw['ddim', 10],
                  near_ddpm=max(sw['dpmpp_2m', 20], sw['ddim', 50]) < sw['ddpm', 1000] + floor)
    return (f'floor {floor:.4f} ' + ' '.join(f'{a}{b}:{v:.4f}' for (a, b), v in sw.items()) + ' | '
            + ' '.join(f'{k}={"ok" if v else "FAIL"}' for k, v in checks.items())
            + f' | worst ratio to 2 floors {max(sw["ddpm", 1000], sw["ddim", 1000], sw["dpmpp_2m", 20]) / (2 * floor):.2f}'
            + f', excess over ddpm in floors {(max(sw["dpmpp_2m", 20], sw["ddim", 50]) - sw["ddpm", 1000]) / floor:.2f}')


def blur(x, sigma):
    r = torch.arange(-3, 4, dtype=torch.float32); k = torch.exp(-r ** 2 / (2 * sigma ** 2)); k = k / k.sum()
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode='replicate'), k.view(1, 1, 1, 7))
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode='replicate'), k.view(1, 1, 7, 1))


def classifier(seed:int, n_ref:int=1000, steps:int=400, batch:int=128, n_train:int=20_000, width:int=32) -> str:
    "Chapter 08's calibration with the feature network trained from `seed` (`steps` of `batch` images from `n_train` digits)."
    train_ds, test_ds = tensor_images(DigitsDataset(n_train, seed=0)), DigitsDataset(2 * n_ref, seed=1)
    real_x, real_y = collate([test_ds[i] for i in range(len(test_ds))])
    pool_x, pool_y = collate([train_ds[i] for i in range(2 * n_ref)])
    clean, g = pool_x[:n_ref], torch.Generator().manual_seed(seed)
    net = train_classifier(train_ds, steps=steps, batch_size=batch, seed=seed, width=width)
    with torch.no_grad(): acc = (net(real_x).argmax(1) == real_y).float().mean().item()
    ref = extract_features(net, real_x[:n_ref])
    variants = {'floor': clean, 'blur0.7': blur(clean, 0.7), 'blur1.2': blur(clean, 1.2),
                'noise0.1': (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(-1, 1),
                'noise0.3': (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(-1, 1), 'nozeros': pool_x[pool_y != 0][:n_ref]}
    cal = {k: quality(net, ref, v) for k, v in variants.items()}
    fl, c = cal['floor'], cal
    drop = lambda k, m: fl[m] - c[k][m]
    ok = dict(acc=acc > 0.9, blur=fl['fd'] < c['blur0.7']['fd'] < c['blur1.2']['fd'] and fl['kid'] < c['blur0.7']['kid'] < c['blur1.2']['kid'],
              noise=c['noise0.1']['fd'] < c['noise0.3']['fd'] and c['noise0.1']['kid'] < c['noise0.3']['kid'] and fl['fd'] < c['noise0.3']['fd'] and fl['kid'] < c['noise0.3']['kid'],
              noise_precision=drop('noise0.3', 'precision') > max(0.03, drop('noise0.3', 'recall')),
              nozeros=c['nozeros']['fd'] > 2 * fl['fd'] and drop('nozeros', 'recall') > max(0.03, drop('nozeros', 'precision') + 0.03))
    return (f'accuracy {acc:.3f} | chapter 08 asserts: ' + ' '.join(f'{k}={"ok" if v else "FAIL"}' for k, v in ok.items()) + ' | '
            + f"precision drop under noise 0.3 {drop('noise0.3', 'precision'):.3f} vs recall {drop('noise0.3', 'recall'):.3f}; "
            + f"recall drop without zeros {drop('nozeros', 'recall'):.3f} vs precision {drop('nozeros', 'precision'):.3f} | ") + ' | '.join(f"{k} fd {q['fd']:.2f} kid {q['kid']:.4f} p {q['precision']:.3f} r {q['recall']:.3f}" for k, q in cal.items())


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('what', choices=['toy', 'samplers', 'classifier'])
    p.add_argument('--seeds', nargs=2, type=int, default=[0, 6], help='first seed and one past the last')
    p.add_argument('--steps', type=int, default=None, help='toy and samplers: training steps (default 2500 and 5000)')
    p.add_argument('--hidden', type=int, default=128, help='toy and samplers: MLP width')
    p.add_argument('--batch', type=int, default=128, help='classifier: batch size')
    p.add_argument('--n-train', type=int, default=20_000, help='classifier: training digits')
    p.add_argument('--width', type=int, default=32, help='classifier: the CNN\'s width')
    p.add_argument('--n', type=int, default=2000, help='samplers: points per sample')
    a = p.parse_args()
    for seed in range(*a.seeds):
        t0 = time.time()
        line = (toy(seed, a.steps or 2500, a.hidden) if a.what == 'toy' else samplers(seed, a.steps or 5000, a.hidden, a.n) if a.what == 'samplers'
                else classifier(seed, steps=a.steps or 400, batch=a.batch, n_train=a.n_train, width=a.width))
        print(f'seed {seed} ({time.time() - t0:.0f} s): {line}', flush=True)
