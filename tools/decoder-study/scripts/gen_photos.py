"""Make ~ImageNet-like test JPEGs from the real photographs bundled in scikit-image.

Each image: a random crop (area 50-100% of the largest crop of the target aspect)
of one bundled colour photo, random h-flip, Lanczos-resized to 500x375
(75%) or 375x500 (25%), saved by PIL at quality 90 (PIL default 4:2:0, baseline).
Usage: python scripts/gen_photos.py OUT_DIR [N] [SUBSAMPLING(0=4:4:4,2=4:2:0)] [progressive]
"""
import os, sys, random
import numpy as np
import skimage.data as d
from PIL import Image

out = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 320
sub = int(sys.argv[3]) if len(sys.argv) > 3 else 2
prog = len(sys.argv) > 4 and sys.argv[4] == "progressive"
os.makedirs(out, exist_ok=True)
srcs = {k: getattr(d, k)() for k in ["astronaut", "coffee", "chelsea", "rocket",
                                    "immunohistochemistry", "cat"]}
l, r, _ = d.stereo_motorcycle()
srcs["motorcycle_left"], srcs["motorcycle_right"] = l, r
ret = d.retina(); srcs["retina_center"] = ret[250:1160, 250:1160]
names = sorted(srcs)
rng = random.Random(1234)
for i in range(n):
    name = names[i % len(names)]
    im = Image.fromarray(np.ascontiguousarray(srcs[name][..., :3]))
    W, H = (500, 375) if rng.random() < 0.75 else (375, 500)
    sw, sh = im.size
    # largest crop with the target aspect, then scale its area by U(0.5, 1)
    cw = min(sw, sh * W / H); ch = cw * H / W
    s = rng.uniform(0.5, 1.0) ** 0.5
    cw, ch = cw * s, ch * s
    x0 = rng.uniform(0, sw - cw); y0 = rng.uniform(0, sh - ch)
    c = im.crop((round(x0), round(y0), round(x0 + cw), round(y0 + ch)))
    if rng.random() < 0.5:
        c = c.transpose(Image.FLIP_LEFT_RIGHT)
    c = c.resize((W, H), Image.LANCZOS)
    c.save(os.path.join(out, f"{i:04d}_{name}.jpg"), quality=90, subsampling=sub, progressive=prog)
print("wrote", n, "to", out)
