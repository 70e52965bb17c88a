"""PIL (libjpeg-turbo) reference: per-image single-thread decode times, and raw dumps
for the pixel comparison in `decoder-study verify DIR RAW_DIR`.

Usage: python scripts/pil_bench.py DIR [REPS] [RAW_DIR]
Times, per image (median of REPS), then median over images, from bytes in memory:
  full:        Image.open(BytesIO(b)).convert("RGB") after .load()
  draft 1/2:   im.draft("RGB", (w//2, h//2)) before .load() (DCT-domain 1/2 scaling)
  full + crop: full decode then .crop() of the 2-box union (same boxes are not
               reproduced here; a 60% centre box stands in: crop is ~free anyway)
Raw dumps: NAME.rgb and NAME.half.rgb = u32 LE width, u32 LE height, RGB bytes.
"""
import io, os, sys, time, statistics as st, struct
from PIL import Image, features

d = sys.argv[1]; reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
raw = sys.argv[3] if len(sys.argv) > 3 else None
names = sorted(f for f in os.listdir(d) if f.lower().endswith((".jpg", ".jpeg")))
data = [open(os.path.join(d, f), "rb").read() for f in names]
print(f"PIL {Image.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}, {len(names)} images")

def full(b):
    im = Image.open(io.BytesIO(b)); im.load(); return im.convert("RGB")

def draft(b):
    im = Image.open(io.BytesIO(b)); im.draft("RGB", (im.width // 2, im.height // 2)); im.load()
    return im.convert("RGB")

def full_crop(b):
    im = full(b); w, h = im.size
    return im.crop((w // 5, h // 5, w - w // 5, h - h // 5))

if raw:
    os.makedirs(raw, exist_ok=True)
    for n, b in zip(names, data):
        for fn, suf in ((full, "rgb"), (draft, "half.rgb")):
            im = fn(b)
            with open(os.path.join(raw, f"{n}.{suf}"), "wb") as f:
                f.write(struct.pack("<II", *im.size)); f.write(im.tobytes())

variants = [("PIL full", full), ("PIL draft 1/2", draft), ("PIL full + crop", full_crop)]
for b in data:  # warm-up
    for _, fn in variants: fn(b)
t = {v: [[] for _ in data] for v, _ in variants}
for _ in range(reps):
    for i, b in enumerate(data):
        for v, fn in variants:
            t0 = time.perf_counter(); fn(b); t[v][i].append((time.perf_counter() - t0) * 1e3)
print(f"{reps} reps; per image median (min-med: min) of reps, then over images (ms):")
print(f"{'variant':<36} {'median':>8} {'mean':>8} {'p10':>8} {'p90':>8} {'min-med':>8}")
for v, _ in variants:
    per = sorted(st.median(x) for x in t[v]); mins = [min(x) for x in t[v]]
    print(f"{v:<36} {st.median(per):>8.3f} {st.mean(per):>8.3f} {per[len(per)//10]:>8.3f} {per[len(per)*9//10]:>8.3f} {st.median(mins):>8.3f}")
