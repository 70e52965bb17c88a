"""Golden values for the native kernels (tests/parity_ops.rs).

Convolution: for each case, `y = conv2d(x, w, b)` in float64 PyTorch with inputs drawn from a
fixed seed, and the gradients of `sum(y * r)` (a fixed random output gradient `r`) with respect
to x, w and b: what `selfsup_kernels::conv2d` must reproduce, forward and backward.
Batch norm (training mode): `y = batch_norm(x, gamma, beta)` with the batch's statistics, the
batch mean and biased variance, and the gradients of `sum(y * r)` with respect to x, gamma and
beta: what `selfsup_kernels::batch_norm_train` must reproduce. Some cases go on as a ResNet
does after its batch norms, `y = relu(batch_norm(x) + residual)` (the residual, the ReLU or
both), with the residual's gradient too: what `selfsup_kernels::batch_norm_train_add_relu`
must reproduce.
Writes tests/golden/ops.json.

    .venv/bin/python tools/golden_ops.py
"""
import json
import pathlib

import torch

torch.manual_seed(0)

# name, batch, in, out, height, width, kernel, stride, padding, dilation, bias
CASES = [
    ("3x3_same", 2, 3, 4, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1), True),
    ("3x3_stride2_odd", 3, 4, 5, 6, 5, (3, 3), (2, 2), (1, 1), (1, 1), False),
    ("1x1_stride2", 2, 5, 3, 6, 6, (1, 1), (2, 2), (0, 0), (1, 1), False),
    ("3x3_dilated", 2, 3, 2, 8, 8, (3, 3), (1, 1), (2, 2), (2, 2), False),
    ("2x3_rect", 2, 2, 3, 5, 9, (2, 3), (1, 2), (1, 0), (1, 1), True),
    ("7x7_stem", 1, 3, 4, 12, 12, (7, 7), (2, 2), (3, 3), (1, 1), False),
]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]



def conv_case(name, n, c, o, h, w, k, s, p, d, has_bias):
    x = torch.randn(n, c, h, w, dtype=torch.float64, requires_grad=True)
    weight = (torch.randn(o, c, *k, dtype=torch.float64) * 0.3).requires_grad_()
    bias = torch.randn(o, dtype=torch.float64, requires_grad=True) if has_bias else None
    y = torch.nn.functional.conv2d(x, weight, bias, stride=s, padding=p, dilation=d)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    case = {
        "name": name,
        "x_shape": list(x.shape),
        "w_shape": list(weight.shape),
        "y_shape": list(y.shape),
        "stride": list(s),
        "padding": list(p),
        "dilation": list(d),
        "x": flat(x),
        "w": flat(weight),
        "r": flat(r),
        "y": flat(y),
        "x_grad": flat(x.grad),
        "w_grad": flat(weight.grad),
    }
    if has_bias:
        case["b"] = flat(bias)
        case["b_grad"] = flat(bias.grad)
    return case


cases = [conv_case(*case) for case in CASES]

# name, shape (batch, channels, spatial...), then a residual, then a ReLU
BN_CASES = [
    ("bn_4d", (4, 3, 5, 6), False, False),
    ("bn_2d", (6, 5), False, False),
    ("bn_offset", (3, 4, 7, 7), False, False),
    ("bn_relu_4d", (4, 3, 5, 6), False, True),
    ("bn_relu_2d", (6, 5), False, True),
    ("bn_add_relu", (3, 4, 6, 6), True, True),
    ("bn_add", (2, 3, 4, 4), True, False),
]
bn_cases = []
for name, shape, has_residual, relu in BN_CASES:
    x = torch.randn(*shape, dtype=torch.float64)
    if name == "bn_offset":
        # Large mean, small spread: the variance must not come from E[x²] − E[x]².
        x = x * 0.1 + 10.0
    x.requires_grad_()
    c = shape[1]
    gamma = (torch.rand(c, dtype=torch.float64) + 0.5).requires_grad_()
    beta = torch.randn(c, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
    residual = torch.randn(*shape, dtype=torch.float64, requires_grad=True) if has_residual else None
    if residual is not None:
        y = y + residual
    if relu:
        y = torch.relu(y)
    dims = [0] + list(range(2, x.dim()))
    mean = x.detach().mean(dim=dims)
    variance = x.detach().var(dim=dims, unbiased=False)
    # BatchNorm's running statistics after this step from (0, 1), momentum 0.1: PyTorch moves
    # the running variance with the unbiased batch variance.
    running_mean, running_var = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    torch.nn.functional.batch_norm(x.detach(), running_mean, running_var, training=True, momentum=0.1, eps=1e-5)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    case = {
        "name": name,
        "shape": list(shape),
        "relu": relu,
        "epsilon": 1e-5,
        "x": flat(x),
        "gamma": flat(gamma),
        "beta": flat(beta),
        "r": flat(r),
        "y": flat(y),
        "mean": flat(mean),
        "variance": flat(variance),
        "running_mean": flat(running_mean),
        "running_var": flat(running_var),
        "x_grad": flat(x.grad),
        "gamma_grad": flat(gamma.grad),
        "beta_grad": flat(beta.grad),
    }
    if residual is not None:
        case["residual"] = flat(residual)
        case["residual_grad"] = flat(residual.grad)
    bn_cases.append(case)

# Stride-1 convolutions with enough channels and wide enough images for flex's shifted products
# (`Shifted` in crates/kernels/src/native/flex.rs), forward, weight and input gradient: made
# after the cases above, so that theirs stay as they were.
SHIFTED_CASES = [
    ("3x3_shifted", 1, 16, 16, 14, 15, (3, 3), (1, 1), (1, 1), (1, 1), False),
    ("3x3_shifted_valid", 1, 16, 16, 6, 30, (3, 3), (1, 1), (0, 0), (1, 1), False),
    ("3x3_shifted_dilated", 1, 16, 16, 6, 32, (3, 3), (1, 1), (1, 2), (1, 2), True),
    ("1x1_shifted", 2, 16, 17, 5, 5, (1, 1), (1, 1), (0, 0), (1, 1), False),
]
cases += [conv_case(*case) for case in SHIFTED_CASES]

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "golden" / "ops.json"
out.write_text(json.dumps({"torch": torch.__version__, "cases": cases, "batch_norm": bn_cases}))
print(f"wrote {out} ({len(cases)} convolution and {len(bn_cases)} batch-norm cases)")
