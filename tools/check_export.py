"""Checks a ResNet exported by selfsup (`ResNet::save_torchvision_safetensors`) in PyTorch.

    .venv/bin/python tools/check_export.py MODEL.safetensors ARCH STEM INPUT.npy EXPECTED.npy

- MODEL.safetensors: the export (torchvision state dict, safetensors). It is read by hand (the
  8-byte little-endian header length, the JSON header, `torch.frombuffer` on each tensor's
  bytes), so the `safetensors` package is not needed.
- ARCH: resnet18, resnet34 or resnet50; STEM: cifar (`conv1 = nn.Conv2d(3, 64, 3, 1, 1,
  bias=False)`, `maxpool = nn.Identity()`) or imagenet (torchvision's stem untouched).
- INPUT.npy: float32 images `[N, 3, H, W]`; EXPECTED.npy: what selfsup computed for them in
  eval mode, float32: the features `[N, C]` (`forward_features`) when the export has no
  classifier, the logits `[N, num_classes]` (`forward`) when it has one. Both are NumPy `.npy`
  files (`numpy.save`).

The model is `torchvision.models.<ARCH>(num_classes=...)`, `num_classes` read from `fc.weight`
in the export, or with `fc = nn.Identity()` when the export has no `fc.*`. It loads the state
dict with `load_state_dict(strict=True)` (every key, `num_batches_tracked` included), runs the
input in eval mode in float64, and exits with status 1 if max |torch - selfsup| > --atol
(default 1e-4). The maximum difference is printed either way.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torchvision
from torch import nn

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
}


def read_safetensors(path):
    """The state dict in a safetensors file, parsed by hand."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if len(data) < 8:
        sys.exit(f"{path}: too short for a safetensors file ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        sys.exit(f"{path}: the header length {header_len} exceeds the file")
    header = json.loads(data[8 : 8 + header_len])
    header.pop("__metadata__", None)
    body = memoryview(data)[8 + header_len :]
    state = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if end > len(body):
            sys.exit(f"{path}: `{name}` ends at byte {end}, past the data ({len(body)} bytes)")
        if start == end:
            tensor = torch.empty(info["shape"], dtype=dtype)
        else:
            # frombuffer shares the bytes; clone to own them.
            tensor = torch.frombuffer(body[start:end], dtype=dtype).clone()
        state[name] = tensor.reshape(info["shape"])
    return state


def build(arch, stem, state):
    """torchvision's model for the export: the stem patched, the classifier sized or removed."""
    if "fc.weight" in state:
        model = getattr(torchvision.models, arch)(weights=None, num_classes=state["fc.weight"].shape[0])
    else:
        model = getattr(torchvision.models, arch)(weights=None)
        model.fc = nn.Identity()
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the exported .safetensors file")
    parser.add_argument("arch", choices=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("stem", choices=["cifar", "imagenet"])
    parser.add_argument("input", help="float32 images [N, 3, H, W] (.npy)")
    parser.add_argument("expected", help="selfsup's eval-mode features or logits (.npy)")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest allowed |difference|")
    args = parser.parse_args()

    state = read_safetensors(args.model)
    model = build(args.arch, args.stem, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        sys.exit(f"FAIL: {args.model} does not load into torchvision's {args.arch}: {e}")
    model = model.double().eval()

    x = torch.from_numpy(np.load(args.input)).double()
    expected = torch.from_numpy(np.load(args.expected)).double()
    with torch.no_grad():
        out = model(x)
    if out.shape != expected.shape:
        sys.exit(f"FAIL: PyTorch's output has shape {tuple(out.shape)}, selfsup's {tuple(expected.shape)}")
    diff = (out - expected).abs().max().item()
    scale = out.abs().max().item()
    print(f"{args.arch} {args.stem}: output {tuple(out.shape)}, max |torch - selfsup| = {diff:.3e} (max |torch| = {scale:.3e})")
    if not diff <= args.atol:
        sys.exit(f"FAIL: max |torch - selfsup| = {diff:.3e} > {args.atol:g}")


if __name__ == "__main__":
    main()
