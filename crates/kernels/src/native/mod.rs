//! The `#[backend_extension]` behind [`super::conv2d`]: the routed operation, its autodiff
//! implementation with a hand-written backward, and the per-backend kernels.

// burn-tch is deprecated upstream in favour of CubeCL backends; it remains one of ours.
#![allow(deprecated)]

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};
use burn::tensor::ops::ConvOptions;

#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
mod flex_bn;
#[cfg(feature = "tch")]
mod tch;

/// A two-dimensional convolution with a native backward, routed per backend by Burn's
/// `#[backend_extension]`: flex and LibTorch run this crate's kernels, and an autodiff backend
/// records one graph node whose backward asks the inner backend for both gradients at once.
///
/// Call it through [`super::conv2d`], which checks first that the backend and options have a
/// native kernel; on any other backend this extension panics, as Burn's extensions do.
#[backend_extension(Autodiff, Flex: cfg(feature = "flex"), LibTorch: cfg(feature = "tch"))]
pub trait NativeConv: Backend {
    /// `conv2d(x, weight)` without bias, with symmetric padding and one group; the shapes are
    /// those of Burn's `ModuleOps::conv2d`.
    fn native_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

/// What a backend must provide for [`NativeConv`]'s autodiff implementation.
pub(crate) trait ConvKernels: Backend {
    /// The forward convolution, and what [`ConvKernels::conv2d_gradients`] will need. `track`
    /// says which of `x` and `weight` will want a gradient.
    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: &ConvOptions<2>,
        track: [bool; 2],
    ) -> (FloatTensor<Self>, Vec<FloatTensor<Self>>);

    /// The gradients of `x` and `weight` asked for by `wanted`, from the saved tensors and the
    /// gradient of the output.
    fn conv2d_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        options: &ConvOptions<2>,
        wanted: [bool; 2],
    ) -> [Option<FloatTensor<Self>>; 2];
}

#[derive(Debug)]
struct Conv2dBackward;

/// The backward of a node whose kernel gives every parent's gradient at once: consumes the
/// output's gradient, asks `kernel` for the gradients of the tracked parents, registers them.
fn backward_all<B: Backend, S, const N: usize>(
    ops: Ops<S, N>,
    grads: &mut Gradients,
    kernel: impl FnOnce(S, FloatTensor<B>, [bool; N]) -> [Option<FloatTensor<B>>; N],
) {
    let output_grad = grads.consume::<B>(&ops.node);
    let wanted = ops.parents.each_ref().map(Option::is_some);
    let gradients = kernel(ops.state, output_grad, wanted);
    for (parent, gradient) in ops.parents.into_iter().zip(gradients) {
        if let (Some(node), Some(gradient)) = (parent, gradient) {
            grads.register::<B>(node.id, gradient);
        }
    }
}

impl<B: ConvKernels> Backward<B, 2> for Conv2dBackward {
    type State = (Vec<FloatTensor<B>>, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        backward_all::<B, _, 2>(ops, grads, |(saved, options), output_grad, wanted| {
            B::conv2d_gradients(saved, output_grad, &options, wanted)
        });
    }
}

impl<B: ConvKernels, C: CheckpointStrategy> NativeConv for Autodiff<B, C> {
    fn native_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let track = [x.is_tracked(), weight.is_tracked()];
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (output, saved) =
                    B::conv2d_forward(x.into_primitive(), weight.into_primitive(), &options, track);
                prep.finish((saved, options), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                None,
                options,
            )),
        }
    }
}

/// Batch normalisation with the batch's own statistics (training mode), optionally followed by a
/// residual addition and a ReLU, routed like [`NativeConv`]: one pass for the statistics and one
/// for the output on flex, libtorch's `native_batch_norm` (and its backward) on LibTorch, and
/// one autodiff node whose backward asks the inner backend for every gradient at once.
#[backend_extension(Autodiff, Flex: cfg(feature = "flex"), LibTorch: cfg(feature = "tch"))]
pub trait NativeBatchNorm: Backend {
    /// `(output, mean, biased variance)`, where `output` is `bn(x)`, or `relu(bn(x))` if
    /// `relu`, and `mean` and the variance are those of Burn's `ModuleOps::batch_norm_train`:
    /// `x` is `[batch, channels, ...]`, `gamma` and `beta` `[channels]`. Only `output` carries
    /// gradients.
    fn native_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        relu: bool,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// [`NativeBatchNorm::native_batch_norm_train`] with a residual added before the ReLU:
    /// `output` is `bn(x) + residual`, or `relu(bn(x) + residual)` if `relu` (the end of a
    /// ResNet block); `residual` has the shape of `x`.
    fn native_batch_norm_add_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        relu: bool,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// What follows the normalisation in a [`NativeBatchNorm`] call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchNormTail {
    pub(crate) epsilon: f64,
    pub(crate) relu: bool,
}

/// What a backend must provide for [`NativeBatchNorm`]'s autodiff implementation.
pub(crate) trait BatchNormKernels: Backend {
    /// `[output, mean, variance]` and what [`BatchNormKernels::batch_norm_gradients`] will need;
    /// `track` says which of `x`, `gamma`, `beta` and `residual` will want a gradient.
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: Option<FloatTensor<Self>>,
        tail: BatchNormTail,
        track: [bool; 4],
    ) -> ([FloatTensor<Self>; 3], Vec<FloatTensor<Self>>);

    /// The gradients of `x`, `gamma`, `beta` and `residual` asked for by `wanted`.
    fn batch_norm_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        tail: BatchNormTail,
        wanted: [bool; 4],
    ) -> [Option<FloatTensor<Self>>; 4];
}

/// [`NativeBatchNorm::native_batch_norm_train`] outside autodiff: the kernels' forward, with
/// nothing to save.
pub(crate) fn batch_norm_untracked<B: BatchNormKernels>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    residual: Option<FloatTensor<B>>,
    relu: bool,
    epsilon: f64,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let tail = BatchNormTail { epsilon, relu };
    let ([output, mean, variance], _) =
        B::batch_norm_forward(x, gamma, beta, residual, tail, [false; 4]);
    (output, mean, variance)
}

#[derive(Debug)]
struct BatchNormBackward;

/// One node for both arities: `x`, `gamma`, `beta`, and the residual when there is one.
impl<B: BatchNormKernels, const N: usize> Backward<B, N> for BatchNormBackward {
    type State = (Vec<FloatTensor<B>>, BatchNormTail);

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        backward_all::<B, _, N>(ops, grads, |(saved, tail), output_grad, wanted| {
            let wanted = std::array::from_fn(|i| wanted.get(i).copied().unwrap_or(false));
            let mut gradients =
                B::batch_norm_gradients(saved, output_grad, tail, wanted).into_iter();
            std::array::from_fn(|_| gradients.next().flatten())
        });
    }
}

/// `x`, `gamma`, `beta` and the residual, if any.
type BatchNormInputs<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
);

/// `(output, mean, variance)`.
type Three<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

/// The autodiff side of [`NativeBatchNorm`] with `N` parents (3 or 4).
fn batch_norm_node<B: BatchNormKernels, C: CheckpointStrategy, const N: usize>(
    nodes: [NodeGuard; N],
    track: [bool; 4],
    inputs: BatchNormInputs<B>,
    tail: BatchNormTail,
) -> Three<Autodiff<B, C>>
where
    BatchNormBackward: Backward<B, N, State = (Vec<FloatTensor<B>>, BatchNormTail)>,
{
    let (x, gamma, beta, residual) = inputs;
    match BatchNormBackward
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let ([output, mean, variance], saved) =
                B::batch_norm_forward(x, gamma, beta, residual, tail, track);
            (
                prep.finish((saved, tail), output),
                <FloatTensor<Autodiff<B, C>>>::new(mean),
                <FloatTensor<Autodiff<B, C>>>::new(variance),
            )
        }
        OpsKind::UnTracked(prep) => {
            let (output, mean, variance) =
                batch_norm_untracked::<B>(x, gamma, beta, residual, tail.relu, tail.epsilon);
            (
                prep.finish(output),
                <FloatTensor<Autodiff<B, C>>>::new(mean),
                <FloatTensor<Autodiff<B, C>>>::new(variance),
            )
        }
    }
}

impl<B: BatchNormKernels, C: CheckpointStrategy> NativeBatchNorm for Autodiff<B, C> {
    fn native_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        relu: bool,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let track = [x.is_tracked(), gamma.is_tracked(), beta.is_tracked(), false];
        let nodes = [x.node(), gamma.node(), beta.node()];
        let inputs = (
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            None,
        );
        batch_norm_node::<B, C, 3>(nodes, track, inputs, BatchNormTail { epsilon, relu })
    }

    fn native_batch_norm_add_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        relu: bool,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let track = [
            x.is_tracked(),
            gamma.is_tracked(),
            beta.is_tracked(),
            residual.is_tracked(),
        ];
        let nodes = [x.node(), gamma.node(), beta.node(), residual.node()];
        let inputs = (
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            Some(residual.into_primitive()),
        );
        batch_norm_node::<B, C, 4>(nodes, track, inputs, BatchNormTail { epsilon, relu })
    }
}
