#!/usr/bin/env python3
"""Rescore saved samples under several feature networks (issue 18): FD, KID, precision and recall under each network,
the class histogram under each classifier (total variation from the data's class frequencies, entropy), and the
verdict of chapter 08's rule: one method beats another only if it has the lower FD *and* the lower KID under *every*
network; otherwise the two are "level".

    python bench/robust_eval.py [--results bench/results/fashion-cpu] [--data ../shared/data/fashion-mnist] [--steps 1500]

The yardsticks are chapter 08's `FeatureNet` (a CNN, seed 0) and `MLPFeatureNet` (a fully connected net on the
pixels, seed 1), each trained on the Fashion-MNIST training set, and `PixelPCA` (the test images' top 64 principal
components: nothing learned); every sample set is compared with the 10,000 test images. Samples are the uint8
`<method>_samples.npy` files the quality benchmark keeps (without --methods: every such file in --results). The two
trained networks are kept beside the samples (`yardstick_cnn.pt`, `yardstick_mlp.pt`) and reused by later calls, so
arms added to a folder later are scored with the same yardsticks. CPU, about 10 minutes on 2 fast cores, about an hour
on one slow one.
"""
import argparse, itertools, json, sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.loaders import IdxDataset
from ddpm_nb.metrics import FeatureNet, MLPFeatureNet, PixelPCA, class_histogram, extract_features, histogram_stats, predict_classes, quality, train_classifier, verdict


def yardstick(train, a, name, arch, seed):
    "A trained feature network, loaded from --results when an earlier call with the same --steps kept one there."
    f = Path(a.results) / f'yardstick_{name}.pt'
    if f.is_file():
        st = torch.load(f, map_location='cpu', weights_only=True)
        if st['steps'] == a.steps and st['seed'] == seed:
            net = FeatureNet() if arch == 'cnn' else MLPFeatureNet()
            net.load_state_dict(st['state']); print(f'{name}: kept from {f}')
            return net.eval()
        sys.exit(f'{f} was trained with --steps {st["steps"]}, seed {st["seed"]}: give --steps {st["steps"]} or remove it')
    net = train_classifier(train, steps=a.steps, seed=seed, arch=arch)
    torch.save(dict(state=net.state_dict(), steps=a.steps, seed=seed), f)
    return net


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--results', default='bench/results/fashion-cpu'); p.add_argument('--data', default='../shared/data/fashion-mnist')
    p.add_argument('--steps', type=int, default=1500); p.add_argument('--methods', nargs='*', help='sample sets to score (default: every *_samples.npy in --results)')
    a = p.parse_args()
    train, test = IdxDataset(a.data, 'train'), IdxDataset(a.data, 'test')
    real = test.images                                            # uint8 (10000, 1, 28, 28)
    data_counts = torch.bincount(test.labels, minlength=10)
    a.methods = a.methods or sorted(f.name[:-len('_samples.npy')] for f in Path(a.results).glob('*_samples.npy'))
    if not a.methods: sys.exit(f'no *_samples.npy in {a.results}')
    samples = {m: torch.from_numpy(np.load(Path(a.results) / f'{m}_samples.npy'))[:, None] for m in a.methods}
    nets, scores, hists, about = {}, {m: {} for m in samples}, {m: {} for m in samples}, {}
    for name, arch, seed in (('cnn', 'cnn', 0), ('mlp', 'mlp', 1), ('pca', None, None)):
        t0 = time.perf_counter()
        net = nets[name] = yardstick(train, a, name, arch, seed) if arch else PixelPCA(real, k=64)
        ref = extract_features(net, real)
        floor = quality(net, ref, extract_features(net, train.images[:2000]))
        accuracy = (predict_classes(net, real) == test.labels).float().mean().item() if arch else None
        about[name] = dict(test_accuracy=accuracy, floor_2000_training_images=floor)
        acc = f', test accuracy {accuracy:.3f}' if arch else ' (nothing learned)'
        print(f'{name}: ready in {time.perf_counter() - t0:.0f} s{acc}; real-vs-real floor (2000 training images): '
              f'FD {floor["fd"]:.2f} KID {floor["kid"]:.4f}', flush=True)
        for m, x in samples.items():
            scores[m][name] = quality(net, ref, x)
            if not arch: continue
            hists[m][name] = counts = class_histogram(net, x)
            hists[m][name + '_stats'] = histogram_stats(counts, data_counts)
    print('\n| method | network | FD | KID | precision | recall | TV from data | entropy (bits) | samples per class (0-9) |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---|')
    for m in samples:
        for name in nets:
            q, h = scores[m][name], hists[m].get(name + '_stats')
            tail = (f'{h["tv"]:.2f} | {h["entropy_bits"]:.2f} | {" ".join(str(int(c)) for c in hists[m][name])}' if h else '- | - | -')
            print(f'| {m} | {name} | {q["fd"]:.1f} | {q["kid"]:.3f} | {q["precision"]:.2f} | {q["recall"]:.2f} | {tail} |')
    print()
    for a_, b_ in itertools.combinations(samples, 2):
        v = verdict(scores[a_], scores[b_])
        print(f'{a_} vs {b_}: ' + {'a': f'{a_} better', 'b': f'{b_} better', 'level': 'level'}[v] + ' ('
              + '; '.join(f'{n}: FD {scores[a_][n]["fd"]:.1f} vs {scores[b_][n]["fd"]:.1f}, KID {scores[a_][n]["kid"]:.3f} vs {scores[b_][n]["kid"]:.3f}' for n in nets) + ')')
    out = Path(a.results) / 'robust_eval.json'
    hists = {m: {k: (v.tolist() if torch.is_tensor(v) else v) for k, v in h.items()} for m, h in hists.items()}
    if out.is_file():              # a call with --methods adds its sample sets to those an earlier call scored
        old = json.loads(out.read_text())
        if old.get('steps') != a.steps: sys.exit(f'{out} holds scores of yardsticks trained for {old.get("steps")} steps, not {a.steps}: give that --steps')
        scores, hists = {**old['scores'], **scores}, {**old['histograms'], **hists}
    out.write_text(json.dumps(dict(scores=scores, histograms=hists, steps=a.steps, yardsticks=about), indent=1, default=float))
    print(f'wrote {out} ({len(scores)} sample sets)')

if __name__ == '__main__': main()
