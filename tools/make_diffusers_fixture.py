#!/usr/bin/env python3
"""Write nbs/fixtures/diffusers_*: folders in diffusers' format, made by diffusers itself, for chapter 04b's loader test.

    pip install diffusers && OMP_NUM_THREADS=1 python tools/make_diffusers_fixture.py

No test needs diffusers: they read what this script wrote. It builds diffusers' `UNet2DModel` and `DDPMScheduler`:
- `diffusers_ddpm_cifar10_small/`: the published config of google/ddpm-cifar10-32 (the paper's CIFAR-10 model, as
  diffusers packages it) with its channels cut from (128, 256, 256, 256) to (8, 16, 16, 16) and GroupNorm's groups from
  32 to 8, so that the weights are a few hundred KB; everything else as published. Randomly initialised, its weights
  rounded to float16 (to halve the file), saved with `save_pretrained`, with the published scheduler config beside it.
  `reference.safetensors` holds an input x, timesteps t, diffusers' output in float64, and the scheduler's betas.
- `diffusers_ours_small/`: a tiny UNet2DModel in the conventions of chapter 04's defaults (embedding [cos, sin] with
  freq_shift 0, padding 1, eps 1e-5) and 8-channel heads (two at 16 channels), likewise with its reference output.
- `diffusers_ddpm_cifar10_full.json`: the full published config's parameter count and every weight's name and shape, so
  the loader's name map can be checked at full size without 143 MB of weights.
"""
import json
from pathlib import Path
import torch
from diffusers import DDPMScheduler, UNet2DModel
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / 'nbs' / 'fixtures'
# google/ddpm-cifar10-32's config.json and scheduler_config.json as published on the Hugging Face hub
PUBLISHED = {
    "_class_name": "UNet2DModel", "_diffusers_version": "0.0.4", "act_fn": "silu", "attention_head_dim": None,
    "block_out_channels": [128, 256, 256, 256], "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"], "downsample_padding": 0,
    "flip_sin_to_cos": False, "freq_shift": 1, "in_channels": 3, "layers_per_block": 2, "mid_block_scale_factor": 1,
    "norm_eps": 1e-06, "norm_num_groups": 32, "out_channels": 3, "sample_size": 32, "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]}
SCHEDULER = {"_class_name": "DDPMScheduler", "_diffusers_version": "0.1.1", "beta_end": 0.02, "beta_schedule": "linear",
             "beta_start": 0.0001, "clip_sample": True, "num_train_timesteps": 1000, "trained_betas": None,
             "variance_type": "fixed_small"}


def build(cfg: dict, seed: int) -> UNet2DModel:
    torch.manual_seed(seed)
    model = UNet2DModel(**{k: v for k, v in cfg.items() if not k.startswith('_')}).eval()
    with torch.no_grad():                  # every weight random (diffusers starts some at zero), rounded to float16
        for p in model.parameters(): p.copy_((torch.randn_like(p) * 0.2).half())
    return model


def write(name: str, cfg: dict, seed: int, scheduler: dict = None):
    folder = OUT / name
    model = build(cfg, seed)
    model.half().save_pretrained(folder, safe_serialization=True)        # float16 weights: half the bytes
    model = model.double()
    g = torch.Generator().manual_seed(seed)
    size, ch = cfg['sample_size'], cfg['in_channels']
    x, t = torch.randn(2, ch, size, size, generator=g), torch.tensor([10, 700])
    with torch.no_grad(): out = model(x.double(), t).sample
    ref = dict(x=x, t=t, out=out)
    if scheduler is not None:
        (folder / 'scheduler_config.json').write_text(json.dumps(scheduler, indent=2))
        ref['betas'] = DDPMScheduler.from_config(scheduler).betas
    save_file(ref, folder / 'reference.safetensors')
    print(f'{folder}: {sum(p.numel() for p in model.parameters()):,d} parameters, '
          f'{sum(f.stat().st_size for f in folder.iterdir()) / 1e3:.0f} KB')


def main():
    small = dict(PUBLISHED, block_out_channels=[8, 16, 16, 16], norm_num_groups=8)
    write('diffusers_ddpm_cifar10_small', small, 0, SCHEDULER)
    ours = dict(PUBLISHED, block_out_channels=[8, 16], down_block_types=['DownBlock2D', 'AttnDownBlock2D'],
                up_block_types=['AttnUpBlock2D', 'UpBlock2D'], layers_per_block=1, sample_size=16, in_channels=1,
                out_channels=1, norm_num_groups=8, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0,
                downsample_padding=1, attention_head_dim=8)
    write('diffusers_ours_small', ours, 1)
    full = UNet2DModel(**{k: v for k, v in PUBLISHED.items() if not k.startswith('_')})
    info = dict(config=PUBLISHED, scheduler=SCHEDULER, parameters=sum(p.numel() for p in full.parameters()),
                weights={k: list(v.shape) for k, v in full.state_dict().items()})
    (OUT / 'diffusers_ddpm_cifar10_full.json').write_text(json.dumps(info, indent=1))
    print(f'full published config: {info["parameters"]:,d} parameters, {len(info["weights"])} weights')


if __name__ == '__main__': main()
