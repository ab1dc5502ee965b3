#!/usr/bin/env python3
"""Our samplers against diffusers' schedulers, a peer's implementation of the same papers, step for step.

    pip install -r bench/requirements.txt && python bench/peer_samplers.py

Both run the same model, schedule (diffusers' float32 betas, fed to our NoiseSchedule), start noise x_T and generator
seed, and the final samples are compared. The model is chapter 03's exact predictor for Gaussian data
(`gaussian_optimal_predictor`), so the trajectories are those of a perfect network, not of noise. Where the two
implementations follow the same convention they must agree to float32 rounding (largest difference under 1e-4 of the
samples' scale); the script exits 1 if one does not. Where the conventions differ, the difference is printed and
explained, not asserted away:

- ours `ddpm` against `DDPMScheduler` (1000 steps, both variances, clipping on and off, eps and v prediction);
- ours `ddim` against `DDIMScheduler` (`set_alpha_to_one=True`, no `steps_offset`), eta 0 and 1, spacings `leading`
  and `trailing`;
- ours `dpmpp_2m` against `DPMSolverMultistepScheduler` (`dpmsolver++`, order 2, `final_sigmas_type='zero'`), spacing
  `trailing`, clipping off (diffusers' solver does not clip);
- and the one known difference: DDIM with `linspace` spacing. diffusers steps from t to t - T // n, which is not the next
  timestep it visits when n does not divide T evenly into the linspace grid; ours steps to the next visited timestep.
"""
import math, sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.diffusion import gaussian_optimal_predictor
from ddpm_nb.sampling import sample_batch, spaced_timesteps
from ddpm_nb.schedules import NoiseSchedule

T, SHAPE, TOL = 1000, (16, 1, 4, 4), 1e-4
MU, SIGMA = 0.3, 0.5                      # Gaussian data: x0 ~ N(0.3, 0.5^2) per pixel, well inside [-1, 1]


def peer_run(sched, model, x_T, seed, **step_kw):
    "diffusers' loop: scheduler.step over scheduler.timesteps, the model called at each."
    g, x = torch.Generator().manual_seed(seed), x_T.clone()
    for t in sched.timesteps:
        out = model(x, torch.full((len(x),), int(t)))
        x = sched.step(out, t, x, generator=g, **step_kw).prev_sample
    return x


def ours_run(schedule, model, x_T, seed, ts, sampler, **kw):
    return sample_batch(model, schedule, x_T.clone(), ts, sampler, generator=torch.Generator().manual_seed(seed), **kw)[0]


def main():
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
    import diffusers
    betas = DDPMScheduler(num_train_timesteps=T, beta_schedule='linear').betas      # float32, as every diffusers scheduler holds them
    ours = NoiseSchedule(betas)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    rows, failed = [], 0
    print(f'diffusers {diffusers.__version__}, torch {torch.__version__}; largest |ours - diffusers| over the final samples, '
          f'relative to their largest entry (agreement: below {TOL:g})')

    def compare(name, a, b, expect_same=True, why=''):
        nonlocal failed
        d = ((a - b).abs().max() / b.abs().max()).item()
        ok = d < TOL
        verdict = ('agree' if ok else 'DIFFER') if expect_same else ('differ, as expected' if not ok else 'agree (unexpected)')
        if expect_same != ok: failed += 1
        print(f'  {name:58s} {d:9.2e}  {verdict}{"  " + why if why else ""}')

    for target, ptype in (('eps', 'epsilon'), ('v', 'v_prediction')):
        model = gaussian_optimal_predictor(ours, MU, SIGMA, target=target)
        for var, vtype in (('large', 'fixed_large'), ('small', 'fixed_small')):
            for clip in (False, True):
                peer = DDPMScheduler(num_train_timesteps=T, beta_schedule='linear', variance_type=vtype, clip_sample=clip,
                                     prediction_type=ptype)
                peer.set_timesteps(T)
                compare(f'ddpm, {T} steps, {target}, var {var}, clip {clip}',
                        ours_run(ours, model, x_T, 1, list(range(T - 1, -1, -1)), 'ddpm', var_type=var, target=target, clip_x0=clip),
                        peer_run(peer, model, x_T, 1))
        for spacing in ('leading', 'trailing'):
            for eta in (0.0, 1.0):
                for clip in (False, True):
                    peer = DDIMScheduler(num_train_timesteps=T, beta_schedule='linear', clip_sample=clip, set_alpha_to_one=True,
                                         steps_offset=0, timestep_spacing=spacing, prediction_type=ptype)
                    peer.set_timesteps(50)
                    ts = spaced_timesteps(T, 50, spacing)
                    assert ts == peer.timesteps.tolist(), (spacing, ts[:5], peer.timesteps[:5])
                    compare(f'ddim, 50 steps, {spacing}, eta {eta:g}, {target}, clip {clip}',
                            ours_run(ours, model, x_T, 2, ts, 'ddim', eta=eta, target=target, clip_x0=clip),
                            peer_run(peer, model, x_T, 2, eta=eta))
        for n in (10, 20):
            peer = DPMSolverMultistepScheduler(num_train_timesteps=T, beta_schedule='linear', algorithm_type='dpmsolver++',
                                               solver_order=2, timestep_spacing='trailing', final_sigmas_type='zero',
                                               prediction_type=ptype)
            peer.set_timesteps(n)
            ts = spaced_timesteps(T, n, 'trailing')
            assert ts == peer.timesteps.tolist(), (ts, peer.timesteps)
            compare(f'dpmpp_2m, {n} steps, trailing, {target}',
                    ours_run(ours, model, x_T, 3, ts, 'dpmpp_2m', target=target, clip_x0=False), peer_run(peer, model, x_T, 3))
        peer = DDIMScheduler(num_train_timesteps=T, beta_schedule='linear', clip_sample=False, set_alpha_to_one=True,
                             steps_offset=0, timestep_spacing='linspace', prediction_type=ptype)
        peer.set_timesteps(30)
        ts = spaced_timesteps(T, 30, 'linspace')
        assert ts == peer.timesteps.tolist(), (ts[:5], peer.timesteps[:5])
        compare(f'ddim, 30 steps, linspace, eta 0, {target}', ours_run(ours, model, x_T, 4, ts, 'ddim', target=target, clip_x0=False),
                peer_run(peer, model, x_T, 4), expect_same=False,
                why=f'(diffusers steps {ts[0]} -> {ts[0] - T // 30}, ours {ts[0]} -> {ts[1]})')
    print(f'{failed} comparison(s) not as expected' if failed else 'every comparison as expected')
    sys.exit(1 if failed else 0)


if __name__ == '__main__': main()
