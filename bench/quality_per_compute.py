#!/usr/bin/env python3
"""Quality per compute on Fashion-MNIST: ddpm_nb's recipe against the default recipes of diffusers and of lucidrains'
denoising-diffusion-pytorch, at the same number of optimizer steps, batch size and parameter count (within 2%).

For each method: train for --steps optimizer steps at --batch-size, then draw --n-samples images with 50 steps of its
fast sampler, keep them as uint8 N x 28 x 28 .npy, and score them with chapter 08's protocol (FeatureNet trained on the
Fashion-MNIST training split; FD, KID, precision/recall against as many test images). Prints the configuration,
versions, hardware and wall times; writes results.json and the .npy files to --out.

  python bench/quality_per_compute.py --steps 800 --n-samples 2000 --clf-steps 1000 --out bench/results/fashion-cpu
  python bench/quality_per_compute.py --methods ours_eta0 ours_raw ours_lr1e4 ours_bf16 --steps 800 --n-samples 2000 \
      --out bench/results/fashion-cpu                      # ablations: one choice of our recipe changed at a time
  python bench/quality_per_compute.py --methods ours_dropout ours_dropout_torch ours_rerun ours_seed1 --steps 800 \
      --n-samples 2000 --out bench/results/fashion-cpu     # dropout masks, a rerun with today's code, seed noise
  python bench/quality_per_compute.py --device cuda --steps 20000 --n-samples 5000 --clf-steps 5000 --sample-batch 1000 \
      --out bench/results/fashion-gpu                      # a GPU rerun at a larger budget

The first line is the CPU run in bench/RESULTS.md (about an hour on 2 cores); the defaults (2000 steps, 5000 samples) are
about 2.5 hours there. Later calls into the same --out reuse its feature network and merge into its results.json.

Data: $DDPM_NB_FASHION, else ../shared/data/fashion-mnist (idx files). Peers: pip install -r bench/requirements.txt.
"""
import argparse, json, os, platform, sys, time
from pathlib import Path
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def fashion(split):
    from ddpm_nb.loaders import IdxDataset
    p = Path(os.environ.get('DDPM_NB_FASHION', ROOT.parent / 'shared' / 'data' / 'fashion-mnist'))
    if not p.is_dir(): sys.exit(f'Fashion-MNIST not found at {p}: set DDPM_NB_FASHION to a folder of its idx files')
    return IdxDataset(p, split)


def images(ds, n=None):
    from ddpm_nb.data import collate
    x, y = collate([ds[i] for i in range(n or len(ds))])
    return x, y


def n_params(m): return sum(p.numel() for p in m.parameters())


# ---- a long CPU run can be cut off: training state and finished sample batches are kept in --out, written atomically,
# and a later call with the same --out resumes at the same step, data position and random state
def save_atomic(obj, path):
    from ddpm_nb.checkpoints import atomic_write
    atomic_write(path, lambda tmp: torch.save(obj, tmp))

def rng_state(generator=None):
    if generator is not None: return generator.get_state()
    return dict(cpu=torch.get_rng_state(), cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

def set_rng_state(st, generator=None):
    if generator is not None: return generator.set_state(st)
    torch.set_rng_state(st['cpu'])
    if st['cuda'] is not None: torch.cuda.set_rng_state_all(st['cuda'])

def sample_resumably(tag, a, draw, generator=None):
    "draw(n) -> n samples, n <= --sample-batch; each finished batch is kept in OUT/TAG_sampling.pt with the random state after it."
    f, outs, t_before = Path(a.out) / f'{tag}_sampling.pt', [], 0.0
    if f.is_file():
        st = torch.load(f, weights_only=False)
        outs, t_before = st['outs'], st['seconds']; set_rng_state(st['rng'], generator)
        print(f'{tag}: resuming sampling after {sum(map(len, outs))} of {a.n_samples}', flush=True)
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(sum(map(len, outs)), a.n_samples, a.sample_batch):
            outs.append(draw(min(a.sample_batch, a.n_samples - i)).cpu())
            save_atomic(dict(outs=outs, rng=rng_state(generator), seconds=t_before + time.perf_counter() - t0), f)
    return torch.cat(outs), t_before + time.perf_counter() - t0


RESUMED = '; resumed after a cut-off (times summed over the calls)'     # a peer arm's note in its sampler string


def batches(x, steps, batch, seed):
    "The peers' data order (diffusers and lucidrains alike): a fresh permutation per epoch from one generator. Ours draws"
    " its batches with train()'s own loader."
    g, per = torch.Generator().manual_seed(seed), len(x) // batch
    for k in range(steps):
        if k % per == 0: perm = torch.randperm(len(x), generator=g)
        yield x[perm[(k % per) * batch:(k % per + 1) * batch]]


# ---- ours: ddpm_nb's recipe (the quick start's settings, unconditional) -------------------------------------------
def _sample_ours(model, s, a, dev, tag, eta=1.0, target='eps'):
    "50 DDIM steps (trailing spacing) from our model, resumably, batch by batch (the same draws as one call); returns (samples, seconds)."
    from ddpm_nb.sampling import sample
    g, model = torch.Generator(dev).manual_seed(a.seed), model.eval()
    return sample_resumably(tag, a, lambda n: sample(model, s, (n, 1, 28, 28), 'ddim', 50, eta=eta, batch_size=n, target=target,
                                                     generator=g), g)


def run_ours(x, a, dev, lr=None, tag='ours', amp='auto', recipe=None, **arch_changes):
    from ddpm_nb.unet import UNet
    from ddpm_nb.schedules import NoiseSchedule
    from ddpm_nb.quickstart import QUICKSTART
    from ddpm_nb.training import TrainConfig, train
    from ddpm_nb.data import TensorImages
    from ddpm_nb.checkpoints import resume_checkpoint
    from ddpm_nb.diffusion import to_uint8
    torch.manual_seed(a.seed)
    arch = {k: v for k, v in QUICKSTART['model'].items() if k not in ('preset', 'num_classes')} | arch_changes   # unconditional
    model = UNet.from_preset(QUICKSTART['model']['preset'], **arch)
    s = NoiseSchedule.from_name('linear', 1000)
    tr = {k: v for k, v in QUICKSTART['train'].items() if k != 'val_max'} | dict(batch_size=a.batch_size, amp=amp)
    if lr is not None: tr['lr'] = lr
    if recipe is not None: tr |= recipe
    cfg = TrainConfig(steps=a.steps, **tr, val_fraction=0.0, ckpt_every=min(250, a.steps), sample_every=a.steps,
                      log_every=max(1, a.steps // 20), progress=False, seed=a.seed)
    t0, run_dir = time.perf_counter(), Path(a.out) / f'{tag}_run'
    resumed = resume_checkpoint(run_dir) is not None
    if resumed: print(f'{tag}: resuming training from {run_dir}', flush=True)
    data = TensorImages(to_uint8(x))                   # exact for 8-bit images; batches by one indexing, on the GPU when it fits
    run = train(model, s, data, cfg, run_dir, device=dev, resume=True)   # resumes a run that was cut off
    t_train = time.perf_counter() - t0
    out, t_sample = _sample_ours(run['ema'], s, a, dev, tag, target=cfg.target)
    return model, out, t_train, t_sample, 'DDIM, 50 steps, eta 1, trailing spacing, EMA weights' + ('; training resumed (its time: the last call only)' if resumed else '')


# ---- ablations of our recipe: one choice changed at a time, to see which choices buy the difference -----------------
def _resample_ours(a, dev, eta, ema, tag):
    "Sample the model that run_ours trained, changing only the sampler's eta or the weights."
    from ddpm_nb.checkpoints import load_model
    run = Path(a.out) / 'ours_run'
    if not run.is_dir(): sys.exit(f'{run} not found: run --methods ours first')
    model, s, meta = load_model(run, dev, weights='ema' if ema else 'raw')
    out, t_sample = _sample_ours(model, s, a, dev, tag, eta, meta['target'])
    return model, out, 0.0, t_sample, f'DDIM, 50 steps, eta {eta:g}, trailing, {"EMA" if ema else "raw"} weights (model of ours)'

def run_ours_eta0(x, a, dev): return _resample_ours(a, dev, eta=0.0, ema=True, tag='ours_eta0')
def run_ours_raw(x, a, dev): return _resample_ours(a, dev, eta=1.0, ema=False, tag='ours_raw')
def run_ours_lr(x, a, dev):
    m, out, t_train, t_sample, _ = run_ours(x, a, dev, lr=1e-4, tag='ours_lr1e4')
    return m, out, t_train, t_sample, 'DDIM, 50 steps, eta 1, trailing, EMA weights; trained at lr 1e-4 (the peers\' rate)'


# ---- diffusers: examples/unconditional_image_generation/train_unconditional.py defaults ---------------------------
def diffusers_unet():
    "The diffusers arms' network: a UNet2DModel of 1.27M parameters, as ours (attention at 7x7, GroupNorm with 8 groups)."
    from diffusers import UNet2DModel
    return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 72), layers_per_block=1,
                       down_block_types=('DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'),
                       up_block_types=('AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'), norm_num_groups=8)

def diffusers_ddim(config, matched):
    "diffusers' DDIMScheduler at 50 steps: trailing spacing for the matched arms (ours), its default otherwise."
    from diffusers import DDIMScheduler
    ddim = DDIMScheduler.from_config(config, **(dict(timestep_spacing='trailing') if matched else {})); ddim.set_timesteps(50)
    return ddim

def run_diffusers(x, a, dev, prediction='epsilon', snr_gamma=None, tag='diffusers', matched=False):
    "diffusers' unconditional training example (examples/unconditional_image_generation), with its defaults but a warm-up"
    " of a tenth of the run (at most its 500 steps; 80 at 800 steps). prediction: 'epsilon' (the example's default) or"
    " 'v_prediction' (DDPMScheduler's; the unconditional example offers only epsilon and sample); snr_gamma: None"
    " (unweighted) or the min-SNR weights of diffusers' text-to-image examples' --snr_gamma."
    " matched: our training and sampling settings instead of the example's, each an option diffusers has: AdamW at lr"
    " 1e-3 after 50 linear warm-up steps, then constant; EMA 0.995 warmed up as ours, min(0.995, (1 + n) / (10 + n));"
    " DDIM with eta 1 and trailing spacing."
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    torch.manual_seed(a.seed)
    model = diffusers_unet().to(dev)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule='linear', prediction_type=prediction)
    snr_all = (sched.alphas_cumprod / (1 - sched.alphas_cumprod)).to(dev)
    if matched:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        lr = get_scheduler('constant_with_warmup', optimizer=opt, num_warmup_steps=50)
        ema = EMAModel(model.parameters(), decay=0.995)              # without use_ema_warmup: min(decay, (1 + n) / (10 + n))
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
        lr = get_scheduler('cosine', optimizer=opt, num_warmup_steps=min(500, a.steps // 10), num_training_steps=a.steps)
        ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75) if a.diffusers_ema else None
    state_file, k0, t_before = Path(a.out) / f'{tag}_state.pt', 0, 0.0
    resumed = RESUMED if state_file.is_file() else ''
    if state_file.is_file():
        st = torch.load(state_file, map_location=dev, weights_only=False)
        model.load_state_dict(st['model']); opt.load_state_dict(st['opt']); lr.load_state_dict(st['lr'])
        if ema: ema.load_state_dict(st['ema'])
        set_rng_state(st['rng']); k0, t_before = st['step'], st['seconds']
        print(f'{tag}: resuming at step {k0} of {a.steps}', flush=True)
    t0 = time.perf_counter()
    for k, x0 in enumerate(batches(x, a.steps, a.batch_size, a.seed)):
        if k < k0: continue
        x0 = x0.to(dev); noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (len(x0),), device=dev)
        target = noise if prediction == 'epsilon' else sched.get_velocity(x0, noise, t)
        err = (model(sched.add_noise(x0, noise, t), t).sample - target).pow(2).mean(dim=(1, 2, 3))
        if snr_gamma is None: loss = err.mean()
        else:   # min-SNR-gamma as the diffusers training examples weight it: min(SNR, gamma) / SNR for eps, / (SNR + 1) for v
            snr = snr_all[t]
            loss = (err * snr.clamp(max=snr_gamma) / (snr if prediction == 'epsilon' else snr + 1)).mean()
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); lr.step()
        if ema: ema.step(model.parameters())
        if (k + 1) % 250 == 0 or k + 1 == a.steps:
            save_atomic(dict(model=model.state_dict(), opt=opt.state_dict(), lr=lr.state_dict(), ema=ema.state_dict() if ema else None,
                             rng=rng_state(), step=k + 1, seconds=t_before + time.perf_counter() - t0), state_file)
            print(f'{tag}: step {k + 1} of {a.steps}, loss {loss.item():.4f}', flush=True)
    t_train = t_before + time.perf_counter() - t0
    if ema: ema.copy_to(model.parameters())
    model.eval()
    ddim = diffusers_ddim(sched.config, matched)
    eta = 1.0 if matched else 0.0
    def draw(n):
        img = torch.randn((n, 1, 28, 28), generator=g, device=dev)
        for t in ddim.timesteps: img = ddim.step(model(img, t).sample, t, img, eta=eta, generator=g).prev_sample
        return img
    g = torch.Generator(dev).manual_seed(a.seed)
    out, t_sample = sample_resumably(tag, a, draw, g)
    if matched: settings = 'DDIMScheduler, 50 steps, eta 1, trailing spacing, EMA; our training settings (AdamW 1e-3, 50 warm-up steps, EMA 0.995)'
    else: settings = "DDIMScheduler, 50 steps, eta 0, its default ('leading') spacing" + (', EMA' if ema else ', raw weights (the example trains without EMA unless --use_ema)')
    return model, out, t_train, t_sample, settings + f'; {prediction}, ' + (f'min-SNR-{snr_gamma:g}' if snr_gamma else 'unweighted') + resumed


# ---- lucidrains: GaussianDiffusion and Trainer defaults -------------------------------------------------------------
def run_lucidrains(x, a, dev, objective='pred_v', min_snr=False, tag='lucidrains', matched=False):
    "objective and min_snr are GaussianDiffusion's objective and min_snr_loss_weight (gamma 5); the defaults are its own"
    " (Trainer: Adam 1e-4, betas 0.9/0.99, no warm-up; EMA 0.995 every 10 steps after 100; sigmoid schedule; DDIM eta 0)."
    " matched: our training and sampling settings instead, each an option lucidrains has: AdamW at lr 1e-3 after 50 linear"
    " warm-up steps, then constant; EMA 0.995 updated every step with the warm-up (n - 1) / (n + 8) after n updates"
    " (ema_pytorch's inv_gamma 9, power 1: ours, one update behind); the linear schedule; DDIM with eta 1 (its time"
    " spacing is already trailing: 999, 979, ..., 19)."
    from denoising_diffusion_pytorch import Unet, GaussianDiffusion
    from ema_pytorch import EMA
    from ddpm_nb.training import warmup_factor
    torch.manual_seed(a.seed)
    # dim 30 puts it within 2% of our parameter count (its blocks use RMSNorm, so any width works)
    net = Unet(dim=30, dim_mults=(1, 2, 2), channels=1, full_attn=(False, False, True))
    diff = GaussianDiffusion(net, image_size=28, timesteps=1000, sampling_timesteps=50, objective=objective,
                             beta_schedule='linear' if matched else 'sigmoid', ddim_sampling_eta=1.0 if matched else 0.0,
                             min_snr_loss_weight=min_snr, min_snr_gamma=5).to(dev)
    if matched:
        opt = torch.optim.AdamW(diff.parameters(), lr=1e-3, weight_decay=0.0)
        lr = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: warmup_factor(k, 50))
        ema = EMA(diff, beta=0.995, update_after_step=0, update_every=1, inv_gamma=9.0, power=1.0).to(dev)
    else:
        opt = torch.optim.Adam(diff.parameters(), lr=1e-4, betas=(0.9, 0.99))
        lr, ema = None, EMA(diff, beta=0.995, update_every=10).to(dev)
    state_file, k0, t_before = Path(a.out) / f'{tag}_state.pt', 0, 0.0
    resumed = RESUMED if state_file.is_file() else ''
    if state_file.is_file():
        st = torch.load(state_file, map_location=dev, weights_only=False)
        diff.load_state_dict(st['diff']); ema.load_state_dict(st['ema']); opt.load_state_dict(st['opt'])
        if lr is not None: lr.load_state_dict(st['lr'])
        set_rng_state(st['rng']); k0, t_before = st['step'], st['seconds']
        print(f'{tag}: resuming at step {k0} of {a.steps}', flush=True)
    t0 = time.perf_counter()
    for k, x0 in enumerate(batches(x, a.steps, a.batch_size, a.seed)):
        if k < k0: continue
        loss = diff((x0.to(dev) + 1) / 2)                 # its auto_normalize expects [0, 1]
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(diff.parameters(), 1.0); opt.step(); ema.update()
        if lr is not None: lr.step()
        if (k + 1) % 250 == 0 or k + 1 == a.steps:
            save_atomic(dict(diff=diff.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), lr=lr.state_dict() if lr is not None else None,
                             rng=rng_state(), step=k + 1, seconds=t_before + time.perf_counter() - t0), state_file)
            print(f'{tag}: step {k + 1} of {a.steps}, loss {loss.item():.4f}', flush=True)
    t_train = t_before + time.perf_counter() - t0
    ema.ema_model.eval(); torch.manual_seed(a.seed)
    out, t_sample = sample_resumably(tag, a, lambda n: ema.ema_model.sample(batch_size=n) * 2 - 1)   # its own draws: torch's RNG
    if matched: settings = 'DDIM, 50 steps, eta 1, its (trailing) spacing, EMA; our training settings (AdamW 1e-3, 50 warm-up steps, EMA 0.995 every step, linear schedule)'
    else: settings = 'DDIM, 50 steps, eta 0 (its sampling_timesteps=50), EMA weights'
    return net, out, t_train, t_sample, settings + f'; {objective}' + (', min-SNR-5' if min_snr else ', unweighted') + resumed


RUNNERS = dict(ours=run_ours, diffusers=run_diffusers, lucidrains=run_lucidrains)
def run_ours_bf16(x, a, dev):
    m, out, t_train, t_sample, _ = run_ours(x, a, dev, tag='ours_bf16', amp='bf16')
    return m, out, t_train, t_sample, 'DDIM, 50 steps, eta 1, trailing, EMA weights; trained under bf16 autocast (sampled in fp32)'
def run_ours_dropout(x, a, dev):
    m, out, t_train, t_sample, _ = run_ours(x, a, dev, tag='ours_dropout', dropout=0.1)
    return m, out, t_train, t_sample, 'DDIM, 50 steps, eta 1, trailing, EMA weights; trained with dropout 0.1 (keep_mask)'
def run_ours_dropout_torch(x, a, dev):
    "The same with torch's own dropout mask instead of keep_mask: does the cheaper mask change sample quality?"
    import torch.nn.functional as F
    from ddpm_nb.speed import MaskDropout
    ours = MaskDropout.forward
    MaskDropout.forward = lambda self, x: F.dropout(x, self.p, self.training)   # for this run only
    try: m, out, t_train, t_sample, _ = run_ours(x, a, dev, tag='ours_dropout_torch', dropout=0.1)
    finally: MaskDropout.forward = ours
    return m, out, t_train, t_sample, 'DDIM, 50 steps, eta 1, trailing, EMA weights; trained with dropout 0.1 (F.dropout)'
def run_ours_rerun(x, a, dev):
    "Our recipe again with the same seed: what the code changed since the stored `ours` row (with float rounding) moves."
    m, out, t_train, t_sample, sampler = run_ours(x, a, dev, tag='ours_rerun')
    return m, out, t_train, t_sample, sampler + '; rerun with the current code'
def run_ours_seed1(x, a, dev):
    "Our recipe with the next seed (initialisation, data order, noise, sampler): how far FD moves by chance."
    m, out, t_train, t_sample, sampler = run_ours(x, argparse.Namespace(**{**vars(a), 'seed': a.seed + 1}), dev, tag='ours_seed1')
    return m, out, t_train, t_sample, sampler + f'; seed {a.seed + 1}'
ABLATIONS = dict(ours_eta0=run_ours_eta0, ours_raw=run_ours_raw, ours_lr1e4=run_ours_lr, ours_bf16=run_ours_bf16,
                 ours_dropout=run_ours_dropout, ours_dropout_torch=run_ours_dropout_torch,
                 ours_rerun=run_ours_rerun, ours_seed1=run_ours_seed1)
PEERS = ('diffusers', 'lucidrains')

# ---- the recipe grid: the paper's recipe (eps, unweighted) and v + min-SNR-5, in each implementation ----------------
# Everything else stays at each implementation's own defaults (optimizer, rate, EMA, schedule, sampler): the grid asks
# how much of a difference is the recipe, which every implementation offers, and how much is the rest.
def _grid(impl, recipe):
    def run(x, a, dev):
        tag = f'{impl}_{recipe}_s{a.seed}'
        if impl.startswith('ours'):
            kw = dict(target='eps', min_snr_gamma=None) if recipe == 'eps' else dict(target='v', min_snr_gamma=5.0)
            arch = dict(norm_groups=8) if impl == 'ours-groups8' else {}
            # float32 as the peers' loops train (on the CPU 'auto' is float32 too; on CUDA it would be bf16)
            m, out, t_train, t_sample, sampler = run_ours(x, a, dev, tag=tag, recipe=kw, amp='none', **arch)
            if arch: sampler += '; GroupNorm with 8 groups, as the diffusers arm'
            return m, out, t_train, t_sample, sampler + ('; eps, unweighted' if recipe == 'eps' else '; v, min-SNR-5')
        if impl.startswith('diffusers'):
            return run_diffusers(x, a, dev, *(('epsilon', None) if recipe == 'eps' else ('v_prediction', 5.0)), tag=tag,
                                 matched=impl == 'diffusers-matched')
        return run_lucidrains(x, a, dev, *(('pred_noise', False) if recipe == 'eps' else ('pred_v', True)), tag=tag,
                              matched=impl == 'lucidrains-matched')
    return run
GRID = {f'{impl}_{recipe}': _grid(impl, recipe) for impl in ('ours', 'diffusers', 'lucidrains') for recipe in ('eps', 'v')}
# Controls beside the grid: each peer with our training and sampling settings too (diffusers-matched_eps, _v,
# lucidrains-matched_eps, _v), so that what is left of a difference is the implementation (network layout, loss code,
# sampler code), not a setting.
GRID |= {f'{impl}-matched_{recipe}': _grid(f'{impl}-matched', recipe) for impl in PEERS for recipe in ('eps', 'v')}
# An ablation of ours toward the diffusers arm's network: GroupNorm with 8 groups (ours: 32, which at the first level's 32
# channels normalises each channel alone). With the paper's eps recipe the diffusers arm with our settings predicts the
# noise at high t with half our error (bench/RESULTS.md); is the normalisation the reason?
GRID |= {f'ours-groups8_{recipe}': _grid('ours-groups8', recipe) for recipe in ('eps', 'v')}


def _save_row(out, info, name, row):
    "Merge one row into out/results.json under a lock, re-reading it first: runs with other --methods or --seed may share --out."
    import fcntl
    from ddpm_nb.checkpoints import atomic_write
    with open(out / 'results.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        f = out / 'results.json'
        results = json.loads(f.read_text())['results'] if f.is_file() else {}
        results[name] = row
        atomic_write(f, lambda tmp: Path(tmp).write_text(json.dumps(dict(info=info, results=results), indent=1)))
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--methods', nargs='+', default=list(RUNNERS), choices=list(RUNNERS) + list(ABLATIONS) + list(GRID),
                   help='methods to run; results merge into an existing results.json in --out. Ablations of ours: '
                        'ours_eta0 (its model, DDIM eta 0), ours_raw (its model, raw weights), ours_lr1e4 (retrained at lr 1e-4), '
                        'ours_bf16 (retrained under bf16 autocast), ours_dropout and ours_dropout_torch (retrained with '
                        'dropout 0.1, with keep_mask and with F.dropout), ours_rerun (ours again, same seed, current code), '
                        'ours_seed1 (ours with the next seed). The recipe grid: IMPL_eps and IMPL_v for IMPL in ours, '
                        'diffusers, lucidrains (saved as IMPL_RECIPE_sSEED, so seeds sit side by side in one --out), and the control '
                        'diffusers-matched_eps, _v and lucidrains-matched_eps, _v (each peer with our optimizer, rate, EMA, schedule and sampler)')
    p.add_argument('--steps', type=int, default=2000)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--n-samples', type=int, default=5000)
    p.add_argument('--clf-steps', type=int, default=2000)
    p.add_argument('--sample-batch', type=int, default=125, help='images per sampling batch, the same for every method '
                   '(125 is the fastest of 50/125/250/500 on a 2-core CPU for all three networks)')
    p.add_argument('--diffusers-ema', action='store_true', help='turn on the example\'s optional EMA (off by default there)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=str(ROOT / 'bench' / 'results' / 'fashion'))
    a = p.parse_args()
    from ddpm_nb.metrics import extract_features, quality, train_classifier
    from ddpm_nb.diffusion import to_uint8
    from ddpm_nb.viz import save_grid
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
    if (out / 'feature_net.pt').is_file():            # a later call into the same --out scores with the same network
        from ddpm_nb.metrics import FeatureNet
        net = FeatureNet(); net.load_state_dict(torch.load(out / 'feature_net.pt', map_location='cpu')); net.to(a.device).eval()
        print(f'feature network: {out / "feature_net.pt"} (kept from an earlier call)')
    else: net = train_classifier(fashion('train'), steps=a.clf_steps, device=a.device, seed=0)   # one yardstick for every seed
    ref_x, ref_y = images(test_ds, a.n_samples)
    with torch.no_grad(): acc = (net(ref_x.to(a.device)).argmax(1).cpu() == ref_y).float().mean().item()
    ref = extract_features(net, ref_x)
    if not (out / 'feature_net.pt').is_file():                    # bench/quality_vs_steps.py scores with the same network
        save_atomic(net.state_dict(), out / 'feature_net.pt')
    info['classifier'] = dict(test_accuracy=acc, seconds=time.perf_counter() - t0)
    old = json.loads((out / 'results.json').read_text()) if (out / 'results.json').is_file() else {}
    if 'classifier' in old.get('info', {}): info['classifier']['seconds'] = old['info']['classifier']['seconds']   # its training time
    info['floor'] = quality(net, ref, images(fashion('train'), a.n_samples)[0])
    print(f'classifier: test accuracy {acc:.3f}; real-vs-real floor FD {info["floor"]["fd"]:.3f}', flush=True)
    if old and (old['info']['config']['n_samples'], old['info']['config']['steps']) != (a.n_samples, a.steps):
        sys.exit(f'{out} holds results at another --n-samples or --steps: give another --out')
    results = old.get('results', {})
    for name in a.methods:
        model, x, t_train, t_sample, sampler = {**RUNNERS, **ABLATIONS, **GRID}[name](train_x, a, a.device)
        if name in GRID: name = f'{name}_s{a.seed}'
        u = to_uint8(x.clamp(-1, 1)).cpu()[:, 0].numpy()
        np.save(out / f'{name}_samples.npy', u)
        save_grid(torch.from_numpy(u[:64])[:, None].float() / 127.5 - 1, out / f'{name}_grid.png', nrow=16)
        q = quality(net, ref, torch.from_numpy(u)[:, None])
        results[name] = dict(q, params=n_params(model), train_seconds=t_train, sample_seconds=t_sample, sampler=sampler,
                             steps=a.steps, batch_size=a.batch_size,
                             call={k: info[k] for k in ('config', 'torch', 'ddpm_nb', 'machine', 'threads', 'gpu', 'diffusers',
                                                        'denoising-diffusion-pytorch')})   # results.json's info is the last call's
        print(f'{name:10s} params {results[name]["params"]:,}  train {t_train:.0f} s  sample {t_sample:.0f} s  '
              f'FD {q["fd"]:.2f}  KID {q["kid"]:.4f}  precision {q["precision"]:.3f}  recall {q["recall"]:.3f}', flush=True)
        results = _save_row(out, info, name, results[name])
    if 'ours' in results and any(k in results for k in PEERS):
        best = min(results[k]['fd'] for k in PEERS if k in results)
        print(f'ours / best peer FD: {results["ours"]["fd"] / best:.2f} (target <= 0.7)')


if __name__ == '__main__': main()
