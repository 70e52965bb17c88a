//! LARS: a step derived by hand, lightly's LARS (PyTorch goldens), the rank-1 exclusion inside a
//! module, the record round trip, and the config contract.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use selfsup_train::{Error, Lars, LarsConfig};
use serde_json::Value;

use crate::support::{assert_close, case, device, dims, floats, golden, values};

/// Runs every gradient of a golden case through `lars`, one [`Optimizer::step`] each, and returns
/// the weights after each step.
fn run_steps<const D: usize>(lars: &Lars, case: &Value, device: &Device) -> Vec<Vec<f32>> {
    let shape: [usize; D] = dims(&case["shape"]).try_into().expect("the case's rank");
    let lr = case["lr"].as_f64().unwrap();
    let mut weight =
        Tensor::<D>::from_data(TensorData::new(floats(&case["weight"]), shape), device);
    let mut state = None;
    let mut after = Vec::new();
    for grad in case["grads"].as_array().unwrap() {
        let grad = Tensor::<D>::from_data(TensorData::new(floats(grad), shape), device);
        let (updated, new_state) = lars.step(lr, weight, grad, state);
        weight = updated;
        state = new_state;
        after.push(values(weight.clone()));
    }
    after
}

fn run_case(lars: &Lars, case: &Value) -> Vec<Vec<f32>> {
    let device = device();
    match dims(&case["shape"]).len() {
        1 => run_steps::<1>(lars, case, &device),
        2 => run_steps::<2>(lars, case, &device),
        4 => run_steps::<4>(lars, case, &device),
        rank => panic!("no test dispatch for rank {rank}"),
    }
}

/// The LarsConfig of a golden case (its PyTorch hyper-parameters).
fn config_of(case: &Value) -> LarsConfig {
    LarsConfig::new()
        .with_momentum(case["momentum"].as_f64().unwrap())
        .with_dampening(case["dampening"].as_f64().unwrap())
        .with_weight_decay(case["weight_decay"].as_f64().unwrap())
        .with_nesterov(case["nesterov"].as_bool().unwrap())
        .with_trust_coefficient(case["trust_coefficient"].as_f64().unwrap())
        .with_eps(case["eps"].as_f64().unwrap())
        .with_clip_lr(case["clip_lr"].as_bool().unwrap())
}

/// Two steps on w = [[3, 4]] with the gradient g = [[0.6, 0.8]] both times; lr = 0.1,
/// momentum μ = 0.9, weight decay λ = 0.2, η = 0.001, ε = 1e-8.
///
/// Step 1: ‖w₀‖ = 5, ‖g‖ = 1.
///   local_lr = η‖w₀‖ / (‖g‖ + λ‖w₀‖ + ε) = 0.005 / (1 + 1 + 1e-8) = 0.0025 (ε shifts it by
///   5e-9 relative, below f32 resolution)
///   d₁ = local_lr · (g + λw₀) = 0.0025 · ([0.6, 0.8] + [0.6, 0.8]) = [0.003, 0.004]
///   v₁ = d₁ (the buffer starts at the first update)
///   w₁ = w₀ − lr·v₁ = [3, 4] − [0.0003, 0.0004] = [2.9997, 3.9996]
/// Step 2: w₁ = 0.9999·w₀, so ‖w₁‖ = 4.9995 and λw₁ = 0.9999·[0.6, 0.8] = 0.9999·g.
///   local_lr = 0.001 · 4.9995 / (1 + 0.9999) = 0.0049995 / 1.9999
///   d₂ = local_lr · 1.9999·g = 0.0049995 · [0.6, 0.8] = [0.0029997, 0.0039996]
///   v₂ = μv₁ + d₂ = [0.0027 + 0.0029997, 0.0036 + 0.0039996] = [0.0056997, 0.0075996]
///   w₂ = w₁ − lr·v₂ = [2.9997 − 0.00056997, 3.9996 − 0.00075996] = [2.99913003, 3.99884004]
#[test]
fn two_steps_derived_by_hand() {
    // Exact decimals from the derivation, rounded to f32 for the comparison.
    let expected: [Vec<f32>; 2] = [[2.9997, 3.9996], [2.99913003f64, 3.99884004]]
        .map(|step| step.iter().map(|&x| x as f32).collect());
    let file = golden("lars.json");
    let case = case(&file, "parallel");
    let lars = config_of(case).build().unwrap();
    let after = run_case(&lars, case);
    for (step, (actual, expected)) in after.iter().zip(&expected).enumerate() {
        assert_close(
            actual,
            expected,
            1e-6,
            0.0,
            &format!("hand-derived step {}", step + 1),
        );
    }
    // The PyTorch transcription of lightly's LARS agrees with the derivation.
    for (step, (torch, expected)) in case["after"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&expected)
        .enumerate()
    {
        assert_close(
            &floats(torch),
            expected,
            1e-6,
            0.0,
            &format!("golden step {}", step + 1),
        );
    }
}

/// Every golden case of `tools/golden_train.py` (lightly's LARS in float32 PyTorch): general
/// weights and gradients, strong decay, Nesterov, dampening on a 4-D kernel, no momentum, a zero
/// gradient, a zero weight, zero weight decay, and solo-learn's `clip_lr` clipping and not
/// clipping.
#[test]
fn matches_lightly_lars_goldens() {
    let file = golden("lars.json");
    let mut checked = 0;
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if name == "excluded_bias" {
            continue; // below, with a non-zero weight decay
        }
        let lars = config_of(case).build().unwrap();
        let after = run_case(&lars, case);
        let expected = case["after"].as_array().unwrap();
        assert_eq!(after.len(), expected.len(), "{name}: steps");
        for (step, (actual, expected)) in after.iter().zip(expected).enumerate() {
            assert_close(
                actual,
                &floats(expected),
                1e-6,
                1e-5,
                &format!("{name} step {}", step + 1),
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked, 11,
        "every golden case but excluded_bias was checked"
    );
}

/// `exclude_bias_and_norm` gives a rank-1 parameter plain momentum SGD whatever the weight decay:
/// the golden is lightly's LARS with the bias in a weight-decay-0 group.
#[test]
fn excluded_rank1_parameter_gets_plain_momentum_sgd() {
    let file = golden("lars.json");
    let case = case(&file, "excluded_bias");
    assert_eq!(case["weight_decay"].as_f64(), Some(0.0));
    let excluded = config_of(case).with_weight_decay(0.5).build().unwrap();
    assert!(!excluded.adapts_rank::<1>() && excluded.adapts_rank::<2>());
    let after = run_case(&excluded, case);
    for (step, (actual, expected)) in after
        .iter()
        .zip(case["after"].as_array().unwrap())
        .enumerate()
    {
        assert_close(
            actual,
            &floats(expected),
            1e-6,
            1e-5,
            &format!("excluded bias step {}", step + 1),
        );
    }
    // Without the exclusion the same bias is adapted and decayed: the result differs.
    let included = config_of(case)
        .with_weight_decay(0.5)
        .with_exclude_bias_and_norm(false)
        .build()
        .unwrap();
    let adapted = run_case(&included, case);
    let first = floats(&case["after"][0]);
    assert!(
        adapted[0]
            .iter()
            .zip(&first)
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "an adapted bias should not move like plain SGD: {:?} vs {first:?}",
        adapted[0]
    );
}

#[derive(Module, Debug)]
struct TwoLayers {
    first: Linear,
    second: Linear,
}

fn two_layers(device: &Device) -> TwoLayers {
    TwoLayers {
        first: LinearConfig::new(3, 4).init(device),
        second: LinearConfig::new(4, 2).init(device),
    }
}

fn grads_of(model: &TwoLayers, device: &Device, scale: f32) -> GradientsParams {
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![0.5f32, -1.0, 2.0, 1.5, 0.25, -0.75], [2, 3]),
        device,
    );
    let y = model.second.forward(model.first.forward(x).tanh());
    GradientsParams::from_grads(y.square().sum().mul_scalar(scale).backward(), model)
}

/// Through Burn's `ModuleOptimizer`, each parameter takes exactly the per-tensor step: the 2-D
/// weights adapted, the 1-D biases (excluded) plain SGD, `w − lr·g` on the first step.
#[test]
fn module_step_applies_lars_per_parameter() {
    let device = device().autodiff();
    let model = two_layers(&device);
    let config = LarsConfig::new()
        .with_weight_decay(0.1)
        .with_trust_coefficient(0.02);
    let lars = config.build().unwrap();
    let mut optimizer = config.init().unwrap();
    let lr = 0.5;

    let grads = grads_of(&model, &device, 1.0);
    let weight_grad = grads.get::<2>(model.first.weight.id).unwrap().inner();
    let bias_grad = grads
        .get::<1>(model.first.bias.as_ref().unwrap().id)
        .unwrap()
        .inner();
    let weight = model.first.weight.val().inner();
    let bias = model.first.bias.as_ref().unwrap().val().inner();

    let updated = optimizer.step(lr, model, grads);

    let (expected_weight, _) = lars.step(lr, weight.clone(), weight_grad.clone(), None);
    assert_close(
        &values(updated.first.weight.val().inner()),
        &values(expected_weight.clone()),
        1e-7,
        1e-6,
        "adapted weight",
    );
    // The adapted step is much smaller than plain SGD's (η‖w‖/‖g‖ ≪ 1 here).
    let plain = values(weight.clone() - weight_grad.mul_scalar(lr));
    assert!(
        values(expected_weight) != plain,
        "the weight should be adapted"
    );
    let expected_bias = values(bias - bias_grad.mul_scalar(lr));
    assert_close(
        &values(updated.first.bias.as_ref().unwrap().val().inner()),
        &expected_bias,
        1e-7,
        1e-6,
        "excluded bias",
    );
}

/// The momentum buffers survive `to_record` / `load_record`: the next step is the same.
#[test]
fn state_survives_record_round_trip() {
    let device = device().autodiff();
    let config = LarsConfig::new()
        .with_weight_decay(1e-3)
        .with_nesterov(true);
    let mut model = two_layers(&device);
    let mut original = config.init().unwrap();
    for scale in [1.0, 0.1] {
        let grads = grads_of(&model, &device, scale);
        model = original.step(0.1, model, grads);
    }
    let record = original.to_record();
    assert!(!record.is_empty(), "momentum buffers are recorded");
    let mut restored = config.init().unwrap().load_record(record);
    let mut fresh = config.init().unwrap();

    let expected = original.step(0.1, model.clone(), grads_of(&model, &device, -0.5));
    let actual = restored.step(0.1, model.clone(), grads_of(&model, &device, -0.5));
    let without_state = fresh.step(0.1, model.clone(), grads_of(&model, &device, -0.5));
    let expected = values(expected.second.weight.val().inner());
    assert_close(
        &values(actual.second.weight.val().inner()),
        &expected,
        1e-7,
        1e-6,
        "restored",
    );
    assert!(
        values(without_state.second.weight.val().inner()) != expected,
        "the state matters, so the round trip is a real check"
    );
}

#[test]
fn without_momentum_there_is_no_state() {
    let device = device();
    let lars = LarsConfig::new().with_momentum(0.0).build().unwrap();
    let w = Tensor::<2>::ones([2, 2], &device);
    let (_, state) = lars.step(0.1, w.clone(), w, None);
    assert!(state.is_none());
}

#[test]
fn bad_configs_are_rejected() {
    let cases = [
        (
            LarsConfig::new().with_momentum(1.0),
            "momentum = 1 must be in [0, 1)",
        ),
        (
            LarsConfig::new().with_momentum(-0.1),
            "momentum = -0.1 must be in [0, 1)",
        ),
        (
            LarsConfig::new().with_weight_decay(-1e-6),
            "weight_decay = -0.000001 must be finite and not negative",
        ),
        (
            LarsConfig::new().with_trust_coefficient(0.0),
            "trust_coefficient = 0 must be positive and finite",
        ),
        (
            LarsConfig::new().with_eps(f64::NAN),
            "eps = NaN must be finite and not negative",
        ),
        (
            LarsConfig::new().with_dampening(0.1).with_nesterov(true),
            "nesterov = true needs a positive momentum and zero dampening",
        ),
        (
            LarsConfig::new().with_momentum(0.0).with_nesterov(true),
            "nesterov = true needs a positive momentum",
        ),
    ];
    for (config, message) in cases {
        let err = config.build().expect_err(message);
        assert!(matches!(err, Error::InvalidConfig { .. }));
        let text = err.to_string();
        assert!(text.starts_with("invalid lars config: "), "{text}");
        assert!(
            text.contains(message),
            "{text:?} should contain {message:?}"
        );
    }
}
