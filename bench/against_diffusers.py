#!/usr/bin/env python3
"""Our noise schedules, forward process and samplers against diffusers' schedulers, a peer's implementation of the same
papers, step for step.

    pip install -r bench/requirements.txt && python bench/against_diffusers.py

First the tables and targets (chapters 01-03), in float64 on our side against diffusers' float32:
- betas: `linear`, `quadratic` (diffusers' `scaled_linear`), `cosine` (`squaredcos_cap_v2`) and `sigmoid`, agreement:
  relative difference under 1e-6; `rescale_zero_terminal_snr` against diffusers' function of the same name, both in
  float64, under 1e-12;
- `q_sample` against `add_noise`, and the v target against `get_velocity`, on the same x0, noise and t.

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
from ddpm_nb.diffusion import gaussian_optimal_predictor, target_from
from ddpm_nb.schedules import get_betas, rescale_zero_terminal_snr
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
    print(f'diffusers {diffusers.__version__}, torch {torch.__version__}; largest |ours - diffusers|, relative to the largest '
          f'entry (agreement: below 1e-6 for the betas, {TOL:g} for the rest)')

    def compare(name, a, b, expect_same=True, why='', tol=TOL):
        nonlocal failed
        d = ((a - b).abs().max() / b.abs().max()).item()
        ok = d < tol
        verdict = ('agree' if ok else 'DIFFER') if expect_same else ('differ, as expected' if not ok else 'agree (unexpected)')
        if expect_same != ok: failed += 1
        print(f'  {name:58s} {d:9.2e}  {verdict}{"  " + why if why else ""}')

    for name, peer_name in (('linear', 'linear'), ('quadratic', 'scaled_linear'), ('cosine', 'squaredcos_cap_v2'), ('sigmoid', 'sigmoid')):
        compare(f'betas: {name} against {peer_name!r}', get_betas(name, T), DDPMScheduler(T, beta_schedule=peer_name).betas.double(), tol=1e-6)
    # zero terminal SNR: diffusers' own function, fed the same float64 betas (its scheduler would round them through float32)
    from diffusers.schedulers.scheduling_ddpm import rescale_zero_terminal_snr as peer_rescale
    compare('betas: rescale_zero_terminal_snr, both in float64', rescale_zero_terminal_snr(get_betas('linear', T)),
            peer_rescale(get_betas('linear', T)), tol=1e-12)
    g = torch.Generator().manual_seed(5)
    x0, noise, t = torch.rand(SHAPE, generator=g) * 2 - 1, torch.randn(SHAPE, generator=g), torch.randint(0, T, (SHAPE[0],), generator=g)
    peer = DDPMScheduler(T, beta_schedule='linear')
    compare('q_sample against add_noise', ours.q_sample(x0, t, noise), peer.add_noise(x0, noise, t))
    compare('the v target against get_velocity', target_from(ours, x0, t, noise, 'v'), peer.get_velocity(x0, noise, t))
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
