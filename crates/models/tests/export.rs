//! Exporting a ResNet as a torchvision state dict (`ResNet::save_torchvision_safetensors`).
//!
//! - The file's keys, shapes and element types are torchvision's `state_dict()`
//!   (`tests/golden/export_state_dicts.json`, from `tools/golden_export.py`), and loading it
//!   back with [`ResNet::load_safetensors`] restores every tensor bit for bit. Batch-norm
//!   affine parameters and running statistics are made non-trivial first (random values, then a
//!   training-mode forward pass whose update Burn keeps pending until `valid`).
//! - `tools/check_export.py` loads the file into torchvision with `strict=True` and compares
//!   PyTorch's eval-mode outputs with ours. It needs the project's Python environment
//!   (`$SELFSUP_VENV`, else `<workspace>/.venv`); without one these tests are skipped, unless
//!   `SELFSUP_REQUIRE_ALL_BACKENDS=1` makes them fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::store::ModuleSnapshot;
use selfsup_models::export::{ExportError, ExportErrorKind};
use selfsup_models::resnet::{ResNet, ResNetConfig, Stem};
use selfsup_models::{Backbone, BackboneConfig, SmallCnnConfig};
use serde_json::Value;

use crate::support::{as_shape, values};

/// `tests/golden/export_state_dicts.json`: torchvision's state-dict entries.
fn golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("golden/export_state_dicts.json"))
            .expect("export_state_dicts.json parses")
    })
}

/// A fresh directory in the temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "selfsup-models-export-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    fn join(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small deterministic generator (SplitMix64), so that inputs do not depend on the order
/// in which tests seed Burn's global generator.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    fn tensor<const D: usize>(
        &mut self,
        shape: [usize; D],
        lo: f32,
        hi: f32,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.uniform(lo, hi)).collect();
        Tensor::from_data(TensorData::new(data, shape), device)
    }
}

/// Replaces every batch norm's `gamma`, `beta`, `running_mean` and `running_var` with random
/// values (scale near 1, shift and mean near 0, variance in [0.5, 1.5]).
struct RandomBatchNorms {
    rng: SplitMix,
    /// (field, container type) of each module level entered.
    levels: Vec<(String, String)>,
}

impl ModuleMapper for RandomBatchNorms {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.levels
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.levels.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let range = match self.levels.last() {
            Some((name, container)) if container == "Struct:BatchNorm" => match name.as_str() {
                "gamma" | "running_var" => (0.5, 1.5),
                _ => (-0.2, 0.2),
            },
            _ => return param,
        };
        let (id, old, mapper) = param.consume();
        let new = self
            .rng
            .tensor(old.dims(), range.0, range.1, &old.device())
            .set_require_grad(old.is_require_grad());
        Param::from_mapped_value(id, new, mapper)
    }
}

fn randomize_batch_norms(net: ResNet, seed: u64) -> ResNet {
    net.map(&mut RandomBatchNorms {
        rng: SplitMix(seed),
        levels: Vec::new(),
    })
}

/// A network on an autodiff device with random batch norms, after one training-mode forward
/// pass: its running statistics have an update that only `valid` folds in.
fn trained_network(config: &ResNetConfig, seed: u64) -> ResNet {
    let device = Device::flex().autodiff();
    let net = randomize_batch_norms(config.init(&device), seed);
    let size = match config.stem {
        Stem::Cifar => 8,
        Stem::ImageNet => 32,
    };
    let x = SplitMix(seed + 1).tensor([2, 3, size, size], -1.0, 1.0, &device);
    let _ = net.forward_features(x);
    net
}

/// Every tensor of a network, Burn-named, as raw bytes.
fn state_bytes(net: &ResNet) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    net.collect(None, None, false)
        .into_iter()
        .map(|t| {
            let (name, _, shape, _, bytes) = t.into_parts().expect("tensor data");
            (name, (shape.to_vec(), bytes.to_vec()))
        })
        .collect()
}

/// The JSON header of a safetensors file (`__metadata__` removed), parsed by hand.
fn safetensors_header(path: &Path) -> serde_json::Map<String, Value> {
    let bytes = std::fs::read(path).expect("read the export");
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes[8..8 + len]).expect("a JSON header");
    assert_eq!(
        header.remove("__metadata__"),
        Some(serde_json::json!({"format": "pt"}))
    );
    header
}

fn golden_name(arch: &str, stem: Stem, num_classes: Option<usize>) -> String {
    let stem = match stem {
        Stem::Cifar => "cifar",
        Stem::ImageNet => "imagenet",
    };
    match num_classes {
        Some(n) => format!("{arch}_{stem}_fc{n}"),
        None => format!("{arch}_{stem}"),
    }
}

fn resnet_config(arch: &str, stem: Stem, num_classes: Option<usize>) -> ResNetConfig {
    match arch {
        "resnet18" => ResNetConfig::resnet18(stem),
        "resnet50" => ResNetConfig::resnet50(stem),
        other => panic!("no config for {other}"),
    }
    .with_num_classes(num_classes)
}

/// Exports a trained network: torchvision's keys, shapes and dtypes; a bit-exact round trip
/// through the loader; the pending running-statistics update included.
fn check_round_trip(arch: &str, stem: Stem, num_classes: Option<usize>) {
    let name = golden_name(arch, stem, num_classes);
    let config = resnet_config(arch, stem, num_classes);
    let net = trained_network(&config, 17);
    let dir = TempDir::new(&name);
    let path = dir.join("model.safetensors");
    net.save_torchvision_safetensors(&path)
        .unwrap_or_else(|e| panic!("{e}"));

    // Keys, shapes and element types: torchvision's state dict.
    let header = safetensors_header(&path);
    let expected: BTreeMap<String, (Vec<usize>, String)> = golden()["state_dicts"][&name]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no golden state dict"))
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_string(),
                (as_shape(&e[1]), e[2].as_str().unwrap().to_string()),
            )
        })
        .collect();
    let found: BTreeMap<String, (Vec<usize>, String)> = header
        .iter()
        .map(|(key, info)| {
            let dtype = match info["dtype"].as_str().unwrap() {
                "F32" => "float32",
                "I64" => "int64",
                other => panic!("{name}: `{key}` has dtype {other}"),
            };
            (key.clone(), (as_shape(&info["shape"]), dtype.to_string()))
        })
        .collect();
    let missing: Vec<&String> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .collect();
    let extra: Vec<&String> = found
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: keys missing from the export {missing:?}, keys torchvision lacks {extra:?}"
    );
    for (key, want) in &expected {
        assert_eq!(&found[key], want, "{name}: `{key}` (shape, dtype)");
    }

    // Bit-exact round trip, against the network as `valid` sees it (pending update folded in).
    let reference = state_bytes(&net.valid());
    let loaded = config
        .init(&Device::flex())
        .load_safetensors(&path)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let loaded = state_bytes(&loaded);
    assert_eq!(
        loaded.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>(),
        "{name}: tensors"
    );
    for (key, (shape, bytes)) in &reference {
        let (loaded_shape, loaded_bytes) = &loaded[key];
        assert_eq!(loaded_shape, shape, "{name}: `{key}` shape");
        assert!(
            loaded_bytes == bytes,
            "{name}: `{key}` differs after the round trip"
        );
    }

    // The training pass moved the running mean away from the random initial value.
    let initial = randomize_batch_norms(config.init(&Device::flex()), 17);
    let initial_mean = values(initial.bn1.running_mean.value());
    let exported_mean = &reference["bn1.running_mean"].1;
    let exported_mean: Vec<f32> = exported_mean
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_ne!(
        exported_mean, initial_mean,
        "{name}: the training update is exported"
    );
}

#[test]
fn resnet18_cifar_round_trips_with_torchvision_keys() {
    check_round_trip("resnet18", Stem::Cifar, None);
}

#[test]
fn resnet18_cifar_with_a_classifier_round_trips_with_torchvision_keys() {
    check_round_trip("resnet18", Stem::Cifar, Some(10));
}

#[test]
fn resnet50_imagenet_round_trips_with_torchvision_keys() {
    check_round_trip("resnet50", Stem::ImageNet, None);
}

#[test]
fn resnet50_imagenet_with_a_classifier_round_trips_with_torchvision_keys() {
    check_round_trip("resnet50", Stem::ImageNet, Some(10));
}

/// `fc.weight` is written `[out, in]` (PyTorch), the transpose of Burn's `[in, out]`.
#[test]
fn the_classifier_weight_is_transposed_to_pytorch_layout() {
    let device = Device::flex();
    let net = ResNetConfig::resnet18(Stem::Cifar)
        .with_widths([4, 4, 4, 8])
        .with_num_classes(Some(3))
        .init(&device);
    let dir = TempDir::new("transpose");
    let path = dir.join("model.safetensors");
    net.save_torchvision_safetensors(&path).unwrap();
    let header = safetensors_header(&path);
    assert_eq!(as_shape(&header["fc.weight"]["shape"]), [3, 8]);

    let bytes = std::fs::read(&path).unwrap();
    let data_start = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let [start, end]: [usize; 2] = as_shape(&header["fc.weight"]["data_offsets"])
        .try_into()
        .unwrap();
    let written: Vec<f32> = bytes[data_start + start..data_start + end]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let burn = values(net.fc.as_ref().unwrap().weight.val()); // [8, 3]
    for out in 0..3 {
        for inp in 0..8 {
            assert_eq!(
                written[out * 8 + inp],
                burn[inp * 3 + out],
                "fc.weight[{out}, {inp}]"
            );
        }
    }
}

#[test]
fn a_resnet_backbone_exports_like_its_resnet() {
    let device = Device::flex();
    let config = ResNetConfig::resnet18(Stem::Cifar).with_widths([4, 4, 8, 8]);
    let backbone = BackboneConfig::from(config).init(&device);
    let dir = TempDir::new("backbone");
    backbone
        .save_pytorch_safetensors(dir.join("backbone.safetensors"))
        .unwrap();
    let Backbone::ResNet(net) = &backbone else {
        unreachable!()
    };
    net.save_torchvision_safetensors(dir.join("resnet.safetensors"))
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("backbone.safetensors")).unwrap(),
        std::fs::read(dir.join("resnet.safetensors")).unwrap()
    );
}

#[test]
fn the_small_cnn_has_no_torchvision_counterpart() {
    let backbone =
        BackboneConfig::from(SmallCnnConfig::new().with_channels(vec![4, 8])).init(&Device::flex());
    let dir = TempDir::new("small-cnn");
    let path = dir.join("cnn.safetensors");
    let err = backbone.save_pytorch_safetensors(&path).unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        matches!(err.kind, ExportErrorKind::NoTorchvisionCounterpart { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("no torchvision or timm counterpart"),
        "{err}"
    );
    assert!(!path.exists(), "nothing is written");
}

#[test]
fn an_unwritable_path_is_an_io_error_naming_it() {
    let net = ResNetConfig::resnet18(Stem::Cifar)
        .with_widths([4, 4, 4, 4])
        .init(&Device::flex());
    let dir = TempDir::new("unwritable");
    let path = dir.join("no-such-dir/model.safetensors");
    let err: ExportError = net.save_torchvision_safetensors(&path).unwrap_err();
    assert_eq!(err.path, path);
    assert!(matches!(err.kind, ExportErrorKind::Io(_)), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        0,
        "no scratch file is left behind"
    );
}

#[test]
fn an_existing_file_is_replaced() {
    let net = ResNetConfig::resnet18(Stem::Cifar)
        .with_widths([4, 4, 4, 4])
        .init(&Device::flex());
    let dir = TempDir::new("replace");
    let path = dir.join("model.safetensors");
    std::fs::write(&path, b"old contents").unwrap();
    net.save_torchvision_safetensors(&path).unwrap();
    let loaded = ResNetConfig::resnet18(Stem::Cifar)
        .with_widths([4, 4, 4, 4])
        .init(&Device::flex())
        .load_safetensors(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state_bytes(&loaded), state_bytes(&net));
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
}

// ---------------------------------------------------------------------------------------------
// PyTorch: tools/check_export.py.

/// The project's Python (`$SELFSUP_VENV/bin/python`, else `<workspace>/.venv/bin/python`), or
/// `None` (the test is skipped) unless `SELFSUP_REQUIRE_ALL_BACKENDS=1`.
fn python(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("SELFSUP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv"));
    let python = venv.join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    if std::env::var("SELFSUP_REQUIRE_ALL_BACKENDS").as_deref() == Ok("1") {
        panic!(
            "{test}: no Python at {} and SELFSUP_REQUIRE_ALL_BACKENDS=1",
            python.display()
        );
    }
    eprintln!("{test}: skipped, no Python at {}", python.display());
    None
}

/// A float32 array as a NumPy `.npy` file (format 1.0, little-endian, C order).
fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
    assert_eq!(shape.iter().product::<usize>(), data.len());
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let dims = if shape.len() == 1 {
        format!("{},", dims[0])
    } else {
        dims.join(", ")
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    // magic (6) + version (2) + length (2) + header + '\n': a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for x in data {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write an .npy file");
}

/// Runs `tools/check_export.py` on an export and our eval-mode outputs (`expected`), returning
/// whether it passed and what it printed.
fn run_check(
    python: &Path,
    dir: &TempDir,
    arch: &str,
    stem: &str,
    input: (&[usize], &[f32]),
    expected: (&[usize], &[f32]),
) -> (bool, String) {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/check_export.py");
    write_npy(&dir.join("input.npy"), input.0, input.1);
    write_npy(&dir.join("expected.npy"), expected.0, expected.1);
    let output = Command::new(python)
        .arg(&tool)
        .arg(dir.join("model.safetensors"))
        .args([arch, stem])
        .arg(dir.join("input.npy"))
        .arg(dir.join("expected.npy"))
        .output()
        .expect("run tools/check_export.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Exports a trained ResNet-18, computes its eval-mode output (features, or logits with a
/// classifier) on a few fixed pseudo-random images, and checks it in PyTorch. Then checks that
/// the tool rejects outputs off by 1e-3.
fn check_in_pytorch(test: &str, stem: Stem, num_classes: Option<usize>) {
    let Some(python) = python(test) else {
        return;
    };
    let config = ResNetConfig::resnet18(stem).with_num_classes(num_classes);
    let net = trained_network(&config, 29);
    let dir = TempDir::new(test);
    net.save_torchvision_safetensors(dir.join("model.safetensors"))
        .unwrap_or_else(|e| panic!("{e}"));

    let (shape, stem_name) = match stem {
        Stem::Cifar => ([3, 3, 32, 32], "cifar"),
        Stem::ImageNet => ([2, 3, 64, 64], "imagenet"),
    };
    let device = Device::flex();
    let input = SplitMix(31).tensor(shape, -2.0, 2.0, &device);
    let eval = net.valid();
    let out = match num_classes {
        Some(_) => eval.forward(input.clone()),
        None => eval.forward_features(input.clone()),
    };
    let out_shape = out.dims();
    let (input, out) = (values(input), values(out));

    let (ok, text) = run_check(
        &python,
        &dir,
        "resnet18",
        stem_name,
        (&shape, &input),
        (&out_shape, &out),
    );
    assert!(ok, "{test}: tools/check_export.py failed:\n{text}");
    eprintln!("{test}: {}", text.trim());

    // The check can fail: outputs off by 1e-3 in one place are rejected.
    let mut off = out.clone();
    off[1] += 1e-3;
    let (ok, text) = run_check(
        &python,
        &dir,
        "resnet18",
        stem_name,
        (&shape, &input),
        (&out_shape, &off),
    );
    assert!(
        !ok,
        "{test}: tools/check_export.py accepted wrong outputs:\n{text}"
    );
    assert!(text.contains("max |torch - selfsup|"), "{text}");
}

#[test]
fn pytorch_features_match_for_resnet18_cifar_without_classifier() {
    check_in_pytorch("export_resnet18_cifar", Stem::Cifar, None);
}

#[test]
fn pytorch_logits_match_for_resnet18_imagenet_with_classifier() {
    check_in_pytorch("export_resnet18_imagenet_fc10", Stem::ImageNet, Some(10));
}
