#!/usr/bin/env python3
"""The recipe grid as tables: implementation (ours, diffusers, lucidrains) by recipe (eps: the paper's objective,
unweighted; v: v-prediction with min-SNR-5), one table per yardstick, from the files a grid folder holds.

    python bench/grid_table.py bench/results/grid-800

Yardsticks: `grid`, the FeatureNet that bench/quality_per_compute.py scored with (results.json, N test images as
references); `cnn`, `mlp` and `pca`, the three of bench/robust_eval.py (robust_eval.json, all 10,000 test images), when
that has been run on the folder. A cell is the FD (and KID) averaged over the seeds present, with the seeds' range of
FD in brackets when there are two or more; a missing arm is a dash. Under the tables: for each recipe, our FD over the
better peer's under every yardstick (the range is what a fair summary quotes), the same against the controls
`diffusers-matched` and `lucidrains-matched` (each peer with our optimizer, learning rate, EMA, schedule and sampler)
when they have run, and for each implementation what
switching eps to v changes, and chapter 08's verdict (a win needs the lower FD and KID under every yardstick), on the
seed means and then seed by seed: every seed of one arm against every seed of the other, so that a win that holds on
the means but not in every pair is shown to depend on the seed ("seed rule": chapter 08's seed_verdict, a win in every
pair or level).
"""
import argparse, json, re, sys
from collections import defaultdict
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm_nb.metrics import verdict, seed_verdict

IMPLS, RECIPES = ('ours', 'diffusers', 'lucidrains'), ('eps', 'v')
CONTROLS = ('diffusers-matched', 'lucidrains-matched')     # a peer with our training and sampling settings too: what is left is the implementation
VARIANTS = ('ours-groups8',)  # ablations of ours: GroupNorm with 8 groups instead of 32 (the diffusers arm's network has 8)
ROWS = IMPLS + VARIANTS + CONTROLS
ARM = re.compile(r'^(' + '|'.join(ROWS) + r')_(eps|v)_s(\d+)$')


def scores(folder):
    "{yardstick: {(impl, recipe): {seed: score}}} from results.json and, when present, robust_eval.json."
    folder, out = Path(folder), defaultdict(lambda: defaultdict(dict))
    res = json.loads((folder / 'results.json').read_text())['results'] if (folder / 'results.json').is_file() else {}
    for name, q in sorted(res.items()):
        if m := ARM.match(name): out['grid'][m[1], m[2]][int(m[3])] = q
    if (folder / 'robust_eval.json').is_file():
        for name, per in sorted(json.loads((folder / 'robust_eval.json').read_text())['scores'].items()):
            if m := ARM.match(name):
                for y, q in per.items(): out[y][m[1], m[2]][int(m[3])] = q
    return out

def arms(folder):
    "{yardstick: {(impl, recipe): [scores of each seed]}}."
    return {y: defaultdict(list, {arm: [per[k] for k in sorted(per)] for arm, per in t.items()}) for y, t in scores(folder).items()}

def common(per_seed, arm) -> list:
    "The seeds of an arm that every yardstick has scored."
    return sorted(set.intersection(*(set(t[arm]) for t in per_seed.values())))

def runs(per_seed, arm) -> list:
    "An arm's seeds scored under every yardstick, as chapter 08's seed_verdict takes them."
    return [{y: t[arm][i] for y, t in per_seed.items()} for i in common(per_seed, arm)]

def seed_pairs(per_seed, a, b) -> list:
    "Chapter 08's verdict for every (seed of a, seed of b) scored under every yardstick."
    return [verdict(u, v) for u in runs(per_seed, a) for v in runs(per_seed, b)]


def mean(xs): return sum(xs) / len(xs)
def fd(t, arm): return mean([q['fd'] for q in t[arm]])          # an arm's FD, averaged over its seeds
def ratios_line(label, ratios):
    return f'{label}, FD: ' + ', '.join(f'{y} {v:.2f}x' for y, v in ratios.items()) + \
           f' (range {min(ratios.values()):.2f}-{max(ratios.values()):.2f}x)'


def cell(qs):
    if not qs: return '-'
    fd = [q['fd'] for q in qs]
    spread = f' [{min(fd):.2f}-{max(fd):.2f}]' if len(fd) > 1 else ''
    return f'{mean(fd):.2f}{spread} ({mean([q["kid"] for q in qs]):.3f}), n={len(qs)}'


def main(folder):
    tables, per_seed = arms(folder), scores(folder)
    if not tables: sys.exit(f'no grid arms (IMPL_RECIPE_sSEED) in {folder}/results.json or robust_eval.json')
    for y, t in tables.items():
        print(f'\n**{y}**: FD (KID), n = seeds\n\n| | ' + ' | '.join(RECIPES) + ' |\n|---|' + '---:|' * len(RECIPES))
        for impl in ROWS:
            if impl in IMPLS or any(t[impl, r] for r in RECIPES):
                print(f'| {impl} | ' + ' | '.join(cell(t[impl, r]) for r in RECIPES) + ' |')
    print()
    for ours in ('ours',) + VARIANTS:
      for r in RECIPES:
        ratios = {y: fd(t, (ours, r)) / min(fd(t, (p, r)) for p in IMPLS[1:] if t[p, r])
                  for y, t in tables.items() if t[ours, r] and any(t[p, r] for p in IMPLS[1:])}
        if ratios or ours == 'ours':
            print(ratios_line(f'{r}: {ours} / better peer present', ratios) if ratios else f'{r}: ours / better peer present: not enough arms')
        for c in CONTROLS + (('ours',) if ours != 'ours' else ()):
            ratios = {y: fd(t, (ours, r)) / fd(t, (c, r)) for y, t in tables.items() if t[ours, r] and t[c, r]}
            if ratios: print(ratios_line(f'{r}: {ours} / {c}', ratios))
    # the verdict on the means averages the seeds every yardstick has scored, the same seeds under each
    avg = lambda y, k: {q: mean([per_seed[y][k][i][q] for i in common(per_seed, k)]) for q in ('fd', 'kid')}
    for ours in ('ours',) + VARIANTS:
      for r in RECIPES:            # chapter 08's rule on the seed means: a win needs lower FD and KID under every yardstick
        for peer in IMPLS[1:] + CONTROLS + (('ours',) if ours != 'ours' else ()):
            if common(per_seed, (ours, r)) and common(per_seed, (peer, r)):
                v = verdict({y: avg(y, (ours, r)) for y in tables}, {y: avg(y, (peer, r)) for y in tables})
                pairs = seed_pairs(per_seed, (ours, r), (peer, r))
                count = ', '.join(f'{name} in {pairs.count(k)}' for k, name in (('a', ours), ('b', peer), ('level', 'level')) if pairs.count(k))
                print(f'{r}: {ours} vs {peer} under chapter 08\'s rule ({", ".join(tables)}): '
                      + {'a': f'{ours} better', 'b': f'{peer} better', 'level': 'level'}[v]
                      + f'; seed by seed ({len(pairs)} pair{"s" * (len(pairs) != 1)}): {count}'
                      + '; seed rule: ' + {'a': ours, 'b': peer, 'level': 'level'}[seed_verdict(runs(per_seed, (ours, r)), runs(per_seed, (peer, r)))])
    for impl in ROWS:
        ch = {y: fd(t, (impl, 'v')) / fd(t, (impl, 'eps')) for y, t in tables.items() if t[impl, 'v'] and t[impl, 'eps']}
        if ch: print(f'{impl}: FD of v over FD of eps: ' + ', '.join(f'{y} {v:.2f}x' for y, v in ch.items()))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('folder', help='a grid folder: results.json, and robust_eval.json when bench/robust_eval.py has scored it')
    main(p.parse_args().folder)
