"""Golden values for the `selfsup-models` tests (crates/models/tests/).

Everything comes from PyTorch / torchvision; nothing in the Rust tests is a hand-typed guess.

1. `architectures.json`: for torchvision's ResNet-18/34/50 with the CIFAR stem (the usual swap:
   `conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)`, `maxpool = nn.Identity()`) and with the
   untouched ImageNet stem, each with the classifier removed (`fc = nn.Identity()`) and with a
   10-class `fc`: the number of parameters (`sum(p.numel() for p in model.parameters())`), the
   number of batch-norm running-statistic elements, and every state-dict entry (name, shape,
   whether it is a parameter) except `num_batches_tracked`. The same counts for the projection
   and prediction heads, written as PyTorch `nn.Sequential`s (lightly / facebookresearch style).
2. `forward.json`: small ResNets built from torchvision's own `BasicBlock` / `Bottleneck`
   classes with narrow stage widths (the builder is checked against torchvision's `resnet18/34/50`
   at full width first), random weights and batch-norm statistics, their state dicts (float32
   values, PyTorch layout), inputs, and float64 outputs in eval mode (running statistics) and in
   train mode (batch statistics). Also a SimSiam projection head (train mode, with the running
   statistics after the step) and a lone `BatchNorm1d(affine=False)`.

    .venv/bin/python tools/golden_resnet.py
"""
import json
import pathlib

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "models" / "tests" / "golden"

DEPTHS = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3], "resnet50": [3, 4, 6, 3]}
BLOCKS = {"resnet18": BasicBlock, "resnet34": BasicBlock, "resnet50": Bottleneck}
FULL_WIDTHS = [64, 128, 256, 512]


def torchvision_resnet(name, stem, num_classes):
    """torchvision's model, with the CIFAR stem swap when `stem == "cifar"`."""
    model = getattr(torchvision.models, name)(weights=None)
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    if num_classes is None:
        model.fc = nn.Identity()
    else:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


class NarrowResNet(nn.Module):
    """torchvision's ResNet with configurable stage widths (torchvision hard-codes 64..512).

    Same module names as torchvision.models.resnet.ResNet, built from its block classes and
    `_make_layer` logic; checked against torchvision at full width in `check_builder`.
    """

    def __init__(self, block, depths, widths, stem, num_classes):
        super().__init__()
        self.inplanes = widths[0]
        if stem == "cifar":
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        for i, (planes, depth) in enumerate(zip(widths, depths)):
            stride = 1 if i == 0 else 2
            layers = []
            for j in range(depth):
                s = stride if j == 0 else 1
                downsample = None
                if s != 1 or self.inplanes != planes * block.expansion:
                    downsample = nn.Sequential(
                        nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=s, bias=False),
                        nn.BatchNorm2d(planes * block.expansion),
                    )
                layers.append(block(self.inplanes, planes, s, downsample))
                self.inplanes = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity() if num_classes is None else nn.Linear(self.inplanes, num_classes)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.features(x))


def entries(model):
    """(name, shape, is_parameter) of every state-dict entry but `num_batches_tracked`."""
    params = {n for n, _ in model.named_parameters()}
    return [
        [name, list(t.shape), name in params]
        for name, t in model.state_dict().items()
        if not name.endswith("num_batches_tracked")
    ]


def counts(model):
    n_params = sum(p.numel() for p in model.parameters())
    n_running = sum(
        t.numel()
        for name, t in model.state_dict().items()
        if name.endswith("running_mean") or name.endswith("running_var")
    )
    return {"params": n_params, "running": n_running}


def check_builder():
    for name in DEPTHS:
        for stem in ("cifar", "imagenet"):
            ours = NarrowResNet(BLOCKS[name], DEPTHS[name], FULL_WIDTHS, stem, 10)
            theirs = torchvision_resnet(name, stem, 10)
            assert entries(ours) == entries(theirs), f"NarrowResNet differs from torchvision {name}"


# ---------------------------------------------------------------------------------------------
# Heads, as PyTorch writes them.


def simclr_head(input_dim=512, hidden_dim=512, output_dim=128, hidden_batch_norm=False):
    """A small head: Linear, ReLU, Linear; with batch norm: Linear(no bias), BN, ReLU, Linear."""
    if hidden_batch_norm:
        return nn.Sequential(
            nn.Linear(input_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, output_dim),
        )
    return nn.Sequential(
        nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim)
    )


def simsiam_projection_head(input_dim=512, hidden_dim=2048, output_dim=2048):
    """SimSiam (and lightly's SimSiamProjectionHead): 3 fc layers, each followed by BN; the
    last BN has no affine parameters; ReLU after the first two. fc layers followed by BN have no
    bias."""
    return nn.Sequential(
        nn.Linear(input_dim, hidden_dim, bias=False),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim, bias=False),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, output_dim, bias=False),
        nn.BatchNorm1d(output_dim, affine=False),
    )


def simsiam_prediction_head(input_dim=128, hidden_dim=64, output_dim=128, hidden_batch_norm=True):
    """SimSiam's predictor: Linear(no bias), BN, ReLU, Linear; without batch norm: Linear, ReLU, Linear."""
    if hidden_batch_norm:
        return nn.Sequential(
            nn.Linear(input_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, output_dim),
        )
    return nn.Sequential(
        nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim)
    )


HEADS = {
    "simclr_default": lambda: simclr_head(),
    "simclr_resnet50": lambda: simclr_head(2048, 512, 128, hidden_batch_norm=True),
    "simsiam_projection_default": lambda: simsiam_projection_head(),
    "simsiam_projection_paper": lambda: simsiam_projection_head(2048, 2048, 2048),
    "simsiam_prediction_default": lambda: simsiam_prediction_head(),
    "simsiam_prediction_seed000": lambda: simsiam_prediction_head(hidden_batch_norm=False),
    "simsiam_prediction_paper": lambda: simsiam_prediction_head(2048, 512, 2048),
}


def architectures():
    archs = {}
    for name in DEPTHS:
        for stem in ("cifar", "imagenet"):
            model = torchvision_resnet(name, stem, None)
            archs[f"{name}_{stem}"] = {**counts(model), "entries": entries(model)}
            archs[f"{name}_{stem}_fc10"] = counts(torchvision_resnet(name, stem, 10))
    heads = {name: counts(make()) for name, make in HEADS.items()}
    return {
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "resnets": archs,
        "heads": heads,
    }


# ---------------------------------------------------------------------------------------------
# Forward goldens.


def flat(t):
    """Values as a flat list; 10 significant digits keep float32 values exact and float64
    outputs far beyond the tests' tolerance."""
    return [float(f"{float(v):.10g}") for v in t.detach().reshape(-1)]


def randomize(model):
    """Random weights (not torchvision's init, so that every entry matters), batch-norm affine
    parameters near (1, 0) and running statistics away from (0, 1). float32 values."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand_like(t) + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn_like(t) * 0.1)
            elif t.dim() == 1 and name.endswith("weight"):  # BN gamma
                t.copy_(torch.rand_like(t) + 0.5)
            elif t.dim() == 1:  # BN beta or a bias
                t.copy_(torch.randn_like(t) * 0.1)
            else:  # conv / linear weight: fan-in scaled
                fan_in = t[0].numel()
                t.copy_(torch.randn_like(t) * (2.0 / fan_in) ** 0.5)


def state(model):
    """State dict (PyTorch names and layout, float32 values) minus num_batches_tracked."""
    return {
        name: {"shape": list(t.shape), "values": flat(t)}
        for name, t in model.state_dict().items()
        if not name.endswith("num_batches_tracked")
    }


def resnet_case(name, stem, widths, num_classes, input_shape):
    model = NarrowResNet(BLOCKS[name], DEPTHS[name], widths, stem, num_classes)
    randomize(model)
    saved = state(model)
    x = torch.randn(*input_shape)
    model64 = model.double()
    model64.eval()
    with torch.no_grad():
        eval_features = model64.features(x.double())
        eval_output = model64(x.double())
    model64.train()
    with torch.no_grad():
        train_output = model64(x.double())
    return {
        "arch": name,
        "stem": stem,
        "widths": widths,
        "num_classes": num_classes,
        "input_shape": list(input_shape),
        "input": flat(x),
        "state": saved,
        "eval_features": flat(eval_features),
        "eval_output": flat(eval_output),
        "eval_output_shape": list(eval_output.shape),
        "train_output": flat(train_output),
        "train_output_shape": list(train_output.shape),
    }


def head_case():
    """SimSiam projection head (small dims), one train-mode forward, float64."""
    head = simsiam_projection_head(6, 5, 4)
    randomize(head)
    # Burn-side names: blocks.<i>.linear / blocks.<i>.norm (see selfsup_models::mlp).
    names = {"0": "blocks.0.linear", "1": "blocks.0.norm", "3": "blocks.1.linear",
             "4": "blocks.1.norm", "6": "blocks.2.linear", "7": "blocks.2.norm"}
    saved = {}
    for key, value in state(head).items():
        index, leaf = key.split(".", 1)
        saved[f"{names[index]}.{leaf}"] = value
    x = torch.randn(4, 6)
    head64 = head.double()
    head64.train()
    out = head64(x.double())
    running = {f"{names[k.split('.')[0]]}.{k.split('.', 1)[1]}": flat(v)
               for k, v in head64.state_dict().items()
               if k.endswith("running_mean") or k.endswith("running_var")}
    return {
        "dims": [6, 5, 4],
        "input_shape": [4, 6],
        "input": flat(x),
        "state": saved,
        "train_output": flat(out),
        "running_after": running,
    }


def non_affine_case():
    """BatchNorm1d(affine=False), train mode: output and running statistics after one step."""
    bn = nn.BatchNorm1d(5, affine=False, eps=1e-5, momentum=0.1).double()
    bn.train()
    x = torch.randn(7, 5, dtype=torch.float64) * 3.0 + 1.0
    out = bn(x)
    bn.eval()
    x_eval = torch.randn(3, 5, dtype=torch.float64)
    out_eval = bn(x_eval)
    return {
        "num_features": 5,
        "input_shape": [7, 5],
        "input": flat(x),
        "train_output": flat(out),
        "running_mean": flat(bn.running_mean),
        "running_var": flat(bn.running_var),
        "eval_input_shape": [3, 5],
        "eval_input": flat(x_eval),
        "eval_output": flat(out_eval),
    }


def forward_goldens():
    return {
        "torch_version": torch.__version__,
        "resnet18_cifar": resnet_case("resnet18", "cifar", [4, 8, 16, 32], 5, (2, 3, 8, 8)),
        "resnet50_imagenet": resnet_case("resnet50", "imagenet", [2, 4, 8, 16], None, (2, 3, 37, 37)),
        "simsiam_projection_head": head_case(),
        "non_affine_batch_norm": non_affine_case(),
    }


def main():
    torch.manual_seed(0)
    check_builder()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "architectures.json").write_text(json.dumps(architectures()) + "\n")
    (OUT / "forward.json").write_text(json.dumps(forward_goldens()) + "\n")
    print(f"wrote {OUT / 'architectures.json'} and {OUT / 'forward.json'}")


if __name__ == "__main__":
    main()
