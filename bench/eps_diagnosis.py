#!/usr/bin/env python3
"""Why is our network weaker than diffusers' with the paper's eps recipe at the same settings? Two checks on the grid's
trained eps models (`ours_eps_s0` and `diffusers-matched_eps_s0` in --results, from bench/quality_per_compute.py):

1. **Swap the samplers.** Each network sampled by our `sample` (DDIM, 50 steps, eta 1, trailing) and by diffusers'
   `DDIMScheduler` with the same settings; each set is described by its mean pixel value and its shares of pixels at
   or above 250 and at or below 5, beside the committed samples and real test images. If a network's numbers do not
   move with the sampler, the sampler is not the reason.
2. **The noise-prediction error per timestep.** Both networks (EMA weights) on --n Fashion-MNIST test images at the same
   noise, at t from 999 down to 10: the MSE of eps_hat, and of the x0_hat it implies (clipped to [-1, 1]).

    python bench/eps_diagnosis.py [--results bench/results/grid-800] [--data ../shared/data/fashion-mnist] [--n 200]

CPU, one thread: about 15 minutes at --n 200 (the sampler swap is most of it). Needs diffusers (bench/requirements.txt).
"""
import argparse, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.checkpoints import load_model
from ddpm_nb.diffusion import to_uint8, x0_from_eps
from ddpm_nb.loaders import IdxDataset
from ddpm_nb.sampling import sample
from quality_per_compute import diffusers_ddim, diffusers_unet


def describe(name, u):
    "Mean pixel value and the shares of bright and dark pixels of uint8 images."
    u = u.float()
    print(f'{name:40s} mean {u.mean():6.1f}  share >= 250: {(u >= 250).float().mean():.3f}  share <= 5: {(u <= 5).float().mean():.3f}', flush=True)


def diffusers_eps_net(results):
    "The diffusers-matched_eps arm's network with its EMA weights, from the state bench/quality_per_compute.py kept."
    from diffusers.training_utils import EMAModel
    d = diffusers_unet()
    st = torch.load(results / 'diffusers-matched_eps_s0_state.pt', map_location='cpu', weights_only=False)
    d.load_state_dict(st['model'])
    ema = EMAModel(d.parameters(), decay=0.995); ema.load_state_dict(st['ema']); ema.copy_to(d.parameters())
    return d.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--results', default='bench/results/grid-800'); p.add_argument('--data', default='../shared/data/fashion-mnist')
    p.add_argument('--n', type=int, default=200)
    a = p.parse_args(); R, n = Path(a.results), a.n
    from diffusers import DDPMScheduler
    ours, s, _ = load_model(R / 'ours_eps_s0_run', 'cpu'); ours.eval()
    d = diffusers_eps_net(R)
    theirs = lambda x, t, **kw: d(x, t).sample
    test = IdxDataset(Path(a.data), 'test')
    x0 = torch.stack([test[i][0] for i in range(n)])
    print('1. The samplers swapped (n = %d)' % n)
    describe('real test images', to_uint8(x0))
    for f in ('ours_eps_s0', 'diffusers-matched_eps_s0'):
        describe(f'{f}, committed samples', torch.from_numpy(np.load(R / f'{f}_samples.npy')[:n]))
    config = DDPMScheduler(num_train_timesteps=1000, beta_schedule='linear', prediction_type='epsilon').config
    def their_sampler(net):
        ddim, g = diffusers_ddim(config, matched=True), torch.Generator().manual_seed(0)
        img = torch.randn((n, 1, 28, 28), generator=g)
        for t in ddim.timesteps: img = ddim.step(net(img, torch.full((n,), int(t))), t, img, eta=1.0, generator=g).prev_sample
        return img
    our_sampler = lambda net: sample(net, s, (n, 1, 28, 28), 'ddim', 50, eta=1.0, batch_size=n, target='eps', generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for name, net in (('ours', ours), ('diffusers', theirs)):
            describe(f'{name} network, our sampler', to_uint8(our_sampler(net)))
            describe(f"{name} network, diffusers' DDIMScheduler", to_uint8(their_sampler(net)))
        print(f'\n2. Noise-prediction error per timestep ({n} test images, the same noise for both networks)')
        print('   t   eps MSE: ours  diffusers    x0 MSE: ours  diffusers')
        eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
        for t in (999, 980, 950, 900, 800, 600, 400, 200, 50, 10):
            tt = torch.full((n,), t); xt = s.q_sample(x0, tt, eps)
            e = [ours(xt, tt), theirs(xt, tt)]
            err = [((ei - eps) ** 2).mean() for ei in e] + [((x0_from_eps(s, xt, tt, ei).clamp(-1, 1) - x0) ** 2).mean() for ei in e]
            print(f'{t:4d}   {err[0]:12.5f} {err[1]:10.5f}   {err[2]:12.4f} {err[3]:10.4f}')


if __name__ == '__main__': main()
