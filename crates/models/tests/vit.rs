//! The Vision Transformer against timm (`tools/golden_vit.py`): state-dict layouts and parameter
//! counts of ViT-Tiny/Small/Base, loading timm state dicts (`vit_a`, `vit_b.safetensors`) and
//! matching timm's tokens, features and last-block attention, the position embedding resampled
//! to other image sizes, MAE's sine-cosine embedding, and the export back to timm's layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::prelude::*;
use burn::store::{ModuleStore, SafetensorsStore};
use selfsup_models::pretrained::{LoadErrorKind, LoadOptions};
use selfsup_models::vit::sincos_2d;
use selfsup_models::{Backbone, BackboneConfig, DropPath, PositionEmbedding, Vit, VitConfig};
use serde_json::Value;

use crate::support::{
    as_f32s, as_shape, as_usize, assert_close, counts, state_entries, tensor, values,
};

fn golden(name: &str) -> &'static Value {
    static LAYOUTS: OnceLock<Value> = OnceLock::new();
    static FORWARD: OnceLock<Value> = OnceLock::new();
    static SINCOS: OnceLock<Value> = OnceLock::new();
    match name {
        "layouts" => LAYOUTS
            .get_or_init(|| serde_json::from_str(include_str!("golden/vit_layouts.json")).unwrap()),
        "forward" => FORWARD
            .get_or_init(|| serde_json::from_str(include_str!("golden/vit_forward.json")).unwrap()),
        _ => SINCOS
            .get_or_init(|| serde_json::from_str(include_str!("golden/vit_sincos.json")).unwrap()),
    }
}

fn golden_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// The [`VitConfig`] of a golden network's timm arguments.
fn config_of(case: &Value) -> VitConfig {
    let c = &case["config"];
    let get = |k: &str| c.get(k);
    VitConfig::new(
        as_usize(&c["img_size"]),
        as_usize(&c["patch_size"]),
        as_usize(&c["embed_dim"]),
        as_usize(&c["depth"]),
        as_usize(&c["num_heads"]),
    )
    .with_mlp_ratio(get("mlp_ratio").map_or(4.0, |v| v.as_f64().unwrap()))
    .with_registers(get("reg_tokens").map_or(0, as_usize))
    .with_class_position(!get("no_embed_class").is_some_and(|v| v.as_bool().unwrap()))
    .with_qkv_bias(get("qkv_bias").is_none_or(|v| v.as_bool().unwrap()))
}

fn loaded(name: &str, device: &Device) -> Vit {
    let case = &golden("forward")[name];
    config_of(case)
        .init(device)
        .load_timm_safetensors(golden_file(&format!("{name}.safetensors")))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn check_forward(name: &str) {
    let device = Device::flex();
    let case = &golden("forward")[name];
    let vit = loaded(name, &device);
    let x: Tensor<4> = tensor(&case["input"]["values"], &case["input"]["shape"], &device);

    let tokens = vit.forward_tokens(x.clone());
    assert_eq!(tokens.dims().to_vec(), as_shape(&case["tokens"]["shape"]));
    let expected = as_f32s(&case["tokens"]["values"]);
    assert_close(
        &format!("{name} tokens"),
        &values(tokens),
        &expected,
        2e-4,
        2e-4,
    );

    let features = vit.forward_features(x.clone());
    assert_eq!(
        features.dims().to_vec(),
        as_shape(&case["features"]["shape"])
    );
    let expected = as_f32s(&case["features"]["values"]);
    assert_close(
        &format!("{name} features"),
        &values(features),
        &expected,
        2e-4,
        2e-4,
    );

    let attention = vit.last_self_attention(x);
    assert_eq!(
        attention.dims().to_vec(),
        as_shape(&case["attention"]["shape"])
    );
    let expected = as_f32s(&case["attention"]["values"]);
    assert_close(
        &format!("{name} attention"),
        &values(attention),
        &expected,
        1e-5,
        1e-4,
    );

    for resized in case["resized"].as_array().unwrap() {
        let size = as_usize(&resized["image_size"]);
        let grid = size / vit.patch_size();
        let (prefix, patches) = vit.position_embedding(grid, grid);
        let table = match prefix {
            Some(prefix) => Tensor::cat(vec![prefix, patches], 1),
            None => patches,
        };
        assert_eq!(
            table.dims().to_vec(),
            as_shape(&resized["pos_embed"]["shape"])
        );
        let expected = as_f32s(&resized["pos_embed"]["values"]);
        assert_close(
            &format!("{name} position embedding at {size} px"),
            &values(table),
            &expected,
            1e-5,
            1e-4,
        );
        let y: Tensor<4> = tensor(
            &resized["input"]["values"],
            &resized["input"]["shape"],
            &device,
        );
        let expected = as_f32s(&resized["features"]["values"]);
        assert_close(
            &format!("{name} features at {size} px"),
            &values(vit.forward_features(y)),
            &expected,
            2e-4,
            2e-4,
        );
    }
}

#[test]
fn timm_vit_with_class_position_matches_timm() {
    check_forward("vit_a");
}

#[test]
fn timm_vit_with_registers_and_no_class_position_matches_timm() {
    check_forward("vit_b");
}

#[test]
fn presets_have_timms_state_dict_and_parameter_count() {
    let device = Device::flex();
    let layouts = golden("layouts");
    let cases: [(&str, VitConfig); 7] = [
        ("tiny_224_16", VitConfig::tiny(224, 16)),
        ("tiny_32_4", VitConfig::tiny(32, 4)),
        ("small_224_16", VitConfig::small(224, 16)),
        ("small_32_4", VitConfig::small(32, 4)),
        ("base_224_16", VitConfig::base(224, 16)),
        ("base_32_4", VitConfig::base(32, 4)),
        (
            "small_224_16_reg4",
            VitConfig::small(224, 16)
                .with_registers(4)
                .with_class_position(false),
        ),
    ];
    for (name, config) in cases {
        let vit = config.init(&device);
        let layout = &layouts[name];
        let mut expected: Vec<(String, Vec<usize>)> = layout["state_dict"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_string(), as_shape(&e[1])))
            .collect();
        expected.sort();
        let actual: Vec<(String, Vec<usize>)> = state_entries(&vit)
            .into_iter()
            .map(|e| (e.name, e.torch_shape))
            .collect();
        assert_eq!(actual, expected, "{name}: state dict");
        assert_eq!(
            counts(&vit),
            (as_usize(&layout["params"]), 0),
            "{name}: parameters"
        );
        assert_eq!(config.feature_dim(), vit.feature_dim());
    }
}

#[test]
fn sincos_embedding_is_maes() {
    for case in golden("sincos").as_array().unwrap() {
        let (dim, grid) = (as_usize(&case["dim"]), as_usize(&case["grid"]));
        let expected = as_f32s(&case["values"]);
        assert_close(
            &format!("sin-cos {dim}×{grid}"),
            &sincos_2d(dim, grid),
            &expected,
            1e-6,
            1e-6,
        );
    }
}

#[test]
fn a_sincos_vit_starts_from_maes_table_and_never_trains_it() {
    let device = Device::flex().autodiff();
    let config = VitConfig::new(16, 4, 8, 1, 2).with_position(PositionEmbedding::SinCos);
    let vit = config.init(&device);
    let table = values(vit.pos_embed.val());
    assert!(
        table[..8].iter().all(|&v| v == 0.0),
        "the class token's entry is zero"
    );
    assert_eq!(&table[8..], sincos_2d(8, 4).as_slice());

    let x = Tensor::<4>::ones([2, 3, 16, 16], &device);
    let grads = vit.forward_features(x).sum().backward();
    assert!(
        vit.pos_embed.grad(&grads).is_none(),
        "no gradient reaches the fixed table"
    );
    assert!(vit.cls_token.grad(&grads).is_some());

    let learned = VitConfig::new(16, 4, 8, 1, 2).init(&device);
    let grads = learned
        .forward_features(Tensor::<4>::ones([2, 3, 16, 16], &device))
        .sum()
        .backward();
    assert!(
        learned.pos_embed.grad(&grads).is_some(),
        "a learnt table trains"
    );
}

#[test]
fn attention_rows_are_distributions_over_every_token() {
    let device = Device::flex();
    let vit = VitConfig::new(16, 4, 8, 2, 2)
        .with_registers(1)
        .init(&device);
    let x = Tensor::<4>::random([3, 3, 16, 16], burn::tensor::Distribution::Default, &device);
    let attention = vit.last_self_attention(x);
    assert_eq!(attention.dims(), [3, 2, 18, 18]);
    let sums = values(attention.sum_dim(3));
    assert_close("row sums", &sums, &vec![1.0; sums.len()], 1e-5, 0.0);
}

#[test]
fn drop_path_rates_rise_linearly_and_masks_are_timms() {
    // timm: dpr = linspace(0, rate, depth).
    let rates = DropPath::rates(5, 0.2);
    assert_close(
        "rates",
        &rates.iter().map(|&r| r as f32).collect::<Vec<_>>(),
        &[0.0, 0.05, 0.1, 0.15, 0.2],
        1e-7,
        0.0,
    );
    let mut draws = [0.1, 0.95, 0.5, 0.85].into_iter().cycle();
    let plan = DropPath::draw(2, 2, 0.2, &mut || draws.next().unwrap());
    // Block 0 (p = 0) draws nothing and keeps everything at 1; block 1 (p = 0.2, keep 0.8):
    // attention branch draws 0.1 (kept, ×1.25) then 0.95 (dropped), MLP 0.5 (kept), 0.85
    // (dropped).
    assert_eq!(plan.scales()[0], [vec![1.0, 1.0], vec![1.0, 1.0]]);
    assert_eq!(plan.scales()[1], [vec![1.25, 0.0], vec![1.25, 0.0]]);
}

#[test]
fn drop_path_scales_each_images_residual_branches() {
    let device = Device::flex();
    let vit = VitConfig::new(16, 4, 8, 2, 2).init(&device);
    let x = Tensor::<4>::random([2, 3, 16, 16], burn::tensor::Distribution::Default, &device);
    // Every branch kept at scale 1: the plain forward pass.
    let ones = DropPath::draw(2, 2, 0.0, &mut || 0.0);
    assert_close(
        "kept",
        &values(vit.forward_features_drop_path(x.clone(), &ones)),
        &values(vit.forward_features(x.clone())),
        1e-6,
        0.0,
    );
    // Every branch of every block dropped (draws above any keep probability, and block 0's
    // p = 0 keeps it): image by image, blocks 1.. are the identity, so the features are those
    // of a one-block ViT with the same weights.
    let mut high = || 0.999;
    let dropped = DropPath::draw(2, 2, 0.5, &mut high);
    assert_eq!(dropped.scales()[1], [vec![0.0, 0.0], vec![0.0, 0.0]]);
    let got = values(vit.forward_features_drop_path(x.clone(), &dropped));
    let (prefix, patches) = vit.embed(x);
    let tokens = vit
        .norm
        .forward(vit.blocks[0].forward(Tensor::cat(vec![prefix, patches], 1)));
    let expected = values(tokens.narrow(1, 0, 1).reshape([2, 8]));
    assert_close("dropped", &got, &expected, 1e-6, 0.0);
}

#[test]
fn a_vit_backbone_trains_features_of_its_width() {
    let device = Device::flex();
    let config = BackboneConfig::from(VitConfig::new(32, 8, 16, 1, 2));
    assert_eq!(config.feature_dim(), 16);
    let backbone = config.init(&device);
    assert!(matches!(backbone, Backbone::Vit(_)));
    let out = backbone.forward_features(Tensor::zeros([2, 3, 32, 32], &device));
    assert_eq!(out.dims(), [2, 16]);
    // Local crops of another size go through the interpolated position embedding.
    let out = backbone.forward_features(Tensor::zeros([2, 3, 16, 16], &device));
    assert_eq!(out.dims(), [2, 16]);
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    let cases = [
        (
            VitConfig::new(30, 4, 8, 1, 2),
            "not a multiple of the patch size 4",
        ),
        (
            VitConfig::new(32, 4, 10, 1, 3),
            "3 heads do not divide the 10 features",
        ),
        (
            VitConfig::new(32, 4, 6, 1, 2).with_position(PositionEmbedding::SinCos),
            "multiples of 4",
        ),
        (VitConfig::new(32, 0, 8, 1, 2), "must be positive"),
    ];
    for (config, reason) in cases {
        let err = config.check().unwrap_err();
        assert!(err.contains(reason), "{err}");
    }
}

/// Every tensor of a safetensors file, by name: (shape, float values).
fn file_tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut store = SafetensorsStore::from_file(path);
    store
        .get_all_tensors()
        .unwrap()
        .values()
        .map(|t| {
            let data = burn::store::bridge::to_data(t).unwrap();
            (
                t.name.clone(),
                (data.shape().to_vec(), data.try_to_vec::<f32>().unwrap()),
            )
        })
        .collect()
}

#[test]
fn export_writes_timms_state_dict_back() {
    let device = Device::flex();
    let dir = tempfile_dir("vit-export");
    for name in ["vit_a", "vit_b"] {
        let original = golden_file(&format!("{name}.safetensors"));
        let exported = dir.join(format!("{name}.safetensors"));
        loaded(name, &device)
            .save_timm_safetensors(&exported)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            file_tensors(&exported),
            file_tensors(&original),
            "{name}: the export is timm's state dict, tensor for tensor"
        );
    }
    // The same through the backbone, which picks timm's layout for a ViT.
    let config = config_of(&golden("forward")["vit_a"]);
    let backbone = Backbone::Vit(loaded("vit_a", &device));
    let path = dir.join("backbone.safetensors");
    backbone.save_pytorch_safetensors(&path).unwrap();
    let reloaded = config.init(&device).load_timm_safetensors(&path).unwrap();
    let x = Tensor::<4>::ones([1, 3, 32, 32], &device);
    assert_eq!(
        values(reloaded.forward_features(x.clone())),
        values(backbone.forward_features(x))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_timm_state_dict_of_another_shape_is_refused_by_name() {
    let device = Device::flex();
    // vit_a is patch 8, 32 wide; a 48-wide network must not take it.
    let err = VitConfig::new(32, 8, 48, 2, 4)
        .init(&device)
        .load_timm_safetensors(golden_file("vit_a.safetensors"))
        .unwrap_err();
    assert!(
        matches!(&err.kind, LoadErrorKind::ShapeMismatch { key, expected, found }
            if key == "cls_token" && expected == &vec![1, 1, 48] && found == &vec![1, 1, 32]),
        "{err}"
    );
    // One block fewer: the checkpoint's second block is unexpected.
    let err = VitConfig::new(32, 8, 32, 1, 4)
        .init(&device)
        .load_timm_safetensors(golden_file("vit_a.safetensors"))
        .unwrap_err();
    assert!(
        matches!(&err.kind, LoadErrorKind::UnexpectedKeys { keys } if keys.iter().all(|k| k.starts_with("blocks.1."))),
        "{err}"
    );
    // A linear weight's shape is reported in PyTorch's layout.
    let err = VitConfig::new(32, 8, 32, 2, 4)
        .with_mlp_ratio(2.0)
        .init(&device)
        .load_timm_safetensors(golden_file("vit_a.safetensors"))
        .unwrap_err();
    assert!(err.to_string().contains("blocks.0.mlp.fc1"), "{err}");
    assert!(err.to_string().contains("[128, 32]"), "{err}");
    // A prefix selects a model's backbone: none of vit_a's keys are under it.
    let err = VitConfig::new(32, 8, 32, 2, 4)
        .init(&device)
        .load_timm_safetensors_with(
            golden_file("vit_a.safetensors"),
            &LoadOptions::new().with_prefix("backbone."),
        )
        .unwrap_err();
    assert!(
        matches!(err.kind, LoadErrorKind::MissingKeys { .. }),
        "{err}"
    );
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("selfsup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
