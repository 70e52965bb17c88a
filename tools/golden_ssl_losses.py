"""Golden values for the Barlow Twins, VICReg, InfoNCE, DINO, SwAV and NNCLR losses of `selfsup-losses`
(crates/losses/tests/ssl_golden.rs and the backend parity tests in tests/parity_losses_models.rs).

Every number comes from lightly 1.6.0's own loss classes, in float64 (the default dtype is set to
float64, so lightly's internal tensors, such as DINO's centre buffer, its teacher-temperature
schedule and the temperature tensor it builds in `forward`, are float64 too), on inputs drawn
from torch.manual_seed(0):

- Barlow Twins: `lightly.loss.BarlowTwinsLoss(lambda_param)`; loss and gradients w.r.t. z_a, z_b.
- VICReg: `lightly.loss.VICRegLoss(lambda_param, mu_param, nu_param, eps=eps)`; loss and
  gradients w.r.t. z_a, z_b.
- InfoNCE: MoCo's Algorithm 1 (He et al. 2020) transcribed in torch below (`moco_info_nce`), with
  q and k L2-normalised and k detached; with a queue, its rows L2-normalised and detached; without
  one, in-batch negatives (MoCo v3's `contrastive_loss` without its 2τ factor). The queue cases
  are cross-checked against lightly's `NTXentLoss` with a memory bank holding the same queue.
  Loss and gradient w.r.t. the query; the key and the queue get none (written as zeros).
- DINO: `lightly.loss.DINOLoss(output_dim, warmup_teacher_temp, teacher_temp,
  warmup_teacher_temp_epochs, student_temp, center_momentum)` with its centre buffer set to the
  case's centre; loss and gradients w.r.t. every student view (the teacher views are plain
  constants), and the centre after lightly's `update_center`. One case runs lightly's own
  warm-up schedule (`forward(..., epoch=e)`), and the schedule itself is written out for the
  default warm-up (0.04 → 0.04) and for 0.04 → 0.07 over 30 epochs, 1 epoch and 0 epochs.
- SwAV: `lightly.loss.SwaVLoss(temperature, sinkhorn_iterations, sinkhorn_epsilon)`, with
  multi-crop (low-resolution views) and with a queue; loss and gradients w.r.t. every high- and
  low-resolution view (the queue gets none, nor does a lone high-resolution view, which only
  makes codes: written as zeros). `lightly.loss.swav_loss.sinkhorn` alone too, with
  one case whose scores / epsilon exceed float32's exp range (`exp(100)`).
- NNCLR: solo-learn's `nnclr_loss_func` (`solo/losses/nnclr.py`) and `NNCLR.find_nn`
  (`solo/methods/nnclr.py`) transcribed in torch below (solo-learn is not a package of the
  venv); the symmetrised loss `nnclr_loss_func(nn1, p2) / 2 + nnclr_loss_func(nn2, p1) / 2` of
  its `training_step`, its gradients w.r.t. the predictions p1, p2, the neighbours' indices in
  the queue, and one term alone.

Writes crates/losses/tests/golden/ssl_losses.json. lightly 1.6.0 goes into the project's venv
without its dependencies (its losses import only torch):

    .venv/bin/pip install --no-deps lightly==1.6.0
    .venv/bin/python tools/golden_ssl_losses.py
"""
import json
import math
import pathlib

import lightly
import torch
import torch.nn.functional as F
from lightly.loss import BarlowTwinsLoss, DINOLoss, NTXentLoss, SwaVLoss, VICRegLoss
from lightly.loss.swav_loss import sinkhorn

assert lightly.__version__ == "1.6.0", f"expected lightly 1.6.0, got {lightly.__version__}"
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


def tensor(t):
    """A tensor as {"shape": [...], "data": [...]} (row-major)."""
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1)]}


def grad(t):
    """The gradient of a leaf, zeros when it received none."""
    return tensor(t.grad if t.grad is not None else torch.zeros_like(t))


def randn(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).requires_grad_()


# --- Barlow Twins ------------------------------------------------------------------------------
# (N, D, lambda, scale, shift): scale and shift exercise the batch standardisation.
BARLOW_TWINS_CASES = [
    (4, 3, 5e-3, 1.0, 0.0),
    (8, 16, 5e-3, 1.0, 0.0),
    (6, 8, 0.1, 2.5, 1.0),
    (16, 32, 5e-3, 0.3, -0.5),
]
barlow_twins = []
for n, d, lam, scale, shift in BARLOW_TWINS_CASES:
    z_a, z_b = randn(n, d, scale=scale, shift=shift), randn(n, d, scale=scale, shift=shift)
    loss = BarlowTwinsLoss(lambda_param=lam)(z_a, z_b)
    loss.backward()
    barlow_twins.append({
        "lambda": lam, "z_a": tensor(z_a), "z_b": tensor(z_b), "loss": loss.item(),
        "grad_z_a": grad(z_a), "grad_z_b": grad(z_b),
    })

# --- VICReg ------------------------------------------------------------------------------------
# (N, D, invariance, variance, covariance, eps, per-feature scales): scales below and above 1
# put some features' standard deviation under the hinge at 1 and some over it.
VICREG_CASES = [
    (4, 3, 25.0, 25.0, 1.0, 1e-4, [1.0]),
    (8, 16, 25.0, 25.0, 1.0, 1e-4, [0.3, 2.0]),
    (16, 8, 25.0, 25.0, 1.0, 1e-4, [0.5, 1.5, 0.1, 3.0]),
    (6, 32, 1.0, 10.0, 0.5, 1e-3, [0.8]),
]
vicreg = []
for n, d, lam, mu, nu, eps, scales in VICREG_CASES:
    s = torch.tensor(scales).repeat(d // len(scales) + 1)[:d]
    z_a = (torch.randn(n, d) * s).requires_grad_()
    z_b = (torch.randn(n, d) * s).requires_grad_()
    loss = VICRegLoss(lambda_param=lam, mu_param=mu, nu_param=nu, eps=eps)(z_a, z_b)
    loss.backward()
    vicreg.append({
        "invariance": lam, "variance": mu, "covariance": nu, "eps": eps,
        "z_a": tensor(z_a), "z_b": tensor(z_b), "loss": loss.item(),
        "grad_z_a": grad(z_a), "grad_z_b": grad(z_b),
    })


# --- InfoNCE (MoCo, Algorithm 1) ---------------------------------------------------------------
def moco_info_nce(q, k, queue, t):
    """MoCo's Algorithm 1 (He et al. 2020), with MoCo's normalisation of q, k and the queue.

    queue: [K, C], one key per row, or None for in-batch negatives (MoCo v3's loss without 2t).
    """
    N, C = q.shape
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1).detach()  # no gradient to keys
    if queue is None:
        logits = torch.einsum("nc,mc->nm", [q, k]) / t
        labels = torch.arange(N)
    else:
        queue = F.normalize(queue, dim=1).detach()
        l_pos = torch.bmm(q.view(N, 1, C), k.view(N, C, 1)).view(N, 1)  # positive logits: Nx1
        l_neg = torch.mm(q.view(N, C), queue.T)  # negative logits: NxK
        logits = torch.cat([l_pos, l_neg], dim=1) / t  # logits: Nx(1+K)
        labels = torch.zeros(N, dtype=torch.long)  # positives are the 0-th
    return F.cross_entropy(logits, labels)


# (N, D, K or None, temperature)
INFO_NCE_CASES = [
    (4, 8, None, 0.2),
    (8, 16, None, 0.07),
    (4, 8, 16, 0.2),
    (6, 16, 32, 0.07),
    (3, 5, 10, 1.0),
]
info_nce = []
for n, d, k_queue, tau in INFO_NCE_CASES:
    query, key = randn(n, d, scale=2.0), randn(n, d, scale=0.5)
    queue = None if k_queue is None else randn(k_queue, d, scale=1.5)
    loss = moco_info_nce(query, key, queue, tau)
    loss.backward()
    assert key.grad is None and (queue is None or queue.grad is None), "k, queue: no gradient"
    if queue is not None:
        # lightly's NTXentLoss with a memory bank is MoCo's loss: the same value.
        lightly_loss = NTXentLoss(temperature=tau, memory_bank_size=(k_queue, d))
        lightly_loss.memory_bank.bank = F.normalize(queue.detach(), dim=1).clone()
        other = lightly_loss(query.detach(), key.detach()).item()
        assert math.isclose(loss.item(), other, rel_tol=1e-12), (loss.item(), other)
    info_nce.append({
        "temperature": tau, "query": tensor(query), "key": tensor(key),
        "queue": None if queue is None else tensor(queue),
        "loss": loss.item(),
        "grad_query": grad(query), "grad_key": grad(key),
        "grad_queue": None if queue is None else grad(queue),
    })

# --- DINO --------------------------------------------------------------------------------------
# (B, D, teacher views, student views, teacher_temp, student_temp, momentum, centre scale,
# epoch): the student's first views are the teacher's (global) views, the rest local crops.
# With `epoch` set the case runs lightly's warm-up schedule 0.04 -> teacher_temp over 30 epochs.
DINO_CASES = [
    (4, 8, 2, 2, 0.04, 0.1, 0.9, 0.0, None),
    (3, 16, 2, 6, 0.07, 0.1, 0.9, 0.1, None),
    (5, 10, 2, 4, 0.07, 0.1, 0.8, 0.3, 10),
    (4, 6, 1, 3, 0.04, 0.2, 0.9, 0.2, None),
]
dino = []
for b, d, n_teacher, n_student, t_temp, s_temp, momentum, c_scale, epoch in DINO_CASES:
    teacher = [torch.randn(b, d) * 2.0 for _ in range(n_teacher)]  # constants: no gradient
    student = [randn(b, d, scale=2.0) for _ in range(n_student)]
    center = torch.randn(1, d) * c_scale
    loss_fn = DINOLoss(
        output_dim=d, warmup_teacher_temp=0.04, teacher_temp=t_temp,
        warmup_teacher_temp_epochs=30, student_temp=s_temp, center_momentum=momentum,
    )
    loss_fn.center.copy_(center.view(1, 1, d))
    if epoch is None:
        loss = loss_fn(teacher, student, teacher_temp=t_temp)
        used_temp = t_temp
    else:
        loss = loss_fn(teacher, student, epoch=epoch)
        used_temp = float(loss_fn.teacher_temp_schedule[epoch])
    loss.backward()
    dino.append({
        "teacher_temp": used_temp, "student_temp": s_temp, "center_momentum": momentum,
        "epoch": epoch, "warmup_teacher_temp": 0.04, "warmup_teacher_temp_epochs": 30,
        "final_teacher_temp": t_temp,
        "teacher": [tensor(t) for t in teacher], "student": [tensor(s) for s in student],
        "center": tensor(center), "loss": loss.item(),
        "grad_student": [grad(s) for s in student],
        "center_after": tensor(loss_fn.center.view(1, d)),
    })

# lightly's teacher-temperature schedule (DINOLoss.forward with `epoch`): the linspace entry
# during warm-up, teacher_temp after it.
dino_schedule = []
for warmup, final, epochs in [(0.04, 0.04, 30), (0.04, 0.07, 30), (0.04, 0.07, 1), (0.04, 0.07, 0)]:
    loss_fn = DINOLoss(
        output_dim=4, warmup_teacher_temp=warmup, teacher_temp=final,
        warmup_teacher_temp_epochs=epochs,
    )
    temps = [
        float(loss_fn.teacher_temp_schedule[e]) if e < loss_fn.warmup_teacher_temp_epochs
        else loss_fn.teacher_temp
        for e in range(epochs + 5)
    ]
    dino_schedule.append({
        "warmup_teacher_temp": warmup, "teacher_temp": final,
        "warmup_teacher_temp_epochs": epochs, "temperatures": temps,
    })


# --- SwAV --------------------------------------------------------------------------------------
def prototype_scores(n, d, prototypes):
    """Cosine similarities of n random features with the (unit) prototypes, as SwAV's head."""
    return (F.normalize(torch.randn(n, d), dim=1) @ prototypes.T).requires_grad_()


# (B, K prototypes, high-resolution views, low-resolution views, queue rows or None,
# temperature, sinkhorn iterations, sinkhorn epsilon)
SWAV_CASES = [
    (4, 6, 2, 0, None, 0.1, 3, 0.05),
    (5, 8, 2, 4, None, 0.1, 3, 0.05),
    (4, 6, 2, 2, 8, 0.1, 3, 0.05),
    (3, 5, 1, 2, 6, 0.2, 5, 0.1),
]
FEATURE_DIM = 7
swav = []
for b, k, n_high, n_low, n_queue, tau, iterations, epsilon in SWAV_CASES:
    prototypes = F.normalize(torch.randn(k, FEATURE_DIM), dim=1)
    high = [prototype_scores(b, FEATURE_DIM, prototypes) for _ in range(n_high)]
    low = [prototype_scores(b, FEATURE_DIM, prototypes) for _ in range(n_low)]
    queue = None
    if n_queue is not None:
        queue = [prototype_scores(n_queue, FEATURE_DIM, prototypes) for _ in range(n_high)]
    loss_fn = SwaVLoss(temperature=tau, sinkhorn_iterations=iterations, sinkhorn_epsilon=epsilon)
    loss = loss_fn(high, low, queue)
    loss.sum().backward()
    assert queue is None or all(q.grad is None for q in queue), "the queue gets no gradient"
    swav.append({
        "temperature": tau, "sinkhorn_iterations": iterations, "sinkhorn_epsilon": epsilon,
        "high_resolution": [tensor(t) for t in high], "low_resolution": [tensor(t) for t in low],
        "queue": None if queue is None else [tensor(t) for t in queue],
        "loss": loss.item(),
        "grad_high_resolution": [grad(t) for t in high],
        "grad_low_resolution": [grad(t) for t in low],
    })

# (B, K, iterations, epsilon, score scale): the last case's scores / epsilon reach 100, beyond
# float32's exp range (88.7).
SINKHORN_CASES = [
    (5, 8, 3, 0.05, 1.0),
    (8, 4, 1, 0.05, 1.0),
    (6, 10, 0, 0.1, 1.0),
    (4, 6, 3, 0.05, 5.0),
]
sinkhorn_golden = []
for b, k, iterations, epsilon, scale in SINKHORN_CASES:
    scores = torch.rand(b, k) * 2 * scale - scale
    scores[0, 0] = scale
    codes = sinkhorn(scores, iterations=iterations, epsilon=epsilon)
    sinkhorn_golden.append({
        "iterations": iterations, "epsilon": epsilon, "scores": tensor(scores),
        "codes": tensor(codes),
    })


# --- NNCLR (solo-learn) ------------------------------------------------------------------------
# Drawn after every case above, so that adding them left the earlier cases' inputs unchanged.
def nnclr_loss_func(nn, p, temperature):
    """solo-learn's `solo/losses/nnclr.py` on one device (its `gather(p)` is the identity and
    `get_rank()` is 0)."""
    nn = F.normalize(nn, dim=-1)
    p = F.normalize(p, dim=-1)
    logits = nn @ p.T / temperature
    labels = torch.arange(nn.size(0))
    return F.cross_entropy(logits, labels)


@torch.no_grad()
def find_nn(z, queue):
    """solo-learn's `NNCLR.find_nn` (`solo/methods/nnclr.py`): z and the queue have unit rows."""
    idx = (z @ queue.T).max(dim=1)[1]
    return idx, queue[idx]


# (N, D, K queue rows, temperature): the loss of the symmetrised step
# nnclr_loss_func(nn1, p2) / 2 + nnclr_loss_func(nn2, p1) / 2, and one term alone.
NNCLR_CASES = [
    (4, 8, 16, 0.2),
    (8, 16, 64, 0.2),
    (6, 5, 12, 0.1),
    (3, 32, 40, 1.0),
]
nnclr = []
for n, d, k_queue, tau in NNCLR_CASES:
    z1, z2 = F.normalize(torch.randn(n, d), dim=-1), F.normalize(torch.randn(n, d), dim=-1)
    queue = F.normalize(torch.randn(k_queue, d), dim=1)
    p1, p2 = randn(n, d, scale=2.0), randn(n, d, scale=0.5)
    idx1, nn1 = find_nn(z1, queue)
    idx2, nn2 = find_nn(z2, queue)
    loss = nnclr_loss_func(nn1, p2, tau) / 2 + nnclr_loss_func(nn2, p1, tau) / 2
    loss.backward()
    term = nnclr_loss_func(nn1, p2.detach(), tau)
    nnclr.append({
        "temperature": tau, "z1": tensor(z1), "z2": tensor(z2), "queue": tensor(queue),
        "p1": tensor(p1), "p2": tensor(p2),
        "index1": [int(i) for i in idx1], "index2": [int(i) for i in idx2],
        "loss": loss.item(), "loss_nn1_p2": term.item(),
        "grad_p1": grad(p1), "grad_p2": grad(p2),
    })

golden = {
    "torch_version": torch.__version__,
    "lightly_version": lightly.__version__,
    "barlow_twins": barlow_twins,
    "vicreg": vicreg,
    "info_nce": info_nce,
    "dino": dino,
    "dino_teacher_temp_schedule": dino_schedule,
    "swav": swav,
    "sinkhorn": sinkhorn_golden,
    "nnclr": nnclr,
}
path = (
    pathlib.Path(__file__).resolve().parent.parent
    / "crates" / "losses" / "tests" / "golden" / "ssl_losses.json"
)
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
for name in ["barlow_twins", "vicreg", "info_nce", "dino", "swav", "nnclr"]:
    print(f"  {name}: " + ", ".join(f"{c['loss']:.6f}" for c in golden[name]))
