//! MAE's masking, decoder, pixel targets and loss against the paper's code (`models_mae.py`,
//! transcribed in `tools/golden_mae.py` on timm's ViT and `Block`s; `tests/golden/mae_forward.json`).

use std::path::Path;

use burn::prelude::*;
use selfsup_losses::mae_loss;
use selfsup_models::{MaeDecoderConfig, MaskPlan, VitConfig, patchify, unpatchify};
use serde_json::Value;

use crate::support::{as_f32s, as_usize, assert_close, load_torch_state, tensor, values};

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/mae_forward.json")).expect("mae_forward.json parses")
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(as_usize).collect()
}

#[test]
fn masking_follows_maes_random_masking() {
    let g = golden();
    let plan = MaskPlan::from_noise(&as_f32s(&g["noise"]), 2, 16, 0.75);
    assert_eq!(plan.kept(), 4);
    assert_eq!(plan.ids_keep(), usizes(&g["ids_keep"]).as_slice());
    assert_eq!(plan.mask(), as_f32s(&g["mask"]));
}

#[test]
fn patchify_is_maes_and_unpatchify_inverts_it() {
    let g = golden();
    let device = Device::flex();
    let images: Tensor<4> = tensor(&g["images"]["values"], &g["images"]["shape"], &device);
    let patches = patchify(images.clone(), 8);
    assert_eq!(patches.dims(), [2, 16, 192]);
    assert_eq!(values(patches.clone()), as_f32s(&g["target"]["values"]));
    assert_eq!(values(unpatchify(patches, 8, 3, [4, 4])), values(images));
}

#[test]
fn encoder_decoder_and_loss_match_maes_code() {
    let g = golden();
    let device = Device::flex();
    let vit = VitConfig::new(32, 8, 32, 2, 4)
        .init(&device)
        .load_timm_safetensors(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vit_a.safetensors"),
        )
        .unwrap();
    let decoder = MaeDecoderConfig::new(32, 4, 8)
        .with_dim(16)
        .with_depth(1)
        .with_heads(2)
        .init(&device);
    let decoder = load_torch_state(decoder, &g["decoder_state"]);
    let images: Tensor<4> = tensor(&g["images"]["values"], &g["images"]["shape"], &device);
    let plan = MaskPlan::from_noise(&as_f32s(&g["noise"]), 2, 16, 0.75);

    let (prefix, patches) = vit.embed(images.clone());
    let latent = vit.encode(Tensor::cat(vec![prefix, plan.keep(patches)], 1));
    assert_eq!(latent.dims(), [2, 5, 32]);
    let expected = as_f32s(&g["latent"]["values"]);
    assert_close("latent", &values(latent.clone()), &expected, 2e-4, 2e-4);

    let pred = decoder.forward(latent, &plan);
    assert_eq!(pred.dims(), [2, 16, 192]);
    let expected = as_f32s(&g["pred"]["values"]);
    assert_close("prediction", &values(pred.clone()), &expected, 2e-4, 2e-4);

    let target = patchify(images, 8);
    let mask = plan.mask_tensor(&device);
    for (norm_pix, key) in [(true, "loss_norm_pix"), (false, "loss")] {
        let loss = mae_loss(pred.clone(), target.clone(), mask.clone(), norm_pix);
        let expected = g[key].as_f64().unwrap() as f32;
        assert_close(key, &values(loss), &[expected], 1e-5, 1e-5);
    }
}

#[test]
fn the_loss_counts_only_masked_patches() {
    let device = Device::flex();
    let pred = Tensor::<3>::zeros([1, 2, 3], &device);
    // Patch 0 is exact, patch 1 is off by 1 everywhere; only patch 1 is masked, then only 0.
    let target = Tensor::<3>::from_floats([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]], &device);
    let masked_second = Tensor::<2>::from_floats([[0.0, 1.0]], &device);
    let masked_first = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
    assert_eq!(
        values(mae_loss(pred.clone(), target.clone(), masked_second, false)),
        [1.0]
    );
    assert_eq!(values(mae_loss(pred, target, masked_first, false)), [0.0]);
}

#[test]
#[should_panic(expected = "keeps none of 4 patches")]
fn a_mask_ratio_that_keeps_nothing_is_refused() {
    MaskPlan::from_noise(&[0.1, 0.2, 0.3, 0.4], 1, 4, 0.9);
}
