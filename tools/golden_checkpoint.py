"""Checkpoints saved by PyTorch for the weight-loading tests (crates/models/tests/pretrained.rs).

Two small torchvision-layout ResNets, random weights, batch-norm running statistics from a few
train-mode forward passes (so that `running_mean`, `running_var` and `num_batches_tracked` are
all non-trivial), saved as PyTorch saves them:

1. `resnet18_cifar`: ResNet-18 depths [2, 2, 2, 2] with basic blocks of widths [4, 8, 8, 8], the
   CIFAR stem (3x3/s1 conv, no max-pool) and a 5-class `fc`. The state dict as it is: the keys
   of `torchvision.models.resnet18()` (`conv1.weight`, `layer2.0.downsample.1.running_var`, ...).
2. `ssl_resnet_imagenet`: bottleneck blocks, depths [1, 1, 1, 1], widths [2, 4, 4, 4], the ImageNet
   stem (7x7/s2 conv + max-pool) and no classifier, inside a solo-learn-style SSL model
   (`backbone.*` plus a `projector.*` MLP), so that the backbone's keys carry the prefix
   `backbone.` and sit beside keys that are not the backbone's.

For each: `<name>.pt` (`torch.save(model.state_dict())`), `<name>.safetensors` (written here,
float32 tensors plus the int64 `num_batches_tracked` counters, in the format of the
`safetensors` package, which the venv does not carry), and in `checkpoints.json` a fixed input
and the float64 eval-mode output of PyTorch (`features`, and `logits` where there is an `fc`).

The architecture code (`NarrowResNet`, torchvision's own `BasicBlock` / `Bottleneck` with
configurable widths) comes from `golden_resnet.py`, where it is checked against torchvision.

    .venv/bin/python tools/golden_checkpoint.py
"""
import json
import pathlib
import struct

import torch
from torch import nn

from golden_resnet import NarrowResNet, BLOCKS, flat, randomize

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "models" / "tests" / "golden"

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save_safetensors(state, path):
    """The safetensors layout: u64 little-endian header length, JSON header with each tensor's
    dtype, shape and [begin, end) byte range, then the raw little-endian bytes."""
    header, chunks, offset = {}, [], 0
    for name, t in state.items():
        data = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference writer pads the header to 8 bytes
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class SoloLikeModel(nn.Module):
    """solo-learn's layout: `self.backbone` (torchvision ResNet without `fc`) and
    `self.projector`; lightly's `backbone` / `projection_head` is the same idea."""

    def __init__(self, backbone, feature_dim):
        super().__init__()
        self.backbone = backbone
        self.projector = nn.Sequential(
            nn.Linear(feature_dim, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4)
        )

    def forward(self, x):
        return self.projector(self.backbone(x))


def warm_up(model, input_shape, steps=3):
    """Train-mode forward passes: running statistics move, num_batches_tracked counts."""
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn(4, *input_shape[1:]) * 2.0 + 0.5)


def case(name, arch, depths, widths, stem, num_classes, input_shape, wrap):
    block = BLOCKS[arch]
    backbone = NarrowResNet(block, depths, widths, stem, num_classes)
    randomize(backbone)
    model = SoloLikeModel(backbone, widths[3] * block.expansion) if wrap else backbone
    warm_up(model, input_shape)
    state = model.state_dict()
    assert all(t.dtype in SAFETENSORS_DTYPES for t in state.values())
    assert any(k.endswith("num_batches_tracked") and int(v) > 0 for k, v in state.items())

    torch.save(state, OUT / f"{name}.pt")
    save_safetensors(state, OUT / f"{name}.safetensors")

    x = torch.randn(*input_shape)
    backbone64 = backbone.double().eval()
    with torch.no_grad():
        features = backbone64.features(x.double())
        out = {"features": flat(features), "features_shape": list(features.shape)}
        if num_classes is not None:
            logits = backbone64(x.double())
            out.update(logits=flat(logits), logits_shape=list(logits.shape))
    return {
        "file_stem": name,
        "prefix": "backbone." if wrap else "",
        "block": "bottleneck" if block.expansion == 4 else "basic",
        "depths": depths,
        "widths": widths,
        "stem": stem,
        "num_classes": num_classes,
        "input_shape": list(input_shape),
        "input": flat(x),
        "num_keys": len(state),
        **out,
    }


def main():
    torch.manual_seed(4)
    OUT.mkdir(parents=True, exist_ok=True)
    cases = {
        "resnet18_cifar": case(
            "resnet18_cifar", "resnet18", [2, 2, 2, 2], [4, 8, 8, 8], "cifar", 5, (2, 3, 8, 8), False
        ),
        "ssl_resnet_imagenet": case(
            "ssl_resnet_imagenet", "resnet50", [1, 1, 1, 1], [2, 4, 4, 4], "imagenet", None,
            (2, 3, 32, 32), True,
        ),
    }
    golden = {"torch_version": torch.__version__, "cases": cases}
    (OUT / "checkpoints.json").write_text(json.dumps(golden) + "\n")
    for c in cases.values():
        for ext in ("pt", "safetensors"):
            p = OUT / f"{c['file_stem']}.{ext}"
            print(f"wrote {p} ({p.stat().st_size} bytes)")
    print(f"wrote {OUT / 'checkpoints.json'}")


if __name__ == "__main__":
    main()
