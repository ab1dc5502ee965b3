#!/usr/bin/env python3
"""Ship the quick start's model with the package: `python3 tools/ship_quickstart.py [RUN_DIR]`.

Chapters 07, 07b and 08 study the quick start's digit model. Training it takes 17-19 minutes on two CPU cores, so the
package carries one finished run: the EMA weights of RUN_DIR (default runs/quickstart, which `tools/quickstart.py`
writes) become the model folder ddpm_nb/weights/quickstart (config.json and model.safetensors, as `save_model` writes
them), which `quickstart_model()` loads. The run must be the recipe (`QUICKSTART`) trained on the built-in digits for
600 steps (as `train_quickstart()` and tools/quickstart.py train it); a run whose steps, model, schedule or training
options differ is refused with the field that differs. The folder's config.json keeps how the weights were made (its
`trained` entry: the checkpoint's step and training options, seed included, and the data).
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ddpm_nb.checkpoints import load_model, save_model
from ddpm_nb.quickstart import QUICKSTART, SHIPPED
from ddpm_nb.unet import unet_config


def main():
    run = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / 'runs' / 'quickstart')
    if not run.is_dir(): sys.exit(f'{run} is not a run directory: train one first with python3 tools/quickstart.py')
    model, schedule, meta = load_model(run)                      # its latest checkpoint, EMA weights
    m = dict(QUICKSTART['model'])
    want = dict(step=600, model=unet_config(m.pop('preset'), **m), schedule=('linear', 1000))
    got = dict(step=meta['step'], model=model.config, schedule=(schedule.config['name'], schedule.T))
    wrong = [k for k in want if want[k] != got[k]]
    wrong += [f'train.{k}' for k, v in QUICKSTART['train'].items() if meta['train'].get(k) != v]
    if wrong: sys.exit(f'{run} is not the quick start of 600 steps: {", ".join(wrong)} differ from QUICKSTART')
    trained = dict(step=meta['step'], train=meta['train'], data="the built-in digits (load_images('digits'))",
                   weights='EMA', recipe='ddpm_nb.quickstart.QUICKSTART')
    out = save_model(model, ROOT / 'ddpm_nb' / SHIPPED, schedule, meta['target'], trained=trained)
    print(f'{out.relative_to(ROOT)}: the EMA weights of {run} at step {meta["step"]}')


if __name__ == '__main__': main()
