"""Golden values for the loss tests of `selfsup-losses` (crates/losses/tests/golden.rs).

Everything in float64 PyTorch, inputs drawn from torch.manual_seed(0):

- NT-Xent (SimCLR): the vectorized definition written with torch ops (L2-normalise the rows of
  z = cat[z_a, z_b], logits = z @ z.T / tau, diagonal masked to -inf, cross-entropy whose target
  for anchor i is its partner i <-> i+N). Before it is written out, every value is cross-checked
  against a loop over the anchors (SimCLR's Algorithm 1) and a second vectorized form, both
  below. Loss and gradients w.r.t. z_a and z_b.
- SimSiam: the loss of facebookresearch/simsiam (`main_simsiam.py`: `criterion =
  nn.CosineSimilarity(dim=1)`, `loss = -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) *
  0.5`, with z1, z2 detached as `simsiam/builder.py` returns them). Loss and gradients w.r.t. p1,
  p2, z1, z2; the z gradients are written as zeros because z receives none (PyTorch leaves
  `z.grad` at None).
- One forward-only case of `F.cosine_similarity` with rows shorter than eps = 1e-8, which pins
  down PyTorch's eps semantics: each norm is clamped, max(|x1|, eps) * max(|x2|, eps).

Writes crates/losses/tests/golden/losses.json.

    .venv/bin/python tools/golden_losses.py
"""
import json
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
DTYPE = torch.float64


# --- NT-Xent anchor by anchor (SimCLR's Algorithm 1): the oracle the vectorized definition is checked against ----
def sim(z_i, z_j):
    norm_dot_product = (z_i / torch.linalg.norm(z_i)) @ (z_j / torch.linalg.norm(z_j))
    return norm_dot_product


def simclr_loss_naive(out_left, out_right, tau):
    N = out_left.shape[0]
    out = torch.cat([out_left, out_right], dim=0)
    total_loss = 0
    for k in range(N):
        z_k, z_k_N = out[k], out[k + N]
        sims_k = torch.tensor([sim(z_k, z) for z in out[np.arange(2 * N) != k]], dtype=DTYPE)
        sims_k_N = torch.tensor([sim(z_k_N, z) for z in out[np.arange(2 * N) != k + N]], dtype=DTYPE)
        l1 = -((sim(z_k, z_k_N) / tau).exp() / (sims_k / tau).exp().sum()).log()
        l2 = -((sim(z_k_N, z_k) / tau).exp() / (sims_k_N / tau).exp().sum()).log()
        total_loss += l1 + l2
    total_loss = total_loss / (2 * N)
    return total_loss


def simclr_loss_vectorized(out_left, out_right, tau):
    N = out_left.shape[0]
    out = torch.cat([out_left, out_right], dim=0)
    norm_out = out / torch.linalg.norm(out, dim=1, keepdim=True)
    sim_matrix = norm_out @ norm_out.T
    exponential = (sim_matrix / tau).exp()
    mask = (torch.ones_like(exponential) - torch.eye(2 * N, dtype=DTYPE)).bool()
    exponential = exponential.masked_select(mask).view(2 * N, -1)
    denom = exponential.sum(dim=1)
    sim_pairs = sim_matrix[range(2 * N), [*range(N, 2 * N), *range(0, N)]]
    numerator = (sim_pairs / tau).exp()
    return -(numerator / denom).log().mean()


# --- the definitions the Rust crate implements -------------------------------------------------
def nt_xent(z_a, z_b, tau):
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b], dim=0), dim=1)
    logits = z @ z.T / tau
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


def simsiam_loss(p1, p2, z1, z2):
    criterion = torch.nn.CosineSimilarity(dim=1)
    z1, z2 = z1.detach(), z2.detach()
    return -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def grad_or_zeros(t):
    return flat(t.grad) if t.grad is not None else [0.0] * t.numel()


# (N, D, tau, scale): scale != 1 exercises the normalisation (and its gradient).
NT_XENT_CASES = [
    (2, 3, 1.0, 1.0),
    (4, 8, 0.5, 1.0),
    (3, 5, 0.1, 3.0),
    (8, 16, 0.05, 0.2),
    (5, 4, 0.01, 1.0),
]
nt_xent_golden = []
for n, d, tau, scale in NT_XENT_CASES:
    z_a = (torch.randn(n, d, dtype=DTYPE) * scale).requires_grad_()
    z_b = (torch.randn(n, d, dtype=DTYPE) * scale).requires_grad_()
    loss = nt_xent(z_a, z_b, tau)
    loss.backward()
    with torch.no_grad():
        naive = float(simclr_loss_naive(z_a, z_b, tau))
        vectorized = float(simclr_loss_vectorized(z_a, z_b, tau))
    for other, name in [(naive, "simclr_loss_naive"), (vectorized, "simclr_loss_vectorized")]:
        assert math.isclose(loss.item(), other, rel_tol=1e-10, abs_tol=1e-12), (
            f"nt_xent {loss.item()} != {name} {other} (N={n}, D={d}, tau={tau})"
        )
    nt_xent_golden.append({
        "n": n, "d": d, "temperature": tau,
        "z_a": flat(z_a), "z_b": flat(z_b),
        "loss": loss.item(),
        "grad_z_a": flat(z_a.grad), "grad_z_b": flat(z_b.grad),
    })

# (N, D, scale)
SIMSIAM_CASES = [(1, 4, 1.0), (3, 5, 1.0), (4, 8, 2.5), (6, 16, 0.1)]
simsiam_golden = []
for n, d, scale in SIMSIAM_CASES:
    p1, p2, z1, z2 = (
        (torch.randn(n, d, dtype=DTYPE) * scale).requires_grad_() for _ in range(4)
    )
    loss = simsiam_loss(p1, p2, z1, z2)
    loss.backward()
    assert z1.grad is None and z2.grad is None, "z must receive no gradient"
    simsiam_golden.append({
        "n": n, "d": d,
        "p1": flat(p1), "p2": flat(p2), "z1": flat(z1), "z2": flat(z2),
        "loss": loss.item(),
        "grad_p1": grad_or_zeros(p1), "grad_p2": grad_or_zeros(p2),
        "grad_z1": grad_or_zeros(z1), "grad_z2": grad_or_zeros(z2),
    })

# Rows 0 and 1 of p are shorter than eps = 1e-8 (row 1 is zero), row 2 of z too; row 3 is normal.
p = torch.tensor([[3e-9, 4e-9, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.3, 0.1, -0.7]], dtype=DTYPE)
z = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.5, 0.5], [2e-9, -1e-9, 4e-9], [-0.2, 0.4, 0.9]], dtype=DTYPE)
small_norm = {
    "n": 4, "d": 3, "p": flat(p), "z": flat(z),
    "cosine": flat(F.cosine_similarity(p, z, dim=1, eps=1e-8)),
    "negative_cosine": float(-F.cosine_similarity(p, z, dim=1, eps=1e-8).mean()),
}

golden = {
    "torch_version": torch.__version__,
    "nt_xent": nt_xent_golden,
    "simsiam": simsiam_golden,
    "negative_cosine_small_norm": small_norm,
}
path = (
    pathlib.Path(__file__).resolve().parent.parent
    / "crates" / "losses" / "tests" / "golden" / "losses.json"
)
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(golden, indent=1) + "\n")
print(f"wrote {path}")
for case in nt_xent_golden:
    print(f"  nt_xent N={case['n']} D={case['d']} tau={case['temperature']}: {case['loss']:.6f}")
for case in simsiam_golden:
    print(f"  simsiam N={case['n']} D={case['d']}: {case['loss']:.6f}")
print(f"  negative_cosine (small norms): {small_norm['negative_cosine']:.6f}")
