#!/usr/bin/env python
"""Run a table of bad (and a few good) inputs against `ddpm_nb train` and `ddpm_nb sample`; print a verdict per case.

    OMP_NUM_THREADS=1 .venv/bin/python tools/sweep_cli.py            # every case, a few minutes on 2 CPU cores
    OMP_NUM_THREADS=1 .venv/bin/python tools/sweep_cli.py -k sample  # only the cases whose name contains 'sample'

Each case runs the command line in a child process of its own, in a temporary folder, with tiny settings. To save the
start-up of torch for every case, the children are forked from this process after `ddpm_nb.cli` is imported, so a case
costs what its command costs (`--spawn` runs `python -m ddpm_nb.cli` for each case instead: slower, the same verdicts).

Verdicts:
  clear error     the input is wrong, and the command says so: non-zero exit, one line on stderr, no traceback
                  (and the words the case expects, when it names some)
  correct         the input is right, and the command does what it should (exit 0, and the case's own check)
  unclear         refused, but not in one line, or without the expected words
  traceback       'Traceback' on stderr
  silent          the input is wrong, and the command exits 0 without a word
  wrong           the input is right, and the command fails or its result is not what it should be
  lost work       a checkpoint that existed before the case is gone or changed, or a stopped run saved nothing
  hang            the case ran past its time limit
Exit status: 1 when any case ends in anything but 'clear error' or 'correct', else 0.
"""
import argparse, hashlib, json, os, re, resource, shutil, signal, subprocess, sys, tempfile, time, traceback
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ['HF_HUB_OFFLINE'] = os.environ['HF_DATASETS_OFFLINE'] = '1'   # nothing here may reach the internet

import torch
torch.set_num_threads(1)
from ddpm_nb.cli import main
from safetensors.torch import load_file, save_file

FAIL = ('unclear', 'traceback', 'silent', 'wrong', 'lost work', 'hang')
# tiny settings: a 2-level U-Net on 28x28 digits, T=10, a few steps
TINY = ['--batch-size', '4', '--timesteps', '10', '--channel-mults', '1,2', '--attn-res', '', '--grid-size', '4',
        '--val-max', '0', '--warmup-steps', '1', '--quiet', '--threads', '1', '--device', 'cpu']

# ---------------------------------------------------------------- running one command in a child process
def run_cli(argv, cwd:Path, timeout:float=120, spawn:bool=False, fsize:int=None, stop=None) -> dict:
    "Run `ddpm_nb *argv` in a child; stop(child_pid, stderr_path, t) may send it signals. Returns code, out, err, seconds."
    out_p, err_p = cwd / '.out', cwd / '.err'
    t0 = time.perf_counter()
    if spawn:
        pre = [] if fsize is None else [f'import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); '
                                        f'resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize}))']
        code = ';'.join(pre + ['import sys', 'from ddpm_nb.cli import main', f'sys.exit(main({list(argv)!r}))'])
        with open(out_p, 'w') as o, open(err_p, 'w') as e:
            proc = subprocess.Popen([sys.executable, '-c', code], cwd=cwd, stdout=o, stderr=e, env={**os.environ, 'PYTHONPATH': str(REPO)})
        pid = proc.pid
    else:
        sys.stdout.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:                                          # the child: becomes `ddpm_nb argv`
            status = 1
            try:
                os.chdir(cwd)
                fo, fe = os.open(out_p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), os.open(err_p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(fo, 1); os.dup2(fe, 2)
                signal.signal(signal.SIGINT, signal.default_int_handler); signal.signal(signal.SIGTERM, signal.SIG_DFL)
                if fsize is not None:                         # a full disk: writes past fsize bytes fail (EFBIG)
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
                try: status = main(list(argv))
                except SystemExit as e: status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                try: sys.stdout.flush(); sys.stderr.flush()
                except BaseException: pass
                os._exit(status if isinstance(status, int) else 1)
    code, hung = None, False
    while code is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(st); break
        t = time.perf_counter() - t0
        if stop: stop(pid, err_p, t)
        if t > timeout:
            hung = True; os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    if code < 0: code = 128 - code                            # killed by a signal: the shell's convention
    return dict(code=code, out=out_p.read_text(errors='replace'), err=err_p.read_text(errors='replace'),
                seconds=time.perf_counter() - t0, hung=hung)

def snapshot(run:Path) -> dict:
    "What a run directory's checkpoints are: {relative path: sha1 of the contents}."
    ck = Path(run) / 'checkpoints'
    if not ck.is_dir(): return {}
    return {str(p.relative_to(ck)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(ck.rglob('*')) if p.is_file()
            and not p.name.startswith('.')}

# ---------------------------------------------------------------- fixtures
def make_fixtures(root:Path, spawn:bool) -> dict:
    "The folders the cases read: a trained run, damaged copies of it, image folders of several layouts."
    f = {'tmp': str(root)}
    run = root / 'run'
    r = run_cli(['train', *TINY, '--train-steps', '2', '--ckpt-every', '1', '--out', str(run)], root, spawn=spawn)
    if r['code'] != 0: sys.exit(f'sweep: the fixture run could not be trained:\n{r["err"]}')
    f['run'] = str(run)
    ck = run / 'checkpoints' / (run / 'checkpoints' / 'latest').read_text().strip()
    f['ckpt'] = str(ck)
    def damaged(name, change):
        d = root / name; shutil.copytree(run, d); change(d / 'checkpoints' / ck.name); f[name] = str(d / 'checkpoints' / ck.name); return d
    def nan_ema(c):
        s = load_file(c / 'ema.safetensors'); k = next(k for k, v in s.items() if v.is_floating_point()); s[k] = s[k].clone(); s[k].view(-1)[0] = float('nan')
        save_file(s, c / 'ema.safetensors')
    def int_ema(c): save_file({k: v.to(torch.int32) for k, v in load_file(c / 'ema.safetensors').items()}, c / 'ema.safetensors')
    def bad_schedule(c):
        m = json.loads((c / 'config.json').read_text()); m['schedule'] = [1, 2]; (c / 'config.json').write_text(json.dumps(m))
    def bad_model_field(c):
        m = json.loads((c / 'config.json').read_text()); m['model']['base_channels'] = 'wide'; (c / 'config.json').write_text(json.dumps(m))
    damaged('nan_ema', nan_ema); damaged('int_ema', int_ema); damaged('no_ema', lambda c: (c / 'ema.safetensors').unlink())
    damaged('bad_schedule', bad_schedule); damaged('bad_model_field', bad_model_field)
    damaged('truncated', lambda c: (c / 'ema.safetensors').write_bytes((c / 'ema.safetensors').read_bytes()[:1000]))
    f['no_pointer'] = str(damaged('no_pointer', lambda c: (c.parent / 'latest').unlink()))
    f['bad_pointer'] = str(damaged('bad_pointer', lambda c: (c.parent / 'latest').write_text('step-99999999')))
    for name in ('run_a', 'run_b', 'run_c', 'run_d', 'run_e', 'run_f', 'run_g', 'run_h', 'run_i'): shutil.copytree(run, root / name); f[name] = str(root / name)
    # image folders
    g = root / 'gray16'; g.mkdir()
    for k in range(8): Image.fromarray(np.full((16, 16), 30 * k, np.uint8)).save(g / f'{k}.png')
    f['gray16'] = str(g)
    m = root / 'mixed_layout'; (m / 'cats').mkdir(parents=True)
    for k in range(3): Image.new('L', (16, 16), 20 * k).save(m / f'flat{k}.png'); Image.new('L', (16, 16), 9 * k).save(m / 'cats' / f'c{k}.png')
    f['mixed_layout'] = str(m)
    s = root / 'mixed_sizes'; s.mkdir()
    for k in range(2): Image.new('L', (16, 16), 10 * k).save(s / f'a{k}.png'); Image.new('L', (24, 24), 10 * k).save(s / f'b{k}.png')
    f['mixed_sizes'] = str(s)
    c = root / 'mixed_modes'; c.mkdir()
    for k in range(2): Image.new('L', (16, 16), 10 * k).save(c / f'gray{k}.png'); Image.new('RGB', (16, 16), (200, 10, 10 * k)).save(c / f'red{k}.png')
    f['mixed_modes'] = str(c)
    rgb = root / 'rgb_classes'
    for cls in ('a', 'b'):
        (rgb / cls).mkdir(parents=True)
        for k in range(3): Image.new('RGB', (20, 20), (40 * k, 90, 200)).save(rgb / cls / f'{k}.jpg')
    f['rgb_classes'] = str(rgb)
    mac = root / 'with_dotfiles'; mac.mkdir()
    for k in range(4): Image.new('L', (16, 16), 50 * k).save(mac / f'{k}.png')
    (mac / '._0.png').write_bytes(b'\x00\x05\x16\x07 AppleDouble')          # what macOS leaves on a USB stick
    f['with_dotfiles'] = str(mac)
    (root / 'a_file').write_text('not a folder'); f['a_file'] = str(root / 'a_file')
    return f

# ---------------------------------------------------------------- checks used by the cases
def config_of(run):
    ck = Path(run) / 'checkpoints'; return json.loads((ck / (ck / 'latest').read_text().strip() / 'config.json').read_text())

def model_is(channels, size):
    def check(f, r, out):
        m = config_of(out)['model']
        return (m['in_channels'], m['image_size']) == (channels, size) or f'model is {m["in_channels"]}x{m["image_size"]}, not {channels}x{size}'
    return check

def stopped_and_saved(f, r, out):
    latest = Path(out) / 'checkpoints' / 'latest'
    if not latest.is_file(): return 'lost work: no checkpoint after the signal'
    step = int(latest.read_text().strip().split('-')[1])
    left = [p.name for p in (Path(out) / 'checkpoints').glob('.*')]
    if left: return f'temporary files left: {left}'
    if '--resume' not in r['err']: return 'the message does not say how to resume'
    return step > 0 or 'lost work: step 0 saved'

def signal_after_start(sig, run:str, twice=False):
    "Send sig once the run has taken a step (its first sample grid is written), and again 0.3 s later when twice."
    state = {}
    def stop(pid, err_p, t):
        grids = Path(err_p).parent / run / 'samples'
        if 'sent' not in state and grids.is_dir() and any(grids.glob('*.png')):
            os.kill(pid, sig); state['sent'] = t
        elif twice and 'sent' in state and 'again' not in state and t - state['sent'] > 0.3:
            os.kill(pid, sig); state['again'] = t
    return stop

# ---------------------------------------------------------------- the cases
# (name, argv with {fixture} fields, expect: 'error' or 'ok', words expected in the message or a check(f, result, out),
#  options: keep=fixture whose checkpoints must not change, out=run folder the check reads, stop=..., fsize=...)
def cases():
    T = TINY
    E, O = 'error', 'ok'
    return [
        # work lost: nothing on disk may change before every check has passed
        ('overwrite: --amp fp16 on a CPU', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--amp', 'fp16'], E, 'fp16', dict(keep='run_a')),
        ('overwrite: --device meta', ['train', *T[:-2], '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--device', 'meta'], E, 'meta', dict(keep='run_a')),
        ('overwrite: --base-channels 1000000', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--base-channels', '1000000'], E, 'needs about', dict(keep='run_a')),
        ('overwrite: a data folder that does not exist', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--data', '{tmp}/no_such_folder'], E, 'does not exist', dict(keep='run_a')),
        ('overwrite: --grad-accum that does not split the batch', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--grad-accum', '3'], E, '--grad-accum', dict(keep='run_a')),
        ('overwrite: --val-max -5', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--val-max', '-5'], E, '--val-max', dict(keep='run_a')),
        ('overwrite: --lr nan', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--lr', 'nan'], E, 'lr', dict(keep='run_a')),
        ('overwrite: --image-size 9 (the U-Net cannot halve it)', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--image-size', '9'], E, 'image', dict(keep='run_a')),
        ('overwrite: --grid-size 100000000', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--grid-size', '100000000'], E, '--grid-size', dict(keep='run_a')),
        ('overwrite: --seed 2**70', ['train', *T, '--train-steps', '2', '--out', '{run_a}', '--overwrite', '--seed', str(2**70)], E, '--seed', dict(keep='run_a')),
        ('pointer file missing: not trained over', ['train', *T, '--train-steps', '2', '--out', '{no_pointer}'], E, 'already holds', dict(keep='no_pointer')),
        ('pointer names a missing folder: not trained over', ['train', *T, '--train-steps', '2', '--out', '{bad_pointer}'], E, 'already holds', dict(keep='bad_pointer')),
        ('resume from a pointer that names a missing folder', ['train', *T, '--train-steps', '3', '--out', '{bad_pointer}', '--resume'], E, 'step-99999999', dict(keep='bad_pointer')),
        ('--resume and --overwrite together', ['train', *T, '--train-steps', '2', '--out', '{run_b}', '--resume', '--overwrite'], E, 'not both', dict(keep='run_b')),
        ('a run is not trained over without a flag', ['train', *T, '--train-steps', '2', '--out', '{run_b}'], E, 'already holds', dict(keep='run_b')),
        ('--overwrite with good options: a fresh run', ['train', *T, '--train-steps', '1', '--out', '{run_c}', '--overwrite'], O,
         lambda f, r, out: config_of(out)['step'] == 1 or 'not step 1', dict(out='run_c')),
        ('disk full while saving a checkpoint', ['train', *T, '--train-steps', '2', '--out', '{tmp}/full_disk'], E, None, dict(fsize=200_000, out_clean='full_disk')),
        ('a sample grid that fails does not lose the checkpoint', ['train', *T, '--train-steps', '2', '--out', '{tmp}/grid_fails', '--sample-every', '1', '--ckpt-every', '2'], O,
         lambda f, r, out: config_of(out)['step'] == 2 or 'no step-2 checkpoint', dict(out='grid_fails', pre=lambda f: Path(f['tmp'], 'grid_fails', 'samples').mkdir(parents=True) or Path(f['tmp'], 'grid_fails', 'samples', 'step-00000001.png').mkdir())),
        # stop cleanly
        ('SIGTERM during training', ['train', *T, '--train-steps', '100000', '--ckpt-every', '100000', '--sample-every', '1', '--out', '{tmp}/term'], 'stopped', stopped_and_saved,
         dict(out='term', stop=signal_after_start(signal.SIGTERM, 'term'))),
        ('SIGINT (Ctrl-C) during training', ['train', *T, '--train-steps', '100000', '--ckpt-every', '100000', '--sample-every', '1', '--out', '{tmp}/int'], 'stopped', stopped_and_saved,
         dict(out='int', stop=signal_after_start(signal.SIGINT, 'int'))),
        ('two SIGINTs: the second stops at once', ['train', *T, '--train-steps', '100000', '--ckpt-every', '100000', '--sample-every', '1', '--out', '{tmp}/int2'], 'stopped', None,
         dict(out='int2', stop=signal_after_start(signal.SIGINT, 'int2', twice=True), timeout=60)),
        # resources
        ('--device meta', ['train', *T[:-2], '--train-steps', '1', '--out', '{tmp}/meta', '--device', 'meta'], E, 'meta', {}),
        ('--device tpu9', ['train', *T[:-2], '--train-steps', '1', '--out', '{tmp}/tpu', '--device', 'tpu9'], E, 'tpu9', {}),
        ('--device cuda on a machine without one', ['train', *T[:-2], '--train-steps', '1', '--out', '{tmp}/cuda', '--device', 'cuda'], E, 'CUDA', dict(skip=torch.cuda.is_available())),
        ('--base-channels 1000000', ['train', *T, '--train-steps', '1', '--out', '{tmp}/wide', '--base-channels', '1000000'], E, 'needs about', {}),
        ('--batch-size 1000000000', ['train', *T, '--train-steps', '1', '--out', '{tmp}/bigbatch', '--batch-size', '1000000000'], E, 'needs about', {}),
        ('--image-size 100000', ['train', *T, '--train-steps', '1', '--out', '{tmp}/bigimg', '--image-size', '100000'], E, 'needs about', {}),
        ('--grid-size 100000000', ['train', *T, '--train-steps', '1', '--out', '{tmp}/biggrid', '--grid-size', '100000000'], E, '--grid-size', {}),
        ('--timesteps 10**12', ['train', *T, '--train-steps', '1', '--out', '{tmp}/bigT', '--timesteps', str(10**12)], E, 'needs about', {}),
        ('sample -n 10**12', ['sample', '{run}', '-n', str(10**12), '--out', '{tmp}/n.png'], E, 'needs about', {}),
        ('sample --batch-size 10**12', ['sample', '{run}', '-n', '2', '--batch-size', str(10**12), '--sample-steps', '2', '--out', '{tmp}/bs.png', '--quiet'], O, None, {}),
        ('sample --device meta', ['sample', '{run}', '--device', 'meta'], E, 'meta', {}),
        # data read as it is
        ('a folder of 16x16 grayscale images: a 16x16 one-channel model', ['train', *T, '--train-steps', '1', '--data', '{gray16}', '--out', '{tmp}/g16'], O, model_is(1, 16), dict(out='g16')),
        ('a folder of RGB class folders, --image-size 16', ['train', *T, '--train-steps', '1', '--data', '{rgb_classes}', '--image-size', '16', '--out', '{tmp}/rgbc'], O, model_is(3, 16), dict(out='rgbc')),
        ('images beside class folders (mixed layout)', ['train', *T, '--train-steps', '1', '--data', '{mixed_layout}', '--out', '{tmp}/ml'], E, 'sub-folder', {}),
        ('images of different sizes, no --image-size', ['train', *T, '--train-steps', '1', '--data', '{mixed_sizes}', '--out', '{tmp}/ms'], E, '--image-size', {}),
        ('images of different sizes, --image-size 16', ['train', *T, '--train-steps', '1', '--data', '{mixed_sizes}', '--image-size', '16', '--out', '{tmp}/ms16'], O, model_is(1, 16), dict(out='ms16')),
        ('grayscale and colour images: read as RGB', ['train', *T, '--train-steps', '1', '--data', '{mixed_modes}', '--out', '{tmp}/mm'], O, model_is(3, 16), dict(out='mm')),
        ('macOS ._ files beside the images', ['train', *T, '--train-steps', '1', '--data', '{with_dotfiles}', '--out', '{tmp}/dot'], O, model_is(1, 16), dict(out='dot')),
        ('--data: an absolute path that does not exist', ['train', *T, '--train-steps', '1', '--data', '{tmp}/no_such_folder', '--out', '{tmp}/d1'], E, 'does not exist', dict(absent='hub')),
        ('--data: a relative path that does not exist', ['train', *T, '--train-steps', '1', '--data', './no_such_folder', '--out', '{tmp}/d2'], E, 'does not exist', dict(absent='hub')),
        ('--data: a hub name, offline', ['train', *T, '--train-steps', '1', '--data', 'fashion_mnistt', '--out', '{tmp}/d3'], E, 'offline', {}),
        ('--data ""', ['train', *T, '--train-steps', '1', '--data', '', '--out', '{tmp}/d4'], E, '--data', {}),
        ('--data: a file', ['train', *T, '--train-steps', '1', '--data', '{a_file}', '--out', '{tmp}/d5'], E, 'is a file', {}),
        ('--val-max -5', ['train', *T, '--train-steps', '1', '--val-max', '-5', '--out', '{tmp}/v'], E, '--val-max', {}),
        ('--image-size on a 2-D toy', ['train', *T, '--train-steps', '1', '--data', 'two_moons', '--image-size', '32', '--out', '{tmp}/toy'], E, '--image-size', {}),
        ('--image-size 4 (digits are drawn at 8 or more)', ['train', *T, '--train-steps', '1', '--image-size', '4', '--out', '{tmp}/i4'], E, 'size', {}),
        ('--dropout 1.5', ['train', *T, '--train-steps', '1', '--dropout', '1.5', '--out', '{tmp}/do'], E, 'dropout', {}),
        ('--ema-decay 1', ['train', *T, '--train-steps', '1', '--ema-decay', '1', '--out', '{tmp}/ema'], E, '--ema-decay', {}),
        ('--label-dropout -0.1', ['train', *T, '--train-steps', '1', '--label-dropout', '-0.1', '--out', '{tmp}/ld'], E, '--label-dropout', {}),
        ('--min-snr-gamma -1', ['train', *T, '--train-steps', '1', '--min-snr-gamma', '-1', '--out', '{tmp}/snr'], E, '--min-snr-gamma', {}),
        ('--lr inf', ['train', *T, '--train-steps', '1', '--lr', 'inf', '--out', '{tmp}/lr'], E, 'lr', {}),
        ('--channel-mults ""', ['train', *T[:4], *T[6:], '--train-steps', '1', '--channel-mults', '', '--out', '{tmp}/cm'], E, 'channel', {}),
        ('--channel-mults 1,0', ['train', *T[:4], *T[6:], '--train-steps', '1', '--channel-mults', '1,0', '--out', '{tmp}/cm0'], E, 'channel', {}),
        ('--attn-res 5 (no level has that side)', ['train', *T[:6], *T[8:], '--train-steps', '1', '--attn-res', '5', '--out', '{tmp}/ar'], E, 'attn', {}),
        ('--seed -1', ['train', *T, '--train-steps', '1', '--seed', '-1', '--out', '{tmp}/seed'], E, '--seed', {}),
        ('--warmup-steps 10**12', ['train', *T, '--train-steps', '1', '--warmup-steps', str(10**12), '--out', '{tmp}/wu'], O, None, {}),
        ('--epochs 1e-9: one step', ['train', *T, '--epochs', '1e-9', '--out', '{tmp}/ep'], O, lambda f, r, out: config_of(out)['step'] == 1 or 'not 1 step', dict(out='ep')),
        ('--out is a file', ['train', *T, '--train-steps', '1', '--out', '{a_file}'], E, '--out', {}),
        ('--out ""', ['train', *T, '--train-steps', '1', '--out', ''], E, '--out', {}),
        # loading
        ('sample: a path that does not exist', ['sample', '{tmp}/nowhere'], E, 'does not exist', dict(absent='offline')),
        ('sample -n 0', ['sample', '{run}', '-n', '0'], E, '-n', {}),
        ('sample: NaN in ema.safetensors', ['sample', '{nan_ema}', '-n', '2', '--out', '{tmp}/nan.png'], E, 'ema.safetensors', dict(absent_file='nan.png')),
        ('sample: integer weights', ['sample', '{int_ema}', '-n', '2', '--out', '{tmp}/int.png'], E, 'ema.safetensors', dict(absent_file='int.png')),
        ('sample: no ema.safetensors', ['sample', '{no_ema}', '-n', '2', '--out', '{tmp}/noema.png'], E, 'ema', dict(absent_file='noema.png')),
        ('sample: no ema.safetensors, --raw', ['sample', '{no_ema}', '-n', '2', '--sample-steps', '2', '--raw', '--out', '{tmp}/raw.png', '--quiet'], O,
         lambda f, r, out: 'raw' in r['out'] + r['err'] or 'does not say the raw weights are used', {}),
        ('sample: "schedule": [1, 2] in config.json', ['sample', '{bad_schedule}', '-n', '2'], E, 'schedule', {}),
        ('sample: "base_channels": "wide" in config.json', ['sample', '{bad_model_field}', '-n', '2'], E, 'base_channels', {}),
        ('sample: a truncated ema.safetensors', ['sample', '{truncated}', '-n', '2'], E, 'ema.safetensors', {}),
        ('sample: pointer names a missing folder', ['sample', '{bad_pointer}', '-n', '2'], E, 'step-99999999', {}),
        ('sample: a file, not a folder', ['sample', '{a_file}'], E, 'a_file', {}),
        ('sample --out samples.txt (no image format)', ['sample', '{run}', '-n', '2', '--out', '{tmp}/samples.txt'], E, '--out', {}),
        ('sample --npy x.dat (np.save would write x.dat.npy)', ['sample', '{run}', '-n', '2', '--npy', '{tmp}/x.dat', '--out', '{tmp}/npy.png'], E, '--npy', dict(absent_file='npy.png')),
        ('sample --png-dir a file', ['sample', '{run}', '-n', '2', '--png-dir', '{a_file}', '--out', '{tmp}/pd1.png'], E, '--png-dir', dict(absent_file='pd1.png')),
        ('sample --png-dir a folder with files in it', ['sample', '{run}', '-n', '2', '--png-dir', '{run}', '--out', '{tmp}/pd2.png'], E, 'not empty', dict(absent_file='pd2.png')),
        ('sample --png-dir: a good folder', ['sample', '{run}', '-n', '3', '--sample-steps', '2', '--png-dir', '{tmp}/pngs', '--out', '{tmp}/pd3.png', '--quiet'], O,
         lambda f, r, out: len(list(Path(f['tmp'], 'pngs').glob('*.png'))) == 3 or 'not 3 PNGs', {}),
        ('sample --gif x.png', ['sample', '{run}', '-n', '2', '--gif', '{tmp}/x.png', '--out', '{tmp}/gif.png'], E, '--gif', dict(absent_file='gif.png')),
        ('sample --seed 2**70', ['sample', '{run}', '-n', '2', '--seed', str(2**70), '--out', '{tmp}/seed.png'], E, '--seed', {}),
        ('sample --label -1', ['sample', '{run}', '-n', '2', '--label', '-1'], E, '--label', {}),
        ('sample --label seven (the digits are named by their numbers)', ['sample', '{run}', '-n', '2', '--label', 'seven'], E, 'class number from 0 to 9', {}),
        ('sample --label 7 on the digits', ['sample', '{run}', '-n', '2', '--sample-steps', '2', '--label', '7', '--out', '{tmp}/seven.png', '--quiet'], O,
         lambda f, r, out: 'class 7)' in r['out'] or 'the last line names no class', {}),
        ('sample --guidance -1', ['sample', '{run}', '-n', '2', '--guidance', '-1'], E, 'guidance', {}),
        ('sample --eta with the ddpm sampler', ['sample', '{run}', '-n', '2', '--sampler', 'ddpm', '--eta', '0.5'], E, 'eta', {}),
        ('sample: a diffusers folder', ['sample', str(REPO / 'nbs' / 'fixtures' / 'diffusers_ddpm_cifar10_small'), '-n', '2', '--sample-steps', '2',
         '--out', '{tmp}/diffusers.png', '--quiet'], O, lambda f, r, out: Path(f['tmp'], 'diffusers.png').is_file() or 'no PNG', {}),
        ('sample: a hub name not in the cache, offline', ['sample', 'someone/not-cached', '-n', '2'], E, 'cache', {}),
        ('sample --threads 0', ['sample', '{run}', '-n', '2', '--threads', '0'], E, '--threads', {}),
        ('train --threads x', ['train', *T[:-4], '--train-steps', '1', '--threads', 'x', '--out', '{tmp}/thr'], E, '--threads', {}),
        ('sample: a good run', ['sample', '{run}', '-n', '4', '--sample-steps', '2', '--out', '{tmp}/good.png', '--quiet'], O,
         lambda f, r, out: Path(f['tmp'], 'good.png').is_file() or 'no PNG', {}),
    ]

def judge(case, r, f, before) -> tuple:
    name, argv, expect, want, opt = case
    err = r['err'].strip()
    if r['hung']: return 'hang', f'killed after {r["seconds"]:.0f} s'
    if 'Traceback' in err: return 'traceback', err.splitlines()[-1][:150] if err else ''
    if opt.get('keep') and snapshot(f[opt['keep']]) != before: return 'lost work', f'{opt["keep"]}/checkpoints changed'
    if opt.get('out_clean'):
        left = [p.name for p in Path(f['tmp'], opt['out_clean'], 'checkpoints').glob('.*')] if Path(f['tmp'], opt['out_clean'], 'checkpoints').is_dir() else []
        if left: return 'unclear', f'temporary files left behind: {left}'
    if opt.get('absent_file') and Path(f['tmp'], opt['absent_file']).exists(): return 'unclear', f'{opt["absent_file"]} written before the error'
    first = err.splitlines()[-1] if err else ''
    info = re.compile(r'^ddpm_nb( train| sample)?: (\d+ items from|the CPU is busy|note:|using the raw)')
    if expect == 'error':
        if r['code'] == 0: return 'silent', (r['out'].strip().splitlines() or [''])[-1][:150]
        lines = [l for l in err.splitlines() if l.strip() and not info.match(l)]   # what the command says besides its progress
        if len(lines) != 1 or (want and want not in err) or (opt.get('absent') and opt['absent'] in err):
            return 'unclear', ' | '.join(lines)[:200]
        return 'clear error', first[:150]
    if expect == 'stopped':
        if r['code'] == 0: return 'silent', 'exit 0 after a signal'
        msg = f'exit {r["code"]}: {first[:120]}'
        if want is not None:
            v = want(f, r, Path(f['tmp'], opt['out']))
            if v is not True: return ('lost work' if str(v).startswith('lost work') else 'wrong'), f'{v}; {msg}'
        return 'correct', msg
    if r['code'] != 0: return 'wrong', f'exit {r["code"]}: {first[:150]}'
    if want is not None:
        v = want(f, r, Path(f['tmp'], opt['out']) if opt.get('out') else None)
        if v is not True: return 'wrong', str(v)
    return 'correct', ((r['out'].strip().splitlines() or [''])[-1] or first)[:150]

def main_sweep():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-k', help='only the cases whose name contains this')
    ap.add_argument('--spawn', action='store_true', help='a fresh python -m ddpm_nb.cli for each case (slower)')
    ap.add_argument('--keep', action='store_true', help='keep the temporary folder')
    a = ap.parse_args()
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix='sweep_cli_'))
    try:
        f = make_fixtures(root, a.spawn)
        rows = []
        for case in cases():
            name, argv, expect, want, opt = case
            if a.k and a.k not in name: continue
            if opt.get('skip'): continue
            if opt.get('pre'): opt['pre'](f)
            before = snapshot(f[opt['keep']]) if opt.get('keep') else None
            r = run_cli([s.format(**f) for s in argv], root, timeout=opt.get('timeout', 120), spawn=a.spawn, fsize=opt.get('fsize'), stop=opt.get('stop'))
            verdict, detail = judge(case, r, f, before)
            rows.append((name, verdict, detail, r['seconds']))
            print(f'{verdict:12s} {r["seconds"]:5.1f}s  {name}\n{"":20s}{detail}', flush=True)
    finally:
        if not a.keep: shutil.rmtree(root, ignore_errors=True)
        else: print(f'kept {root}')
    counts = {v: sum(r[1] == v for r in rows) for v in dict.fromkeys(r[1] for r in rows)}
    bad = [r for r in rows if r[1] in FAIL]
    print(f'\n{len(rows)} cases in {time.perf_counter() - t0:.0f} s: ' + ', '.join(f'{n} {v}' for v, n in counts.items()))
    for r in bad: print(f'  FAIL {r[1]}: {r[0]}: {r[2]}')
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main_sweep())
