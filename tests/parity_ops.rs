//! The native kernels (`selfsup::kernels`): convolution and training-mode batch norm,
//! forward values and every gradient, on every compiled backend, against PyTorch's float64
//! numbers (`tests/golden/ops.json`, made by `tools/golden_ops.py`) and against Burn's own ops.
//!
//! Each case runs three ways: Burn's ops, `ops::conv2d` / `ops::batch_norm_train` /
//! `ops::batch_norm_train_add_relu` (which route by backend and shape), and, on flex and tch,
//! the `#[backend_extension]` kernel called directly so that every kernel meets every case
//! whatever the routing picks. wgpu keeps Burn's ops. The batch-norm cases include the ResNet's
//! `relu(bn(x) + residual)`, with the residual's gradient.

use burn::prelude::*;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use selfsup::burn;
use selfsup::burn::backend::Dispatch;
use selfsup::device::DeviceSpec;

// |a − b| ≤ 1e-4 + 1e-3·|b|, float32 against float64, as the network parity test.
use crate::parity::assert_close;
use selfsup::kernels::{
    NativeBatchNorm, NativeConv, batch_norm_train, batch_norm_train_add_relu, conv2d,
    native_batch_norm_applies, native_conv2d_applies,
};

fn golden() -> serde_json::Value {
    serde_json::from_str(include_str!("golden/ops.json")).expect("ops.json parses")
}

fn floats(case: &serde_json::Value, key: &str) -> Vec<f32> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden key {key} missing"))
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn dims<const D: usize>(case: &serde_json::Value, key: &str) -> [usize; D] {
    let dims: Vec<usize> = case[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    dims.try_into().unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

/// Output, x gradient, weight gradient and (if any) bias gradient of `sum(conv(x, w, b) · r)`.
type Run = Vec<(&'static str, Vec<f32>)>;

/// Runs one golden case through a [`Path`].
type Runner = fn(&serde_json::Value, &Device, Path) -> Run;

/// Which implementation a case runs through.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    /// Burn's op.
    Burn,
    /// `selfsup::kernels`, routed.
    Routed,
    /// The backend extension, called directly.
    Kernel,
}

fn run(case: &serde_json::Value, device: &Device, path: Path) -> Run {
    let device = device.clone().autodiff();
    let x = Tensor::<4>::from_data(
        TensorData::new(floats(case, "x"), dims::<4>(case, "x_shape")),
        &device,
    )
    .require_grad();
    let w = Tensor::<4>::from_data(
        TensorData::new(floats(case, "w"), dims::<4>(case, "w_shape")),
        &device,
    )
    .require_grad();
    let b = case.get("b").map(|_| {
        let b = floats(case, "b");
        let len = b.len();
        Tensor::<1>::from_data(TensorData::new(b, [len]), &device).require_grad()
    });
    let r = Tensor::<4>::from_data(
        TensorData::new(floats(case, "r"), dims::<4>(case, "y_shape")),
        &device,
    );
    let [sh, sw] = dims::<2>(case, "stride");
    let [ph, pw] = dims::<2>(case, "padding");
    let [dh, dw] = dims::<2>(case, "dilation");
    let options = ConvOptions::new([sh, sw], [ph, pw], [dh, dw], 1);
    let y = match path {
        Path::Burn => burn_conv2d(x.clone(), w.clone(), b.clone(), options),
        Path::Routed => conv2d(x.clone(), w.clone(), b.clone(), options),
        Path::Kernel => {
            let y: Tensor<4> = Tensor::from_dispatch(<Dispatch as NativeConv>::native_conv2d(
                x.clone().into_dispatch(),
                w.clone().into_dispatch(),
                options,
            ));
            match b.clone() {
                Some(b) => y + b.reshape([1, -1, 1, 1]),
                None => y,
            }
        }
    };
    let grads = (y.clone() * r).sum().backward();
    let mut out = vec![
        ("y", values(y)),
        ("x_grad", values(x.grad(&grads).expect("x has a gradient"))),
        ("w_grad", values(w.grad(&grads).expect("w has a gradient"))),
    ];
    if let Some(b) = b {
        out.push(("b_grad", values(b.grad(&grads).expect("b has a gradient"))));
    }
    out
}

/// A batch-norm case's shape as a 4-D tensor's: `[N, C]` becomes `[N, C, 1, 1]`, same numbers.
fn bn_dims4(case: &serde_json::Value) -> [usize; 4] {
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    [
        shape[0],
        shape[1],
        shape.get(2).copied().unwrap_or(1),
        shape.get(3).copied().unwrap_or(1),
    ]
}

fn bn_run(case: &serde_json::Value, device: &Device, path: Path) -> Run {
    let device = device.clone().autodiff();
    let dims4 = bn_dims4(case);
    let channels = dims4[1];
    let epsilon = case["epsilon"].as_f64().unwrap();
    let x =
        Tensor::<4>::from_data(TensorData::new(floats(case, "x"), dims4), &device).require_grad();
    let gamma = Tensor::<1>::from_data(TensorData::new(floats(case, "gamma"), [channels]), &device)
        .require_grad();
    let beta = Tensor::<1>::from_data(TensorData::new(floats(case, "beta"), [channels]), &device)
        .require_grad();
    let r = Tensor::<4>::from_data(TensorData::new(floats(case, "r"), dims4), &device);
    let residual = case.get("residual").map(|_| {
        Tensor::<4>::from_data(TensorData::new(floats(case, "residual"), dims4), &device)
            .require_grad()
    });
    let relu = case["relu"].as_bool().expect("golden key relu");
    let plain = residual.is_none() && !relu;
    let (y, mean, variance) = match path {
        Path::Burn => {
            let out = burn::tensor::module::batch_norm_train(
                x.clone(),
                gamma.clone(),
                beta.clone(),
                epsilon,
            );
            let y = match residual.clone() {
                Some(residual) => out.output + residual,
                None => out.output,
            };
            let y = if relu {
                burn::tensor::activation::relu(y)
            } else {
                y
            };
            (y, out.mean, out.variance)
        }
        Path::Routed if plain => batch_norm_train(x.clone(), gamma.clone(), beta.clone(), epsilon),
        Path::Routed => batch_norm_train_add_relu(
            x.clone(),
            gamma.clone(),
            beta.clone(),
            residual.clone(),
            relu,
            epsilon,
        ),
        Path::Kernel => {
            let (x, gamma, beta) = (
                x.clone().into_dispatch(),
                gamma.clone().into_dispatch(),
                beta.clone().into_dispatch(),
            );
            let (y, mean, variance) = match residual.clone() {
                None => <Dispatch as NativeBatchNorm>::native_batch_norm_train(
                    x, gamma, beta, relu, epsilon,
                ),
                Some(residual) => <Dispatch as NativeBatchNorm>::native_batch_norm_add_train(
                    x,
                    gamma,
                    beta,
                    residual.into_dispatch(),
                    relu,
                    epsilon,
                ),
            };
            (
                Tensor::from_dispatch(y),
                Tensor::from_dispatch(mean),
                Tensor::from_dispatch(variance),
            )
        }
    };
    let grads = (y.clone() * r).sum().backward();
    let mut out = vec![
        ("y", values(y)),
        ("mean", values(mean)),
        ("variance", values(variance)),
        ("x_grad", values(x.grad(&grads).expect("x has a gradient"))),
        (
            "gamma_grad",
            values(gamma.grad(&grads).expect("gamma has a gradient")),
        ),
        (
            "beta_grad",
            values(beta.grad(&grads).expect("beta has a gradient")),
        ),
    ];
    if let Some(residual) = residual {
        let grad = residual.grad(&grads).expect("the residual has a gradient");
        out.push(("residual_grad", values(grad)));
    }
    out
}

/// Every golden case on `spec`, after checking that `spec` routes to the native kernels exactly
/// when it is flex or tch.
fn check(spec: DeviceSpec) {
    let device = spec.device().expect("backend compiled in");
    let golden = golden();
    let kernels = matches!(spec, DeviceSpec::Flex | DeviceSpec::Tch);
    let autodiff = device.clone().autodiff();
    let options = ConvOptions::new(PLAIN, [1, 1], PLAIN, 1);
    assert_eq!(
        native_conv2d_applies(&autodiff, &options),
        kernels,
        "{spec}: native convolution"
    );
    assert_eq!(
        native_batch_norm_applies(&autodiff),
        kernels,
        "{spec}: native batch norm"
    );
    let paths: &[Path] = if kernels {
        &[Path::Routed, Path::Kernel]
    } else {
        &[Path::Routed]
    };
    let groups: [(&str, Runner); 2] = [("cases", run), ("batch_norm", bn_run)];
    for (group, run) in groups {
        for case in golden[group].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let burn = run(case, &device, Path::Burn);
            for &path in paths {
                let outputs = run(case, &device, path);
                assert_eq!(outputs.len(), burn.len(), "{spec} {name} {path:?}: outputs");
                for ((key, actual), (_, burn)) in outputs.iter().zip(&burn) {
                    let what = format!("{spec} {name} {path:?} {key}");
                    assert_close(&format!("{what} vs PyTorch"), actual, &floats(case, key));
                    assert_close(&format!("{what} vs Burn's op"), actual, burn);
                }
            }
        }
    }
}

fn device(spec: DeviceSpec) -> Device {
    spec.device().expect("backend compiled in").autodiff()
}

const PLAIN: [usize; 2] = [1, 1];

#[cfg(feature = "flex")]
#[test]
fn flex_kernels_match_pytorch_and_burn() {
    check(DeviceSpec::Flex);
}

#[cfg(feature = "tch")]
#[test]
fn tch_kernels_match_pytorch_and_burn() {
    check(DeviceSpec::Tch);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_keeps_burns_ops_and_matches_pytorch() {
    check(DeviceSpec::Wgpu);
}

/// `ops::batch_norm` moves a layer's running statistics as PyTorch's `BatchNorm` does: the running
/// variance with the *unbiased* batch variance (Burn 0.22's layer uses the biased one, which
/// this tolerance tells apart: 0.1·var/(N − 1) ≥ 4e-4 here).
#[test]
fn batch_norm_running_statistics_are_pytorchs() {
    let specs = [DeviceSpec::Flex, DeviceSpec::Tch, DeviceSpec::Wgpu];
    for spec in specs.into_iter().filter(|s| s.is_compiled()) {
        let device = device(spec);
        for case in golden()["batch_norm"].as_array().unwrap() {
            let dims4 = bn_dims4(case);
            let bn = burn::nn::BatchNormConfig::new(dims4[1]).init(&device);
            let x = Tensor::<4>::from_data(TensorData::new(floats(case, "x"), dims4), &device);
            let _ = selfsup::kernels::batch_norm(&bn, x);
            let name = case["name"].as_str().unwrap();
            for (key, actual) in [
                ("running_mean", bn.running_mean.value_sync()),
                ("running_var", bn.running_var.value_sync()),
            ] {
                let (actual, expected) = (values(actual), floats(case, key));
                for (a, e) in actual.iter().zip(&expected) {
                    assert!(
                        (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{spec} {name} {key}: {a} vs PyTorch's {e}"
                    );
                }
            }
        }
    }
}

/// Only the gradient a caller asks for is computed, and the others stay absent: x without
/// `require_grad` (an input batch) gets none, the weight gets its own.
#[test]
fn an_untracked_input_gets_no_gradient() {
    let options = ConvOptions::new(PLAIN, [1, 1], PLAIN, 1);
    for spec in [DeviceSpec::Flex, DeviceSpec::Tch]
        .into_iter()
        .filter(|s| s.is_compiled())
    {
        let device = spec.device().unwrap().autodiff();
        let case = &golden()["cases"][0];
        let x = Tensor::<4>::from_data(
            TensorData::new(floats(case, "x"), dims::<4>(case, "x_shape")),
            &device,
        );
        let w = Tensor::<4>::from_data(
            TensorData::new(floats(case, "w"), dims::<4>(case, "w_shape")),
            &device,
        )
        .require_grad();
        let y: Tensor<4> = Tensor::from_dispatch(<Dispatch as NativeConv>::native_conv2d(
            x.clone().into_dispatch(),
            w.clone().into_dispatch(),
            options.clone(),
        ));
        let grads = y.sum().backward();
        assert!(x.grad(&grads).is_none(), "{spec}: x was not tracked");
        let w_grad = values(w.grad(&grads).expect("w has a gradient"));
        // d sum(y) / dw[o, c, i, j] is the sum of the input pixels tap (i, j) reads: the same
        // for every output channel.
        let per_channel = w_grad.len() / 4;
        assert_close(
            &format!("{spec} w_grad"),
            &w_grad[..per_channel],
            &w_grad[per_channel..2 * per_channel],
        );
        assert!(
            w_grad.iter().any(|g| g.abs() > 1e-3),
            "{spec}: a non-zero weight gradient"
        );
    }
}

/// The comparison itself must be able to fail: a perturbed gradient is caught.
#[test]
#[should_panic(expected = "|diff|")]
fn a_wrong_gradient_is_caught() {
    let case = &golden()["cases"][1];
    let mut wrong = floats(case, "w_grad");
    wrong[3] += 1e-2;
    assert_close("w_grad", &wrong, &floats(case, "w_grad"));
}

/// A residual of another shape is refused by name, on every backend, before any kernel runs
/// (Burn's addition would broadcast it; the fused kernel does not).
#[test]
fn a_residual_of_another_shape_is_refused() {
    for spec in [DeviceSpec::Flex, DeviceSpec::Tch, DeviceSpec::Wgpu]
        .into_iter()
        .filter(|s| s.is_compiled())
    {
        let device = device(spec);
        let x = Tensor::<4>::ones([2, 3, 4, 4], &device);
        let residual = Tensor::<4>::ones([1, 3, 4, 4], &device);
        let (gamma, beta) = (Tensor::ones([3], &device), Tensor::zeros([3], &device));
        let result = std::panic::catch_unwind(|| {
            batch_norm_train_add_relu(x, gamma, beta, Some(residual), true, 1e-5)
        });
        let message = result.expect_err("a mismatched residual panics");
        let message = message
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(
            message.contains("the residual must have the input's shape"),
            "{spec}: {message}"
        );
    }
}

/// `ops::conv2d_forward` is Burn's `Conv2d::forward` for every padding configuration, `Same`
/// included: symmetric for odd kernels (through the native kernel on flex and tch), asymmetric
/// for even ones (Burn's op), with strides that leave a remainder. Values and gradients.
#[test]
fn conv2d_forward_is_burns_layer_for_every_padding() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use selfsup::kernels::conv2d_forward;
    let paddings = [
        PaddingConfig2d::Same,
        PaddingConfig2d::Valid,
        PaddingConfig2d::Explicit(1, 2, 1, 2),
    ];
    for spec in [DeviceSpec::Flex, DeviceSpec::Tch, DeviceSpec::Wgpu]
        .into_iter()
        .filter(|s| s.is_compiled())
    {
        let device = device(spec);
        // Few channels (im2col on flex), and 16 channels on a wide image (flex's shifted
        // products at stride 1).
        for ([channels, out_channels], x_shape) in
            [([3, 4], [2, 3, 7, 6]), ([16, 16], [2, 16, 5, 16])]
        {
            for kernel in [[3, 3], [2, 2], [3, 2]] {
                for stride in [[1, 1], [2, 2]] {
                    for padding in paddings.clone() {
                        let what = format!(
                            "{spec} {x_shape:?} kernel {kernel:?} stride {stride:?} {padding:?}"
                        );
                        let conv = Conv2dConfig::new([channels, out_channels], kernel)
                            .with_stride(stride)
                            .with_padding(padding)
                            .init(&device);
                        let x = Tensor::<4>::random(
                            x_shape,
                            burn::tensor::Distribution::Default,
                            &device,
                        )
                        .require_grad();
                        let run = |y: Tensor<4>| {
                            let r = y.clone().cos();
                            let grads = (y.clone() * r).sum().backward();
                            let weight = conv.weight.grad(&grads).expect("a weight gradient");
                            let input = x.grad(&grads).expect("an input gradient");
                            (y.dims(), [values(y), values(weight), values(input)])
                        };
                        let (dims, ours) = run(conv2d_forward(&conv, x.clone()));
                        let (burn_dims, burns) = run(conv.forward(x.clone()));
                        assert_eq!(dims, burn_dims, "{what}: output shape");
                        for (key, (a, b)) in ["y", "w_grad", "x_grad"]
                            .iter()
                            .zip(ours.iter().zip(&burns))
                        {
                            assert_close(&format!("{what} {key}"), a, b);
                        }
                    }
                }
            }
        }
    }
}
