//! Backend parity: the same conv → batch-norm → ReLU → pool → linear network, forward and
//! backward, with the same weights and input, on every compiled backend (`flex`, `tch`, `wgpu`).
//!
//! Each backend is checked against PyTorch's float64 numbers (`tests/golden/parity.json`, made by
//! `tools/golden_parity.py`), and the compiled backends are checked against each other.
//! Tolerance: |a − b| ≤ 1e-4 + 1e-3·|b| (float32 against float64, sums of ~100 terms).

use burn::module::Param;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use selfsup::burn;
use selfsup::device::DeviceSpec;

const ABS_TOL: f32 = 1e-4;
const REL_TOL: f32 = 1e-3;

struct Golden(serde_json::Value);

impl Golden {
    fn load() -> Self {
        let text = include_str!("golden/parity.json");
        Golden(serde_json::from_str(text).expect("parity.json parses"))
    }

    fn vec(&self, key: &str) -> Vec<f32> {
        self.0[key]
            .as_array()
            .unwrap_or_else(|| panic!("golden key {key} missing"))
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    }

    fn dim(&self, key: &str) -> usize {
        self.0["shapes"][key].as_u64().unwrap() as usize
    }
}

/// Every number the test compares, named.
type Outputs = Vec<(&'static str, Vec<f32>)>;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

fn run_on(spec: DeviceSpec, g: &Golden) -> Outputs {
    let device = spec.device().expect("backend compiled in").autodiff();
    let (b, cin, cmid, cout, h, w) = (
        g.dim("batch"),
        g.dim("in"),
        g.dim("mid"),
        g.dim("out"),
        g.dim("h"),
        g.dim("w"),
    );
    let t1 = |key: &str| {
        Tensor::<1>::from_data(TensorData::new(g.vec(key), [g.vec(key).len()]), &device)
    };

    let mut conv = Conv2dConfig::new([cin, cmid], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&device);
    conv.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(g.vec("conv_weight"), [cmid, cin, 3, 3]),
        &device,
    ));
    conv.bias = Some(Param::from_tensor(t1("conv_bias")));
    let mut bn = BatchNormConfig::new(cmid).init(&device);
    bn.gamma = Param::from_tensor(t1("bn_gamma"));
    bn.beta = Param::from_tensor(t1("bn_beta"));
    let mut fc = LinearConfig::new(cmid, cout).init(&device);
    // PyTorch stores [out, in]; Burn's row layout is [in, out].
    let fc_weight =
        Tensor::<2>::from_data(TensorData::new(g.vec("fc_weight"), [cout, cmid]), &device);
    fc.weight = Param::from_tensor(fc_weight.transpose());
    fc.bias = Some(Param::from_tensor(t1("fc_bias")));

    let x = Tensor::<4>::from_data(TensorData::new(g.vec("input"), [b, cin, h, w]), &device)
        .require_grad();
    let hidden = relu(bn.forward(conv.forward(x.clone())));
    let pooled = hidden
        .reshape([b, cmid, h * w])
        .mean_dim(2)
        .reshape([b, cmid]);
    let out = fc.forward(pooled);
    let loss = out.clone().powi_scalar(2).mean();
    let grads = loss.backward();

    let grad = |t: Tensor<4>| values(t.grad(&grads).expect("gradient exists"));
    vec![
        ("output", values(out)),
        ("loss", values(loss)),
        ("grad_input", grad(x)),
        (
            "grad_conv_weight",
            values(conv.weight.val().grad(&grads).unwrap()),
        ),
        (
            "grad_conv_bias",
            values(conv.bias.as_ref().unwrap().val().grad(&grads).unwrap()),
        ),
        (
            "grad_bn_gamma",
            values(bn.gamma.val().grad(&grads).unwrap()),
        ),
        ("grad_bn_beta", values(bn.beta.val().grad(&grads).unwrap())),
        (
            "grad_fc_weight",
            // back to PyTorch's [out, in] layout
            values(fc.weight.val().grad(&grads).unwrap().transpose()),
        ),
        (
            "grad_fc_bias",
            values(fc.bias.as_ref().unwrap().val().grad(&grads).unwrap()),
        ),
        ("bn_running_mean", values(bn.running_mean.value_sync())),
        ("bn_running_var", values(bn.running_var.value_sync())),
    ]
}

pub(crate) fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= ABS_TOL + REL_TOL * e.abs(),
            "{what}[{i}]: {a} vs {e} (|diff| {} > {ABS_TOL} + {REL_TOL}·|expected|)",
            (a - e).abs()
        );
    }
}

fn check_against_pytorch(spec: DeviceSpec) {
    let g = Golden::load();
    for (name, actual) in run_on(spec, &g) {
        let expected = match name {
            "loss" => vec![g.0["loss"].as_f64().unwrap() as f32],
            _ => g.vec(name),
        };
        assert_close(&format!("{spec} {name}"), &actual, &expected);
    }
}

#[cfg(feature = "flex")]
#[test]
fn flex_matches_pytorch() {
    check_against_pytorch(DeviceSpec::Flex);
}

#[cfg(feature = "tch")]
#[test]
fn tch_matches_pytorch() {
    check_against_pytorch(DeviceSpec::Tch);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_matches_pytorch() {
    check_against_pytorch(DeviceSpec::Wgpu);
}

/// Every pair of compiled backends agrees, number for number.
#[test]
fn compiled_backends_agree_with_each_other() {
    let g = Golden::load();
    let specs: Vec<DeviceSpec> = [DeviceSpec::Flex, DeviceSpec::Tch, DeviceSpec::Wgpu]
        .into_iter()
        .filter(|s| s.is_compiled())
        .collect();
    let runs: Vec<(DeviceSpec, Outputs)> = specs.iter().map(|&s| (s, run_on(s, &g))).collect();
    for pair in runs.windows(2) {
        let ((sa, a), (sb, b)) = (&pair[0], &pair[1]);
        for ((name, va), (_, vb)) in a.iter().zip(b) {
            assert_close(&format!("{sa} vs {sb} {name}"), va, vb);
        }
    }
    // Only meaningful with two backends; the README's test command builds all three.
    if std::env::var_os("SELFSUP_REQUIRE_ALL_BACKENDS").is_some() {
        assert_eq!(
            runs.len(),
            3,
            "expected flex, tch and wgpu to be compiled in"
        );
    }
}

/// The comparison itself must be able to fail: a perturbed number is caught.
#[test]
#[should_panic(expected = "|diff|")]
fn a_perturbed_value_is_caught() {
    let g = Golden::load();
    let mut loss = vec![g.0["loss"].as_f64().unwrap() as f32];
    loss[0] += 1e-2;
    assert_close("loss", &loss, &[g.0["loss"].as_f64().unwrap() as f32]);
}
