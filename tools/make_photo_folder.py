"""A folder of N JPEG photographs at ImageNet-like sizes, in K class sub-folders, for the loader
benchmarks (tools/bench_loader_compare.sh, tools/bench_folder_memory.sh): every file is a
different random crop of one of the real colour photographs shipped in scikit-image's wheel
(`skimage.data`: astronaut, chelsea, coffee, hubble_deep_field, immunohistochemistry,
motorcycle left/right, retina, rocket; the synthetic ones, colorwheel, logo, chessboard, are
left out, and those that need a pooch download, skin for one, are skipped), shrunk (never
enlarged) to a random size of about 500 × 375 (longer side 500 unless the photograph is
smaller, aspect ratio 1 to 1.6, landscape 3 times in 4) and flipped half the time, saved at
JPEG quality 90 with PIL. File i is fixed by (seed, i) alone, so the folder is the same whatever
--jobs is. Prints the count, the size on disk and the time taken.

    .venv/bin/python tools/make_photo_folder.py /work/bench-data/photos-5k 5040
    .venv/bin/python tools/make_photo_folder.py OUT N [--classes 10] [--seed 0] [--jobs 1]

Layout: OUT/class_000/img_0000000.jpg … (file i in class i mod K).
"""
import argparse
import math
import multiprocessing
import os
import pathlib
import sys
import time

import numpy as np
from PIL import Image

# (name, files in the wheel's skimage/data it needs, loader) for each colour photograph.
CANDIDATES = [
    ("astronaut", ["astronaut.png"], lambda d: d.astronaut()),
    ("chelsea", ["chelsea.png"], lambda d: d.chelsea()),
    ("coffee", ["coffee.png"], lambda d: d.coffee()),
    ("hubble_deep_field", ["hubble_deep_field.jpg"], lambda d: d.hubble_deep_field()),
    ("immunohistochemistry", ["ihc.png"], lambda d: d.immunohistochemistry()),
    ("motorcycle_left", ["motorcycle_left.png", "motorcycle_right.png", "motorcycle_disp.npz"],
     lambda d: d.stereo_motorcycle()[0]),
    ("motorcycle_right", ["motorcycle_left.png", "motorcycle_right.png", "motorcycle_disp.npz"],
     lambda d: d.stereo_motorcycle()[1]),
    ("retina", ["retina.jpg"], lambda d: d.retina()),
    ("rocket", ["rocket.jpg"], lambda d: d.rocket()),
    ("skin", ["skin.jpg"], lambda d: d.skin()),
]

LONG_SIDE = 500
MAX_ASPECT = 1.6
QUALITY = 90

_sources = None  # list of PIL images, set in each process by _init


def load_sources(verbose=True):
    import skimage.data as data

    wheel = pathlib.Path(data.__file__).parent
    sources = []
    for name, files, load in CANDIDATES:
        if not all((wheel / f).exists() for f in files):
            if verbose:
                print(f"  skipped {name}: not in the wheel (needs a pooch download)", file=sys.stderr)
            continue
        try:
            arr = np.asarray(load(data))
        except Exception as e:  # a broken or partial install: skip, don't fail
            if verbose:
                print(f"  skipped {name}: {e}", file=sys.stderr)
            continue
        if arr.ndim != 3 or arr.shape[2] < 3 or arr.dtype != np.uint8:
            if verbose:
                print(f"  skipped {name}: not an 8-bit colour image {arr.shape} {arr.dtype}", file=sys.stderr)
            continue
        sources.append((name, Image.fromarray(np.ascontiguousarray(arr[:, :, :3]))))
    if not sources:
        sys.exit("no colour photograph of skimage.data could be loaded")
    return sources


def _init(sources):
    global _sources
    _sources = sources


def make_one(args):
    """Writes file i; returns its size in bytes."""
    out, i, classes, seed = args
    rng = np.random.default_rng([seed, i])
    name, src = _sources[rng.integers(len(_sources))]
    sw, sh = src.size
    aspect = math.exp(rng.uniform(0.0, math.log(MAX_ASPECT)))
    if rng.random() < 0.75:
        w, h = LONG_SIDE, round(LONG_SIDE / aspect)
    else:
        w, h = round(LONG_SIDE / aspect), LONG_SIDE
    # The crop is `zoom` times the output; zoom >= 1, so nothing is enlarged. A photograph too
    # small for the output shrinks the output instead.
    fit = min(sw / w, sh / h)
    if fit < 1.0:
        w, h, fit = max(1, int(w * fit)), max(1, int(h * fit)), 1.0
    zoom = rng.uniform(1.0, fit)
    cw, ch = min(sw, round(w * zoom)), min(sh, round(h * zoom))
    x0, y0 = rng.integers(0, sw - cw + 1), rng.integers(0, sh - ch + 1)
    img = src.resize((w, h), Image.Resampling.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    path = pathlib.Path(out) / f"class_{i % classes:03d}" / f"img_{i:07d}.jpg"
    img.save(path, "JPEG", quality=QUALITY)
    return path.stat().st_size


def disk_usage(root):
    """(apparent bytes, allocated bytes) of every file and folder under root."""
    apparent = allocated = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            st = os.lstat(os.path.join(dirpath, n))
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    a = p.parse_args()
    out = pathlib.Path(a.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    start = time.perf_counter()
    sources = load_sources()
    print(f"sources ({len(sources)}): " + ", ".join(f"{n} {im.size[0]}x{im.size[1]}" for n, im in sources))
    for k in range(a.classes):
        (out / f"class_{k:03d}").mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), i, a.classes, a.seed) for i in range(a.n)]
    if a.jobs > 1:
        with multiprocessing.Pool(a.jobs, initializer=_init, initargs=(sources,)) as pool:
            sizes = list(pool.imap_unordered(make_one, jobs, chunksize=64))
    else:
        _init(sources)
        sizes = [make_one(j) for j in jobs]
    elapsed = time.perf_counter() - start
    apparent, allocated = disk_usage(out)
    print(f"{a.n} JPEGs in {a.classes} classes at {out}: mean file {np.mean(sizes) / 1024:.1f} KiB, "
          f"{apparent / 2**20:.1f} MiB of files, {allocated / 2**20:.1f} MiB on disk; {elapsed:.1f} s")


if __name__ == "__main__":
    main()
