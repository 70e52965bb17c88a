"""Golden state-dict layouts for the export tests (crates/models/tests/export.rs).

For torchvision's ResNet-18 and ResNet-50, with the CIFAR stem (`conv1 = nn.Conv2d(3, 64, 3, 1,
1, bias=False)`, `maxpool = nn.Identity()`) or the ImageNet stem, without a classifier
(`fc = nn.Identity()`) or with a 10-class `fc`: every entry of `model.state_dict()` in order,
as `[name, shape, dtype]` (`num_batches_tracked` included: `load_state_dict(strict=True)` wants
it). An export must hold exactly these keys, with these shapes.

    .venv/bin/python tools/golden_export.py
"""
import json
import pathlib

import torch
import torchvision
from torch import nn

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "models" / "tests" / "golden"


def model(arch, stem, num_classes):
    if num_classes is None:
        net = getattr(torchvision.models, arch)(weights=None)
        net.fc = nn.Identity()
    else:
        net = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    if stem == "cifar":
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    return net


def main():
    cases = {}
    for arch in ["resnet18", "resnet50"]:
        for stem in ["cifar", "imagenet"]:
            for num_classes in [None, 10]:
                name = f"{arch}_{stem}" + ("" if num_classes is None else f"_fc{num_classes}")
                state = model(arch, stem, num_classes).state_dict()
                cases[name] = [
                    [key, list(t.shape), str(t.dtype).removeprefix("torch.")]
                    for key, t in state.items()
                ]
    golden = {
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "state_dicts": cases,
    }
    # One entry per line: diffs stay readable.
    lines = [
        "{",
        f' "torch_version": {json.dumps(golden["torch_version"])},',
        f' "torchvision_version": {json.dumps(golden["torchvision_version"])},',
        ' "state_dicts": {',
    ]
    for i, (name, entries) in enumerate(cases.items()):
        lines.append(f"  {json.dumps(name)}: [")
        lines += [f"   {json.dumps(e)}," for e in entries[:-1]] + [f"   {json.dumps(entries[-1])}"]
        lines.append("  ]" + ("," if i + 1 < len(cases) else ""))
    lines += [" }", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == golden
    path = OUT / "export_state_dicts.json"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
