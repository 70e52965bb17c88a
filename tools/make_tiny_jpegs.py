"""N tiny JPEG files (8 × 8 to 17 × 16 pixels, a few hundred bytes) in K class sub-folders, for
the "index a million files" benchmark (tools/bench_index_folder.sh): what is measured there is
walking the folder and reading every file's header, not decoding, so the files only need to be
many, valid and cheap to write. A handful of variants (sizes, colours, a gradient) are encoded
once with PIL and their bytes written round-robin. Prints the count, the size on disk (each file
takes at least one file-system block) and the time taken.

    .venv/bin/python tools/make_tiny_jpegs.py /work/bench-data/tiny-1m 1000000
    .venv/bin/python tools/make_tiny_jpegs.py OUT N [--classes 1000]

Layout: OUT/class_0000/img_0000000.jpg … (file i in class i mod K).
"""
import argparse
import io
import os
import pathlib
import sys
import time

import numpy as np
from PIL import Image


def variants():
    out = []
    for k, side in enumerate((8, 10, 12, 13, 16)):
        for colour in ((200, 30, 30), (30, 160, 60), (40, 60, 220)):
            y, x = np.mgrid[0:side, 0:side + k % 3]
            arr = np.empty((side, side + k % 3, 3), np.uint8)
            for c in range(3):
                arr[..., c] = (colour[c] + 8 * x + 5 * y) % 256
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, "JPEG", quality=90)
            out.append(buf.getvalue())
    return out


def disk_usage(root):
    """(apparent bytes, allocated bytes) of every file and folder under root."""
    apparent = allocated = 0
    for entry in os.scandir(root):
        st = entry.stat(follow_symlinks=False)
        apparent += st.st_size
        allocated += st.st_blocks * 512
        if entry.is_dir(follow_symlinks=False):
            a, b = disk_usage(entry.path)
            apparent, allocated = apparent + a, allocated + b
    return apparent, allocated


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("--classes", type=int, default=1000)
    a = p.parse_args()
    out = pathlib.Path(a.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    start = time.perf_counter()
    blobs = variants()
    dirs = [out / f"class_{k:04d}" for k in range(a.classes)]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    for i in range(a.n):
        with open(dirs[i % a.classes] / f"img_{i:07d}.jpg", "wb") as f:
            f.write(blobs[i % len(blobs)])
        if i and i % 100_000 == 0:
            print(f"  {i} files, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - start
    apparent, allocated = disk_usage(out)
    print(f"{a.n} tiny JPEGs ({min(map(len, blobs))}-{max(map(len, blobs))} bytes, {len(blobs)} variants) "
          f"in {a.classes} classes at {out}: {apparent / 2**20:.1f} MiB of files, "
          f"{allocated / 2**20:.1f} MiB on disk; written in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
