//! LibTorch: libtorch's own convolution and batch-norm backward.
//!
//! The `tch` crate does not bind `aten::convolution_backward`, so the forward records libtorch's
//! autograd graph for this one convolution (on detached leaves that share the inputs' storage)
//! and the backward runs that graph from `sum(output · output_grad)`, whose gradient with respect
//! to the output is `output_grad`. libtorch then calls the same `convolution_backward` (oneDNN
//! on a CPU, cuDNN on CUDA) as a PyTorch training step. The output handed back to Burn is
//! detached, so nothing else Burn does on LibTorch records a graph.

use burn::backend::LibTorch;
use burn::backend::libtorch::TchTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::tensor::ops::ConvOptions;

use super::{BatchNormKernels, ConvKernels, NativeBatchNorm, NativeConv};

impl NativeConv for LibTorch {
    fn native_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        LibTorch::conv2d(x, weight, None, options)
    }
}

/// A leaf sharing `tensor`'s storage, which records a graph if `track`.
fn leaf(tensor: &TchTensor, track: bool) -> tch::Tensor {
    let leaf = tensor.tensor.detach();
    if track {
        leaf.set_requires_grad(true)
    } else {
        leaf
    }
}

fn to_i64(values: [usize; 2]) -> [i64; 2] {
    values.map(|value| value as i64)
}

impl ConvKernels for LibTorch {
    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: &ConvOptions<2>,
        track: [bool; 2],
    ) -> (FloatTensor<Self>, Vec<FloatTensor<Self>>) {
        let x_leaf = leaf(&x, track[0]);
        let weight_leaf = leaf(&weight, track[1]);
        let graph = tch::with_grad(|| {
            tch::Tensor::conv2d(
                &x_leaf,
                &weight_leaf,
                None::<tch::Tensor>,
                to_i64(options.stride),
                to_i64(options.padding_begin()),
                to_i64(options.dilation),
                options.groups as i64,
            )
        });
        let output = TchTensor::new(graph.detach());
        // `x` and `weight` stay in the saved list, not only their leaves: Burn's LibTorch ops
        // write in place into a tensor whose storage they hold alone, and libtorch's graph needs
        // these values unchanged.
        let saved = vec![
            TchTensor::new(graph),
            TchTensor::new(x_leaf),
            TchTensor::new(weight_leaf),
            x,
            weight,
        ];
        (output, saved)
    }

    fn conv2d_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        _options: &ConvOptions<2>,
        wanted: [bool; 2],
    ) -> [Option<FloatTensor<Self>>; 2] {
        let leaves = [&saved[1].tensor, &saved[2].tensor];
        graph_gradients(&saved[0].tensor, leaves, &output_grad.tensor, wanted)
    }
}

/// The gradients of the `wanted` leaves from a libtorch graph ending at `graph`, given the
/// gradient of `graph` (the backward of `sum(graph · output_grad)`).
fn graph_gradients<const N: usize>(
    graph: &tch::Tensor,
    leaves: [&tch::Tensor; N],
    output_grad: &tch::Tensor,
    wanted: [bool; N],
) -> [Option<TchTensor>; N] {
    let inputs: Vec<&tch::Tensor> = leaves
        .iter()
        .zip(wanted)
        .filter_map(|(leaf, want)| want.then_some(*leaf))
        .collect();
    if inputs.is_empty() {
        return [(); N].map(|()| None);
    }
    let root = tch::with_grad(|| (graph * output_grad).sum(graph.kind()));
    let mut gradients = tch::Tensor::run_backward(&[root], &inputs, false, false).into_iter();
    wanted
        .map(|want| want.then(|| TchTensor::new(gradients.next().expect("one gradient per input"))))
}

impl NativeBatchNorm for LibTorch {
    fn native_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        super::batch_norm_untracked::<Self>(x, gamma, beta, epsilon)
    }
}

impl BatchNormKernels for LibTorch {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        track: [bool; 3],
    ) -> ([FloatTensor<Self>; 3], Vec<FloatTensor<Self>>) {
        let leaves = [
            leaf(&x, track[0]),
            leaf(&gamma, track[1]),
            leaf(&beta, track[2]),
        ];
        let (graph, mean, inv_std) = tch::with_grad(|| {
            leaves[0].native_batch_norm(
                Some(&leaves[1]),
                Some(&leaves[2]),
                None::<&tch::Tensor>,
                None::<&tch::Tensor>,
                true,
                0.0,
                epsilon,
            )
        });
        // libtorch keeps 1/√(var + ε); the biased variance is what Burn's op returns. The mean
        // is a copy: the graph saved its own, and Burn may write into a tensor it holds alone.
        let variance = inv_std.detach().pow_tensor_scalar(-2.0) - epsilon;
        let outputs = [
            TchTensor::new(graph.detach()),
            TchTensor::new(mean.detach().copy()),
            TchTensor::new(variance),
        ];
        let [x_leaf, gamma_leaf, beta_leaf] = leaves;
        let saved = vec![
            TchTensor::new(graph),
            TchTensor::new(x_leaf),
            TchTensor::new(gamma_leaf),
            TchTensor::new(beta_leaf),
            x,
            gamma,
            beta,
        ];
        (outputs, saved)
    }

    fn batch_norm_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        _epsilon: f64,
        wanted: [bool; 3],
    ) -> [Option<FloatTensor<Self>>; 3] {
        let leaves = [&saved[1].tensor, &saved[2].tensor, &saved[3].tensor];
        graph_gradients(&saved[0].tensor, leaves, &output_grad.tensor, wanted)
    }
}
