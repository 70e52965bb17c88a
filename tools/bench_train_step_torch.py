"""PyTorch's side of benches/train_step.rs: one SimSiam training step on ResNet-18 with the CIFAR
stem, batch of 64 two-view images [64, 3, 32, 32], forward + loss + backward + SGD (momentum 0.9,
weight decay 5e-4), float32 on the CPU with 2 threads. Prints img/s (batch images per second,
each image two views) and ms per step.

The model is the one SimSiamConfig::paper(ResNet-18, Stem::Cifar) builds: torchvision's resnet18
with conv1 = 3x3 stride 1 without bias, no max-pool and no fc; the projection MLP
512 -> 2048 -> 2048 -> 2048 with batch norm after each linear layer (the last without affine
parameters) and the prediction MLP 2048 -> 512 -> 2048 (facebookresearch/simsiam builder.py).

    .venv/bin/python tools/bench_train_step_torch.py [--steps 5] [--warmup 2] [--threads 2]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

BATCH = 64


def resnet18_cifar():
    net = torchvision.models.resnet18()
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net


class SimSiam(nn.Module):
    def __init__(self, dim=2048, pred_dim=512):
        super().__init__()
        self.backbone = resnet18_cifar()
        self.projector = nn.Sequential(
            nn.Linear(512, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
            nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
            nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim, affine=False),
        )
        self.predictor = nn.Sequential(
            nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim), nn.ReLU(inplace=True),
            nn.Linear(pred_dim, dim),
        )

    def forward(self, x1, x2):
        z1 = self.projector(self.backbone(x1))
        z2 = self.projector(self.backbone(x2))
        return self.predictor(z1), self.predictor(z2), z1.detach(), z2.detach()


def simsiam_loss(p1, p2, z1, z2):
    return -0.5 * (F.cosine_similarity(p1, z2, dim=-1).mean()
                   + F.cosine_similarity(p2, z1, dim=-1).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = SimSiam().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x1, x2 = torch.randn(BATCH, 3, 32, 32), torch.randn(BATCH, 3, 32, 32)

    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = simsiam_loss(*model(x1, x2))
        loss.backward()
        optimizer.step()
        loss.item()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    mean = sum(times) / len(times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"pytorch  {BATCH / mean:6.1f} img/s  {mean * 1e3:7.0f} ms/step  (best {min(times) * 1e3:.0f} ms; "
          f"{args.steps} steps after {args.warmup} warm-up; batch {BATCH} images x 2 views)")


if __name__ == "__main__":
    main()
