//! Integration tests of `selfsup-models`, one binary (`cargo test --test models`).
//!
//! Expected numbers come from PyTorch / torchvision through `tools/golden_resnet.py`, which
//! writes `tests/golden/architectures.json` and `tests/golden/forward.json`, and
//! `tools/golden_checkpoint.py`, which writes the checkpoints that `pretrained` loads
//! (`tests/golden/*.safetensors`, `*.pt`) and `tests/golden/checkpoints.json`;
//! `tools/golden_export.py` writes torchvision's state-dict layouts that `export` checks
//! (`tests/golden/export_state_dicts.json`); `tools/golden_vit.py` writes timm's ViT layouts,
//! weights and outputs (`tests/golden/vit_*`), and `tools/golden_mae.py` MAE's masking, decoder
//! and loss (`tests/golden/mae_forward.json`).

mod support;

mod export;
mod heads;
mod mae;
mod methods;
mod pretrained;
mod resnet;
mod vit;
