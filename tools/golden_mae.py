"""Golden values for selfsup's MAE (crates/models/tests/mae.rs), from the paper's code.

The reference is a transcription of `facebookresearch/mae`'s `models_mae.py`
(`MaskedAutoencoderViT.random_masking`, `forward_encoder`, `forward_decoder`, `forward_loss`,
`patchify`), run on timm's `VisionTransformer` encoder (the network of `vit_a.safetensors`,
written by tools/golden_vit.py) and a decoder of timm `Block`s, as MAE's code builds it; its
`patchify` is checked against lightly 1.6.0's `lightly.models.utils.patchify` and its
sine-cosine table is lightly's `get_2d_sincos_pos_embed` (MAE's `util/pos_embed.py`).

`mae_forward.json`: the decoder's weights (PyTorch names and layout), the input images, the
noise of `random_masking`, and MAE's `ids_keep`, `ids_restore`, `mask`, the decoder's
predictions and the loss with and without the normalised-pixel target.

    .venv/bin/pip install --no-deps timm==1.0.22 safetensors lightly==1.6.0
    .venv/bin/python tools/golden_vit.py    # vit_a.safetensors first
    .venv/bin/python tools/golden_mae.py
"""
import json
from functools import partial
import pathlib

import torch
from lightly.models.utils import get_2d_sincos_pos_embed, patchify as lightly_patchify
from safetensors.torch import load_file
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "models" / "tests" / "golden"

IMG, PATCH, DIM, DEPTH, HEADS = 32, 8, 32, 2, 4
DEC_DIM, DEC_DEPTH, DEC_HEADS = 16, 1, 2
MASK_RATIO = 0.75


def flat(t):
    return [float(x) for x in t.detach().double().flatten().tolist()]


def patchify(imgs, p):
    """models_mae.py: imgs (N, 3, H, W) -> (N, L, patch_size**2 * 3)."""
    h = w = imgs.shape[2] // p
    x = imgs.reshape(shape=(imgs.shape[0], 3, h, p, w, p))
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(shape=(imgs.shape[0], h * w, p**2 * 3))


def random_masking(x, mask_ratio, noise):
    """models_mae.py, with the noise passed in instead of drawn."""
    N, L, D = x.shape
    len_keep = int(L * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
    mask = torch.ones([N, L])
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)
    return x_masked, mask, ids_restore, ids_keep


def forward_encoder(vit, x, mask_ratio, noise):
    x = vit.patch_embed(x)
    x = x + vit.pos_embed[:, 1:, :]
    x, mask, ids_restore, ids_keep = random_masking(x, mask_ratio, noise)
    cls_token = vit.cls_token + vit.pos_embed[:, :1, :]
    cls_tokens = cls_token.expand(x.shape[0], -1, -1)
    x = torch.cat((cls_tokens, x), dim=1)
    for blk in vit.blocks:
        x = blk(x)
    x = vit.norm(x)
    return x, mask, ids_restore, ids_keep


class Decoder(nn.Module):
    def __init__(self, num_patches):
        super().__init__()
        self.decoder_embed = nn.Linear(DIM, DEC_DIM, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DEC_DIM))
        self.decoder_pos_embed = nn.Parameter(
            torch.zeros(1, num_patches + 1, DEC_DIM), requires_grad=False
        )
        self.decoder_blocks = nn.ModuleList(
            [Block(DEC_DIM, DEC_HEADS, 4.0, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))
             for _ in range(DEC_DEPTH)]
        )
        self.decoder_norm = nn.LayerNorm(DEC_DIM, eps=1e-6)
        self.decoder_pred = nn.Linear(DEC_DIM, PATCH**2 * 3, bias=True)

    def forward(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_norm(x)
        x = self.decoder_pred(x)
        return x[:, 1:, :]


def forward_loss(imgs, pred, mask, norm_pix_loss):
    target = patchify(imgs, PATCH)
    if norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    loss = (pred - target) ** 2
    loss = loss.mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def main():
    g = torch.Generator().manual_seed(3)
    vit = VisionTransformer(img_size=IMG, patch_size=PATCH, embed_dim=DIM, depth=DEPTH,
                            num_heads=HEADS, num_classes=0).eval()
    vit.load_state_dict(load_file(OUT / "vit_a.safetensors"), strict=True)
    grid = IMG // PATCH
    decoder = Decoder(grid * grid).eval()
    with torch.no_grad():
        for name, p in decoder.named_parameters():
            if name == "decoder_pos_embed":
                table = get_2d_sincos_pos_embed(DEC_DIM, grid, cls_token=True)
                p.copy_(torch.from_numpy(table).float().unsqueeze(0))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    imgs = torch.randn(2, 3, IMG, IMG, generator=g)
    noise = torch.rand(2, grid * grid, generator=g)
    assert torch.equal(patchify(imgs, PATCH), lightly_patchify(imgs, PATCH))
    with torch.no_grad():
        latent, mask, ids_restore, ids_keep = forward_encoder(vit, imgs, MASK_RATIO, noise)
        pred = decoder(latent, ids_restore)
        record = {
            "config": {"img_size": IMG, "patch_size": PATCH, "decoder_dim": DEC_DIM,
                       "decoder_depth": DEC_DEPTH, "decoder_heads": DEC_HEADS,
                       "mask_ratio": MASK_RATIO},
            "decoder_state": {k: {"shape": list(v.shape), "values": flat(v)}
                              for k, v in decoder.state_dict().items()},
            "images": {"shape": list(imgs.shape), "values": flat(imgs)},
            "noise": flat(noise),
            "ids_keep": ids_keep.flatten().tolist(),
            "ids_restore": ids_restore.flatten().tolist(),
            "mask": flat(mask),
            "latent": {"shape": list(latent.shape), "values": flat(latent)},
            "target": {"shape": list(patchify(imgs, PATCH).shape), "values": flat(patchify(imgs, PATCH))},
            "pred": {"shape": list(pred.shape), "values": flat(pred)},
            "loss_norm_pix": float(forward_loss(imgs, pred, mask, True)),
            "loss": float(forward_loss(imgs, pred, mask, False)),
        }
    (OUT / "mae_forward.json").write_text(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
