"""Golden values for selfsup's Vision Transformer (crates/models/tests/vit.rs), from timm.

Everything comes from timm's `VisionTransformer` (timm 1.0.22 from PyPI, on torch 2.9) and
lightly 1.6.0's `get_2d_sincos_pos_embed` (MAE's `util/pos_embed.py`); nothing in the Rust test
is typed by hand.

1. `vit_layouts.json`: every state-dict entry (name, shape) of timm's ViT-Tiny, -Small and -Base
   at patch 16 / 224 pixels and at patch 4 / 32 pixels, built with `num_classes=0`, and the
   parameter count (`sum(p.numel() for p in model.parameters())`); one register model
   (`reg_tokens=4, no_embed_class=True`).
2. For two small networks (`vit_a`: learnt position embedding, no registers; `vit_b`: two
   registers, `no_embed_class=True`, MLP ratio 2, no qkv bias), random weights saved as
   `vit_a.safetensors` / `vit_b.safetensors` (timm's names, float32) and in `vit_forward.json`:
   an input batch, timm's `forward_features` (every token after the final norm), the pooled
   features (`forward_head(..., pre_logits=True)`), the last block's attention weights
   (softmax(q·kᵀ·scale) from the block's own `qkv`, heads first) and, for other image sizes,
   the position embedding resampled by timm's `resample_abs_pos_embed(antialias=False)` and the
   forward pass of a timm model built for that size with it.
3. `vit_sincos.json`: lightly's / MAE's 2-D sine-cosine embedding for a few sizes.

    .venv/bin/pip install --no-deps timm==1.0.22 safetensors lightly==1.6.0
    .venv/bin/python tools/golden_vit.py
"""
import json
import pathlib

import numpy as np
import timm
import torch
from lightly.models.utils import get_2d_sincos_pos_embed
from safetensors.torch import save_file
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "models" / "tests" / "golden"


def flat(t):
    return [float(x) for x in t.detach().double().flatten().tolist()]


def layouts():
    out = {}
    for name in ["tiny", "small", "base"]:
        for size, patch in [(224, 16), (32, 4)]:
            model = timm.create_model(
                f"vit_{name}_patch16_224", pretrained=False, num_classes=0,
                img_size=size, patch_size=patch,
            )
            out[f"{name}_{size}_{patch}"] = layout(model)
    model = timm.create_model(
        "vit_small_patch16_224", pretrained=False, num_classes=0, img_size=224,
        reg_tokens=4, no_embed_class=True,
    )
    out["small_224_16_reg4"] = layout(model)
    return out


def layout(model):
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
    }


def randomize(model, generator):
    """Weights of every tensor drawn afresh, norms away from 1 / 0, so that a swapped or
    transposed tensor shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))


def last_attention(model, x):
    """The last block's attention weights, computed from timm's modules."""
    x = model.patch_embed(x)
    x = model._pos_embed(x)
    x = model.norm_pre(x)
    for block in model.blocks[:-1]:
        x = block(x)
    attn = model.blocks[-1].attn
    y = model.blocks[-1].norm1(x)
    b, n, c = y.shape
    qkv = attn.qkv(y).reshape(b, n, 3, attn.num_heads, c // attn.num_heads).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)
    return ((q @ k.transpose(-2, -1)) * attn.scale).softmax(dim=-1)


def network(name, kwargs, other_sizes, seed):
    generator = torch.Generator().manual_seed(seed)
    model = VisionTransformer(num_classes=0, **kwargs).eval()
    randomize(model, generator)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / f"{name}.safetensors")
    (OUT / f"{name}.safetensors").chmod(0o644)
    size = kwargs["img_size"]
    x = torch.randn(2, kwargs.get("in_chans", 3), size, size, generator=generator)
    with torch.no_grad():
        tokens = model.forward_features(x)
        features = model.forward_head(tokens, pre_logits=True)
        attention = last_attention(model, x)
        record = {
            "config": kwargs,
            "input": {"shape": list(x.shape), "values": flat(x)},
            "tokens": {"shape": list(tokens.shape), "values": flat(tokens)},
            "features": {"shape": list(features.shape), "values": flat(features)},
            "attention": {"shape": list(attention.shape), "values": flat(attention)},
            "resized": [],
        }
        prefix = 0 if kwargs.get("no_embed_class") else model.num_prefix_tokens
        grid = size // kwargs["patch_size"]
        for other in other_sizes:
            g = other // kwargs["patch_size"]
            pos = resample_abs_pos_embed(
                model.pos_embed, new_size=(g, g), old_size=(grid, grid),
                num_prefix_tokens=prefix, antialias=False,
            )
            resized = VisionTransformer(num_classes=0, **{**kwargs, "img_size": other}).eval()
            resized.load_state_dict({**state, "pos_embed": pos}, strict=True)
            y = torch.randn(2, kwargs.get("in_chans", 3), other, other, generator=generator)
            record["resized"].append({
                "image_size": other,
                "pos_embed": {"shape": list(pos.shape), "values": flat(pos)},
                "input": {"shape": list(y.shape), "values": flat(y)},
                "features": {"shape": [2, kwargs["embed_dim"]],
                             "values": flat(resized.forward_head(resized.forward_features(y), pre_logits=True))},
            })
    return record


def main():
    torch.set_default_dtype(torch.float32)
    (OUT / "vit_layouts.json").write_text(json.dumps(layouts()) + "\n")
    forward = {
        "vit_a": network(
            "vit_a",
            dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4),
            other_sizes=[48, 16],
            seed=0,
        ),
        "vit_b": network(
            "vit_b",
            dict(img_size=32, patch_size=4, embed_dim=24, depth=2, num_heads=2, mlp_ratio=2.0,
                 reg_tokens=2, no_embed_class=True, qkv_bias=False),
            other_sizes=[40],
            seed=1,
        ),
    }
    (OUT / "vit_forward.json").write_text(json.dumps(forward) + "\n")
    sincos = [
        {"dim": dim, "grid": grid, "values": [float(v) for v in get_2d_sincos_pos_embed(dim, grid, cls_token=False).flatten()]}
        for dim, grid in [(8, 3), (16, 4), (64, 7)]
    ]
    (OUT / "vit_sincos.json").write_text(json.dumps(sincos) + "\n")


if __name__ == "__main__":
    main()
