"""PyTorch's side of benches/losses.rs: NT-Xent (the same vectorised definition) and the SimSiam
loss, forward + backward, N in {128, 256, 512, 1024}, D = 128, float32 on the CPU, default
threads. Prints milliseconds per call (best of several runs of 20).

    .venv/bin/python tools/bench_losses_torch.py
"""
import time

import torch
import torch.nn.functional as F


def nt_xent(za, zb, tau):
    z = F.normalize(torch.cat([za, zb]), dim=1)
    n = za.shape[0]
    logits = z @ z.t() / tau
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, target)


def simsiam(p1, p2, z1, z2):
    d = lambda p, z: -F.cosine_similarity(p, z.detach(), dim=-1).mean()
    return 0.5 * d(p1, z2) + 0.5 * d(p2, z1)


def bench(f, *xs, reps=20, rounds=5):
    for _ in range(3):
        f(*xs).backward()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            for x in xs:
                x.grad = None
            f(*xs).backward()
        best = min(best, (time.perf_counter() - start) / reps)
    return best * 1e3


torch.manual_seed(0)
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
for n in [128, 256, 512, 1024]:
    a, b = (torch.randn(n, 128, requires_grad=True) for _ in range(2))
    p1, p2, z1, z2 = (torch.randn(n, 128, requires_grad=True) for _ in range(4))
    print(f"N={n:5d}  nt_xent {bench(lambda x, y: nt_xent(x, y, 0.5), a, b):8.3f} ms"
          f"   simsiam {bench(simsiam, p1, p2, z1, z2):8.3f} ms")
