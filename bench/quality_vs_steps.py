#!/usr/bin/env python3
"""Sample quality against the number of sampler steps, for each of ddpm_nb's samplers, on the Fashion-MNIST model that
bench/quality_per_compute.py trained (its `ours_run`), scored with the same feature network (its `feature_net.pt`), or
on any run of bench/recipe_search.py, scored under its three yardsticks (the CNN and the MLP of its `feature_nets_*.pt`,
and the pixel projection); the model samples with its own target (eps or v, from its checkpoint).

Samplers: DDIM with eta 0 (deterministic), DDIM with eta 1 (stochastic; on all T steps it is DDPM with beta tilde),
DPM-Solver++(2M), all with trailing spacing, EMA weights and x0 clipping; and, with --ddpm, ancestral DDPM on all
T steps as the reference. Every setting starts from the same seed, so the settings differ only by the sampler.

  python bench/quality_vs_steps.py                                   # CPU: 500 samples per setting, 10/20/50/100 steps
  python bench/quality_vs_steps.py --only-ddpm                       # then the DDPM reference (about 17 minutes on 2 cores)
  python bench/quality_vs_steps.py --run bench/results/fashion/ours_run --n-samples 5000 --steps 5 10 20 50 100 250 \\
      --ddpm --sample-batch 1000 --device cuda                        # a GPU rerun after the GPU quality_per_compute run
  python bench/quality_vs_steps.py --run bench/results/recipe-800/runs/v_minsnr_s0 \\
      --features bench/results/recipe-800/feature_nets_1500.pt --steps 10 20 50   # a recipe-search run, three yardsticks

Writes steps.json (and steps.png when matplotlib is present) next to the run directory, or with --features,
steps_<run>.json and steps_<run>.png next to the feature networks.
"""
import argparse, json, os, platform, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parent.parent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--run', default=str(ROOT / 'bench' / 'results' / 'fashion-cpu' / 'ours_run'),
                   help='run directory written by quality_per_compute.py; feature_net.pt is read from its parent')
    p.add_argument('--steps', type=int, nargs='+', default=[10, 20, 50, 100])
    p.add_argument('--n-samples', type=int, default=500)
    p.add_argument('--ddpm', action='store_true', help='add ancestral DDPM on all T steps (T network calls per image)')
    p.add_argument('--only-ddpm', action='store_true', help='run only the DDPM reference, and add it to an existing steps.json')
    p.add_argument('--sample-batch', type=int, default=125)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--features', default=None, help="feature networks: a FeatureNet state dict (default: the run's parent's "
                   "feature_net.pt) or recipe_search.py's feature_nets_*.pt (a CNN and an MLP; the pixel projection is added)")
    a = p.parse_args()
    from quality_per_compute import fashion, images
    from ddpm_nb.metrics import FeatureNet, MLPFeatureNet, PixelPCA, extract_features, quality
    from ddpm_nb.checkpoints import load_model
    from ddpm_nb.sampling import sample
    from ddpm_nb.diffusion import to_uint8
    run, out = Path(a.run), Path(a.run).parent
    features = Path(a.features) if a.features else out / 'feature_net.pt'
    for f in (run, features):
        if not f.exists(): raise SystemExit(f'{f} not found: run bench/quality_per_compute.py --methods ours first')
    if a.features: out, stem = features.parent, f'steps_{run.name}'   # next to the recipe search's results, one file per run
    else: stem = 'steps'
    info = dict(config=vars(a), python=platform.python_version(), torch=torch.__version__, cpus=os.cpu_count(),
                threads=torch.get_num_threads(), gpu=torch.cuda.get_device_name() if a.device.startswith('cuda') else None)
    print(json.dumps(info, indent=1), flush=True)
    model, s, meta = load_model(run, a.device)
    state = torch.load(features, map_location=a.device, weights_only=True)
    nets = {'cnn': FeatureNet(), 'mlp': MLPFeatureNet()} if 'cnn' in state else {'cnn': FeatureNet()}
    for name, net in nets.items(): net.load_state_dict(state[name] if 'cnn' in state else state); net.to(a.device).eval()
    test_x, train_x = images(fashion('test'), a.n_samples)[0], images(fashion('train'), a.n_samples)[0]
    if len(nets) > 1: nets['pca'] = PixelPCA(test_x, k=64).to(a.device)   # nothing learned
    refs = {name: extract_features(net, test_x) for name, net in nets.items()}
    def scores(x): return {name: quality(net, refs[name], x) for name, net in nets.items()}
    floors = scores(train_x)
    info['floor'] = floors['cnn']
    if len(floors) > 1: info['floors'] = floors
    info['target'] = meta['target']
    print(f'model: {meta.get("step", "?")} training steps, target {meta["target"]}; real-vs-real floor at n={a.n_samples}: '
          f'FD {info["floor"]["fd"]:.2f}  KID {info["floor"]["kid"]:.4f}', flush=True)
    settings = [('DDIM eta 0', 'ddim', 0.0), ('DDIM eta 1', 'ddim', 1.0), ('DPM-Solver++(2M)', 'dpmpp_2m', 0.0)]
    grid = [(name, smp, eta, n) for name, smp, eta in settings for n in a.steps]
    if a.only_ddpm: grid = []
    if a.ddpm or a.only_ddpm: grid.append(('DDPM (beta_t)', 'ddpm', 0.0, s.T))
    old = json.loads((out / f'{stem}.json').read_text()) if a.only_ddpm and (out / f'{stem}.json').is_file() else None
    if old and old['info']['config']['n_samples'] != a.n_samples: raise SystemExit(f'{out / stem}.json was made with another --n-samples')
    rows = [r for r in old['results'] if not r['sampler'].startswith('DDPM')] if old else []
    if old: info['config'] = {**old['info']['config'], 'ddpm': True}
    print(f'{"sampler":18s} {"steps":>5s} {"FD":>7s} {"KID":>7s} {"prec":>6s} {"recall":>6s} {"seconds":>8s}'
          + ''.join(f' {"FD " + n:>8s}' for n in nets if n != 'cnn'), flush=True)
    for name, smp, eta, n in grid:
        t0 = time.perf_counter()
        x = sample(model, s, (a.n_samples, 1, 28, 28), smp, n if smp != "ddpm" else None, eta=eta if smp == "ddim" else None,
                   batch_size=a.sample_batch, target=meta['target'], generator=torch.Generator(a.device).manual_seed(a.seed))
        dt = time.perf_counter() - t0
        qs = scores(to_uint8(x.clamp(-1, 1)).cpu()); q = qs['cnn']
        rows.append(dict(sampler=name, steps=n, sample_seconds=dt, **q, **({'yardsticks': qs} if len(qs) > 1 else {})))
        print(f'{name:18s} {n:5d} {q["fd"]:7.2f} {q["kid"]:7.4f} {q["precision"]:6.3f} {q["recall"]:6.3f} {dt:8.0f}'
              + ''.join(f' {qs[k]["fd"]:8.2f}' for k in qs if k != 'cnn'), flush=True)
        (out / f'{stem}.json').write_text(json.dumps(dict(info=info, results=rows), indent=1))
    try:
        import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    except ImportError: return
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key in zip(axs, ('fd', 'kid')):
        for name, *_ in settings:
            r = [q for q in rows if q['sampler'] == name]
            ax.plot([q['steps'] for q in r], [q[key] for q in r], 'o-', label=name)
        for q in rows:
            if q['sampler'].startswith('DDPM'): ax.axhline(q[key], color='k', ls='--', lw=1, label=f'DDPM, {q["steps"]} steps')
        ax.axhline(info['floor'][key], color='grey', ls=':', label='real vs real')
        ax.set(xscale='log', xlabel='network evaluations', ylabel=key.upper(), title=f'{key.upper()} against steps (n={a.n_samples})')
    axs[0].legend(fontsize=8)
    fig.tight_layout(); fig.savefig(out / f'{stem}.png', dpi=100)


if __name__ == '__main__': main()
