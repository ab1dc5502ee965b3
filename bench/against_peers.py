#!/usr/bin/env python3
"""The course's numerics against peers' implementations of the same papers: an outside check (bench/RESULTS.md).

    pip install -r bench/requirements.txt && python bench/against_peers.py

1. diffusers' schedulers (chapters 01-03 and 07), in float64 on our side against diffusers' float32 where it stores so:
   - betas: `linear`, `quadratic` (diffusers' `scaled_linear`), `cosine` (`squaredcos_cap_v2`) and `sigmoid`, agreement:
     relative difference under 1e-6; `rescale_zero_terminal_snr` against diffusers' function of the same name, both in
     float64, under 1e-12;
   - `q_sample` against `add_noise`, and the v target against `get_velocity`, on the same x0, noise and t;
   - the samplers, step for step. Both run the same model, schedule (diffusers' float32 betas, fed to our
     NoiseSchedule), start noise x_T and generator seed, and the final samples are compared. The model is chapter 03's
     exact predictor for Gaussian data (`gaussian_optimal_predictor`), so the trajectories are those of a perfect
     network. Where the two follow the same convention they must agree to float32 rounding (under 1e-4 of the samples'
     scale):
     ours `ddpm` against `DDPMScheduler` (1000 steps, both variances, clipping on and off, eps and v prediction);
     ours `ddim` against `DDIMScheduler` (`set_alpha_to_one=True`, no `steps_offset`), eta 0 and 1, spacings `leading`
     and `trailing`; ours `dpmpp_2m` against `DPMSolverMultistepScheduler` (`dpmsolver++`, order 2,
     `final_sigmas_type='zero'`), spacing `trailing`, clipping off (diffusers' solver does not clip).
     One convention differs, and the difference is shown, not asserted away: DDIM with `linspace` spacing. diffusers
     steps from t to t - T // n, which is not the next timestep it visits; ours steps to the next visited timestep.
2. The sample-quality metrics of chapter 08, on the same feature matrices (two correlated Gaussian clouds that overlap
   in part, 2000 x 64, float64):
   - `frechet_distance` against pytorch-fid's `calculate_frechet_distance` (scipy's sqrtm) and torch-fidelity's
     `fid_statistics_to_metric` (eigenvalues of S_a S_b), under 1e-8;
   - `kernel_distance` on the whole sets (one subset of all points: no random draw to differ) against torch-fidelity's
     KID, under 1e-8;
   - `precision_recall` (k = 3) against torch-fidelity's, which must give the same two shares.
3. The U-Net of chapter 04 (`cifar10` preset, the paper's CIFAR-10 model) against diffusers' UNet2DModel in the same
   configuration, given our weights layer by layer: the same function, to float64 rounding. Then with each convention
   of the paper's TensorFlow code (as in google/ddpm-*'s configs) changed alone, where ours differs: GroupNorm eps 1e-6,
   TensorFlow's SAME padding before the stride-2 convolutions, the embedding as [sin, cos] with 10000^(-i/(half-1));
   and diffusers' default of 8-channel heads. Each must change the output, so the check sees it.
The script exits 1 if any comparison is not as expected.
"""
import sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.diffusion import gaussian_optimal_predictor, target_from
from ddpm_nb.sampling import sample_batch, spaced_timesteps
from ddpm_nb.schedules import NoiseSchedule, get_betas, rescale_zero_terminal_snr

T, SHAPE, TOL = 1000, (16, 1, 4, 4), 1e-4
MU, SIGMA = 0.3, 0.5                      # Gaussian data: x0 ~ N(0.3, 0.5^2) per pixel, well inside [-1, 1]


def compare(name, a, b, tol=TOL, expect_same=True, why='') -> int:
    "Print the largest |a - b| relative to b's largest entry and the verdict; 1 if it is not as expected."
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    d = ((a - b).abs().max() / b.abs().max()).item()
    same = d < tol
    verdict = ('agree' if same else 'DIFFER') if expect_same else ('differ, as expected' if not same else 'agree (unexpected)')
    print(f'  {name:76s} {d:9.2e}  {verdict}{"  " + why if why else ""}')
    return int(same != expect_same)


def peer_run(sched, model, x_T, seed, **step_kw):
    "diffusers' loop: scheduler.step over scheduler.timesteps, the model called at each."
    g, x = torch.Generator().manual_seed(seed), x_T.clone()
    for t in sched.timesteps:
        out = model(x, torch.full((len(x),), int(t)))
        x = sched.step(out, t, x, generator=g, **step_kw).prev_sample
    return x


def ours_run(schedule, model, x_T, seed, ts, sampler, **kw):
    return sample_batch(model, schedule, x_T.clone(), ts, sampler, generator=torch.Generator().manual_seed(seed), **kw)[0]


def tables(ours) -> int:
    "Betas, zero-terminal-SNR rescaling, q_sample and the v target against diffusers'."
    from diffusers import DDPMScheduler
    from diffusers.schedulers.scheduling_ddpm import rescale_zero_terminal_snr as peer_rescale
    bad = 0
    for name, peer_name in (('linear', 'linear'), ('quadratic', 'scaled_linear'), ('cosine', 'squaredcos_cap_v2'), ('sigmoid', 'sigmoid')):
        bad += compare(f'betas: {name} against {peer_name!r}', get_betas(name, T), DDPMScheduler(T, beta_schedule=peer_name).betas.double(), 1e-6)
    # diffusers' own function, fed the same float64 betas (its scheduler would round them through float32)
    bad += compare('betas: rescale_zero_terminal_snr, both in float64', rescale_zero_terminal_snr(get_betas('linear', T)),
                   peer_rescale(get_betas('linear', T)), 1e-12)
    g = torch.Generator().manual_seed(5)
    x0, noise, t = torch.rand(SHAPE, generator=g) * 2 - 1, torch.randn(SHAPE, generator=g), torch.randint(0, T, (SHAPE[0],), generator=g)
    peer = DDPMScheduler(T, beta_schedule='linear')
    bad += compare('q_sample against add_noise', ours.q_sample(x0, t, noise), peer.add_noise(x0, noise, t))
    bad += compare('the v target against get_velocity', target_from(ours, x0, t, noise, 'v'), peer.get_velocity(x0, noise, t))
    return bad


def samplers(ours, target, ptype) -> int:
    "Our three samplers against diffusers' schedulers on the exact oracle, for one prediction target."
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
    model, bad = gaussian_optimal_predictor(ours, MU, SIGMA, target=target), 0
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    common = dict(num_train_timesteps=T, beta_schedule='linear', prediction_type=ptype)
    for var, vtype in (('large', 'fixed_large'), ('small', 'fixed_small')):
        for clip in (False, True):
            peer = DDPMScheduler(**common, variance_type=vtype, clip_sample=clip); peer.set_timesteps(T)
            bad += compare(f'ddpm, {T} steps, {target}, var {var}, clip {clip}',
                           ours_run(ours, model, x_T, 1, list(range(T - 1, -1, -1)), 'ddpm', var_type=var, target=target, clip_x0=clip),
                           peer_run(peer, model, x_T, 1))
    ddim = lambda spacing, clip: DDIMScheduler(**common, clip_sample=clip, set_alpha_to_one=True, steps_offset=0, timestep_spacing=spacing)
    for spacing in ('leading', 'trailing'):
        for eta in (0.0, 1.0):
            for clip in (False, True):
                peer, ts = ddim(spacing, clip), spaced_timesteps(T, 50, spacing); peer.set_timesteps(50)
                assert ts == peer.timesteps.tolist(), (spacing, ts[:5], peer.timesteps[:5])
                bad += compare(f'ddim, 50 steps, {spacing}, eta {eta:g}, {target}, clip {clip}',
                               ours_run(ours, model, x_T, 2, ts, 'ddim', eta=eta, target=target, clip_x0=clip), peer_run(peer, model, x_T, 2, eta=eta))
    for n in (10, 20):
        peer = DPMSolverMultistepScheduler(**common, algorithm_type='dpmsolver++', solver_order=2, timestep_spacing='trailing',
                                           final_sigmas_type='zero'); peer.set_timesteps(n)
        ts = spaced_timesteps(T, n, 'trailing')
        assert ts == peer.timesteps.tolist(), (ts, peer.timesteps)
        bad += compare(f'dpmpp_2m, {n} steps, trailing, {target}', ours_run(ours, model, x_T, 3, ts, 'dpmpp_2m', target=target, clip_x0=False),
                       peer_run(peer, model, x_T, 3))
    peer, ts = ddim('linspace', False), spaced_timesteps(T, 30, 'linspace'); peer.set_timesteps(30)
    assert ts == peer.timesteps.tolist(), (ts[:5], peer.timesteps[:5])
    bad += compare(f'ddim, 30 steps, linspace, eta 0, {target}', ours_run(ours, model, x_T, 4, ts, 'ddim', target=target, clip_x0=False),
                   peer_run(peer, model, x_T, 4), expect_same=False, why=f'(diffusers steps {ts[0]} -> {ts[0] - T // 30}, ours {ts[0]} -> {ts[1]})')
    return bad


def metrics() -> int:
    "Chapter 08's Frechet distance, KID and precision/recall against pytorch-fid's and torch-fidelity's; returns the failures."
    import numpy as np
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric
    from ddpm_nb.metrics import frechet_distance, kernel_distance, precision_recall
    g, n, d = torch.Generator().manual_seed(7), 2000, 64
    mix = lambda: torch.eye(d, dtype=torch.float64) + 0.1 * torch.randn(d, d, generator=g, dtype=torch.float64)
    a, b = (torch.randn(n, d, generator=g, dtype=torch.float64) @ mix() for _ in range(2))   # two correlated clouds, overlapping
    stats = [dict(mu=x.numpy().mean(0), sigma=np.cov(x.numpy(), rowvar=False)) for x in (a, b)]
    ours_fd = frechet_distance(a, b)
    kid = kid_features_to_metric(a, b, kid_subsets=1, kid_subset_size=n, kid_kernel='poly', kid_kernel_poly_degree=3,
                                 kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1, rng_seed=0, verbose=False)
    p, r = precision_recall(a.float(), b.float(), k=3)                       # ours: (real, fake); theirs: (generated, real)
    prc = prc_features_to_metric(b.float(), a.float(), prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    rows = [('frechet_distance against pytorch-fid', ours_fd, calculate_frechet_distance(*stats[0].values(), *stats[1].values()), 1e-8),
            ('frechet_distance against torch-fidelity', ours_fd, fid_statistics_to_metric(*stats, False)['frechet_inception_distance'], 1e-8),
            ('kernel_distance (all points) against torch-fidelity', kernel_distance(a, b, subsets=1, subset_size=n)[0],
             kid['kernel_inception_distance_mean'], 1e-8),
            ('precision_recall: precision against torch-fidelity', p, prc['precision'], 1e-12),
            ('precision_recall: recall against torch-fidelity', r, prc['recall'], 1e-12)]
    return sum(compare(name, ours, theirs, tol, why=f'(ours {ours:.6g}, theirs {theirs:.6g})') for name, ours, theirs, tol in rows)


def _ours_blocks(m) -> list:
    "(kind, module) in the order the forward pass meets them: res, attn, down, up."
    from ddpm_nb.unet import Downsample, SelfAttention, Upsample
    def walk(layers):
        for layer in layers:
            if isinstance(layer, (Downsample, Upsample)): yield ('down' if isinstance(layer, Downsample) else 'up', layer)
            else:
                yield 'res', layer[0]
                if isinstance(layer[1], SelfAttention): yield 'attn', layer[1]
    return [*walk(m.down), ('res', m.mid[0]), ('attn', m.mid[1]), ('res', m.mid[2]), *walk(m.up)]

def _peer_blocks(m) -> list:
    "The same list for diffusers' UNet2DModel."
    def walk(blocks, kind):
        for b in blocks:
            for j, r in enumerate(b.resnets):
                yield 'res', r
                if getattr(b, 'attentions', None): yield 'attn', b.attentions[j]
            for s in (getattr(b, 'downsamplers', None) or getattr(b, 'upsamplers', None) or []): yield kind, s
    mb = m.mid_block
    return [*walk(m.down_blocks, 'down'), ('res', mb.resnets[0]), ('attn', mb.attentions[0]), ('res', mb.resnets[1]),
            *walk(m.up_blocks, 'up')]

@torch.no_grad()
def _copy_weights(ours, peer):
    "Give diffusers' UNet2DModel our U-Net's weights, layer by layer in forward order (the q, k, v rows split out of our 1x1 qkv)."
    def lin(dst, w, b): dst.weight.copy_(w.reshape(dst.weight.shape)); dst.bias.copy_(b)
    def same(dst, src): lin(dst, src.weight, src.bias)
    same(peer.time_embedding.linear_1, ours.time_emb.mlp[0]); same(peer.time_embedding.linear_2, ours.time_emb.mlp[2])
    same(peer.conv_in, ours.conv_in); same(peer.conv_norm_out, ours.out[0]); same(peer.conv_out, ours.out[2])
    a, b = _ours_blocks(ours), _peer_blocks(peer)
    assert [k for k, _ in a] == [k for k, _ in b], 'the two networks are not built alike'
    for (kind, o), (_, p) in zip(a, b):
        if kind == 'res':
            for dst, src in ((p.norm1, o.norm1), (p.conv1, o.conv1), (p.time_emb_proj, o.emb), (p.norm2, o.norm2), (p.conv2, o.conv2)): same(dst, src)
            if p.conv_shortcut is not None: same(p.conv_shortcut, o.skip)
        elif kind == 'attn':
            C = o.proj.weight.shape[0]
            same(p.group_norm, o.norm)
            for j, dst in enumerate((p.to_q, p.to_k, p.to_v)): lin(dst, o.qkv.weight[j * C:(j + 1) * C], o.qkv.bias[j * C:(j + 1) * C])
            same(p.to_out[0], o.proj)
        else: same(p.conv, o.conv)
    return len(a)

def unet() -> int:
    """Our U-Net as chapter 04 builds it (the `cifar10` preset: the DDPM paper's CIFAR-10 model) against diffusers'
    UNet2DModel in the same configuration, given the same weights: the two must compute the same function (float64).
    The configuration follows ours where conventions differ from the paper's TensorFlow original (as in google/ddpm-*):
    one attention head, the timestep embedding as [cos, sin] with frequencies 10000^(-i/half), GroupNorm eps 1e-5 and a
    symmetric padding before the stride-2 convolutions."""
    from diffusers import UNet2DModel
    from ddpm_nb.unet import UNet, randomize_zero_params
    torch.manual_seed(0)
    ours = randomize_zero_params(UNet.from_preset('cifar10')).double().eval()     # every branch switched on
    like_ours = dict(sample_size=32, in_channels=3, out_channels=3, layers_per_block=2, block_out_channels=(128, 256, 256, 256),
                     down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'),
                     up_block_types=('UpBlock2D', 'UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'), attention_head_dim=None,
                     flip_sin_to_cos=True, freq_shift=0, norm_eps=1e-5, downsample_padding=1)
    g = torch.Generator().manual_seed(8)
    x, t = torch.randn(2, 3, 32, 32, generator=g, dtype=torch.float64), torch.tensor([10, 700])
    with torch.no_grad(): a = ours(x, t)
    bad = 0
    # the same configuration must agree; each convention of the paper's TensorFlow code (google/ddpm-*'s configs) or
    # diffusers' default heads, changed alone, must not: so the check sees each of them
    for name, change in [('same configuration', {}), ('GroupNorm eps 1e-6 (paper)', dict(norm_eps=1e-6)),
                         ("stride-2 padding as TF's SAME (paper)", dict(downsample_padding=0)),
                         ('embedding [sin, cos], 10000^(-i/(half-1)) (paper)', dict(flip_sin_to_cos=False, freq_shift=1)),
                         ("diffusers' default heads, 8 channels each", dict(attention_head_dim=8))]:
        peer = UNet2DModel(**{**like_ours, **change}).double().eval()
        n_ours, n_peer = (sum(p.numel() for p in m.parameters()) for m in (ours, peer))
        blocks = _copy_weights(ours, peer)
        with torch.no_grad(): b = peer(x, t).sample
        bad += int(n_ours != n_peer) + compare(f'U-Net against UNet2DModel: {name}', a, b, 1e-10, expect_same=not change,
                                               why='' if change else f'({n_ours:,d} parameters each, {blocks} blocks mapped, float64)')
    return bad


def main():
    import diffusers
    from diffusers import DDPMScheduler
    print(f'diffusers {diffusers.__version__}, torch {torch.__version__}; largest |ours - peer|, relative to the largest '
          f'entry (agreement: below 1e-6 for the betas, {TOL:g} for the samplers, tighter where noted)')
    ours = NoiseSchedule(DDPMScheduler(num_train_timesteps=T, beta_schedule='linear').betas)   # diffusers' float32 betas
    failed = tables(ours) + samplers(ours, 'eps', 'epsilon') + samplers(ours, 'v', 'v_prediction') + metrics() + unet()
    print(f'{failed} comparison(s) not as expected' if failed else 'every comparison as expected')
    sys.exit(1 if failed else 0)


if __name__ == '__main__': main()
