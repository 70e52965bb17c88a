#!/usr/bin/env python3
"""Transcribes solo-learn's pre-training configurations into the table that
`crates/train/tests/recipes.rs` checks every method's published preset against.

solo-learn (https://github.com/vturrisi/solo-learn) fills each YAML file's missing keys with the
defaults of `solo/args/pretrain.py`, `solo/methods/base.py` and the method's own
`solo/methods/<method>.py` (`omegaconf_select(cfg, "key", default)`), and scales the LR by the
total batch (`batch_size` per device x devices / 256). This script does the same merge, from a
checkout of solo-learn, and writes one record per (method, scale):

    python tools/solo_learn_recipes.py SOLO_LEARN_CHECKOUT > crates/train/tests/data/solo_learn_recipes.json

and, under "finetune", one record per fine-tuning file (`scripts/finetune/<scale>/mae.yaml`,
MAE's fine-tuning, with the defaults of `solo/args/linear.py` and `solo/methods/linear.py`).

It reads the files through `git show HEAD:<path>` and records the commit, so the table says
exactly which version of each file it transcribes. Needs PyYAML.
"""

import ast
import json
import re
import subprocess
import sys

import yaml

# selfsup's method name -> solo-learn's method file and configuration name.
METHODS = {
    "simclr": ("simclr", "simclr"),
    "simsiam": ("simsiam", "simsiam"),
    "byol": ("byol", "byol"),
    "moco": ("mocov2plus", "mocov2plus"),
    "moco-v3": ("mocov3", "mocov3"),
    "barlow-twins": ("barlow_twins", "barlow"),
    "vicreg": ("vicreg", "vicreg"),
    "dino": ("dino", "dino"),
    "swav": ("swav", "swav"),
    "nnclr": ("nnclr", "nnclr"),
    "mae": ("mae", "mae"),
    "dino-vit": ("dino", "dino_vit"),
    "moco-v3-vit": ("mocov3", "mocov3_vit"),
}
SCALES = {"cifar": "cifar", "imagenet-100": "imagenet-100", "imagenet": "imagenet"}

SELECT = re.compile(r'omegaconf_select\(\s*cfg,\s*"([^"]+)",\s*(.+?)\s*,?\s*\)', re.S)


def show(repo, path):
    return subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout


def defaults(source):
    """Every `omegaconf_select(cfg, "a.b", default)` of a Python file, as {"a.b": default}."""
    found = {}
    for key, default in SELECT.findall(source):
        try:
            found[key] = ast.literal_eval(default)
        except (ValueError, SyntaxError):
            pass  # a default computed from other keys: not a literal, not needed here
    return found


def get(cfg, key):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def put(cfg, key, value):
    parts = key.split(".")
    node = cfg
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(parts[-1], value)


def main():
    repo = sys.argv[1]
    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    common = defaults(show(repo, "solo/methods/base.py"))
    args = defaults(show(repo, "solo/args/pretrain.py"))
    records = []
    for ours, (module, config) in METHODS.items():
        method_defaults = defaults(show(repo, f"solo/methods/{module}.py"))
        for scale, folder in SCALES.items():
            path = f"scripts/pretrain/{folder}/{config}.yaml"
            try:
                cfg = yaml.safe_load(show(repo, path))
            except subprocess.CalledProcessError:
                continue  # no configuration of this method at this scale
            for key, value in {**common, **method_defaults}.items():
                if key.startswith(("method_kwargs.", "momentum.", "scheduler.")):
                    put(cfg, key, value)
            name = cfg["optimizer"]["name"]
            for key, value in args.items():
                if key.startswith("optimizer.kwargs."):
                    # pretrain.py's kwargs defaults are per optimizer
                    if key.endswith("momentum") and name in ("sgd", "lars"):
                        put(cfg, key, value)
                    elif key.split(".")[-1] in ("eta", "clip_lr", "exclude_bias_n_norm") and name == "lars":
                        put(cfg, key, value)
                    elif key.endswith("betas") and name == "adamw":
                        put(cfg, key, value)
            put(cfg, "optimizer.exclude_bias_n_norm_wd", common.get("optimizer.exclude_bias_n_norm_wd", False))
            devices = cfg.get("devices", [0])
            devices = len(devices) if isinstance(devices, list) else int(devices)
            records.append(
                {
                    "method": ours,
                    "scale": scale,
                    "file": path,
                    "commit": commit,
                    "devices": devices,
                    "batch_size": cfg["optimizer"]["batch_size"] * devices,
                    "optimizer": name,
                    "lr": float(cfg["optimizer"]["lr"]),
                    "classifier_lr": float(cfg["optimizer"]["classifier_lr"]),
                    "weight_decay": float(cfg["optimizer"]["weight_decay"]),
                    "optimizer_kwargs": cfg["optimizer"].get("kwargs", {}),
                    "exclude_bias_n_norm_wd": cfg["optimizer"]["exclude_bias_n_norm_wd"],
                    "scheduler": cfg["scheduler"]["name"],
                    "warmup_epochs": cfg["scheduler"]["warmup_epochs"],
                    "warmup_start_lr": float(cfg["scheduler"]["warmup_start_lr"]),
                    "min_lr": float(cfg["scheduler"]["min_lr"]),
                    "max_epochs": cfg["max_epochs"],
                    "momentum": cfg.get("momentum", {}),
                    "method_kwargs": cfg.get("method_kwargs", {}),
                    "backbone": cfg.get("backbone", {}),
                }
            )
    finetune = finetune_records(repo, commit)
    json.dump(
        {
            "source": "https://github.com/vturrisi/solo-learn",
            "commit": commit,
            "records": records,
            "finetune": finetune,
        },
        sys.stdout,
        indent=1,
        sort_keys=True,
    )
    print()


def finetune_records(repo, commit):
    """solo-learn's fine-tuning files (`scripts/finetune/<scale>/mae.yaml`, run by
    `main_linear.py` with `finetune: True`), merged with the defaults of `solo/args/linear.py`
    and `solo/methods/linear.py`."""
    linear = {**defaults(show(repo, "solo/args/linear.py")), **defaults(show(repo, "solo/methods/linear.py"))}
    out = []
    for scale in ("imagenet-100", "imagenet"):
        path = f"scripts/finetune/{scale}/mae.yaml"
        cfg = yaml.safe_load(show(repo, path))
        for key, value in linear.items():
            if key.startswith(("scheduler.", "optimizer.")) or key in ("label_smoothing", "mixup", "cutmix"):
                put(cfg, key, value)
        if cfg["optimizer"]["name"] == "adamw":
            put(cfg, "optimizer.kwargs.betas", [0.9, 0.999])  # linear.py's default for adamw
        devices = cfg.get("devices", [0])
        devices = len(devices) if isinstance(devices, list) else int(devices)
        out.append(
            {
                "method": cfg["pretrain_method"],
                "scale": scale,
                "file": path,
                "commit": commit,
                "batch_size": cfg["optimizer"]["batch_size"] * devices,
                "optimizer": cfg["optimizer"]["name"],
                "lr": float(cfg["optimizer"]["lr"]),
                "weight_decay": float(cfg["optimizer"]["weight_decay"]),
                "layer_decay": float(cfg["optimizer"]["layer_decay"]),
                "betas": cfg["optimizer"]["kwargs"]["betas"],
                "scheduler": cfg["scheduler"]["name"],
                "warmup_epochs": cfg["scheduler"]["warmup_epochs"],
                "warmup_start_lr": float(cfg["scheduler"]["warmup_start_lr"]),
                "min_lr": float(cfg["scheduler"]["min_lr"]),
                "max_epochs": cfg["max_epochs"],
                "label_smoothing": float(cfg["label_smoothing"]),
                "mixup": float(cfg["mixup"]),
                "cutmix": float(cfg["cutmix"]),
                "backbone": cfg.get("backbone", {}),
            }
        )
    return out


if __name__ == "__main__":
    main()
