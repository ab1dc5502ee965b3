#!/usr/bin/env python3
"""Quality per compute on Fashion-MNIST: ddpm_nb's recipe against the default recipes of diffusers and of lucidrains'
denoising-diffusion-pytorch, at the same number of optimizer steps, batch size and parameter count (within 2%).

For each method: train for --steps optimizer steps at --batch-size, then draw --n-samples images with 50 steps of its
fast sampler, keep them as uint8 N x 28 x 28 .npy, and score them with chapter 08's protocol (FeatureNet trained on the
Fashion-MNIST training split; FD, KID, precision/recall against as many test images). Prints the configuration,
versions, hardware and wall times; writes results.json and the .npy files to --out.

  python bench/quality_per_compute.py                      # CPU defaults (read the timings in bench/RESULTS.md first)
  python bench/quality_per_compute.py --device cuda --steps 20000 --n-samples 5000   # a GPU rerun at a larger budget

Data: $DDPM_NB_FASHION, else ../shared/data/fashion-mnist (idx files). Peers: pip install -r bench/requirements.txt.
"""
import argparse, json, os, platform, sys, time
from pathlib import Path
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
UNET_28 = dict(channel_mults=(1, 2, 2), attn_resolutions=(7,), dropout=0.0)      # ours: the quick-start U-Net, 1.27M parameters


def fashion(split):
    from ddpm_nb.data import IdxDataset
    p = Path(os.environ.get('DDPM_NB_FASHION', ROOT.parent / 'shared' / 'data' / 'fashion-mnist'))
    if not p.is_dir(): sys.exit(f'Fashion-MNIST not found at {p}: set DDPM_NB_FASHION to a folder of its idx files')
    return IdxDataset(p, split)


def images(ds, n=None):
    from ddpm_nb.training import collate
    x, y = collate([ds[i] for i in range(n or len(ds))])
    return x, y


def n_params(m): return sum(p.numel() for p in m.parameters())


def batches(x, steps, batch, seed):
    "The same data order for every method: a fresh permutation per epoch from one generator."
    g, per = torch.Generator().manual_seed(seed), len(x) // batch
    for k in range(steps):
        if k % per == 0: perm = torch.randperm(len(x), generator=g)
        yield x[perm[(k % per) * batch:(k % per + 1) * batch]]


# ---- ours: ddpm_nb's recipe (the quick start's settings, unconditional) -------------------------------------------
def run_ours(x, a, dev):
    from ddpm_nb.unet import UNet
    from ddpm_nb.schedules import NoiseSchedule
    from ddpm_nb.training import QUICKSTART, TrainConfig, train
    from ddpm_nb.sampling import sample
    torch.manual_seed(a.seed)
    model = UNet.from_preset('tiny', **UNET_28)
    s = NoiseSchedule.from_name('linear', 1000)
    tr = {k: v for k, v in QUICKSTART['train'].items() if k != 'val_max'}
    cfg = TrainConfig(steps=a.steps, **{**tr, 'batch_size': a.batch_size}, val_fraction=0.0, ckpt_every=a.steps,
                      sample_every=a.steps, log_every=max(1, a.steps // 20), progress=False, seed=a.seed)
    data = [(xi, -1) for xi in x]
    t0 = time.perf_counter()
    run = train(model, s, data, cfg, Path(a.out) / 'ours_run', device=dev)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = sample(run['ema'].eval(), s, (a.n_samples, 1, 28, 28), 'ddim', 50, eta=1.0, batch_size=500,
                 generator=torch.Generator(dev).manual_seed(a.seed))
    return model, out, t_train, time.perf_counter() - t0, 'DDIM, 50 steps, eta 1, trailing spacing, EMA weights'


# ---- diffusers: examples/unconditional_image_generation/train_unconditional.py defaults ---------------------------
def run_diffusers(x, a, dev):
    from diffusers import UNet2DModel, DDPMScheduler, DDIMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    torch.manual_seed(a.seed)
    model = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 72), layers_per_block=1,
                        down_block_types=('DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'),
                        up_block_types=('AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'), norm_num_groups=8).to(dev)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule='linear', prediction_type='epsilon')
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    lr = get_scheduler('cosine', optimizer=opt, num_warmup_steps=min(500, a.steps // 10), num_training_steps=a.steps)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75) if a.diffusers_ema else None
    t0 = time.perf_counter()
    for k, x0 in enumerate(batches(x, a.steps, a.batch_size, a.seed)):
        x0 = x0.to(dev); noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (len(x0),), device=dev)
        loss = torch.nn.functional.mse_loss(model(sched.add_noise(x0, noise, t), t).sample, noise)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); lr.step()
        if ema: ema.step(model.parameters())
    t_train = time.perf_counter() - t0
    if ema: ema.copy_to(model.parameters())
    model.eval()
    ddim = DDIMScheduler.from_config(sched.config); ddim.set_timesteps(50)
    g, outs, t0 = torch.Generator(dev).manual_seed(a.seed), [], time.perf_counter()
    with torch.no_grad():
        for i in range(0, a.n_samples, 500):
            img = torch.randn((min(500, a.n_samples - i), 1, 28, 28), generator=g, device=dev)
            for t in ddim.timesteps: img = ddim.step(model(img, t).sample, t, img, eta=0.0).prev_sample
            outs.append(img)
    return model, torch.cat(outs), t_train, time.perf_counter() - t0, 'DDIMScheduler, 50 steps, eta 0, its default spacing' + (', EMA' if ema else ', raw weights (the example trains without EMA unless --use_ema)')


# ---- lucidrains: GaussianDiffusion and Trainer defaults -------------------------------------------------------------
def run_lucidrains(x, a, dev):
    from denoising_diffusion_pytorch import Unet, GaussianDiffusion
    from ema_pytorch import EMA
    torch.manual_seed(a.seed)
    # dim 30 puts it within 2% of our parameter count; 30 channels need GroupNorm groups dividing 30 (6, not the default 8)
    net = Unet(dim=30, dim_mults=(1, 2, 2), channels=1, full_attn=(False, False, True), resnet_block_groups=6)
    diff = GaussianDiffusion(net, image_size=28, timesteps=1000, sampling_timesteps=50).to(dev)   # pred_v, sigmoid schedule
    opt = torch.optim.Adam(diff.parameters(), lr=1e-4, betas=(0.9, 0.99))
    ema = EMA(diff, beta=0.995, update_every=10).to(dev)
    t0 = time.perf_counter()
    for x0 in batches(x, a.steps, a.batch_size, a.seed):
        loss = diff((x0.to(dev) + 1) / 2)                 # its auto_normalize expects [0, 1]
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(diff.parameters(), 1.0); opt.step(); ema.update()
    t_train = time.perf_counter() - t0
    ema.ema_model.eval(); torch.manual_seed(a.seed)
    outs, t0 = [], time.perf_counter()
    with torch.no_grad():
        for i in range(0, a.n_samples, 500): outs.append(ema.ema_model.sample(batch_size=min(500, a.n_samples - i)) * 2 - 1)
    return net, torch.cat(outs), t_train, time.perf_counter() - t0, 'DDIM, 50 steps, eta 0 (its sampling_timesteps=50), EMA weights'


RUNNERS = dict(ours=run_ours, diffusers=run_diffusers, lucidrains=run_lucidrains)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--methods', nargs='+', default=list(RUNNERS), choices=list(RUNNERS))
    p.add_argument('--steps', type=int, default=2000)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--n-samples', type=int, default=5000)
    p.add_argument('--clf-steps', type=int, default=2000)
    p.add_argument('--diffusers-ema', action='store_true', help='turn on the example\'s optional EMA (off by default there)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=str(ROOT / 'bench' / 'results' / 'fashion'))
    a = p.parse_args()
    from ddpm_nb.metrics import extract_features, quality, train_classifier
    from ddpm_nb.diffusion import to_uint8
    import ddpm_nb
    from importlib.metadata import version
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    info = dict(config=vars(a), python=platform.python_version(), torch=torch.__version__, ddpm_nb=ddpm_nb.__version__,
                machine=platform.processor() or platform.machine(), cpus=os.cpu_count(), threads=torch.get_num_threads(),
                gpu=torch.cuda.get_device_name() if a.device.startswith('cuda') else None)
    for pkg in ('diffusers', 'denoising-diffusion-pytorch'):
        try: info[pkg] = version(pkg)
        except Exception: info[pkg] = None
    print(json.dumps(info, indent=1), flush=True)
    train_x, _ = images(fashion('train'))
    test_ds = fashion('test')
    t0 = time.perf_counter()
    net = train_classifier(fashion('train'), steps=a.clf_steps, device=a.device, seed=a.seed)
    ref_x, ref_y = images(test_ds, a.n_samples)
    with torch.no_grad(): acc = (net(ref_x.to(a.device)).argmax(1).cpu() == ref_y).float().mean().item()
    ref = extract_features(net, ref_x)
    info['classifier'] = dict(test_accuracy=acc, seconds=time.perf_counter() - t0)
    info['floor'] = quality(net, ref, images(fashion('train'), a.n_samples)[0])
    print(f'classifier: test accuracy {acc:.3f}; real-vs-real floor FD {info["floor"]["fd"]:.3f}', flush=True)
    results = {}
    for name in a.methods:
        model, x, t_train, t_sample, sampler = RUNNERS[name](train_x, a, a.device)
        u = to_uint8(x.clamp(-1, 1)).cpu()[:, 0].numpy()
        np.save(out / f'{name}_samples.npy', u)
        q = quality(net, ref, torch.from_numpy(u)[:, None])
        results[name] = dict(q, params=n_params(model), train_seconds=t_train, sample_seconds=t_sample, sampler=sampler)
        print(f'{name:10s} params {results[name]["params"]:,}  train {t_train:.0f} s  sample {t_sample:.0f} s  '
              f'FD {q["fd"]:.2f}  KID {q["kid"]:.4f}  precision {q["precision"]:.3f}  recall {q["recall"]:.3f}', flush=True)
        (out / 'results.json').write_text(json.dumps(dict(info=info, results=results), indent=1))
    if 'ours' in results and len(results) > 1:
        best = min(v['fd'] for k, v in results.items() if k != 'ours')
        print(f'ours / best peer FD: {results["ours"]["fd"] / best:.2f} (target <= 0.7)')


if __name__ == '__main__': main()
