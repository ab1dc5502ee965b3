#!/usr/bin/env python3
"""Recipe search on Fashion-MNIST (issue 18, point 2): one choice of the quick-start recipe changed at a time, several
seeds per arm, every run scored under chapter 08's three yardsticks (the CNN and MLP feature networks and the network-free
pixel projection `PixelPCA`: FD, KID, precision, recall) and by its class histogram under each classifier (total
variation from the data's class frequencies), with chapter 08's rule applied per seed.

Every arm trains the quality benchmark's model (the `tiny` U-Net, mults 1,2,2, attention at 7x7, 1.27M parameters,
unconditional) for --steps optimizer steps at batch 64, then draws --n-samples images with 50 DDIM steps, eta 1,
trailing spacing, from the EMA weights. Seed k fixes the initial weights, the data order, the noise and the sampler.
The peers' committed samples (bench/results/fashion-cpu) are rescored at the same N under the same networks.

    python bench/recipe_search.py --arms base dropout v_minsnr cosine --seeds 0 1            # 800 steps, ~6 min per run
    python bench/recipe_search.py --steps 3000 --arms base dropout --seeds 0 1 --out bench/results/recipe-3000

`--summary` trains nothing and prints the tables for the runs already there.

Results (one JSON line per run) go to --out/runs.jsonl; a run already there is skipped, so the command resumes. Each
run is claimed by a file (--out/ARM_sSEED.claim), so two workers can share the list (e.g. one per core with
OMP_NUM_THREADS=1); delete the claims of runs that were interrupted before resuming.
"""
import argparse, json, statistics, sys, time
from pathlib import Path
import numpy as np
import torch
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ddpm_nb.data import TensorImages
from ddpm_nb.loaders import IdxDataset
from ddpm_nb.metrics import (FeatureNet, MLPFeatureNet, PixelPCA, class_histogram, extract_features, histogram_stats, quality,
                             train_classifier, verdict)
from ddpm_nb.schedules import NoiseSchedule
from ddpm_nb.quickstart import QUICKSTART
from ddpm_nb.training import TrainConfig, train
from ddpm_nb.sampling import sample
from ddpm_nb.diffusion import to_uint8
from ddpm_nb.unet import UNet

# arm -> (model changes, training changes, schedule name); each changes one thing of the base recipe
ARMS = dict(
    base=({}, {}, 'linear'),
    dropout=(dict(dropout=0.1), {}, 'linear'),
    v_minsnr=({}, dict(target='v', min_snr_gamma=5.0), 'linear'),
    cosine=({}, {}, 'cosine'),
    lr3e4=({}, dict(lr=3e-4), 'linear'),
    ema999=({}, dict(ema_decay=0.999), 'linear'),
)


PEERS = ('lucidrains', 'diffusers')


def run_arm(arm, seed, x, a, out):
    arch_changes, train_changes, sched = ARMS[arm]
    torch.manual_seed(seed)
    arch = {k: v for k, v in QUICKSTART['model'].items() if k not in ('preset', 'num_classes')} | arch_changes
    model = UNet.from_preset(QUICKSTART['model']['preset'], **arch)
    schedule = NoiseSchedule.from_name(sched, 1000)
    # base is the eps recipe the search started from: the quick start's settings without any choice an arm makes
    tr = ({k: v for k, v in QUICKSTART['train'].items() if k not in ('val_max', 'target', 'min_snr_gamma')}
          | dict(target='eps', min_snr_gamma=None) | train_changes)   # the paper's eps, unweighted, unless the arm says
    cfg = TrainConfig(steps=a.steps, **tr, val_fraction=0.0, ckpt_every=a.steps, sample_every=a.steps,
                      log_every=max(1, a.steps // 20), progress=False, seed=seed)
    t0 = time.perf_counter()
    run = train(model, schedule, TensorImages(x), cfg, out / 'runs' / f'{arm}_s{seed}', device='cpu')   # unlabelled: y = -1
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    imgs = sample(run['ema'].eval(), schedule, (a.n_samples, 1, 28, 28), 'ddim', 50, eta=1.0, batch_size=125,
                  target=cfg.target, generator=torch.Generator().manual_seed(seed))
    return to_uint8(imgs), t_train, time.perf_counter() - t0


def score(nets, refs, data_counts, u8):
    "FD, KID, precision and recall under every yardstick; the class histogram's TV and entropy under each classifier."
    r = {}
    for name, net in nets.items():
        q = quality(net, refs[name], u8)
        r[name] = dict(fd=q['fd'], kid=q['kid'], precision=q['precision'], recall=q['recall'])
        if name != 'pca':
            h = histogram_stats(class_histogram(net, u8), data_counts)
            r[name] |= dict(tv=h['tv'], entropy=h['entropy_bits'])
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arms', nargs='+', default=['base', 'dropout', 'v_minsnr', 'cosine'], choices=list(ARMS))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--steps', type=int, default=800)
    p.add_argument('--n-samples', type=int, default=1000)
    p.add_argument('--clf-steps', type=int, default=1500)
    p.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data' / 'fashion-mnist'))
    p.add_argument('--peers', default=str(ROOT / 'bench' / 'results' / 'fashion-cpu'))
    p.add_argument('--out', default=str(ROOT / 'bench' / 'results' / 'recipe-800'))
    p.add_argument('--summary', action='store_true', help='train nothing: rescore the runs already in --out and print the tables')
    a = p.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    train_ds, test = IdxDataset(a.data, 'train'), IdxDataset(a.data, 'test')
    x = train_ds.images                                   # uint8 (60000, 1, 28, 28)
    data_counts = torch.bincount(test.labels, minlength=10)
    cache = out / f'feature_nets_{a.clf_steps}.pt'           # the two networks, trained once per --out
    if cache.exists():
        state = torch.load(cache, weights_only=True)
        nets = {'cnn': FeatureNet(), 'mlp': MLPFeatureNet()}
        for name, net in nets.items(): net.load_state_dict(state[name]); net.eval()
    else:
        nets = {name: train_classifier(train_ds, steps=a.clf_steps, seed=seed, arch=arch)
                for name, arch, seed in (('cnn', 'cnn', 0), ('mlp', 'mlp', 1))}
        torch.save({name: net.state_dict() for name, net in nets.items()}, cache)
    nets['pca'] = PixelPCA(test.images, k=64)             # the yardstick with nothing learned
    refs = {name: extract_features(net, test.images) for name, net in nets.items()}
    log = out / 'runs.jsonl'
    done = {(r['arm'], r['seed'], r['steps'], r['n']) for r in map(json.loads, log.read_text().splitlines())} if log.exists() else set()
    rows = []
    for peer in PEERS:
        f = Path(a.peers) / f'{peer}_samples.npy'
        if f.exists():
            rows.append(dict(arm=peer, seed=0, scores=score(nets, refs, data_counts, torch.from_numpy(np.load(f)[:a.n_samples])[:, None])))
            print(peer, json.dumps(rows[-1]['scores']), flush=True)
    for seed in ([] if a.summary else a.seeds):           # every arm at one seed before the next seed
        for arm in a.arms:
            if (arm, seed, a.steps, a.n_samples) in done: continue
            try: (out / f'{arm}_s{seed}.claim').touch(exist_ok=False)   # several workers (one per core) share the list
            except FileExistsError: continue
            u8, t_train, t_sample = run_arm(arm, seed, x, a, out)
            np.save(out / f'{arm}_s{seed}_samples.npy', u8[:, 0].numpy())
            r = dict(arm=arm, seed=seed, steps=a.steps, n=a.n_samples, t_train=t_train, t_sample=t_sample,
                     scores=score(nets, refs, data_counts, u8))
            with log.open('a') as f: f.write(json.dumps(r) + '\n')
            print(json.dumps(r), flush=True)
    # summary: every run rescored from its saved samples under every yardstick; mean (min-max) over seeds
    runs = [r for r in map(json.loads, log.read_text().splitlines()) if r['steps'] == a.steps and r['n'] == a.n_samples]
    for r in runs: r['scores'] = score(nets, refs, data_counts, torch.from_numpy(np.load(out / f"{r['arm']}_s{r['seed']}_samples.npy"))[:, None])
    (out / 'summary.json').write_text(json.dumps(dict(peers=rows, runs=runs), indent=1))
    print(f'\n{a.steps} steps, N = {a.n_samples}; mean (min-max) over seeds')
    print('| arm | seeds | yardstick | FD | KID | precision | recall | TV |')
    print('|---|---|---|---:|---:|---:|---:|---:|')
    arms = [r['arm'] for r in rows] + list(dict.fromkeys(r['arm'] for r in runs))
    for arm in arms:
        rs = [r for r in rows + runs if r['arm'] == arm]
        for net in nets:
            def cell(k, fmt):
                v = [r['scores'][net][k] for r in rs if k in r['scores'][net]]
                if not v: return '-'
                return f'{statistics.mean(v):{fmt}}' + (f' ({min(v):{fmt}}-{max(v):{fmt}})' if len(v) > 1 else '')
            print(f'| {arm} | {len(rs)} | {net} | {cell("fd", ".2f")} | {cell("kid", ".3f")} | {cell("precision", ".2f")} | '
                  f'{cell("recall", ".2f")} | {cell("tv", ".2f")} |')
    print('\nchapter 08\'s rule, per seed (a: the arm wins under every yardstick, b: the other wins, level: neither)')
    for arm in dict.fromkeys(r['arm'] for r in runs):
        for other in ['base'] + [r['arm'] for r in rows]:
            if other == arm: continue
            per_seed = [verdict(r['scores'], o['scores']) for r in runs if r['arm'] == arm
                        for o in rows + runs if o['arm'] == other and (o['seed'] == r['seed'] or other in PEERS)]
            print(f'{arm} vs {other}: {" ".join(per_seed)}')

if __name__ == '__main__': main()
