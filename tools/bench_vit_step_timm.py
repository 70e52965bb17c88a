"""PyTorch's side of benches/vit_step.rs: one training step of timm's ViT-Small/16
(`vit_small_patch16_224`, num_classes=0) on a batch of 8 images [8, 3, 224, 224], the class
token's features, loss = mean of their squares, backward, AdamW (weight decay 0.05), float32 on
the CPU with 2 threads. Prints img/s and ms per step.

    .venv/bin/pip install --no-deps timm==1.0.22
    .venv/bin/python tools/bench_vit_step_timm.py [--steps 5] [--warmup 2] [--threads 2]
"""
import argparse
import time

import timm
import torch

BATCH, SIZE = 8, 224


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = model(x).pow(2).mean()
        forward = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        if step >= args.warmup:
            times.append((forward - start, backward - forward, end - backward))
    mean = [sum(t[i] for t in times) / len(times) for i in range(3)]
    step_s = sum(mean)
    print(
        f"torch  {BATCH / step_s:6.2f} img/s  {step_s * 1e3:7.0f} ms/step  (forward+loss "
        f"{mean[0] * 1e3:.0f}, backward {mean[1] * 1e3:.0f}, adamw {mean[2] * 1e3:.0f} ms; "
        f"{args.steps} steps after {args.warmup} warm-up, {torch.get_num_threads()} threads, "
        f"fused attention {timm.layers.use_fused_attn()})"
    )


if __name__ == "__main__":
    main()
