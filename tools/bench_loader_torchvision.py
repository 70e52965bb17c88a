"""torchvision's side of `selfsup loader-bench`: an image folder read by `ImageFolder` (PIL
loader) and a `DataLoader(shuffle=True, drop_last=True, num_workers, persistent_workers)` that
produces a method's augmented views in batches, written with plain `torchvision.transforms` on
PIL images as a user would, with selfsup's presets parameter by parameter:

- `byol`: `ByolTransform::imagenet` (crates/data/src/transforms/asymmetric.rs), two 224 × 224
  views, view 1 always blurred, view 2 blurred with p = 0.1 and solarized with p = 0.2;
- `dino`: `MultiCropTransform::dino` (multi_crop.rs), 2 global 224 × 224 views (blur 1.0 /
  0.1 + solarize 0.2) and 6 local 96 × 96 views (blur 0.5).

Source images per second (not views), timed from the arrival of the last warm-up batch to the
arrival of the last measured one: `--batches` × `--batch-size` images over that time. Epochs
follow one another when the folder runs out (the DataLoader is iterated again, the persistent
workers kept). `torch.set_num_threads(1)` in the main process and in every worker, so that
`--workers 2` uses two cores. The last line printed is `<number> images/s`.

    .venv/bin/python tools/bench_loader_torchvision.py /work/bench-data/photos-5k --views byol
    .venv/bin/python tools/bench_loader_torchvision.py DIR --views byol|dino [--batch-size 64]
        [--workers 2] [--batches 50] [--warmup 2] [--blur torchvision|pil] [--seed 0]

`--blur torchvision` (the default) is `T.GaussianBlur(23, sigma=(0.1, 2.0))`, the same
truncated 23 × 23 kernel as selfsup's `BlurConfig::imagenet` (torchvision convolves the PIL
image, as a uint8 tensor turned to float, with the full 2-D kernel); `--blur pil` is PIL's
`ImageFilter.GaussianBlur(radius=σ)` with σ ~ U(0.1, 2.0), what DINO's reference code and
lightly use (untruncated, box-filter approximation, much cheaper).
"""
import argparse
import random
import sys
import time

import torch
import torchvision
import torchvision.transforms as T
from PIL import ImageFilter
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

# normalize.rs: Normalize::IMAGENET_MEAN / IMAGENET_STD.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PilGaussianBlur:
    """DINO's / lightly's blur: PIL's GaussianBlur with a radius σ ~ U(sigma)."""

    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, img):
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


def view(size, scale, blur_p, solarize_p, blur):
    """One view of `TwoViewConfig::build_view` (presets.rs), on PIL images."""
    t = [
        # crop.rs: RandomResizedCrop(size, scale, ratio=DEFAULT_RATIO = (3/4, 4/3)), bilinear
        # and antialiased (PIL's bilinear resize is antialiased when shrinking).
        T.RandomResizedCrop(size, scale=scale, ratio=(3.0 / 4.0, 4.0 / 3.0),
                            interpolation=T.InterpolationMode.BILINEAR),
        # presets.rs: hflip_prob 0.5 (TwoViewConfig::cifar10, kept by every ImageNet preset).
        T.RandomHorizontalFlip(p=0.5),
        # .with_color_jitter(0.4, 0.4, 0.2, 0.1); color_jitter_prob 0.8.
        T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
        # grayscale_prob 0.2.
        T.RandomGrayscale(p=0.2),
    ]
    if blur_p > 0:
        # BlurConfig::imagenet(p): kernel_size 23, sigma (0.1, 2.0), RandomApply(p).
        g = T.GaussianBlur(kernel_size=23, sigma=(0.1, 2.0)) if blur == "torchvision" else PilGaussianBlur((0.1, 2.0))
        t.append(T.RandomApply([g], p=blur_p))
    if solarize_p > 0:
        # SolarizeConfig::new(p): threshold 0.5 on [0, 1] floats, x >= 0.5 inverted; on uint8
        # that is x >= 128 (127/255 < 0.5 <= 128/255).
        t.append(T.RandomSolarize(threshold=128, p=solarize_p))
    # normalize: ImageNet mean and std.
    t += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(t)


class MultiView:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        return [t(img) for t in self.transforms]


def views_for(method, blur):
    if method == "byol":
        # asymmetric.rs, ByolTransform::imagenet: input_size 224, crop_scale (0.08, 1.0);
        # view 1 blur 1.0, no solarize; view 2 blur 0.1, solarize 0.2.
        return [view(224, (0.08, 1.0), 1.0, 0.0, blur), view(224, (0.08, 1.0), 0.1, 0.2, blur)]
    if method == "dino":
        # multi_crop.rs, MultiCropTransform::dino: globals 224, crop_scale (0.4, 1.0), global 0
        # blur 1.0, global 1 blur 0.1 + solarize 0.2; 6 locals 96, crop_scale (0.05, 0.4), blur 0.5.
        g0 = view(224, (0.4, 1.0), 1.0, 0.0, blur)
        g1 = view(224, (0.4, 1.0), 0.1, 0.2, blur)
        local = view(96, (0.05, 0.4), 0.5, 0.0, blur)
        return [g0, g1] + [local] * 6
    raise ValueError(method)


def collate(batch):
    """A list of (views, label) → ([one (B, 3, H, W) tensor per view], labels)."""
    n_views = len(batch[0][0])
    views = [torch.stack([views[v] for views, _ in batch]) for v in range(n_views)]
    return views, torch.tensor([label for _, label in batch])


def worker_init(_):
    torch.set_num_threads(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    p.add_argument("--views", choices=["byol", "dino"], required=True)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batches", type=int, default=50, help="measured batches")
    p.add_argument("--warmup", type=int, default=2, help="batches before the clock starts (>= 1)")
    p.add_argument("--blur", choices=["torchvision", "pil"], default="torchvision")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.warmup < 1 or a.batches < 1:
        sys.exit("--warmup and --batches must be at least 1")
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    random.seed(a.seed)

    t_index = time.perf_counter()
    ds = ImageFolder(a.dir, transform=MultiView(views_for(a.views, a.blur)))
    t_index = time.perf_counter() - t_index
    per_epoch = len(ds) // a.batch_size
    if per_epoch == 0:
        sys.exit(f"{len(ds)} images make no batch of {a.batch_size}")
    loader = DataLoader(ds, batch_size=a.batch_size, shuffle=True, drop_last=True,
                        num_workers=a.workers, persistent_workers=a.workers > 0,
                        collate_fn=collate, worker_init_fn=worker_init)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; {a.views} views, "
          f"{a.workers} workers, batch {a.batch_size}, blur {a.blur}; indexed {len(ds)} images "
          f"in {t_index:.2f} s ({per_epoch} batches an epoch)")

    total = a.warmup + a.batches
    seen = epochs = 0
    start = None
    shapes = None
    while seen < total:
        epochs += 1
        for views, _ in loader:
            seen += 1
            if shapes is None:
                shapes = [tuple(v.shape) for v in views]
            if seen == a.warmup:
                start = time.perf_counter()
            if seen == total:
                break
    elapsed = time.perf_counter() - start
    images = a.batches * a.batch_size
    print(f"views per image: {len(shapes)} ({', '.join('x'.join(map(str, s)) for s in shapes[:3])}"
          f"{', …' if len(shapes) > 3 else ''}); {a.batches} batches after {a.warmup} warm-up, "
          f"{epochs} epoch(s), {elapsed:.1f} s, {images * len(shapes) / elapsed:.1f} views/s")
    print(f"{images / elapsed:.1f} images/s")


if __name__ == "__main__":
    main()
