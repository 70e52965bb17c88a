//! flex: the forward and the weight gradient as im2col + matrix products (Chellapilla et al.,
//! 2006, "High performance convolutional neural networks for document processing"; PyTorch's
//! `slow_conv2d` computes them the same way).
//!
//! With `x: [N, C, H, W]`, `weight: [O, C, kh, kw]`, `output_grad: [N, O, Ho, Wo]`,
//! `K = C·kh·kw`, `L = Ho·Wo` and `cols[K, L]` = im2col of one image:
//!
//! - forward: `y[O, L] = weight[O, K] · cols` per image, where flex's convolution makes one
//!   thinner product per tile of 512 output positions;
//! - weight gradient: `Σ over images of g[O, L] · colsᵀ`, where Burn's generic backward
//!   convolves the input by the output gradient dilated by the stride, whose products are as thin
//!   as the kernel is small (9 columns for a `3×3`);
//! - input gradient: flex's transposed convolution (what Burn's generic backward calls). An
//!   im2col-style `weightᵀ · g` + col2im measured slower on two cores: its `[K, L]` buffers go
//!   through memory twice more.
//!
//! The products are flex's `gemm` (AVX-512 where the CPU has it, every core through rayon), on a
//! slice of images at a time whose columns fit [`COLUMNS_BUDGET`]; im2col runs one row or one
//! image per rayon task.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape, TensorData};
use rayon::prelude::*;

use super::{ConvKernels, NativeConv};

/// The largest im2col buffer built at once, in `f32`s (16 MiB): the batch is cut into slices
/// that fit. Measured on two cores: 4 and 8 MiB, or 32 and 64 MiB, were slower.
const COLUMNS_BUDGET: usize = 1 << 22;

/// From this many output positions per image on, one product per image (see
/// [`weight_grad_f32`]).
const PER_IMAGE_MIN_POSITIONS: usize = 256;

impl NativeConv for Flex {
    fn native_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        forward(x, weight, options)
    }
}

/// `y[n, O, L] = weight[O, K] · cols[n, K, L]`, a slice of images at a time (flex's batched
/// `gemm` runs them in parallel), where flex's own convolution makes one thin product per tile of
/// 512 output positions.
fn forward(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return Flex::conv2d(x, weight, None, options);
    }
    let x = contiguous_f32(&x);
    let [batch, channels, height, width] = dims4(&x);
    let [out_channels, _, kh, kw] = dims4(&weight);
    let out_size = |axis: usize, size: usize, kernel: usize| {
        let span = options.dilation[axis] * (kernel - 1) + 1;
        (size + 2 * options.padding_begin()[axis])
            .checked_sub(span)
            .map(|room| room / options.stride[axis] + 1)
    };
    let (Some(out_height), Some(out_width)) = (out_size(0, height, kh), out_size(1, width, kw))
    else {
        // A kernel larger than the padded image: flex's convolution reports it.
        return Flex::conv2d(x, weight, None, options);
    };
    let geometry = Geometry::new(&x, [kh, kw], &options, [out_height, out_width]);
    let k = channels * kh * kw;
    let l = out_height * out_width;
    let plane = height * width;
    let xs = f32s(&x);
    let weight = Flex::float_reshape(weight, Shape::new([1, out_channels, k]));
    let slice = images_per_slice(k * l, batch);
    let mut cols_buffer = vec![0f32; slice * k * l];
    let mut output = Vec::with_capacity(batch * out_channels * l);
    for start in (0..batch).step_by(slice) {
        let n = slice.min(batch - start);
        let images = &xs[start * channels * plane..][..n * channels * plane];
        cols_buffer.truncate(n * k * l);
        im2col_per_image(images, &geometry, &mut cols_buffer);
        let cols = FlexTensor::from_data(TensorData::new(cols_buffer, [n, k, l]));
        let product = contiguous_f32(&Flex::float_matmul(weight.clone(), cols.clone()));
        output.extend_from_slice(f32s(&product));
        cols_buffer = cols.into_data().into_vec::<f32>().expect("f32 columns");
    }
    let shape = [batch, out_channels, geometry.out_height, geometry.out_width];
    FlexTensor::from_data(TensorData::new(output, shape))
}

impl ConvKernels for Flex {
    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: &ConvOptions<2>,
        _track: [bool; 2],
    ) -> (FloatTensor<Self>, Vec<FloatTensor<Self>>) {
        let output = forward(x.clone(), weight.clone(), options.clone());
        (output, vec![x, weight])
    }

    fn conv2d_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        options: &ConvOptions<2>,
        wanted: [bool; 2],
    ) -> [Option<FloatTensor<Self>>; 2] {
        let [x, weight]: [FlexTensor; 2] = saved.try_into().expect("flex conv2d saves x, weight");
        let x_grad = wanted[0].then(|| {
            Flex::conv2d_x_backward(
                x.clone(),
                weight.clone(),
                output_grad.clone(),
                options.clone(),
            )
        });
        let weight_grad = wanted[1].then(|| {
            if x.dtype() == DType::F32 && weight.dtype() == DType::F32 {
                weight_grad_f32(&x, &weight, &output_grad, options)
            } else {
                // Burn's generic formula for the other float types.
                Flex::conv2d_weight_backward(x, weight, output_grad, options.clone())
            }
        });
        [x_grad, weight_grad]
    }
}

/// `tensor` itself if its values are one contiguous run (a cheap clone), else a contiguous copy.
pub(super) fn contiguous_f32(tensor: &FlexTensor) -> FlexTensor {
    if tensor.as_slice::<f32>().is_some() {
        tensor.clone()
    } else {
        tensor.to_contiguous()
    }
}

/// The values of a contiguous `f32` tensor.
pub(super) fn f32s(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// How many images of `image_columns` im2col entries each fit [`COLUMNS_BUDGET`] (at least one,
/// at most the batch).
fn images_per_slice(image_columns: usize, batch: usize) -> usize {
    (COLUMNS_BUDGET / image_columns.max(1)).clamp(1, batch.max(1))
}

/// `cols[n, K, L]`: [`im2col`] of each image of `images`, one image per rayon task.
fn im2col_per_image(images: &[f32], geo: &Geometry, cols: &mut [f32]) {
    let k = geo.channels * geo.kernel[0] * geo.kernel[1];
    let l = geo.out_height * geo.out_width;
    cols.par_chunks_mut(k * l)
        .zip(images.par_chunks(geo.channels * geo.height * geo.width))
        .for_each(|(cols, image)| im2col(image, 1, geo, cols));
}

fn dims4(tensor: &FlexTensor) -> [usize; 4] {
    let shape = tensor.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// Geometry of one convolution.
#[derive(Clone, Copy)]
struct Geometry {
    channels: usize,
    height: usize,
    width: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    out_height: usize,
    out_width: usize,
}

impl Geometry {
    fn new(x: &FlexTensor, kernel: [usize; 2], options: &ConvOptions<2>, out: [usize; 2]) -> Self {
        let [_, channels, height, width] = dims4(x);
        Self {
            channels,
            height,
            width,
            kernel,
            stride: options.stride,
            padding: options.padding_begin(),
            dilation: options.dilation,
            out_height: out[0],
            out_width: out[1],
        }
    }

    /// The input coordinate read by output coordinate `out` at kernel offset `k` along `axis`, if
    /// it is inside the image (not padding).
    fn source(&self, axis: usize, out: usize, k: usize) -> Option<usize> {
        let size = if axis == 0 { self.height } else { self.width };
        let position = out * self.stride[axis] + k * self.dilation[axis];
        position
            .checked_sub(self.padding[axis])
            .filter(|&position| position < size)
    }
}

/// The weight gradient `Σ over images of g[O, L] · cols[K, L]ᵀ`, a slice of images at a time
/// whose columns fit [`COLUMNS_BUDGET`], in buffers reused across the slices.
///
/// Two arrangements of the same sum, chosen by the number `L` of output positions (measured on
/// ResNet-18's layers, docs/benchmarks.md): for large `L`, one `[O, L] · [L, K]` product per image
/// (flex's batched `gemm` runs the images in parallel) and a sum over the slice; for small `L`,
/// whose per-image products are thin and the per-image `[O, K]` outputs large, a single
/// `[O, n·L] · [n·L, K]` product with the images side by side.
fn weight_grad_f32(
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: &FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let x = contiguous_f32(x);
    let output_grad = contiguous_f32(output_grad);
    let [batch, channels, height, width] = dims4(&x);
    let [out_channels, _, kh, kw] = dims4(weight);
    let [_, _, out_height, out_width] = dims4(&output_grad);
    let geometry = Geometry::new(&x, [kh, kw], options, [out_height, out_width]);
    let k = channels * kh * kw;
    let l = out_height * out_width;
    let plane = height * width;
    let per_image = l >= PER_IMAGE_MIN_POSITIONS;
    let (xs, gs) = (f32s(&x), f32s(&output_grad));
    let slice = images_per_slice(k * l, batch);
    let mut cols_buffer = vec![0f32; slice * k * l];
    let mut g_buffer = if per_image {
        Vec::new()
    } else {
        vec![0f32; slice * out_channels * l]
    };
    let mut sum: Option<FlexTensor> = None;
    for start in (0..batch).step_by(slice) {
        let n = slice.min(batch - start);
        let images = &xs[start * channels * plane..][..n * channels * plane];
        cols_buffer.truncate(n * k * l);
        let product = if per_image {
            // cols [n, K, L], g [n, O, L] (a view of the output gradient): n products, summed.
            im2col_per_image(images, &geometry, &mut cols_buffer);
            let cols = FlexTensor::from_data(TensorData::new(cols_buffer, [n, k, l]));
            let g = output_grad
                .narrow(0, start, n)
                .reshape(Shape::new([n, out_channels, l]));
            let products = Flex::float_matmul(g, Flex::float_swap_dims(cols.clone(), 1, 2));
            cols_buffer = cols.into_data().into_vec::<f32>().expect("f32 columns");
            Flex::float_reshape(
                Flex::float_sum_dim(products, 0),
                Shape::new([out_channels, k]),
            )
        } else {
            // cols [K, n·L], g [O, n·L] (the output gradient, output channel first): one product.
            im2col(images, n, &geometry, &mut cols_buffer);
            g_buffer.truncate(n * out_channels * l);
            g_buffer
                .par_chunks_mut(n * l)
                .enumerate()
                .for_each(|(o, row)| {
                    for (i, dst) in row.chunks_mut(l).enumerate() {
                        dst.copy_from_slice(&gs[((start + i) * out_channels + o) * l..][..l]);
                    }
                });
            let cols = FlexTensor::from_data(TensorData::new(cols_buffer, [k, n * l]));
            let g = FlexTensor::from_data(TensorData::new(g_buffer, [out_channels, n * l]));
            let product = Flex::float_matmul(g.clone(), Flex::float_transpose(cols.clone()));
            cols_buffer = cols.into_data().into_vec::<f32>().expect("f32 columns");
            g_buffer = g.into_data().into_vec::<f32>().expect("an f32 gradient");
            product
        };
        sum = Some(match sum {
            None => product,
            Some(total) => Flex::float_add(total, product),
        });
    }
    let sum = sum.expect("a batch of at least one image");
    Flex::float_reshape(sum, Shape::new([out_channels, channels, kh, kw]))
}

/// `cols[K, n·L]`: row `(c, i, j)` holds, for each of the `n` images and each output position,
/// the input pixel that kernel tap `(i, j)` of channel `c` reads (0 in the padding).
fn im2col(x: &[f32], n: usize, geo: &Geometry, cols: &mut [f32]) {
    let [kh, kw] = geo.kernel;
    let l = geo.out_height * geo.out_width;
    let plane = geo.height * geo.width;
    // The run of output columns whose tap `j` lands inside the image (the rest read padding).
    let inside = |j: usize| {
        let first = (0..geo.out_width).find(|&ow| geo.source(1, ow, j).is_some());
        let last = (0..geo.out_width)
            .rev()
            .find(|&ow| geo.source(1, ow, j).is_some());
        first.zip(last)
    };
    let runs: Vec<Option<(usize, usize)>> = (0..kw).map(inside).collect();
    let contiguous = geo.stride[1] == 1 && geo.dilation[1] == 1;
    // Every entry is written once, padding included, so the buffer needs no clearing first.
    cols.par_chunks_mut(n * l)
        .enumerate()
        .for_each(|(row, dst)| {
            let c = row / (kh * kw);
            let (i, j) = ((row / kw) % kh, row % kw);
            for (image, dst) in dst.chunks_mut(l).enumerate() {
                let src = &x[(image * geo.channels + c) * plane..][..plane];
                for oh in 0..geo.out_height {
                    let out = &mut dst[oh * geo.out_width..][..geo.out_width];
                    let (Some(ih), Some((first, last))) = (geo.source(0, oh, i), runs[j]) else {
                        out.fill(0.0);
                        continue;
                    };
                    let line = &src[ih * geo.width..][..geo.width];
                    out[..first].fill(0.0);
                    out[last + 1..].fill(0.0);
                    if contiguous {
                        let iw = geo.source(1, first, j).expect("inside");
                        out[first..=last].copy_from_slice(&line[iw..iw + last - first + 1]);
                    } else {
                        for (ow, value) in out.iter_mut().enumerate().take(last + 1).skip(first) {
                            *value = geo.source(1, ow, j).map_or(0.0, |iw| line[iw]);
                        }
                    }
                }
            }
        });
}
