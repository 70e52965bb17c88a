"""Golden values for the backend-parity test (tests/parity.rs).

A small conv -> batch-norm (training mode) -> ReLU -> global average pool -> linear network,
forward and backward in float64 PyTorch, with weights and input drawn from a fixed seed.
Writes tests/golden/parity.json: the parameters, the input, the output, the loss, every
gradient and the batch-norm running statistics after the step.

    .venv/bin/python tools/golden_parity.py
"""
import json
import pathlib

import torch

torch.manual_seed(0)
B, C_IN, C_MID, C_OUT, H, W = 2, 3, 4, 3, 6, 6

conv = torch.nn.Conv2d(C_IN, C_MID, 3, padding=1, bias=True).double()
bn = torch.nn.BatchNorm2d(C_MID, eps=1e-5, momentum=0.1).double()
fc = torch.nn.Linear(C_MID, C_OUT).double()
with torch.no_grad():
    bn.weight.copy_(torch.rand(C_MID) + 0.5)
    bn.bias.copy_(torch.randn(C_MID) * 0.1)
bn.train()

x = torch.randn(B, C_IN, H, W, dtype=torch.float64, requires_grad=True)
h = torch.relu(bn(conv(x)))
out = fc(h.mean(dim=(2, 3)))
loss = (out ** 2).mean()
loss.backward()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


golden = {
    "shapes": {"batch": B, "in": C_IN, "mid": C_MID, "out": C_OUT, "h": H, "w": W},
    "input": flat(x),
    "conv_weight": flat(conv.weight),
    "conv_bias": flat(conv.bias),
    "bn_gamma": flat(bn.weight),
    "bn_beta": flat(bn.bias),
    "fc_weight": flat(fc.weight),  # PyTorch layout [out, in]
    "fc_bias": flat(fc.bias),
    "output": flat(out),
    "loss": float(loss.detach()),
    "grad_input": flat(x.grad),
    "grad_conv_weight": flat(conv.weight.grad),
    "grad_conv_bias": flat(conv.bias.grad),
    "grad_bn_gamma": flat(bn.weight.grad),
    "grad_bn_beta": flat(bn.bias.grad),
    "grad_fc_weight": flat(fc.weight.grad),
    "grad_fc_bias": flat(fc.bias.grad),
    "bn_running_mean": flat(bn.running_mean),
    "bn_running_var": flat(bn.running_var),
    "torch_version": torch.__version__,
}
path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "golden" / "parity.json"
path.write_text(json.dumps(golden, indent=1) + "\n")
print(f"wrote {path} (loss {float(loss.detach()):.6f})")
