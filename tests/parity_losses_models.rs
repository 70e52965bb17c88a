//! Backend parity of the losses and the models: the PyTorch goldens of `selfsup-losses` and
//! `selfsup-models`, checked on every compiled backend (`flex`, `tch`, `wgpu`), not only on the
//! flex backend their own crates test on.
//!
//! - NT-Xent and the SimSiam loss, values and gradients, against
//!   `crates/losses/tests/golden/losses.json` (`tools/golden_losses.py`, float64);
//! - the stop-gradient of `negative_cosine`: `z`, and the layer producing it, get no gradient;
//! - Barlow Twins, VICReg, InfoNCE (MoCo), DINO (with its centre update) and SwAV (with its
//!   Sinkhorn-Knopp codes), values and gradients, against lightly 1.6.0 in
//!   `crates/losses/tests/golden/ssl_losses.json` (`tools/golden_ssl_losses.py`, float64), and
//!   no gradient for MoCo's keys and queue, DINO's teacher outputs or SwAV's queue;
//! - small ResNets (CIFAR stem + classifier, ImageNet stem + bottlenecks) with PyTorch's weights,
//!   eval and train mode, against `crates/models/tests/golden/forward.json`
//!   (`tools/golden_resnet.py`); the weights go through a safetensors file and
//!   `ResNet::load_safetensors`, like any PyTorch checkpoint;
//! - the checkpoints PyTorch saved (`crates/models/tests/golden/*.safetensors`,
//!   `tools/golden_checkpoint.py`) loaded and run in eval mode, against `checkpoints.json`.
//!
//! Tolerance as in `parity.rs`: |a − e| ≤ 1e-4 + 1e-3·|e| (float32 against float64). Shapes are
//! the goldens' own (at most 32 rows or features for the losses, 37×37 images for the
//! ResNets), small enough for lavapipe's software Vulkan.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::nn::LinearConfig;
use burn::prelude::*;
use selfsup::burn;
use selfsup::device::DeviceSpec;
use selfsup::losses::{
    BarlowTwinsConfig, SwavLossConfig, VicRegConfig, barlow_twins, dino, dino_center, info_nce,
    negative_cosine, nt_xent, simsiam_loss, sinkhorn, swav, vicreg,
};
use selfsup::models::pretrained::LoadOptions;
use selfsup::models::resnet::{BlockKind, ResNet, ResNetConfig, Stem};
use serde_json::Value;

const ABS_TOL: f32 = 1e-4;
const REL_TOL: f32 = 1e-3;

const MODELS_GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/models/tests/golden");

fn losses_golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("../crates/losses/tests/golden/losses.json"))
            .expect("losses.json parses")
    })
}

fn ssl_losses_golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!(
            "../crates/losses/tests/golden/ssl_losses.json"
        ))
        .expect("ssl_losses.json parses")
    })
}

fn forward_golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("../crates/models/tests/golden/forward.json"))
            .expect("forward.json parses")
    })
}

fn checkpoints_golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!(
            "../crates/models/tests/golden/checkpoints.json"
        ))
        .expect("checkpoints.json parses")
    })
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list of numbers: {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a shape: {v}"))
        .iter()
        .map(|x| x.as_u64().expect("a count") as usize)
        .collect()
}

fn count(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

fn scalar(v: &Value) -> f32 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")) as f32
}

fn tensor<const D: usize>(values: Vec<f32>, shape: Vec<usize>, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= ABS_TOL + REL_TOL * e.abs(),
            "{what}[{i}]: {a} vs PyTorch {e} (|diff| {} > {ABS_TOL} + {REL_TOL}·|expected|)",
            (a - e).abs()
        );
    }
}

fn device(spec: DeviceSpec) -> Device {
    spec.device().expect("backend compiled in")
}

// ---------------------------------------------------------------------------------------------
// Losses.

fn loss_cases(key: &str) -> &'static [Value] {
    let cases = losses_golden()[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden key {key} missing"));
    assert!(!cases.is_empty(), "golden {key} has cases");
    cases
}

/// `[n, d]` of a loss case, and a tensor of it from one of its keys.
fn loss_input(case: &Value, key: &str, device: &Device) -> Tensor<2> {
    let shape = vec![count(&case["n"]), count(&case["d"])];
    tensor(f32s(&case[key]), shape, device)
}

/// Every NT-Xent case (N up to 8, D up to 16, τ from 1 to 0.01): loss and both gradients.
fn check_nt_xent(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in loss_cases("nt_xent") {
        let tau = case["temperature"].as_f64().unwrap();
        let what = format!("{spec} nt_xent N={} D={} tau={tau}", case["n"], case["d"]);
        let z_a = loss_input(case, "z_a", &device).require_grad();
        let z_b = loss_input(case, "z_b", &device).require_grad();
        let loss = nt_xent(z_a.clone(), z_b.clone(), tau);
        let grads = loss.backward();
        assert_close(
            &format!("{what}: loss"),
            &values(loss),
            &[scalar(&case["loss"])],
        );
        for (name, z) in [("z_a", z_a), ("z_b", z_b)] {
            let grad = z
                .grad(&grads)
                .unwrap_or_else(|| panic!("{what}: {name} has a gradient"));
            assert_close(
                &format!("{what}: d/d{name}"),
                &values(grad),
                &f32s(&case[format!("grad_{name}").as_str()]),
            );
        }
    }
}

/// Every SimSiam case: loss, gradients of `p1`, `p2`, and none at all for `z1`, `z2`.
fn check_simsiam(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in loss_cases("simsiam") {
        let what = format!("{spec} simsiam_loss N={} D={}", case["n"], case["d"]);
        let [p1, p2, z1, z2] =
            ["p1", "p2", "z1", "z2"].map(|k| loss_input(case, k, &device).require_grad());
        let loss = simsiam_loss(p1.clone(), p2.clone(), z1.clone(), z2.clone());
        let grads = loss.backward();
        assert_close(
            &format!("{what}: loss"),
            &values(loss),
            &[scalar(&case["loss"])],
        );
        for (name, p) in [("p1", p1), ("p2", p2)] {
            let grad = p
                .grad(&grads)
                .unwrap_or_else(|| panic!("{what}: {name} has a gradient"));
            assert_close(
                &format!("{what}: d/d{name}"),
                &values(grad),
                &f32s(&case[format!("grad_{name}").as_str()]),
            );
        }
        assert!(z1.grad(&grads).is_none(), "{what}: z1 must get no gradient");
        assert!(z2.grad(&grads).is_none(), "{what}: z2 must get no gradient");
    }
}

/// `negative_cosine(p, z)`: a leaf `z` gets no gradient; with `p` and `z` from two linear
/// layers, the layer producing `z` gets none either, the one producing `p` does.
fn check_stop_gradient(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    let case = &loss_cases("simsiam")[2];

    let p = loss_input(case, "p1", &device).require_grad();
    let z = loss_input(case, "z2", &device).require_grad();
    let grads = negative_cosine(p.clone(), z.clone()).backward();
    assert!(z.grad(&grads).is_none(), "{spec}: z must get no gradient");
    assert!(p.grad(&grads).is_some(), "{spec}: p must get a gradient");

    let [_, d] = p.dims();
    let online = LinearConfig::new(d, 3).init(&device);
    let target = LinearConfig::new(d, 3).init(&device);
    let p = online.forward(loss_input(case, "p1", &device));
    let z = target.forward(loss_input(case, "z2", &device));
    let grads = negative_cosine(p, z).backward();
    let zero = |g: Option<Tensor<2>>| g.is_none_or(|g| values(g).iter().all(|&v| v == 0.0));
    assert!(
        zero(target.weight.val().grad(&grads)),
        "{spec}: the layer producing z got a gradient through negative_cosine"
    );
    let online_grad = online
        .weight
        .val()
        .grad(&grads)
        .unwrap_or_else(|| panic!("{spec}: the layer producing p must get a gradient"));
    let max = values(online_grad)
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(max > 1e-4, "{spec}: the gradient of p's layer is {max}");
}

// ---------------------------------------------------------------------------------------------
// Barlow Twins, VICReg, InfoNCE, DINO and SwAV (lightly 1.6.0).

fn ssl_cases(key: &str) -> &'static [Value] {
    let cases = ssl_losses_golden()[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden key {key} missing"));
    assert!(!cases.is_empty(), "golden {key} has cases");
    cases
}

fn number(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("golden key {key} missing"))
}

/// A golden `{"shape", "data"}` tensor on `device`, tracked for gradients.
fn golden_input(t: &Value, device: &Device) -> Tensor<2> {
    tensor::<2>(f32s(&t["data"]), dims(&t["shape"]), device).require_grad()
}

/// A golden list of `{"shape", "data"}` tensors on `device`, each tracked for gradients.
fn golden_inputs(list: &Value, device: &Device) -> Vec<Tensor<2>> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of tensors: {list}"))
        .iter()
        .map(|t| golden_input(t, device))
        .collect()
}

/// Panics unless the loss is close to `case["loss"]`.
fn check_loss(what: &str, loss: Tensor<1>, case: &Value) {
    assert_close(
        &format!("{what}: loss"),
        &values(loss),
        &[scalar(&case["loss"])],
    );
}

/// Panics unless `t` has a gradient close to the golden tensor `expected`.
fn check_grad(what: &str, t: &Tensor<2>, grads: &burn::tensor::Gradients, expected: &Value) {
    let grad = t
        .grad(grads)
        .unwrap_or_else(|| panic!("{what}: no gradient"));
    assert_close(what, &values(grad), &f32s(&expected["data"]));
}

/// Every Barlow Twins case: loss and both gradients.
fn check_barlow_twins(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in ssl_cases("barlow_twins") {
        let lambda = number(case, "lambda");
        let (z_a, z_b) = (
            golden_input(&case["z_a"], &device),
            golden_input(&case["z_b"], &device),
        );
        let what = format!("{spec} barlow_twins {:?} lambda={lambda}", z_a.dims());
        let loss = barlow_twins(z_a.clone(), z_b.clone(), lambda);
        let grads = loss.backward();
        check_loss(&what, loss, case);
        check_grad(&format!("{what}: d/dz_a"), &z_a, &grads, &case["grad_z_a"]);
        check_grad(&format!("{what}: d/dz_b"), &z_b, &grads, &case["grad_z_b"]);
    }
    // The configuration's default is lightly's lambda_param.
    assert_eq!(BarlowTwinsConfig::new().lambda, 5e-3);
}

/// Every VICReg case: loss and both gradients.
fn check_vicreg(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in ssl_cases("vicreg") {
        let config = VicRegConfig::new()
            .with_invariance(number(case, "invariance"))
            .with_variance(number(case, "variance"))
            .with_covariance(number(case, "covariance"))
            .with_eps(number(case, "eps"));
        let (z_a, z_b) = (
            golden_input(&case["z_a"], &device),
            golden_input(&case["z_b"], &device),
        );
        let what = format!("{spec} vicreg {:?} {config:?}", z_a.dims());
        let loss = vicreg(z_a.clone(), z_b.clone(), &config);
        let grads = loss.backward();
        check_loss(&what, loss, case);
        check_grad(&format!("{what}: d/dz_a"), &z_a, &grads, &case["grad_z_a"]);
        check_grad(&format!("{what}: d/dz_b"), &z_b, &grads, &case["grad_z_b"]);
    }
}

/// Every InfoNCE case, with and without a queue: loss, the query's gradient, and none for the
/// key and the queue.
fn check_info_nce(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in ssl_cases("info_nce") {
        let tau = number(case, "temperature");
        let query = golden_input(&case["query"], &device);
        let key = golden_input(&case["key"], &device);
        let queue = (!case["queue"].is_null()).then(|| golden_input(&case["queue"], &device));
        let what = format!(
            "{spec} info_nce {:?} queue {:?} tau={tau}",
            query.dims(),
            queue.as_ref().map(|q| q.dims())
        );
        let loss = info_nce(query.clone(), key.clone(), queue.clone(), tau);
        let grads = loss.backward();
        check_loss(&what, loss, case);
        check_grad(
            &format!("{what}: d/dquery"),
            &query,
            &grads,
            &case["grad_query"],
        );
        assert!(
            key.grad(&grads).is_none(),
            "{what}: the key must get no gradient"
        );
        if let Some(queue) = queue {
            assert!(
                queue.grad(&grads).is_none(),
                "{what}: the queue must get no gradient"
            );
        }
    }
}

/// Every DINO case (multi-crop): loss, every student view's gradient, none for the teacher, and
/// the centre after `dino_center`.
fn check_dino(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in ssl_cases("dino") {
        let teacher = golden_inputs(&case["teacher"], &device);
        let student = golden_inputs(&case["student"], &device);
        let center = golden_input(&case["center"], &device);
        let (teacher_temp, student_temp) =
            (number(case, "teacher_temp"), number(case, "student_temp"));
        let what = format!(
            "{spec} dino {} teacher and {} student views of {:?}",
            teacher.len(),
            student.len(),
            teacher[0].dims()
        );
        let loss = dino(
            &teacher,
            &student,
            center.clone(),
            teacher_temp,
            student_temp,
        );
        let grads = loss.backward();
        check_loss(&what, loss, case);
        let expected = case["grad_student"].as_array().expect("student gradients");
        for (j, (s, e)) in student.iter().zip(expected).enumerate() {
            check_grad(&format!("{what}: d/dstudent[{j}]"), s, &grads, e);
        }
        for (i, t) in teacher.iter().enumerate() {
            assert!(
                t.grad(&grads).is_none(),
                "{what}: teacher[{i}] must get no gradient"
            );
        }
        let updated = dino_center(center, &teacher, number(case, "center_momentum"));
        assert_close(
            &format!("{what}: center after dino_center"),
            &values(updated),
            &f32s(&case["center_after"]["data"]),
        );
    }
}

/// Every SwAV case (multi-crop, queue): loss, every view's gradient, none for the queue; and
/// every Sinkhorn-Knopp case's codes.
fn check_swav(spec: DeviceSpec) {
    let device = device(spec).autodiff();
    for case in ssl_cases("swav") {
        let config = SwavLossConfig::new()
            .with_temperature(number(case, "temperature"))
            .with_sinkhorn_iterations(count(&case["sinkhorn_iterations"]))
            .with_sinkhorn_epsilon(number(case, "sinkhorn_epsilon"));
        let high = golden_inputs(&case["high_resolution"], &device);
        let low = golden_inputs(&case["low_resolution"], &device);
        let queue = (!case["queue"].is_null()).then(|| golden_inputs(&case["queue"], &device));
        let what = format!(
            "{spec} swav {} + {} views of {:?}, queue {:?}",
            high.len(),
            low.len(),
            high[0].dims(),
            queue.as_ref().map(|q| q[0].dims())
        );
        let loss = swav(&high, &low, queue.as_deref(), &config);
        let grads = loss.backward();
        check_loss(&what, loss, case);
        for (name, views) in [("high_resolution", &high), ("low_resolution", &low)] {
            let expected = case[format!("grad_{name}").as_str()]
                .as_array()
                .expect("gradients");
            // A lone high-resolution view only makes codes: no gradient (zeros in the golden).
            for (v, (z, e)) in views.iter().zip(expected).enumerate() {
                let grad = z
                    .grad(&grads)
                    .map_or_else(|| vec![0.0; z.dims().iter().product()], values);
                assert_close(&format!("{what}: d/d{name}[{v}]"), &grad, &f32s(&e["data"]));
            }
        }
        for (i, q) in queue.iter().flatten().enumerate() {
            assert!(
                q.grad(&grads).is_none(),
                "{what}: queue[{i}] must get no gradient"
            );
        }
    }

    let device = device.inner();
    for case in ssl_cases("sinkhorn") {
        let scores = &case["scores"];
        let scores = tensor::<2>(f32s(&scores["data"]), dims(&scores["shape"]), &device);
        let (iterations, epsilon) = (count(&case["iterations"]), number(case, "epsilon"));
        let what = format!(
            "{spec} sinkhorn {:?} iterations={iterations}",
            scores.dims()
        );
        assert_close(
            &what,
            &values(sinkhorn(scores, iterations, epsilon)),
            &f32s(&case["codes"]["data"]),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Models.

/// A safetensors file (float32) holding a golden state dict `{name: {shape, values}}`.
fn safetensors_bytes(state: &serde_json::Map<String, Value>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, entry) in state {
        let begin = data.len();
        for v in f32s(&entry["values"]) {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": "F32",
                "shape": dims(&entry["shape"]),
                "data_offsets": [begin, data.len()],
            }),
        );
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    bytes
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A `forward.json` case's network, with PyTorch's weights, on `device`.
fn golden_resnet(spec: DeviceSpec, name: &str, case: &Value, device: &Device, tag: &str) -> ResNet {
    let stem = match case["stem"].as_str().unwrap() {
        "cifar" => Stem::Cifar,
        _ => Stem::ImageNet,
    };
    let config = match case["arch"].as_str().unwrap() {
        "resnet18" => ResNetConfig::resnet18(stem),
        "resnet50" => ResNetConfig::resnet50(stem),
        other => panic!("unexpected arch {other}"),
    }
    .with_widths(dims(&case["widths"]).try_into().unwrap())
    .with_num_classes(case["num_classes"].as_u64().map(|n| n as usize));

    let file = TempFile(std::env::temp_dir().join(format!(
        "selfsup-parity-{}-{spec}-{name}-{tag}.safetensors",
        std::process::id()
    )));
    let state = case["state"].as_object().expect("a state dict");
    std::fs::write(&file.0, safetensors_bytes(state)).expect("write the state dict");
    config
        .init(device)
        .load_safetensors(&file.0)
        .unwrap_or_else(|e| panic!("{spec} {name}: {e}"))
}

/// The network's output: logits with a classifier, features without.
fn output(model: &ResNet, x: Tensor<4>) -> Tensor<2> {
    match model.fc {
        Some(_) => model.forward(x),
        None => model.forward_features(x),
    }
}

/// Both `forward.json` ResNets: eval features and output (running statistics), and the train
/// output (batch statistics, on an autodiff device).
fn check_resnet_forward(spec: DeviceSpec) {
    for name in ["resnet18_cifar", "resnet50_imagenet"] {
        let case = &forward_golden()[name];
        let what = format!("{spec} {name}");
        let input = || (f32s(&case["input"]), dims(&case["input_shape"]));

        let device = device(spec);
        let model = golden_resnet(spec, name, case, &device, "eval");
        let (x, shape) = input();
        let x = tensor::<4>(x, shape, &device);
        assert_close(
            &format!("{what} eval features"),
            &values(model.forward_features(x.clone())),
            &f32s(&case["eval_features"]),
        );
        let out = output(&model, x);
        assert_eq!(out.dims().to_vec(), dims(&case["eval_output_shape"]));
        assert_close(
            &format!("{what} eval output"),
            &values(out),
            &f32s(&case["eval_output"]),
        );

        let device = device.autodiff();
        let model = golden_resnet(spec, name, case, &device, "train");
        let (x, shape) = input();
        assert_close(
            &format!("{what} train output"),
            &values(output(&model, tensor::<4>(x, shape, &device))),
            &f32s(&case["train_output"]),
        );
    }
}

/// The checkpoints PyTorch saved (`tools/golden_checkpoint.py`), loaded by
/// `ResNet::load_safetensors_with`, in eval mode: features and logits.
fn check_loaded_checkpoints(spec: DeviceSpec) {
    let cases = checkpoints_golden()["cases"].as_object().expect("cases");
    assert!(!cases.is_empty());
    for (name, case) in cases {
        let what = format!("{spec} checkpoint {name}");
        let block = match case["block"].as_str().unwrap() {
            "basic" => BlockKind::Basic,
            _ => BlockKind::Bottleneck,
        };
        let stem = match case["stem"].as_str().unwrap() {
            "cifar" => Stem::Cifar,
            _ => Stem::ImageNet,
        };
        let config = ResNetConfig::new(dims(&case["depths"]).try_into().unwrap(), block, stem)
            .with_widths(dims(&case["widths"]).try_into().unwrap())
            .with_num_classes(case["num_classes"].as_u64().map(|n| n as usize));
        let path = Path::new(MODELS_GOLDEN).join(format!(
            "{}.safetensors",
            case["file_stem"].as_str().unwrap()
        ));
        let options = LoadOptions::new().with_prefix(case["prefix"].as_str().unwrap());

        // Loaded on an autodiff device, then `valid()`: the usual way to evaluate a checkpoint.
        let device = device(spec).autodiff();
        let model = config
            .init(&device)
            .load_safetensors_with(&path, &options)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .valid();
        let x = tensor::<4>(f32s(&case["input"]), dims(&case["input_shape"]), &device);
        assert_close(
            &format!("{what} features"),
            &values(model.forward_features(x.clone())),
            &f32s(&case["features"]),
        );
        if !case["logits"].is_null() {
            assert_close(
                &format!("{what} logits"),
                &values(model.forward(x)),
                &f32s(&case["logits"]),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One module of tests per compiled backend.

macro_rules! backend_tests {
    ($backend:ident, $feature:literal, $spec:expr) => {
        #[cfg(feature = $feature)]
        mod $backend {
            use super::*;

            #[test]
            fn nt_xent_matches_pytorch() {
                check_nt_xent($spec);
            }

            #[test]
            fn simsiam_loss_matches_pytorch() {
                check_simsiam($spec);
            }

            #[test]
            fn negative_cosine_stops_the_gradient_of_z() {
                check_stop_gradient($spec);
            }

            #[test]
            fn barlow_twins_matches_lightly() {
                check_barlow_twins($spec);
            }

            #[test]
            fn vicreg_matches_lightly() {
                check_vicreg($spec);
            }

            #[test]
            fn info_nce_matches_moco() {
                check_info_nce($spec);
            }

            #[test]
            fn dino_matches_lightly() {
                check_dino($spec);
            }

            #[test]
            fn swav_matches_lightly() {
                check_swav($spec);
            }

            #[test]
            fn resnet_forward_matches_pytorch() {
                check_resnet_forward($spec);
            }

            #[test]
            fn loaded_checkpoints_match_pytorch() {
                check_loaded_checkpoints($spec);
            }
        }
    };
}

backend_tests!(flex, "flex", DeviceSpec::Flex);
backend_tests!(tch, "tch", DeviceSpec::Tch);
backend_tests!(wgpu, "wgpu", DeviceSpec::Wgpu);

/// The parity job builds all three backends; with `SELFSUP_REQUIRE_ALL_BACKENDS` set, a missing
/// one fails here rather than silently skipping its module above.
#[test]
fn every_backend_is_checked_when_required() {
    if std::env::var_os("SELFSUP_REQUIRE_ALL_BACKENDS").is_some() {
        for spec in [DeviceSpec::Flex, DeviceSpec::Tch, DeviceSpec::Wgpu] {
            assert!(spec.is_compiled(), "{spec} is not compiled in");
        }
    }
}
