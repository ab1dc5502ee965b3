#!/usr/bin/env python3
"""Check that the course works on this machine's GPU: `python tools/gpu_check.py`.

Runs, on the chosen device (default: CUDA), each part with its own time limit, and records every result as it goes:
  1. notebooks: every notebook's tests under `nbdev_test --flags cuda`, first all in one command (as nbdev users run it,
     several notebooks to a process), then each notebook in a process of its own (--workers at a time);
  2. training: a few optimizer steps of every U-Net preset under each mixed precision the device offers (CUDA: bf16, fp16
     and fp32; CPU: bf16 and fp32), checking that the loss is finite and the weights change; on CUDA also that `train()`
     waits for the GPU only when it logs, validates or saves (torch's sync debug mode, 4 steps against 12);
  3. sampling: every sampler, with and without classifier-free guidance, given labels and a generator made on the CPU
     (as a user makes them);
  4. the command line: `ddpm_nb train`, `ddpm_nb sample`, then a resume that continues the same run.
It writes gpu_check.json (one entry per check: name, ok, seconds, details) and gpu_check.log in --out, prints one line
per check, and ends with `N passed, M failed`. Exit status 0 only when every check passed.

`--device cpu` runs the same checks on a CPU with smaller settings (this is how the script itself is tested); the
notebooks then run without `--flags cuda`. On a GPU machine without internet, point `--fashion-mnist` (or the
environment variable DDPM_NB_FASHION_MNIST) at a folder of Fashion-MNIST idx files for the GPU cells of chapters 05 and 06.
On Colab: `!git clone https://github.com/ddpm-nb/ddpm_nb && cd ddpm_nb && pip install -e ".[dev]" && python tools/gpu_check.py`.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time, traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Checks:
    "Runs named checks, each timed and caught, and keeps the JSON summary and the log up to date on disk."
    def __init__(self, out:Path):
        self.out, self.results = out, []
        out.mkdir(parents=True, exist_ok=True)
        self.log = open(out / 'gpu_check.log', 'a', buffering=1)

    def say(self, msg:str):
        print(msg, flush=True); self.log.write(msg + '\n')

    def attempt(self, fn, *args, **kw) -> tuple:
        "(ok, seconds, details) of fn(*args, **kw): its result, or the exception (whose traceback goes to the log)."
        t0 = time.perf_counter()
        try: details, ok = fn(*args, **kw), True
        except Exception as e:
            details, ok = f'{type(e).__name__}: {e}', False
            self.log.write(traceback.format_exc())
        return ok, round(time.perf_counter() - t0, 1), details

    def run(self, name:str, fn, *args, **kw): return self.record(name, *self.attempt(fn, *args, **kw))

    def record(self, name:str, ok:bool, seconds:float, details) -> bool:
        r = dict(name=name, ok=ok, seconds=seconds, details=details)
        self.results.append(r)
        self.say(f'{"PASS" if ok else "FAIL"}  {name}  ({r["seconds"]} s)  {details if not ok or isinstance(details, str) else ""}'.rstrip())
        self.save()
        return ok

    def save(self, **extra):
        summary = dict(extra, **self._env(), passed=sum(r['ok'] for r in self.results),
                       failed=sum(not r['ok'] for r in self.results), checks=self.results)
        (self.out / 'gpu_check.json').write_text(json.dumps(summary, indent=1))

    @staticmethod
    def _env() -> dict:
        import torch
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        return dict(date=time.strftime('%Y-%m-%d %H:%M'), torch=torch.__version__, python=sys.version.split()[0], gpu=gpu)


def run_cmd(cmd:list, log, timeout:float, env=None) -> str:
    "Run a command, its output going to the log; raise with the last lines of output when it fails or times out."
    try: r = subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as e:       # keep what it printed before the limit: which tests had failed by then
        text = ''.join(o.decode(errors='replace') if isinstance(o, bytes) else o for o in (e.stdout, e.stderr) if o)
        log.write(f'$ {" ".join(map(str, cmd))}\n{text}\n(stopped after {timeout:.0f} s)\n')
        raise RuntimeError(f'no result within {timeout:.0f} s: ' + ' | '.join(text.strip().splitlines()[-6:])) from None
    log.write(f'$ {" ".join(map(str, cmd))}\n{r.stdout}{r.stderr}\n')
    if r.returncode: raise RuntimeError(f'exit {r.returncode}: ' + ' | '.join((r.stdout + r.stderr).strip().splitlines()[-6:]))
    return (r.stdout.strip().splitlines() or [''])[-1]


def exe(name:str) -> str:
    "An installed command: beside this Python, else on PATH (a `pip install --target` puts scripts in its own bin)."
    return str(BIN / name) if (BIN / name).exists() else (shutil.which(name) or name)


def notebooks(checks:Checks, device:str, nbs:list, timeout:float, workers:int=None):
    "All notebooks in one nbdev_test command, as nbdev users run it; then each alone (up to `workers` at a time), so none leans on another."
    flags = ['--flags', 'cuda'] if device.startswith('cuda') else []
    test = [exe('nbdev_test')] + flags
    if not nbs:
        combined = test + ['--path', ROOT / 'nbs', '--timing'] + (['--n_workers', workers] if workers else [])
        checks.run('notebooks: nbdev_test, all in one command', run_cmd, combined, checks.log, 2 * timeout)
    paths = [(ROOT / 'nbs' / Path(nb).name).resolve() for nb in nbs] or sorted((ROOT / 'nbs').glob('[!_]*.ipynb'))
    with ThreadPoolExecutor(workers or 1) as pool:        # each notebook is its own process: threads only wait
        done = {nb: pool.submit(checks.attempt, run_cmd, test + ['--path', nb], checks.log, timeout) for nb in paths}
        for nb, result in done.items(): checks.record(f'notebook {nb.name}', *result.result())


def train_presets(device:str, small:bool) -> dict:
    "A few AdamW steps of every preset under every autocast dtype the device offers; the loss must be finite and fall or move."
    import torch
    from ddpm_nb.diffusion import diffusion_loss
    from ddpm_nb.schedules import NoiseSchedule
    from ddpm_nb.speed import make_fast
    from ddpm_nb.unet import PRESETS, UNet
    out, dtypes = {}, ({'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': None} if device.startswith('cuda')
                       else {'bf16': torch.bfloat16, 'fp32': None})
    for name, cfg in PRESETS.items():
        for dname, dt in dtypes.items():
            torch.manual_seed(0)
            model = make_fast(UNet.from_preset(name, num_classes=10)).to(device)     # as train() runs it
            s = NoiseSchedule.from_name('linear', 1000).to(device)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            scaler = torch.amp.GradScaler(device.split(':')[0], enabled=dt is torch.float16)
            before = [p.detach().clone() for p in model.parameters()]
            batch = 2 if small else 32
            x0 = torch.rand(batch, cfg.in_channels, cfg.image_size, cfg.image_size) * 2 - 1
            y = torch.randint(0, 10, (batch,))                                # from the CPU: train moves them
            t0, losses = time.perf_counter(), []
            for _ in range(2 if small else 5):
                with torch.autocast(device.split(':')[0], dtype=dt or torch.float32, enabled=dt is not None):
                    loss = diffusion_loss(model, s, x0.to(device), y=y.to(device))
                opt.zero_grad(); scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
                losses.append(loss.item())
            if not all(map(torch.isfinite, map(torch.tensor, losses))): raise RuntimeError(f'{name} {dname}: losses {losses}')
            if not any((p.detach() != b).any() for p, b in zip(model.parameters(), before)): raise RuntimeError(f'{name} {dname}: no weight changed')
            out[f'{name} {dname}'] = dict(loss=round(losses[-1], 4), seconds=round(time.perf_counter() - t0, 2))
    return out


def train_syncs(device:str) -> str:
    """Host synchronisations in `train()`, counted by torch's CUDA sync debug mode over a run of 4 steps and one of 12 with
    the same set-up, which logs, validates and checkpoints only at its last step: equal counts mean that no step waits for
    the GPU (what is left is the set-up's and the last step's read-back). Uses a train/validation split and flips, so that
    every indexing path of chapter 05 is taken. Off CUDA there is nothing to count."""
    import collections, warnings
    import torch
    from ddpm_nb.data import TensorImages
    from ddpm_nb.schedules import NoiseSchedule
    from ddpm_nb.training import TrainConfig, train
    from ddpm_nb.unet import UNet
    g = torch.Generator().manual_seed(0)
    data = TensorImages(torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=g), torch.randint(0, 10, (256,), generator=g), hflip=True)
    where = {}
    for steps in (4, 12):
        cfg = TrainConfig(steps=steps, batch_size=16, warmup_steps=2, val_fraction=0.1, val_max=32, log_every=steps,
                          val_every=steps, ckpt_every=steps, sample_every=steps, progress=False)
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as out, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            if device.startswith('cuda'): torch.cuda.set_sync_debug_mode('warn')
            try: train(UNet.from_preset('tiny', num_classes=10), NoiseSchedule.from_name('linear', 1000), data, cfg, out, device=device)
            finally:
                if device.startswith('cuda'): torch.cuda.set_sync_debug_mode('default')
        where[steps] = collections.Counter(f'{Path(w.filename).name}:{w.lineno}' for w in caught if 'synchroniz' in str(w.message))
    extra = where[12] - where[4]
    if extra: raise RuntimeError(f'{sum(extra.values())} more synchronisations in 12 steps than in 4, at: {dict(extra)}')
    return f'{sum(where[12].values())} synchronisations in 4 steps and in 12 (set-up and the last step), at: {dict(where[12])}'


def samplers(device:str) -> dict:
    "Every sampler and guidance setting, labels and generator from the CPU; same seed gives the same samples on a rerun."
    import torch
    from ddpm_nb.sampling import SAMPLERS, sample
    from ddpm_nb.schedules import NoiseSchedule
    from ddpm_nb.unet import UNet
    torch.manual_seed(0)
    model = UNet.from_preset('tiny', num_classes=10).to(device).eval()
    with torch.no_grad():
        for p in model.parameters(): p.add_(0.02 * torch.randn_like(p))      # a fresh U-Net outputs zeros
    s, out = NoiseSchedule.from_name('linear', 100).to(device), {}
    labels = torch.arange(4)                                                   # on the CPU
    for name in SAMPLERS:
        for w in (0.0, 2.0):
            kw = dict(steps=10) if name != 'ddpm' else {}
            a = sample(model, s, (4, 1, 28, 28), name, y=labels, w=w, generator=torch.Generator().manual_seed(0), **kw)
            b = sample(model, s, (4, 1, 28, 28), name, y=labels, w=w, generator=torch.Generator().manual_seed(0), **kw)
            if a.device.type != torch.device(device).type or not torch.isfinite(a).all(): raise RuntimeError(f'{name} w={w}: bad output')
            if not torch.equal(a, b): raise RuntimeError(f'{name} w={w}: the same seed gave different samples')
            out[f'{name} w={w}'] = round(a.float().std().item(), 4)
    return out


def cli(device:str, work:Path, small:bool) -> str:
    "ddpm_nb train, sample and a resume on the device, through the installed command."
    run, ddpm = work / 'run', exe('ddpm_nb')
    steps = 4 if small else 200
    common = ['--preset', 'tiny', '--batch-size', '8' if small else '64', '--val-max', '16', '--ckpt-every', str(steps // 2),
              '--sample-every', str(steps), '--device', device, '--quiet', '--out', run]
    log = open(work / 'cli.log', 'w')
    run_cmd([ddpm, 'train', '--train-steps', steps // 2, '--overwrite'] + common, log, 600)   # a rerun starts afresh
    run_cmd([ddpm, 'train', '--train-steps', steps, '--resume'] + common, log, 600)
    for sampler in ('ddpm', 'ddim', 'dpmpp_2m'):
        extra = [] if sampler == 'ddpm' else ['--sample-steps', '10']
        run_cmd([ddpm, 'sample', run, '-n', '8', '--sampler', sampler, '--device', device, '--quiet',
                 '--out', work / f'{sampler}.png'] + extra, log, 600)
        if not (work / f'{sampler}.png').is_file(): raise RuntimeError(f'ddpm_nb sample --sampler {sampler} wrote no PNG')
    ckpts = sorted(p.name for p in (run / 'checkpoints').glob('step-*'))
    if f'step-{steps:08d}' not in ckpts: raise RuntimeError(f'the resumed run did not reach step {steps}: {ckpts}')
    return f'trained {steps // 2} + {steps // 2} steps (resumed), sampled with 3 samplers; checkpoints {ckpts}'


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda', help="'cuda' (default), 'cuda:N' or 'cpu'")
    p.add_argument('--out', type=Path, default=ROOT / 'gpu_check', help='folder for gpu_check.json and gpu_check.log')
    p.add_argument('--skip-notebooks', action='store_true', help='leave out the notebook tests (part 1)')
    p.add_argument('--only-notebooks', action='store_true', help='run only the notebook tests (part 1)')
    p.add_argument('--notebooks', nargs='*', default=[], help='test only these notebooks in part 1')
    p.add_argument('--fashion-mnist', type=Path, help='a folder of Fashion-MNIST idx files, for the GPU cells (without it they skip)')
    p.add_argument('--timeout', type=float, default=420, help='seconds allowed to each notebook command')
    p.add_argument('--workers', type=int, help="nbdev_test's --n_workers for the combined run (default: nbdev's, up to 8), "
                   'and how many notebooks run alone at a time afterwards (default: 1)')
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch
    from ddpm_nb.devices import default_device
    try: device = str(default_device(a.device))
    except ValueError as e: sys.exit(f'gpu_check: {e}')
    missing = [nb for nb in a.notebooks if not (ROOT / 'nbs' / Path(nb).name).is_file()]
    if missing: sys.exit(f'gpu_check: no such notebook in {ROOT / "nbs"}: {", ".join(missing)}')
    if a.fashion_mnist: os.environ['DDPM_NB_FASHION_MNIST'] = str(a.fashion_mnist.resolve())
    if a.out.exists(): shutil.rmtree(a.out)
    checks, small = Checks(a.out), not device.startswith('cuda')
    checks.say(f'gpu_check on {device} ({Checks._env()["gpu"] or "no GPU"}), torch {torch.__version__}; results in {a.out}')
    t0 = time.perf_counter()
    if not a.skip_notebooks: notebooks(checks, device, a.notebooks, a.timeout, a.workers)
    if not a.only_notebooks:
        checks.run('training: every preset, every precision', train_presets, device, small)
        if device.startswith('cuda'): checks.run('training loop: no host synchronisation per step', train_syncs, device)
        checks.run('sampling: every sampler, labels and generator from the CPU', samplers, device)
        with tempfile.TemporaryDirectory() as work: checks.run('command line: train, resume, sample', cli, device, Path(work), small)
    passed = sum(r['ok'] for r in checks.results)
    checks.save(total_seconds=round(time.perf_counter() - t0, 1), device=device)
    checks.say(f'total {time.perf_counter() - t0:.0f} s; summary in {a.out / "gpu_check.json"}')
    checks.say(f'{passed} passed, {len(checks.results) - passed} failed')
    sys.exit(0 if passed == len(checks.results) else 1)


if __name__ == '__main__': main()
