//! LibTorch: libtorch's own convolution and batch-norm backward.
//!
//! The `tch` crate does not bind `aten::convolution_backward`, so the forward records libtorch's
//! autograd graph for this one convolution (on detached leaves that share the inputs' storage)
//! and the backward runs that graph from `sum(output · output_grad)`, whose gradient with respect
//! to the output is `output_grad`. libtorch then calls the same `convolution_backward` (oneDNN
//! on a CPU, cuDNN on CUDA) as a PyTorch training step. The output handed back to Burn is
//! detached, so nothing else Burn does on LibTorch records a graph.
//!
//! On a CPU, the convolution's input and weight go to libtorch channels last (`[N, C, H, W]` with
//! strides `[H·W·C, 1, W·C, C]`, PyTorch's `torch.channels_last`): the same shapes for Burn, a
//! faster layout for oneDNN. Batch norm records `native_batch_norm`, then the residual addition
//! and an in-place ReLU when asked for, in the same graph.

use burn::backend::LibTorch;
use burn::backend::libtorch::TchTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::tensor::ops::ConvOptions;

use super::{BatchNormKernels, BatchNormTail, ConvKernels, NativeBatchNorm, NativeConv};

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
    tracked(tensor.tensor.detach(), track)
}

/// `data`, recording a graph from here if `track`.
fn tracked(data: tch::Tensor, track: bool) -> tch::Tensor {
    if track {
        data.set_requires_grad(true)
    } else {
        data
    }
}

/// Whether `tensor` (4-D) is laid out channels last: `[N, C, H, W]` with strides
/// `[H·W·C, 1, W·C, C]`.
fn is_channels_last(tensor: &tch::Tensor) -> bool {
    let size = tensor.size();
    let stride = tensor.stride();
    size.len() == 4 && {
        let [_, c, _, w] = [size[0], size[1], size[2], size[3]];
        (c == 1 || stride[1] == 1)
            && (w == 1 || stride[3] == c)
            && stride[2] == w * c
            && stride[0] == size[2] * w * c
    }
}

/// [`leaf`], laid out channels last on a CPU (a copy unless it already is): oneDNN convolves
/// NHWC data without reordering it to its blocked layout and back, which made the whole SimSiam
/// ResNet-18 step 10 % faster on tch (docs/benchmarks.md). The output, and so the batch norms,
/// ReLUs and additions after it, stay channels last; the gradients come back in the inputs'
/// layout.
fn leaf_channels_last(tensor: &TchTensor, track: bool) -> tch::Tensor {
    let data = tensor.tensor.detach();
    // On a CPU only: cuDNN's float32 convolutions were not measured channels last here.
    let data = if data.device() != tch::Device::Cpu || is_channels_last(&data) {
        data
    } else {
        data.permute([0, 2, 3, 1])
            .contiguous()
            .permute([0, 3, 1, 2])
    };
    tracked(data, track)
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
        let x_leaf = leaf_channels_last(&x, track[0]);
        let weight_leaf = leaf_channels_last(&weight, track[1]);
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

/// `tensor`'s dimensions from the largest stride to the smallest: the permutation under which a
/// dense tensor reads as one contiguous run.
fn memory_order(tensor: &tch::Tensor) -> Vec<i64> {
    let strides = tensor.stride();
    let mut order: Vec<i64> = (0..strides.len() as i64).collect();
    order.sort_by_key(|&dim| std::cmp::Reverse(strides[dim as usize]));
    order
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
    // `graph · output_grad` as one dot product over both in `graph`'s memory order (a view when
    // the two share their layout, as channels-last activations and their gradients do): one read
    // of each, where `sum(graph * output_grad)` wrote and read a third tensor.
    let order = memory_order(graph);
    let flat = |tensor: &tch::Tensor| tensor.permute(&order).reshape([-1]);
    let root = tch::with_grad(|| flat(graph).dot(&flat(output_grad)));
    let mut gradients = tch::Tensor::run_backward(&[root], &inputs, false, false).into_iter();
    wanted
        .map(|want| want.then(|| TchTensor::new(gradients.next().expect("one gradient per input"))))
}

impl NativeBatchNorm for LibTorch {
    fn native_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        relu: bool,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        super::batch_norm_untracked::<Self>(x, gamma, beta, None, relu, epsilon)
    }

    fn native_batch_norm_add_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        relu: bool,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        super::batch_norm_untracked::<Self>(x, gamma, beta, Some(residual), relu, epsilon)
    }
}

impl BatchNormKernels for LibTorch {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: Option<FloatTensor<Self>>,
        tail: BatchNormTail,
        track: [bool; 4],
    ) -> ([FloatTensor<Self>; 3], Vec<FloatTensor<Self>>) {
        let leaves = [
            leaf(&x, track[0]),
            leaf(&gamma, track[1]),
            leaf(&beta, track[2]),
        ];
        let residual_leaf = residual.as_ref().map(|r| leaf(r, track[3]));
        let (graph, mean, inv_std) = tch::with_grad(|| {
            let (output, mean, inv_std) = leaves[0].native_batch_norm(
                Some(&leaves[1]),
                Some(&leaves[2]),
                None::<&tch::Tensor>,
                None::<&tch::Tensor>,
                true,
                0.0,
                tail.epsilon,
            );
            let mut output = match &residual_leaf {
                Some(residual) => output + residual,
                None => output,
            };
            // In place, as torchvision's ReLU(inplace=True): libtorch's batch-norm backward
            // needs its input, not its output.
            if tail.relu {
                let _ = output.relu_();
            }
            (output, mean, inv_std)
        });
        // libtorch keeps 1/√(var + ε); the biased variance is what Burn's op returns. The mean
        // is a copy: the graph saved its own, and Burn may write into a tensor it holds alone.
        let variance = inv_std.detach().pow_tensor_scalar(-2.0) - tail.epsilon;
        let outputs = [
            TchTensor::new(graph.detach()),
            TchTensor::new(mean.detach().copy()),
            TchTensor::new(variance),
        ];
        let [x_leaf, gamma_leaf, beta_leaf] = leaves;
        let mut saved = vec![
            TchTensor::new(graph),
            TchTensor::new(x_leaf),
            TchTensor::new(gamma_leaf),
            TchTensor::new(beta_leaf),
            x,
            gamma,
            beta,
        ];
        if let (Some(residual_leaf), Some(residual)) = (residual_leaf, residual) {
            saved.extend([TchTensor::new(residual_leaf), residual]);
        }
        (outputs, saved)
    }

    fn batch_norm_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        _tail: BatchNormTail,
        wanted: [bool; 4],
    ) -> [Option<FloatTensor<Self>>; 4] {
        // The residual's leaf, when there is one, follows Burn's own x, gamma and beta.
        let residual = saved.get(7).map_or(&saved[1].tensor, |leaf| &leaf.tensor);
        let leaves = [
            &saved[1].tensor,
            &saved[2].tensor,
            &saved[3].tensor,
            residual,
        ];
        let wanted = [
            wanted[0],
            wanted[1],
            wanted[2],
            wanted[3] && saved.len() > 7,
        ];
        graph_gradients(&saved[0].tensor, leaves, &output_grad.tensor, wanted)
    }
}
