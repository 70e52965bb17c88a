"""PyTorch's side of the end-to-end comparison: SimSiam ResNet-18 (CIFAR stem, the model of
tools/bench_train_step_torch.py) trained on real CIFAR-10 through torchvision's CIFAR10 dataset,
the SimSiam CIFAR augmentation (RandomResizedCrop(32, scale=(0.2, 1.0)), RandomHorizontalFlip,
RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), RandomGrayscale(0.2), ToTensor,
Normalize) and a DataLoader with 2 workers, batch 64, SGD 0.03 x 64/256, momentum 0.9, weight
decay 5e-4. Prints images per second over the timed steps, loading and augmentation included.

    .venv/bin/python tools/bench_e2e_torch.py CIFAR10_BINARY_DIR [--steps 10] [--warmup 2]

CIFAR10_BINARY_DIR is the `cifar-10-batches-bin` directory the selfsup side reads; the binary
records are wrapped in a Dataset here (torchvision's CIFAR10 reads the Python version).
"""
import argparse
import os
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

from bench_train_step_torch import SimSiam, simsiam_loss

BATCH = 64


class CifarBinary(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        records = [np.fromfile(os.path.join(root, f"data_batch_{i}.bin"), dtype=np.uint8)
                   .reshape(-1, 3073) for i in range(1, 6)]
        records = np.concatenate(records)
        self.images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = Image.fromarray(self.images[i])
        return self.transform(image), self.transform(image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    augment = T.Compose([
        T.RandomResizedCrop(32, scale=(0.2, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.ToTensor(),
        T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ])
    loader = torch.utils.data.DataLoader(CifarBinary(args.root, augment), batch_size=BATCH,
                                         shuffle=True, num_workers=2, drop_last=True)
    model = SimSiam()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03 * BATCH / 256, momentum=0.9,
                                weight_decay=5e-4)
    start = None
    for step, (x1, x2) in enumerate(loader):
        if step == args.warmup:
            start = time.perf_counter()
        if step == args.warmup + args.steps:
            break
        loss = simsiam_loss(*model(x1, x2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
    seconds = time.perf_counter() - start
    print(f"pytorch-e2e  {args.steps * BATCH / seconds:6.2f} img/s  ({args.steps} steps after "
          f"{args.warmup} warm-up, DataLoader with 2 workers, batch {BATCH})")


if __name__ == "__main__":
    main()
