"""torchvision's side of benches/augment.rs: the SimCLR two-view pipeline at CIFAR-10 size on the
CIFAR-10 test images, single process, images per second (as a torchvision CIFAR10 dataset with
that transform would run in one DataLoader worker: PIL image in, two normalised tensors out).

    .venv/bin/python tools/bench_torchvision.py [../shared/data/cifar-10-batches-bin]
"""
import pathlib
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

torch.set_num_threads(1)
data_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/cifar-10-batches-bin")
raw = np.fromfile(data_dir / "test_batch.bin", dtype=np.uint8).reshape(-1, 3073)
images = [Image.fromarray(r[1:].reshape(3, 32, 32).transpose(1, 2, 0)) for r in raw[:2000]]

transform = T.Compose([
    T.RandomResizedCrop(size=32, scale=(0.2, 1.0)),
    T.RandomHorizontalFlip(),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.ToTensor(),
    T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
])

torch.manual_seed(0)
for img in images[:200]:  # warm-up
    transform(img), transform(img)
best = 0.0
for _ in range(3):
    start = time.perf_counter()
    for img in images:
        transform(img), transform(img)
    best = max(best, len(images) / (time.perf_counter() - start))
print(f"torchvision {__import__('torchvision').__version__} SimCLR two views, 1 process: {best:.0f} img/s")
