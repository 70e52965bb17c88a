//! Loading checkpoints saved by PyTorch: `tests/golden/*.safetensors` and `checkpoints.json`
//! from `tools/golden_checkpoint.py` (small torchvision-layout ResNets with random weights and
//! batch-norm statistics from train-mode passes), eval-mode outputs against PyTorch's float64
//! ones; and the typed errors of bad checkpoints.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::prelude::*;
use selfsup_models::pretrained::{LoadError, LoadErrorKind, LoadOptions};
use selfsup_models::resnet::{BlockKind, ResNet, ResNetConfig, Stem};
use serde_json::Value;

use crate::support::{as_f32s, as_shape, assert_close, tensor, values};

/// `tests/golden/checkpoints.json`.
fn golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("golden/checkpoints.json"))
            .expect("checkpoints.json parses")
    })
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn case(name: &str) -> &'static Value {
    &golden()["cases"][name]
}

/// The network the golden case was saved from.
fn config(case: &Value) -> ResNetConfig {
    let block = match case["block"].as_str().unwrap() {
        "basic" => BlockKind::Basic,
        _ => BlockKind::Bottleneck,
    };
    let stem = match case["stem"].as_str().unwrap() {
        "cifar" => Stem::Cifar,
        _ => Stem::ImageNet,
    };
    let depths: [usize; 4] = as_shape(&case["depths"]).try_into().unwrap();
    let widths: [usize; 4] = as_shape(&case["widths"]).try_into().unwrap();
    ResNetConfig::new(depths, block, stem)
        .with_widths(widths)
        .with_num_classes(case["num_classes"].as_u64().map(|n| n as usize))
}

fn safetensors_path(case: &Value) -> PathBuf {
    golden_dir().join(format!(
        "{}.safetensors",
        case["file_stem"].as_str().unwrap()
    ))
}

fn options(case: &Value) -> LoadOptions {
    LoadOptions::new().with_prefix(case["prefix"].as_str().unwrap())
}

/// Eval-mode features (and logits) of the loaded network against PyTorch's float64 outputs.
fn check_outputs(name: &str, model: &ResNet, case: &Value, device: &Device) {
    let (abs, rel) = (1e-4, 1e-3);
    let x = tensor::<4>(&case["input"], &case["input_shape"], device);
    let features = model.forward_features(x.clone());
    assert_eq!(
        features.dims().to_vec(),
        as_shape(&case["features_shape"]),
        "{name}: features shape"
    );
    assert_close(
        &format!("{name} features"),
        &values(features),
        &as_f32s(&case["features"]),
        abs,
        rel,
    );
    if !case["logits"].is_null() {
        let logits = model.forward(x);
        assert_close(
            &format!("{name} logits"),
            &values(logits),
            &as_f32s(&case["logits"]),
            abs,
            rel,
        );
    }
}

/// A torchvision state dict (`conv1.weight`, …, `fc.bias`, with `num_batches_tracked`) into a
/// narrow ResNet-18 with the CIFAR stem and a classifier: PyTorch's eval-mode outputs.
#[test]
fn torchvision_state_dict_loads_and_matches_pytorch() {
    let case = case("resnet18_cifar");
    let device = Device::flex();
    let model = config(case)
        .init(&device)
        .load_safetensors(safetensors_path(case))
        .unwrap_or_else(|e| panic!("{e}"));
    check_outputs("resnet18_cifar", &model, case, &device);
}

/// An SSL model's state dict (`backbone.*` beside `projector.*`), bottleneck blocks, the
/// ImageNet stem and no classifier, read with the prefix `backbone.`.
#[test]
fn ssl_backbone_loads_with_a_prefix_and_matches_pytorch() {
    let case = case("ssl_resnet_imagenet");
    assert_eq!(case["prefix"], "backbone.");
    let device = Device::flex();
    let model = config(case)
        .init(&device)
        .load_safetensors_with(safetensors_path(case), &options(case))
        .unwrap_or_else(|e| panic!("{e}"));
    check_outputs("ssl_resnet_imagenet", &model, case, &device);
}

/// Loaded on an autodiff device, `valid()` gives the inference network with the loaded running
/// statistics; the parameters stay trainable before that.
#[test]
fn loading_on_an_autodiff_device_then_valid_matches_pytorch() {
    let case = case("resnet18_cifar");
    let device = Device::flex().autodiff();
    let model = config(case)
        .init(&device)
        .load_safetensors(safetensors_path(case))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(model.conv1.weight.val().is_require_grad());
    check_outputs("resnet18_cifar (valid)", &model.valid(), case, &device);
}

/// A torchvision checkpoint with a classifier loads into a feature extractor: `fc.*` is ignored.
#[test]
fn classifier_weights_are_ignored_by_a_network_without_one() {
    let case = case("resnet18_cifar");
    let device = Device::flex();
    let model = config(case)
        .with_num_classes(None)
        .init(&device)
        .load_safetensors(safetensors_path(case))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(model.fc.is_none());
    let x = tensor::<4>(&case["input"], &case["input_shape"], &device);
    assert_close(
        "features without fc",
        &values(model.forward_features(x)),
        &as_f32s(&case["features"]),
        1e-4,
        1e-3,
    );
}

// ---------------------------------------------------------------------------------------------
// Errors.

fn load_err(config: &ResNetConfig, path: &Path, options: &LoadOptions) -> LoadError {
    match config
        .init(&Device::flex())
        .load_safetensors_with(path, options)
    {
        Ok(_) => panic!("loading {} should fail", path.display()),
        Err(e) => e,
    }
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn with_bytes(name: &str, bytes: &[u8]) -> Self {
        let path =
            std::env::temp_dir().join(format!("selfsup-models-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write a temporary file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A safetensors file holding `tensors` (`(name, shape)`, float32 zeros), written by hand.
fn safetensors_bytes(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, shape) in tensors {
        let len = 4 * shape.iter().product::<usize>();
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.resize(bytes.len() + offset, 0);
    bytes
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let path = golden_dir().join("no-such-checkpoint.safetensors");
    let err = load_err(&config(case("resnet18_cifar")), &path, &LoadOptions::new());
    assert_eq!(err.path, path);
    assert!(
        matches!(&err.kind, LoadErrorKind::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("no-such-checkpoint.safetensors"),
        "{err}"
    );
}

#[test]
fn a_directory_is_not_a_checkpoint() {
    let err = load_err(
        &config(case("resnet18_cifar")),
        &golden_dir(),
        &LoadOptions::new(),
    );
    assert!(matches!(err.kind, LoadErrorKind::Io(_)), "{err:?}");
}

#[test]
fn a_corrupt_file_is_a_format_error() {
    let file = TempFile::with_bytes("corrupt.safetensors", b"this is not a safetensors file");
    let err = load_err(
        &config(case("resnet18_cifar")),
        &file.0,
        &LoadOptions::new(),
    );
    assert_eq!(err.path, file.0);
    assert!(
        matches!(
            err.kind,
            LoadErrorKind::Format {
                format: "safetensors",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_truncated_golden_checkpoint_is_a_format_error() {
    let bytes = std::fs::read(safetensors_path(case("resnet18_cifar"))).unwrap();
    let file = TempFile::with_bytes("truncated.safetensors", &bytes[..bytes.len() - 100]);
    let err = load_err(
        &config(case("resnet18_cifar")),
        &file.0,
        &LoadOptions::new(),
    );
    assert!(matches!(err.kind, LoadErrorKind::Format { .. }), "{err:?}");
}

/// The ImageNet-stem checkpoint has no classifier: a network with one misses `fc.*`.
#[test]
fn a_missing_key_is_named_with_its_pytorch_name() {
    let case = case("ssl_resnet_imagenet");
    let err = load_err(
        &config(case).with_num_classes(Some(3)),
        &safetensors_path(case),
        &options(case),
    );
    match &err.kind {
        LoadErrorKind::MissingKeys { keys } => {
            assert_eq!(keys, &["backbone.fc.bias", "backbone.fc.weight"]);
        }
        other => panic!("expected MissingKeys, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("ssl_resnet_imagenet.safetensors"), "{msg}");
    assert!(msg.contains("2 keys missing"), "{msg}");
}

/// Without the prefix nothing matches: every key is missing, batch norms named as in PyTorch.
#[test]
fn a_wrong_prefix_misses_every_key() {
    let case = case("ssl_resnet_imagenet");
    let err = load_err(
        &config(case),
        &safetensors_path(case),
        &LoadOptions::new().with_prefix("encoder."),
    );
    match &err.kind {
        LoadErrorKind::MissingKeys { keys } => {
            assert!(keys.contains(&"encoder.bn1.weight".to_string()), "{keys:?}");
            assert!(
                keys.contains(&"encoder.bn1.running_var".to_string()),
                "{keys:?}"
            );
            assert!(!keys.iter().any(|k| k.contains("gamma")), "{keys:?}");
        }
        other => panic!("expected MissingKeys, got {other:?}"),
    }
}

/// Without a prefix, the projector's keys are unexpected: an SSL checkpoint needs its prefix.
#[test]
fn keys_the_network_lacks_are_an_error() {
    let ssl = case("ssl_resnet_imagenet");
    let err = load_err(&config(ssl), &safetensors_path(ssl), &LoadOptions::new());
    // Every backbone tensor is missing too (prefixed); missing keys are reported first.
    assert!(
        matches!(err.kind, LoadErrorKind::MissingKeys { .. }),
        "{err:?}"
    );

    // A deeper checkpoint into a shallower network: layer1.1.* is left over.
    let deeper = config(case("resnet18_cifar"));
    let shallower = ResNetConfig::new([1, 2, 2, 2], BlockKind::Basic, Stem::Cifar)
        .with_widths(deeper.widths)
        .with_num_classes(deeper.num_classes);
    let err = load_err(
        &shallower,
        &safetensors_path(case("resnet18_cifar")),
        &LoadOptions::new(),
    );
    match &err.kind {
        LoadErrorKind::UnexpectedKeys { keys } => {
            assert!(keys.iter().all(|k| k.starts_with("layer1.1.")), "{keys:?}");
            assert!(
                keys.contains(&"layer1.1.bn2.weight".to_string()),
                "{keys:?}"
            );
            assert!(
                !keys.iter().any(|k| k.ends_with("num_batches_tracked")),
                "{keys:?}"
            );
        }
        other => panic!("expected UnexpectedKeys, got {other:?}"),
    }
}

/// A wider network: the first mismatching tensor, with both shapes in PyTorch's layout.
#[test]
fn a_shape_mismatch_names_the_key_and_both_shapes() {
    let case = case("resnet18_cifar");
    let err = load_err(
        &config(case).with_num_classes(Some(7)),
        &safetensors_path(case),
        &LoadOptions::new(),
    );
    match &err.kind {
        LoadErrorKind::ShapeMismatch {
            key,
            expected,
            found,
        } => {
            assert!(key == "fc.weight" || key == "fc.bias", "{key}");
            if key == "fc.weight" {
                assert_eq!(
                    (expected.as_slice(), found.as_slice()),
                    (&[7, 8][..], &[5, 8][..])
                );
            } else {
                assert_eq!(
                    (expected.as_slice(), found.as_slice()),
                    (&[7][..], &[5][..])
                );
            }
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("the network expects"), "{err}");
}

/// A hand-written file with one tensor of the wrong shape and the rest missing: the shape
/// mismatch is reported (it is the more specific problem).
#[test]
fn a_hand_written_checkpoint_with_a_bad_tensor() {
    let file = TempFile::with_bytes(
        "bad-shape.safetensors",
        &safetensors_bytes(&[("conv1.weight", vec![4, 3, 5, 5])]),
    );
    let err = load_err(
        &config(case("resnet18_cifar")),
        &file.0,
        &LoadOptions::new(),
    );
    match &err.kind {
        LoadErrorKind::ShapeMismatch {
            key,
            expected,
            found,
        } => {
            assert_eq!(key, "conv1.weight");
            assert_eq!(expected, &[4, 3, 3, 3]);
            assert_eq!(found, &[4, 3, 5, 5]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}
