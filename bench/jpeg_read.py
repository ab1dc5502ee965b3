#!/usr/bin/env python
"""What reading one camera-sized JPEG costs `ImageFolderDataset` per item, decoded in full and at reduced scale.

    OMP_NUM_THREADS=1 python bench/jpeg_read.py [--side 32] [--rounds 10]

A 4032x3024 photograph-like JPEG (smooth colour fields with sensor-like noise, quality 90; 12 megapixels, as a phone
camera takes) is written to a temporary folder, then read as the training loop reads it: decoded (in full, or with
`open_image`'s reduced-scale JPEG decoding), stood upright and transformed to side x side. Prints milliseconds per
image for both, and the largest difference between the two results in 8-bit levels.
"""
import argparse, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image
from ddpm_nb.data import ImageTransform
from ddpm_nb.loaders import open_image

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--side', type=int, default=32); p.add_argument('--rounds', type=int, default=10)
a = p.parse_args()
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:3024, 0:4032]
img = np.stack([np.sin(xx / 300) * 100 + 128, np.cos(yy / 200) * 100 + 128, (xx + yy) % 256], -1) + rng.normal(0, 8, (3024, 4032, 3))
path = Path(tempfile.mkdtemp()) / 'camera.jpg'
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
tf = ImageTransform(a.side, 3)
out = {}
for name, side in [('in full', None), ('reduced scale', a.side)]:
    out[name] = tf(open_image(path, side))                 # once to warm up
    t = time.perf_counter()
    for _ in range(a.rounds): tf(open_image(path, side))
    ms = (time.perf_counter() - t) / a.rounds * 1000
    w, h = open_image(path, side).size
    print(f'{name:14s} {ms:6.1f} ms per image ({w}x{h} decoded), {ms * 64 / 1000:.1f} s for a batch of 64')
print(f'largest difference at {a.side}x{a.side}: {(out["in full"] - out["reduced scale"]).abs().max().item() * 127.5:.1f} of 255 levels')
