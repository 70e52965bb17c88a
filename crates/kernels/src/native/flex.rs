//! flex: convolutions as matrix products, two ways.
//!
//! **Shifted products** ([`Shifted`]), for stride-1 convolutions with 16 channels or more on
//! images wide enough that the padded width wastes under 15 % (ResNet-18's 32×32 and 16×16
//! stages on CIFAR): one product per kernel tap, reading the zero-padded image in place at the
//! tap's offset, summed on an output grid; the input gradient is the same kind of convolution
//! (of the output gradient, by the weight flipped and transposed), the weight gradient one
//! product per tap against the padded image. No im2col buffer: each image's padded copy is read
//! from cache by every tap.
//!
//! **im2col + products** for the rest (Chellapilla et al., 2006, "High performance
//! convolutional neural networks for document processing"; PyTorch's `slow_conv2d` computes
//! them the same way). With `x: [N, C, H, W]`, `weight: [O, C, kh, kw]`,
//! `output_grad: [N, O, Ho, Wo]`, `K = C·kh·kw`, `L = Ho·Wo` and `cols[K, L]` = im2col of one
//! image:
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
//! The products are `gemm` (AVX-512 where the CPU has it): flex's batched products on a slice of
//! images at a time whose columns fit [`COLUMNS_BUDGET`], im2col one row or one image per rayon
//! task; the shifted products one image per rayon task, through [`checked_gemm`], the one
//! bounds-checked call of `gemm`'s `unsafe` entry point.

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
    let shape = [batch, out_channels, out_height, out_width];
    if let Some(shifted) = Shifted::new([channels, height, width], [kh, kw], &options) {
        let weight = contiguous_f32(&weight);
        let output = shifted.forward(f32s(&x), batch, f32s(&weight), out_channels);
        return FlexTensor::from_data(TensorData::new(output, shape));
    }
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
            if let Some(x_grad) = input_grad_shifted(&x, &weight, &output_grad, options) {
                return x_grad;
            }
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
    if let Some(shifted) = Shifted::new([channels, height, width], [kh, kw], options) {
        let sum = shifted.weight_grad(f32s(&x), f32s(&output_grad), batch, out_channels);
        return FlexTensor::from_data(TensorData::new(sum, [out_channels, channels, kh, kw]));
    }
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

/// A stride-1 convolution as `kh·kw` shifted products on the zero-padded image, without im2col:
/// one `1×1`-convolution product per kernel tap, as in Vasudevan, Anderson & Gregg, 2017,
/// "Parallel multi channel convolution using general matrix multiplication" (kn2row), except
/// that each product reads its input shifted, in place, instead of shifting its output.
///
/// With the image padded to `[C, Hp·Wp]` (one plane per channel, `Wp = W + 2·padding`) and the
/// output computed on the grid `[O, Ho·Wp]` (the `Wp − Wo` last columns of each row are not
/// output positions and are dropped), tap `(i, j)` of every output position reads the padded
/// plane at one fixed offset `dilation·(i·Wp + j)`: its product `weight[:, :, i, j] · plane` reads
/// the plane in place, and the `kh·kw` products add up in the grid. The padded image of one
/// image is read from cache by every tap, where im2col writes and reads `kh·kw` copies of it.
#[derive(Clone, Copy, Debug)]
struct Shifted {
    channels: usize,
    height: usize,
    width: usize,
    kernel: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    /// `Wp`, the padded width, which is also the grid's row length.
    padded_width: usize,
    /// One padded channel plane plus the slack the last taps of the grid's last columns read.
    plane: usize,
    out_height: usize,
    out_width: usize,
}

/// From this many channels on, each tap's product is long enough to gain over im2col.
const SHIFTED_MIN_CHANNELS: usize = 16;
/// The grid computes `Wp / Wo` times the output: used only while that waste stays under 15 %
/// (measured: at 25 %, ResNet-18's 8×8 stage, im2col is faster).
const SHIFTED_MAX_WASTE: f64 = 1.15;

impl Shifted {
    /// The geometry of a stride-1 convolution of `[_, channels, height, width]` by a `kernel`,
    /// if the shifted products apply and pay.
    fn new(
        [channels, height, width]: [usize; 3],
        kernel: [usize; 2],
        options: &ConvOptions<2>,
    ) -> Option<Self> {
        if options.stride != [1, 1] || channels < SHIFTED_MIN_CHANNELS || height * width == 0 {
            return None;
        }
        let padding = options.padding_begin();
        let dilation = options.dilation;
        let padded = [height + 2 * padding[0], width + 2 * padding[1]];
        let span = |axis: usize| dilation[axis] * (kernel[axis] - 1);
        let out_height = padded[0].checked_sub(span(0)).filter(|&h| h > 0)?;
        let out_width = padded[1].checked_sub(span(1)).filter(|&w| w > 0)?;
        if padded[1] as f64 > SHIFTED_MAX_WASTE * out_width as f64 {
            return None;
        }
        Some(Self {
            channels,
            height,
            width,
            kernel,
            padding,
            dilation,
            padded_width: padded[1],
            plane: padded[0] * padded[1] + span(1),
            out_height,
            out_width,
        })
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Output positions on the grid: `Ho·Wp`.
    fn grid(&self) -> usize {
        self.out_height * self.padded_width
    }

    /// Where tap `t` (row-major over the kernel) reads, relative to the output position.
    fn offset(&self, t: usize) -> usize {
        let (i, j) = (t / self.kernel[1], t % self.kernel[1]);
        self.dilation[0] * i * self.padded_width + self.dilation[1] * j
    }

    /// The values per image of the input and of the output, after checking that `images` holds
    /// `batch` of them.
    fn image_lengths(&self, images: &[f32], batch: usize, out_channels: usize) -> [usize; 2] {
        let in_len = self.channels * self.height * self.width;
        assert_eq!(
            images.len(),
            batch * in_len,
            "shifted convolution: input length"
        );
        [in_len, out_channels * self.out_height * self.out_width]
    }

    /// Writes one image `[C, H, W]` into `padded` (`C` planes), whose borders and slack stay as
    /// they are: zero from the start, as nothing else writes there.
    fn pad(&self, image: &[f32], padded: &mut [f32]) {
        let (top, left) = (self.padding[0], self.padding[1]);
        for (src, dst) in image
            .chunks(self.height * self.width)
            .zip(padded.chunks_mut(self.plane))
        {
            for (row, line) in src.chunks(self.width).enumerate() {
                dst[(top + row) * self.padded_width + left..][..self.width].copy_from_slice(line);
            }
        }
    }

    /// `out[O, Ho, Wo] = Σ over taps of weight[:, :, i, j] · (padded image at the tap's offset)`
    /// for every image of `images`, one image per rayon task.
    fn forward(
        &self,
        images: &[f32],
        batch: usize,
        weight: &[f32],
        out_channels: usize,
    ) -> Vec<f32> {
        let (grid, taps) = (self.grid(), self.taps());
        let [in_len, out_len] = self.image_lengths(images, batch, out_channels);
        assert_eq!(
            weight.len(),
            out_channels * self.channels * taps,
            "weight length"
        );
        let mut output = vec![0f32; batch * out_len];
        output
            .par_chunks_mut(out_len.max(1))
            .zip(images.par_chunks(in_len.max(1)))
            .for_each_init(
                || {
                    (
                        vec![0f32; self.channels * self.plane],
                        vec![0f32; out_channels * grid],
                    )
                },
                |(padded, sums), (out, image)| {
                    self.pad(image, padded);
                    for t in 0..taps {
                        checked_gemm(
                            [out_channels, grid, self.channels],
                            (sums, [grid, 1]),
                            t > 0,
                            (&weight[t..], [self.channels * taps, taps]),
                            (&padded[self.offset(t)..], [self.plane, 1]),
                        );
                    }
                    for (dst, src) in out
                        .chunks_mut(self.out_width)
                        .zip(sums.chunks(self.padded_width))
                    {
                        dst.copy_from_slice(&src[..self.out_width]);
                    }
                },
            );
        output
    }

    /// `Σ over images of g[O, grid] · (padded image at tap t's offset)ᵀ` for each tap, into
    /// `[O, C, kh, kw]`: per rayon task a sum over its images, then the tasks' sums added.
    fn weight_grad(
        &self,
        images: &[f32],
        output_grad: &[f32],
        batch: usize,
        out_channels: usize,
    ) -> Vec<f32> {
        let (grid, taps) = (self.grid(), self.taps());
        let [in_len, out_len] = self.image_lengths(images, batch, out_channels);
        assert_eq!(output_grad.len(), batch * out_len, "output gradient length");
        let weight_len = out_channels * self.channels * taps;
        (0..batch)
            .into_par_iter()
            .fold(
                || {
                    (
                        vec![0f32; weight_len],
                        vec![0f32; self.channels * self.plane],
                        // The gradient on the grid: zero in the columns past `Wo`, never written.
                        vec![0f32; out_channels * grid],
                    )
                },
                |(mut sum, mut padded, mut g_grid), n| {
                    self.pad(&images[n * in_len..][..in_len], &mut padded);
                    let g = &output_grad[n * out_len..][..out_len];
                    for (dst, src) in g_grid
                        .chunks_mut(self.padded_width)
                        .zip(g.chunks(self.out_width))
                    {
                        dst[..self.out_width].copy_from_slice(src);
                    }
                    for t in 0..taps {
                        checked_gemm(
                            [out_channels, self.channels, grid],
                            (&mut sum[t..], [self.channels * taps, taps]),
                            true,
                            (&g_grid, [grid, 1]),
                            (&padded[self.offset(t)..], [1, self.plane]),
                        );
                    }
                    (sum, padded, g_grid)
                },
            )
            .map(|(sum, _, _)| sum)
            .reduce_with(|mut total, part| {
                total.iter_mut().zip(&part).for_each(|(t, p)| *t += p);
                total
            })
            .unwrap_or_else(|| vec![0f32; weight_len])
    }
}

/// The input gradient of a stride-1 convolution, itself a stride-1 convolution (of the output
/// gradient, by [`flipped_transposed`] weights, with padding `dilation·(kernel − 1) − padding`,
/// from `dx[c, h, w] = Σ over o, i, j of weight[o, c, i, j]·g[o, h + padding − dilation·i, …]`),
/// through [`Shifted`] where it applies; `None` for flex's transposed convolution.
fn input_grad_shifted(
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<FlexTensor> {
    let f32_only = [x, weight, output_grad]
        .iter()
        .all(|t| t.dtype() == DType::F32);
    if !f32_only || options.stride != [1, 1] {
        return None;
    }
    let [batch, channels, height, width] = dims4(x);
    let [out_channels, _, kh, kw] = dims4(weight);
    let [_, _, out_height, out_width] = dims4(output_grad);
    let padding = options.padding_begin();
    let grad_padding = |axis: usize, kernel: usize| {
        (options.dilation[axis] * (kernel - 1)).checked_sub(padding[axis])
    };
    let grad_padding = [grad_padding(0, kh)?, grad_padding(1, kw)?];
    let grad_options = ConvOptions::new([1, 1], grad_padding, options.dilation, 1);
    let shifted = Shifted::new(
        [out_channels, out_height, out_width],
        [kh, kw],
        &grad_options,
    )?;
    debug_assert_eq!([shifted.out_height, shifted.out_width], [height, width]);
    let (weight, output_grad) = (contiguous_f32(weight), contiguous_f32(output_grad));
    let flipped = flipped_transposed(f32s(&weight), dims4(&weight));
    let x_grad = shifted.forward(f32s(&output_grad), batch, &flipped, channels);
    Some(FlexTensor::from_data(TensorData::new(
        x_grad,
        [batch, channels, height, width],
    )))
}

/// `weight[O, C, kh, kw]` with its channel axes swapped and its taps reversed: `[C, O, kh, kw]`,
/// the weight of a stride-1 convolution's input gradient seen as a convolution.
fn flipped_transposed(weight: &[f32], [out_channels, channels, kh, kw]: [usize; 4]) -> Vec<f32> {
    let taps = kh * kw;
    let mut flipped = vec![0f32; weight.len()];
    for (c, row) in flipped.chunks_mut(out_channels * taps).enumerate() {
        for (o, dst) in row.chunks_mut(taps).enumerate() {
            let src = &weight[(o * channels + c) * taps..][..taps];
            dst.iter_mut()
                .zip(src.iter().rev())
                .for_each(|(d, s)| *d = *s);
        }
    }
    flipped
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` in `f32` on one thread, with `gemm`'s arbitrary
/// (row, column) strides, each matrix given as a slice starting at its first element: the one
/// place this crate calls `unsafe` code, after checking that every element the product reads or
/// writes is inside its slice. `read_dst` adds to `dst` instead of overwriting it.
///
/// # Panics
/// If a matrix's last element, `(rows − 1)·row_stride + (columns − 1)·column_stride`, is past
/// its slice.
#[allow(unsafe_code)]
fn checked_gemm(
    [m, n, k]: [usize; 3],
    (dst, dst_strides): (&mut [f32], [usize; 2]),
    read_dst: bool,
    (lhs, lhs_strides): (&[f32], [usize; 2]),
    (rhs, rhs_strides): (&[f32], [usize; 2]),
) {
    if m == 0 || n == 0 {
        return;
    }
    let fits =
        |len: usize, [rows, columns]: [usize; 2], [row_stride, column_stride]: [usize; 2]| {
            rows == 0
                || columns == 0
                || (rows - 1)
                    .checked_mul(row_stride)
                    .zip((columns - 1).checked_mul(column_stride))
                    .and_then(|(a, b)| a.checked_add(b))
                    .is_some_and(|last| last < len)
        };
    assert!(
        fits(dst.len(), [m, n], dst_strides),
        "checked_gemm: dst out of bounds"
    );
    assert!(
        fits(lhs.len(), [m, k], lhs_strides),
        "checked_gemm: lhs out of bounds"
    );
    assert!(
        fits(rhs.len(), [k, n], rhs_strides),
        "checked_gemm: rhs out of bounds"
    );
    let stride = |s: usize| isize::try_from(s).expect("a stride that fits in isize");
    // SAFETY: every element `gemm` touches, `base + row·row_stride + column·column_stride` for
    // the rows and columns of each matrix, is inside its slice (checked above); `dst` is a unique
    // borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            stride(dst_strides[1]),
            stride(dst_strides[0]),
            read_dst,
            lhs.as_ptr(),
            stride(lhs_strides[1]),
            stride(lhs_strides[0]),
            rhs.as_ptr(),
            stride(rhs_strides[1]),
            stride(rhs_strides[0]),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dst[m, n] = lhs[m, k] · rhs[k, n]` by the definition, for strided matrices.
    fn naive(
        [m, n, k]: [usize; 3],
        (lhs, [lr, lc]): (&[f32], [usize; 2]),
        (rhs, [rr, rc]): (&[f32], [usize; 2]),
    ) -> Vec<f32> {
        let mut dst = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                dst[i * n + j] = (0..k)
                    .map(|p| lhs[i * lr + p * lc] * rhs[p * rr + j * rc])
                    .sum();
            }
        }
        dst
    }

    #[test]
    fn checked_gemm_is_the_product_for_any_strides_and_adds_when_asked() {
        let values: Vec<f32> = (0..200).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
        let [m, n, k] = [3, 4, 5];
        // lhs transposed in memory, rhs with a gap between its rows.
        let (lhs, rhs) = ((&values[7..], [1, m]), (&values[50..], [n + 3, 1]));
        let expected = naive([m, n, k], lhs, rhs);
        let mut dst = vec![0f32; m * n];
        checked_gemm([m, n, k], (&mut dst, [n, 1]), false, lhs, rhs);
        assert_eq!(dst, expected);
        checked_gemm([m, n, k], (&mut dst, [n, 1]), true, lhs, rhs);
        let doubled: Vec<f32> = expected.iter().map(|v| 2.0 * v).collect();
        assert_eq!(dst, doubled);
    }

    #[test]
    #[should_panic(expected = "rhs out of bounds")]
    fn checked_gemm_refuses_a_matrix_past_its_slice() {
        let (lhs, mut dst) = (vec![1f32; 6], vec![0f32; 4]);
        // rhs [3, 2] with rows 2 apart needs 2·2 + 1 + 1 = 6 values; it has 5.
        checked_gemm(
            [2, 2, 3],
            (&mut dst, [2, 1]),
            false,
            (&lhs, [3, 1]),
            (&[1f32; 5], [2, 1]),
        );
    }

    #[test]
    fn shifted_products_apply_to_wide_stride_1_convolutions_with_channels() {
        let options = |stride: usize, padding: usize| {
            ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1)
        };
        // ResNet-18 on CIFAR: the 32×32 and 16×16 stages, not the 8×8 and 4×4 ones.
        assert!(Shifted::new([64, 32, 32], [3, 3], &options(1, 1)).is_some());
        assert!(Shifted::new([128, 16, 16], [3, 3], &options(1, 1)).is_some());
        assert!(Shifted::new([256, 8, 8], [3, 3], &options(1, 1)).is_none());
        assert!(Shifted::new([512, 4, 4], [3, 3], &options(1, 1)).is_none());
        // The stem (3 channels), strided convolutions, and a kernel larger than the image.
        assert!(Shifted::new([3, 32, 32], [3, 3], &options(1, 1)).is_none());
        assert!(Shifted::new([64, 32, 32], [3, 3], &options(2, 1)).is_none());
        assert!(Shifted::new([64, 2, 32], [5, 5], &options(1, 0)).is_none());
        // An empty image, even where its padding would leave room for a kernel.
        assert!(Shifted::new([64, 0, 32], [3, 3], &options(1, 2)).is_none());
        let shifted = Shifted::new([16, 14, 15], [3, 3], &options(1, 1)).expect("applies");
        // The last tap's read of the grid ends inside the padded plane, its slack included.
        assert_eq!(shifted.offset(8) + shifted.grid(), shifted.plane);
    }
}
