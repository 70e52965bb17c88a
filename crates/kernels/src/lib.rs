//! # selfsup-kernels
//!
//! Native kernels for the hot operations of a convolutional train step: convolution and
//! training-mode batch norm. The models of `selfsup-models` call them in their `forward`; a
//! user's encoder can too (the facade re-exports this crate as `selfsup::kernels`, and
//! `selfsup_models::ops` is the same crate under its former path).
//!
//! Burn differentiates `conv2d` with backend-generic formulas: the input gradient is a transposed
//! convolution and the weight gradient a convolution of the input by the output gradient, dilated
//! by the stride, whose matrix products are as thin as the kernel is small. Neither burn-flex nor
//! burn-tch has a convolution backward of its own, and both run batch norm as a dozen generic
//! tensor operations. [`conv2d`] and [`batch_norm_train`] route these to kernels of our own
//! through Burn's `#[backend_extension]`, with a hand-written backward (`NativeConv`,
//! `NativeBatchNorm`). [`batch_norm_train_add_relu`] and [`batch_norm_relu`] take what a ResNet
//! does after a batch norm, `relu(bn(x) + residual)`, into the same kernel and autodiff node.
//!
//! - **flex**: the forward and the weight gradient are im2col + flex's `gemm` (the way PyTorch's
//!   `slow_conv2d` and Caffe compute them), the input gradient flex's transposed convolution;
//!   batch norm takes two passes each way, one rayon task per channel or plane.
//! - **LibTorch**: the forward records libtorch's autograd graph for this one operation, and the
//!   backward runs it, so the gradients come from libtorch's `convolution_backward`,
//!   `native_batch_norm_backward` and `threshold_backward` (oneDNN on a CPU, cuDNN on CUDA): the
//!   kernels PyTorch itself trains with. Convolutions run channels last.
//!
//! Every other backend (wgpu, CUDA through CubeCL), a grouped convolution and an asymmetric
//! padding keep Burn's ops. Values and gradients are Burn's to float rounding; the facade's
//! `tests/parity_ops.rs` checks them, and PyTorch's, on every compiled backend. The measurements
//! behind each choice are in docs/benchmarks.md.
//!
//! [`set_native_ops`]`(false)` turns the routing off (the benchmarks use it for the "before"
//! figures).
//!
//! ## Crate map
//! - this page: the routed operations ([`conv2d`], [`conv2d_forward`], [`batch_norm`],
//!   [`batch_norm_relu`], [`batch_norm_train`], [`batch_norm_train_add_relu`]) and the switches
//!   ([`set_native_ops`], [`native_conv2d_applies`], [`native_batch_norm_applies`]).
//! - `native` (private): the `#[backend_extension]`s `NativeConv` and `NativeBatchNorm`
//!   with their autodiff nodes; `native::flex` and `native::flex_bn` the flex kernels
//!   (`native::flex::checked_gemm` is this workspace's one `unsafe` call into `gemm`);
//!   `native::tch` LibTorch's.
//!
//! ## Feature flags
//! - `flex`: the flex kernels (and flex's AVX-512 `gemm`).
//! - `tch`: the LibTorch kernels.
//!
//! Without either, every function here is Burn's op.
#![warn(missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

#[cfg(any(feature = "flex", feature = "tch"))]
mod native;
#[cfg(any(feature = "flex", feature = "tch"))]
pub use native::{NativeBatchNorm, NativeConv};

static NATIVE_OPS: AtomicBool = AtomicBool::new(true);

/// Turns the native kernels on or off for the whole process (on by default). Off, [`conv2d`] is
/// exactly [`burn::tensor::module::conv2d`].
pub fn set_native_ops(enabled: bool) {
    NATIVE_OPS.store(enabled, Ordering::Relaxed);
}

/// The backends with native kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Native {
    Flex,
    LibTorch,
}

fn native_backend(device: &Device) -> Option<Native> {
    if !NATIVE_OPS.load(Ordering::Relaxed) {
        return None;
    }
    #[cfg(any(feature = "flex", feature = "tch"))]
    {
        use burn::backend::DispatchDevice;
        #[allow(unreachable_patterns)]
        match device.as_dispatch().clone().inner() {
            #[cfg(feature = "flex")]
            DispatchDevice::Flex(_) => return Some(Native::Flex),
            #[cfg(feature = "tch")]
            DispatchDevice::LibTorch(_) => return Some(Native::LibTorch),
            _ => {}
        }
    }
    let _ = (device, Native::Flex, Native::LibTorch);
    None
}

/// Whether [`conv2d`] uses a native kernel for a convolution with these options on `device`:
/// flex or LibTorch, one group, symmetric padding.
pub fn native_conv2d_applies(device: &Device, options: &ConvOptions<2>) -> bool {
    options.groups == 1 && !options.is_asymmetric() && native_backend(device).is_some()
}

/// Whether [`batch_norm_train`] uses a native kernel on `device` (flex and LibTorch).
pub fn native_batch_norm_applies(device: &Device) -> bool {
    native_backend(device).is_some()
}

/// Two-dimensional convolution, [`burn::tensor::module::conv2d`] with the same arguments and
/// results, through a native kernel where one exists (see the [crate docs](crate)).
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    #[cfg(any(feature = "flex", feature = "tch"))]
    if native_conv2d_applies(&x.device(), &options) {
        use burn::backend::Dispatch;
        let output: Tensor<4> = Tensor::from_dispatch(<Dispatch as NativeConv>::native_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            options,
        ));
        return match bias {
            Some(bias) => output + bias.reshape([1, -1, 1, 1]),
            None => output,
        };
    }
    burn::tensor::module::conv2d(x, weight, bias, options)
}

/// [`Conv2d::forward`] through [`conv2d`]: the module's weight, bias, stride, padding, dilation
/// and groups. `PaddingConfig2d::Same` is worked out as Burn's layer does; where it comes out
/// asymmetric (an even kernel), [`conv2d`] keeps Burn's op.
pub fn conv2d_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => {
            let [_, _, height, width] = x.dims();
            [
                same_padding(conv.kernel_size[0], conv.stride[0], height),
                same_padding(conv.kernel_size[1], conv.stride[1], width),
            ]
        }
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|bias| bias.val()),
        options,
    )
}

/// `(before, after)` padding that keeps `⌈size / stride⌉` outputs, the larger half after: Burn
/// 0.22's `PaddingConfig2d::Same` (which, like it, ignores the dilation).
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let outputs = size.div_ceil(stride);
    let total = match outputs {
        0 => 0,
        _ => ((outputs - 1) * stride + kernel).saturating_sub(size),
    };
    (total / 2, total - total / 2)
}

/// Batch normalisation with the batch's statistics, Burn's
/// [`batch_norm_train`](burn::tensor::module::batch_norm_train) with the same arguments and
/// results `(output, mean, biased variance)`, through a native kernel on flex and LibTorch.
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    batch_norm_train_add_relu(x, gamma, beta, None, false, epsilon)
}

/// [`batch_norm_train`] whose output is `bn(x) + residual` (when given), then its ReLU if
/// `relu`: one native kernel for the three on flex and LibTorch, whose backward goes through the
/// ReLU's mask, the addition and the batch norm in one autodiff node; Burn's three ops elsewhere.
///
/// # Panics
/// If `residual`'s shape is not `x`'s (no broadcasting).
pub fn batch_norm_train_add_relu<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    residual: Option<Tensor<D>>,
    relu: bool,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    if let Some(residual) = &residual {
        assert_eq!(
            residual.dims(),
            x.dims(),
            "ops::batch_norm_train_add_relu: the residual must have the input's shape"
        );
    }
    #[cfg(any(feature = "flex", feature = "tch"))]
    if native_batch_norm_applies(&x.device()) {
        use burn::backend::Dispatch;
        let (x, gamma, beta) = (
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
        );
        let (output, mean, variance) = match residual {
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
        return (
            Tensor::from_dispatch(output),
            Tensor::from_dispatch(mean),
            Tensor::from_dispatch(variance),
        );
    }
    let result = burn::tensor::module::batch_norm_train(x, gamma, beta, epsilon);
    (
        add_relu(result.output, residual, relu),
        result.mean,
        result.variance,
    )
}

/// `x + residual`, then the ReLU if `relu`, with Burn's ops.
fn add_relu<const D: usize>(x: Tensor<D>, residual: Option<Tensor<D>>, relu: bool) -> Tensor<D> {
    let x = match residual {
        Some(residual) => x + residual,
        None => x,
    };
    if relu {
        burn::tensor::activation::relu(x)
    } else {
        x
    }
}

/// [`BatchNorm::forward`] through [`batch_norm_train`]: in training (an autodiff device and the
/// layer's training flag on) it normalises with the batch's statistics and moves the running
/// ones by `momentum`; otherwise it is Burn's layer.
///
/// The running variance moves with the *unbiased* batch variance, as PyTorch's `BatchNorm2d`
/// does (Burn 0.22's layer uses the biased one, which it normalises with): the statistics a
/// network evaluates and exports with are PyTorch's.
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    batch_norm_layer(bn, x, None, false)
}

/// `relu(batch_norm(bn, x) + residual)`, the residual only when given: [`batch_norm`] followed
/// by what a ResNet puts after it (torchvision's `out = bn2(conv2(out)); out += identity;
/// out = relu(out)`, or `relu(bn1(conv1(x)))`), in one native kernel on flex and LibTorch,
/// whose backward goes through the ReLU's mask and the batch norm in one node.
///
/// # Panics
/// If `residual`'s shape is not `x`'s (no broadcasting).
pub fn batch_norm_relu<const D: usize>(
    bn: &BatchNorm,
    x: Tensor<D>,
    residual: Option<Tensor<D>>,
) -> Tensor<D> {
    batch_norm_layer(bn, x, residual, true)
}

fn batch_norm_layer<const D: usize>(
    bn: &BatchNorm,
    x: Tensor<D>,
    residual: Option<Tensor<D>>,
    relu: bool,
) -> Tensor<D> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return add_relu(bn.forward(x), residual, relu);
    }
    let device = x.device();
    let dims = x.dims();
    let count = dims.iter().product::<usize>() / dims[1].max(1);
    let (output, mean, variance) =
        batch_norm_train_add_relu(x, bn.gamma.val(), bn.beta.val(), residual, relu, bn.epsilon);
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    let running_mean = running_mean
        .mul_scalar(1.0 - momentum)
        .add(mean.detach().mul_scalar(momentum));
    let unbiased = count as f64 / (count.max(2) - 1) as f64;
    let running_var = running_var
        .mul_scalar(1.0 - momentum)
        .add(variance.detach().mul_scalar(momentum * unbiased));
    bn.running_mean.update(running_mean.detach());
    bn.running_var.update(running_var.detach());
    output
}
