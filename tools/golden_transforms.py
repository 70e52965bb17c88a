"""Golden values for the augmentation tests of `selfsup-data` (crates/data/tests/transforms.rs).

Every output comes from torchvision's *functional* ops with FIXED parameters on float32 tensors
(the deterministic half of each random transform; the Rust tests check the random half —
parameter sampling — separately). Inputs are small RGB images defined by integer formulas and
stored as their u8 bytes; the float input is `bytes / 255` (what `ToTensor` gives), so the
Rust test also checks `Image::from_chw_u8`.

- resized_crop: `F.resized_crop(img, top, left, h, w, [oh, ow], BILINEAR, antialias=True)`,
  up-, down- and mixed-sampling (cross-checked v1 == v2 functional).
- hflip, adjust_brightness / contrast / saturation / hue, rgb_to_grayscale(3 channels),
  normalize, invert, solarize.
- color_jitter: the body of `ColorJitter.forward` with a fixed `fn_idx` and factors.
- affine: `F.affine(img, angle, translate, scale, shear, interpolation, fill=[0.0] * 3)`
  (RandomAffine's fill=0 path), nearest and bilinear.
- shear pretext: `F.affine(img, 0, [0, 0], 1, [degrees(atan(s)), 0], NEAREST, fill=0)`.
- rotate: `torch.rot90(img, k, dims=(-2, -1))`; on the square image also asserted equal to
  `F.rotate(img, 90 k)`.
- gaussian_blur: `F.gaussian_blur(img, [kx, ky], [sx, sy])`.
- pipeline: one fixed-parameter SimCLR view (resized_crop -> hflip -> jitter -> grayscale ->
  normalize) on the 32x32 image.
- rrc_fallback: `RandomResizedCrop.get_params` on hyper-parameters where all ten attempts must
  fail; the central crop is checked to be the same under 20 torch seeds.

Writes crates/data/tests/golden/transforms.json.

    .venv/bin/python tools/golden_transforms.py
"""
import json
import math
import pathlib

import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F1
import torchvision.transforms.v2.functional as F2
from torchvision.transforms import InterpolationMode

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/data/tests/golden/transforms.json"


def pattern(h, w):
    """CHW u8 bytes of a deterministic RGB pattern with sharp edges and varied hues."""
    r = [(x * 37 + y * 11) % 256 for y in range(h) for x in range(w)]
    g = [(x * 13 + y * 29 + 80) % 256 for y in range(h) for x in range(w)]
    b = [(x * y * 7 + 31) % 256 for y in range(h) for x in range(w)]
    return r + g + b


def special():
    """2x6 pixels hitting the hue code's branches: grays (max == min), pure colours, ties."""
    px = [
        (0, 0, 0), (255, 255, 255), (128, 128, 128), (255, 0, 0), (0, 255, 0), (0, 0, 255),
        (200, 200, 10), (10, 200, 200), (200, 10, 200), (90, 60, 60), (60, 90, 90), (1, 2, 3),
    ]
    return [p[c] for c in range(3) for p in px]


IMAGES = {
    "a": (17, 23, pattern(17, 23)),
    "b": (32, 32, pattern(32, 32)),
    "c": (12, 12, pattern(12, 12)),
    "s": (2, 6, special()),
}


def tensor(name):
    h, w, data = IMAGES[name]
    return torch.tensor(data, dtype=torch.uint8).reshape(3, h, w).to(torch.float32) / 255.0


def flat(t):
    # 9 significant digits round-trip float32 exactly.
    return [float(f"{v:.9g}") for v in t.reshape(-1).tolist()]


cases = []


def case(name, image, op, params, out, tol):
    assert out.dtype == torch.float32, out.dtype
    cases.append(
        {
            "name": name,
            "image": image,
            "op": op,
            "params": params,
            "shape": list(out.shape),
            "tol": tol,
            "output": flat(out),
        }
    )


# --- resized_crop -------------------------------------------------------------------------
for name, image, (i, j, h, w), (oh, ow) in [
    ("resized_crop_up", "a", (2, 3, 9, 11), (15, 16)),
    ("resized_crop_down", "a", (1, 2, 16, 20), (7, 9)),
    ("resized_crop_down_whole", "a", (0, 0, 17, 23), (12, 8)),
    ("resized_crop_mixed", "a", (3, 1, 5, 21), (11, 6)),
    ("resized_crop_same_height", "a", (0, 0, 17, 23), (17, 10)),
    ("resized_crop_rrc_up", "b", (5, 7, 20, 14), (32, 32)),
    ("resize_down_13", "b", (0, 0, 32, 32), (13, 13)),
]:
    img = tensor(image)
    out = F2.resized_crop(img, i, j, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=True)
    out1 = F1.resized_crop(img, i, j, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=True)
    assert torch.equal(out, out1), name
    params = {"top": i, "left": j, "height": h, "width": w, "out_height": oh, "out_width": ow}
    case(name, image, "resized_crop", params, out, 1e-6)

# --- geometry and colour ops --------------------------------------------------------------
case("hflip", "a", "hflip", {}, F2.horizontal_flip(tensor("a")), 0.0)
for f in [0.6, 1.4]:
    case(f"brightness_{f}", "a", "brightness", {"factor": f}, F1.adjust_brightness(tensor("a"), f), 1e-6)
for image, f in [("a", 0.5), ("a", 1.7), ("c", 0.2)]:
    case(f"contrast_{image}_{f}", image, "contrast", {"factor": f}, F1.adjust_contrast(tensor(image), f), 1e-6)
for f in [0.0, 0.3, 1.6]:
    case(f"saturation_{f}", "a", "saturation", {"factor": f}, F1.adjust_saturation(tensor("a"), f), 1e-6)
for image, f in [("a", -0.3), ("a", 0.1), ("a", 0.45), ("a", -0.5), ("s", 0.25), ("s", -0.1), ("s", 0.5)]:
    case(f"hue_{image}_{f}", image, "hue", {"factor": f}, F1.adjust_hue(tensor(image), f), 1e-6)
for image in ["a", "s"]:
    case(f"grayscale_{image}", image, "grayscale", {}, F1.rgb_to_grayscale(tensor(image), 3), 1e-6)
MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]
case("normalize_cifar", "a", "normalize", {"mean": MEAN, "std": STD}, F1.normalize(tensor("a"), MEAN, STD), 1e-6)
case("invert", "a", "invert", {}, F1.invert(tensor("a")), 0.0)
for t in [0.5, 0.3]:
    case(f"solarize_{t}", "a", "solarize", {"threshold": t}, F1.solarize(tensor("a"), t), 0.0)

# --- colour jitter with fixed order and factors -------------------------------------------
def jitter(img, order, b, c, s, h):
    # The body of torchvision's ColorJitter.forward.
    for fn_id in order:
        if fn_id == 0 and b is not None:
            img = F1.adjust_brightness(img, b)
        elif fn_id == 1 and c is not None:
            img = F1.adjust_contrast(img, c)
        elif fn_id == 2 and s is not None:
            img = F1.adjust_saturation(img, s)
        elif fn_id == 3 and h is not None:
            img = F1.adjust_hue(img, h)
    return img


for name, order, b, c, s, h in [
    ("color_jitter_all", [2, 0, 3, 1], 1.2, 0.7, 1.3, -0.05),
    ("color_jitter_some", [3, 1, 0, 2], None, 1.35, None, 0.2),
]:
    params = {"order": order, "brightness": b, "contrast": c, "saturation": s, "hue": h}
    case(name, "a", "color_jitter", params, jitter(tensor("a"), order, b, c, s, h), 1e-6)

# --- affine --------------------------------------------------------------------------------
for name, image, angle, tr, sc, sh, interp in [
    ("affine_nearest", "a", 30.0, [2, -1], 1.0, [10.0, 5.0], "nearest"),
    ("affine_bilinear", "a", 30.0, [2, -1], 1.0, [10.0, 5.0], "bilinear"),
    ("affine_bilinear_scale", "a", -45.0, [0, 0], 0.8, [0.0, 0.0], "bilinear"),
    ("affine_nearest_shear", "a", 0.0, [0, 0], 1.0, [-20.0, 0.0], "nearest"),
    ("affine_nearest_c", "c", 15.0, [-3, 2], 1.1, [0.0, 8.0], "nearest"),
]:
    mode = InterpolationMode.NEAREST if interp == "nearest" else InterpolationMode.BILINEAR
    out = F1.affine(tensor(image), angle, tr, sc, sh, interpolation=mode, fill=[0.0, 0.0, 0.0])
    params = {"angle": angle, "translate": tr, "scale": sc, "shear": sh, "interpolation": interp}
    # Nearest: exact. Bilinear: float rounding (PyTorch's batched matmul for the grid).
    case(name, image, "affine", params, out, 0.0 if interp == "nearest" else 2e-6)

for image in ["a", "c"]:
    for s in [0.2, 0.4]:
        deg = math.degrees(math.atan(s))
        out = F1.affine(tensor(image), 0.0, [0, 0], 1.0, [deg, 0.0], interpolation=InterpolationMode.NEAREST, fill=0)
        case(f"shear_pretext_{image}_{s}", image, "shear_pretext", {"factor": s}, out, 0.0)

# --- quarter-turn rotations ---------------------------------------------------------------
for image in ["a", "c"]:
    for k in [1, 2, 3]:
        out = torch.rot90(tensor(image), k, dims=(-2, -1))
        if image == "c":
            assert torch.equal(out, F1.rotate(tensor(image), 90.0 * k)), k
        case(f"rotate_{image}_{k}", image, "rotate", {"k": k}, out.contiguous(), 0.0)

# --- gaussian blur ------------------------------------------------------------------------
for name, image, k, s in [
    ("blur_3", "a", [3, 3], [0.7, 0.7]),
    ("blur_5", "a", [5, 5], [1.5, 1.5]),
    ("blur_5x3", "a", [5, 3], [1.2, 0.5]),
    ("blur_9", "c", [9, 9], [2.0, 2.0]),
]:
    out = F1.gaussian_blur(tensor(image), k, s)
    case(name, image, "gaussian_blur", {"kernel": k, "sigma": s}, out, 1e-6)

# --- one fixed-parameter SimCLR view ------------------------------------------------------
img = tensor("b")
img = F1.resized_crop(img, 3, 5, 22, 18, [32, 32], InterpolationMode.BILINEAR, antialias=True)
img = F1.hflip(img)
img = jitter(img, [3, 1, 0, 2], 0.9, 1.25, 0.65, 0.08)
img = F1.rgb_to_grayscale(img, 3)
img = F1.normalize(img, MEAN, STD)
case(
    "pipeline_simclr_view",
    "b",
    "pipeline",
    {
        "crop": [3, 5, 22, 18],
        "size": 32,
        "jitter": {"order": [3, 1, 0, 2], "brightness": 0.9, "contrast": 1.25, "saturation": 0.65, "hue": 0.08},
        "mean": MEAN,
        "std": STD,
    },
    img,
    1e-5,
)

# --- RandomResizedCrop fallback -----------------------------------------------------------
fallbacks = []
for h, w, scale, ratio in [
    (8, 8, (0.9, 1.0), (10.0, 20.0)),  # too wide: full width, h = round(8 / 10)
    (8, 8, (0.9, 1.0), (0.05, 0.1)),  # too tall: full height, w = round(8 * 0.1)
    (1, 1, (0.08, 0.1), (0.75, 4.0 / 3.0)),  # every side rounds to 0; ratio in range: whole
    (2, 3, (0.01, 0.02), (0.75, 4.0 / 3.0)),  # sides round to 0; 3/2 > 4/3: h = 2, w = round(8/3)
    (12, 5, (0.5, 1.0), (3.0, 4.0)),  # too wide for the tall image: w = 5, h = round(5/3)
    (5, 12, (0.9, 1.0), (0.25, 0.5)),  # too tall for the wide image: h = 5, w = round(2.5) = 2
]:
    boxes = set()
    for seed in range(20):
        torch.manual_seed(seed)
        boxes.add(T.RandomResizedCrop.get_params(torch.zeros(3, h, w), list(scale), list(ratio)))
    assert len(boxes) == 1, (h, w, scale, ratio, boxes)
    fallbacks.append(
        {"height": h, "width": w, "scale": list(scale), "ratio": list(ratio), "expected": list(boxes.pop())}
    )

doc = {
    "generator": "tools/golden_transforms.py",
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "images": {k: {"height": h, "width": w, "chw_u8": data} for k, (h, w, data) in IMAGES.items()},
    "cases": cases,
    "rrc_fallback": fallbacks,
}
OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases, {len(fallbacks)} fallbacks)")
