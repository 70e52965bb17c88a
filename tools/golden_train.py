"""Golden values for the optimizer tests of `selfsup-train` (crates/train/tests/{lars,optim}.rs).

Part 1, LARS.

The optimizer is lightly's `LARS` (lightly/utils/lars.py, itself from PyTorch Lightning Bolts),
reimplemented below line for line because lightly may not be installed:

    d_p = grad
    if weight_decay != 0 and |p| != 0 and |grad| != 0:        # layer-wise adaptation
        lars_lr = trust_coefficient * |p| / (|grad| + weight_decay * |p| + eps)
        d_p = (grad + weight_decay * p) * lars_lr
    buf = d_p                                  on the first step (momentum != 0)
    buf = momentum * buf + (1 - dampening) * d_p   afterwards
    d_p = d_p + momentum * buf if nesterov else buf
    p = p - lr * d_p

With `clip_lr` (solo-learn's `LARS`, solo/utils/lars.py, which is lightly's plus this flag) the
local LR is clipped after it is computed: `lars_lr = min(lars_lr / lr, 1)`.

lightly excludes biases and normalisation parameters from adaptation and weight decay by putting
them in a parameter group with weight_decay = 0; the Rust `exclude_bias_and_norm` flag does the
same for every rank-1 parameter, so the excluded cases below run with weight_decay = 0.

Each case takes two (or three) steps on one float32 tensor with given weights and per-step
gradients (the gradients are inputs, not derived from a loss) and records the weights after every
step. Case "parallel" is the one derived by hand in the comment of the Rust test.

Part 2, the optimizers Burn provides, as `OptimizerConfig` maps its PyTorch-named fields onto
them: `torch.optim.SGD` (with `dampening = 0`, PyTorch's default, which is not Burn's), `Adam`
(coupled L2 weight decay) and `AdamW` (decoupled weight decay), three steps each.

Writes crates/train/tests/golden/lars.json and crates/train/tests/golden/optim.json.

    .venv/bin/python tools/golden_train.py
"""
import json
import pathlib

import torch
from torch.optim.optimizer import Optimizer

torch.manual_seed(0)
DTYPE = torch.float32


class LARS(Optimizer):
    """lightly.utils.lars.LARS, same arguments, defaults and arithmetic."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, trust_coefficient=0.001, eps=1e-8, clip_lr=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, trust_coefficient=trust_coefficient, eps=eps,
                        clip_lr=clip_lr)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            weight_decay = group["weight_decay"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                p_norm = torch.norm(p.data)
                g_norm = torch.norm(p.grad.data)
                if weight_decay != 0:
                    if p_norm != 0 and g_norm != 0:
                        lars_lr = p_norm / (g_norm + p_norm * weight_decay + group["eps"])
                        lars_lr *= group["trust_coefficient"]
                        if group["clip_lr"]:  # solo-learn's clip_lr
                            lars_lr = min(lars_lr / group["lr"], 1)
                        d_p = d_p.add(p, alpha=weight_decay)
                        d_p *= lars_lr
                if momentum != 0:
                    param_state = self.state[p]
                    if "momentum_buffer" not in param_state:
                        buf = param_state["momentum_buffer"] = torch.clone(d_p).detach()
                    else:
                        buf = param_state["momentum_buffer"]
                        buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                    if nesterov:
                        d_p = d_p.add(buf, alpha=momentum)
                    else:
                        d_p = buf
                p.add_(d_p, alpha=-group["lr"])


def run(name, weight, grads, lr, **kwargs):
    """Runs len(grads) steps of LARS on `weight` and returns the JSON case."""
    p = torch.nn.Parameter(torch.tensor(weight, dtype=DTYPE))
    opt = LARS([p], lr=lr, **kwargs)
    after = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=DTYPE)
        opt.step()
        after.append(p.detach().clone().flatten().tolist())
    return {
        "name": name,
        "shape": list(p.shape),
        "weight": torch.tensor(weight, dtype=DTYPE).flatten().tolist(),
        "grads": [torch.tensor(g, dtype=DTYPE).flatten().tolist() for g in grads],
        "lr": lr,
        "momentum": kwargs.get("momentum", 0.0),
        "dampening": kwargs.get("dampening", 0.0),
        "weight_decay": kwargs.get("weight_decay", 0.0),
        "nesterov": kwargs.get("nesterov", False),
        "trust_coefficient": kwargs.get("trust_coefficient", 0.001),
        "eps": kwargs.get("eps", 1e-8),
        "clip_lr": kwargs.get("clip_lr", False),
        "after": after,
    }


def rand(*shape):
    return torch.randn(*shape, dtype=DTYPE).tolist()


cases = [
    # Derived by hand in crates/train/tests/lars.rs: w = [[3, 4]], g = [[0.6, 0.8]] twice.
    run("parallel", [[3.0, 4.0]], [[[0.6, 0.8]], [[0.6, 0.8]]],
        lr=0.1, momentum=0.9, weight_decay=0.2),
    # A general 2-D weight with different gradients per step (SimCLR's hyper-parameters).
    run("general", rand(3, 4), [rand(3, 4), rand(3, 4), rand(3, 4)],
        lr=0.3, momentum=0.9, weight_decay=1e-6),
    # Large weight decay: the decay term dominates the local LR's denominator.
    run("strong_decay", rand(4, 2), [rand(4, 2), rand(4, 2)],
        lr=0.5, momentum=0.9, weight_decay=0.5, trust_coefficient=0.02),
    # Nesterov momentum.
    run("nesterov", rand(2, 3), [rand(2, 3), rand(2, 3), rand(2, 3)],
        lr=0.2, momentum=0.9, weight_decay=1e-4, nesterov=True),
    # Dampening, 4-D (a convolution kernel).
    run("dampening_4d", rand(2, 2, 3, 3), [rand(2, 2, 3, 3), rand(2, 2, 3, 3)],
        lr=0.1, momentum=0.8, dampening=0.25, weight_decay=1e-3),
    # No momentum: plain LARS-scaled SGD.
    run("no_momentum", rand(3, 3), [rand(3, 3), rand(3, 3)],
        lr=1.0, momentum=0.0, weight_decay=1e-2),
    # A zero gradient on step 1: local LR 1 and no weight decay, so nothing moves; step 2 is normal.
    run("zero_grad_first", rand(2, 2), [[[0.0, 0.0], [0.0, 0.0]], rand(2, 2)],
        lr=0.1, momentum=0.9, weight_decay=1e-3),
    # A zero weight: local LR 1 and no weight decay, plain momentum SGD on step 1.
    run("zero_weight", [[0.0, 0.0, 0.0]], [rand(1, 3), rand(1, 3)],
        lr=0.1, momentum=0.9, weight_decay=1e-3),
    # Weight decay 0: lightly skips the adaptation entirely (plain momentum SGD).
    run("no_weight_decay", rand(2, 3), [rand(2, 3), rand(2, 3)],
        lr=0.1, momentum=0.9, weight_decay=0.0),
    # solo-learn's clip_lr (eta 0.02 as its CIFAR configurations): a large LR leaves the local LR
    # unclipped but divided by the LR, a small LR clips it to 1 (plain momentum SGD on grad + wd * p).
    run("clip_lr_unclipped", rand(3, 4), [rand(3, 4), rand(3, 4)],
        lr=0.5, momentum=0.9, weight_decay=1e-5, trust_coefficient=0.02, clip_lr=True),
    run("clip_lr_clipped", rand(3, 4), [rand(3, 4), rand(3, 4)],
        lr=1e-4, momentum=0.9, weight_decay=1e-4, trust_coefficient=0.02, clip_lr=True),
    # A bias (rank 1) as lightly treats it in the no-weight-decay group, which is what
    # `exclude_bias_and_norm` does in Rust whatever the configured weight decay.
    run("excluded_bias", rand(5), [rand(5), rand(5)],
        lr=0.1, momentum=0.9, weight_decay=0.0),
]



def run_torch(name, make, weight, grads, lr, params):
    """Runs len(grads) steps of a torch.optim optimizer and returns the JSON case."""
    p = torch.nn.Parameter(torch.tensor(weight, dtype=DTYPE))
    opt = make([p], lr=lr)
    after = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=DTYPE)
        opt.step()
        after.append(p.detach().clone().flatten().tolist())
    return {
        "name": name,
        "shape": list(p.shape),
        "weight": torch.tensor(weight, dtype=DTYPE).flatten().tolist(),
        "grads": [torch.tensor(g, dtype=DTYPE).flatten().tolist() for g in grads],
        "lr": lr,
        "config": params,
        "after": after,
    }


def torch_case(name, kind, lr, **params):
    shape = (3, 4)
    weight = rand(*shape)
    grads = [rand(*shape) for _ in range(3)]
    if kind == "sgd":
        make = lambda ps, lr: torch.optim.SGD(
            ps, lr=lr, momentum=params["momentum"], dampening=0.0,
            weight_decay=params["weight_decay"], nesterov=params["nesterov"])
    elif kind == "adam":
        make = lambda ps, lr: torch.optim.Adam(
            ps, lr=lr, betas=(params["beta_1"], params["beta_2"]), eps=params["epsilon"],
            weight_decay=params["weight_decay"])
    else:
        make = lambda ps, lr: torch.optim.AdamW(
            ps, lr=lr, betas=(params["beta_1"], params["beta_2"]), eps=params["epsilon"],
            weight_decay=params["weight_decay"])
    # The config as serde writes `OptimizerConfig` (internally tagged by "kind").
    return run_torch(name, make, weight, grads, lr, {"kind": kind, **params})


torch_cases = [
    torch_case("sgd_momentum", "sgd", 0.05, momentum=0.9, weight_decay=1e-4, nesterov=False),
    torch_case("sgd_nesterov", "sgd", 0.05, momentum=0.9, weight_decay=5e-4, nesterov=True),
    torch_case("sgd_plain", "sgd", 0.5, momentum=0.0, weight_decay=0.0, nesterov=False),
    torch_case("adam", "adam", 0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=1e-2),
    torch_case("adamw", "adam_w", 0.01, beta_1=0.9, beta_2=0.99, epsilon=1e-8, weight_decay=0.05),
]

golden = pathlib.Path(__file__).resolve().parent.parent / "crates/train/tests/golden"
golden.mkdir(parents=True, exist_ok=True)
for file, content in [("lars.json", cases), ("optim.json", torch_cases)]:
    out = golden / file
    out.write_text(json.dumps({"torch": torch.__version__, "cases": content}, indent=1) + "\n")
    print(f"wrote {out}")
print(json.dumps(cases[0]["after"]))
