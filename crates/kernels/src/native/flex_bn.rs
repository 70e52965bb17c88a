//! flex: batch normalisation in training mode in two passes each way (Ioffe & Szegedy, 2015),
//! one rayon task per run of channel planes, where Burn's generic formulas take a dozen tensor
//! operations.
//!
//! Forward: per plane its mean and the squared deviations from it (the plane is read twice while
//! in cache), combined per channel in `f64` (Chan, Golub & LeVeque, 1979), then
//! `y = x·scale + shift`, plus the residual and through the ReLU in the same pass when asked for.
//! Backward, with `x̂ = (x − mean)·inv_std` and `M` values per channel: `dy` is masked where the
//! ReLU's output was not positive (on the fly; the masked `dy` is also the residual's gradient,
//! written in the second pass), then `dβ = Σ dy`, `dγ = Σ dy·x̂` in one pass and
//! `dx = γ·inv_std·(dy − dβ/M − x̂·dγ/M)` in the other.
//! The sums are kept in sixteen partial sums, which the compiler vectorises.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

use super::flex::{contiguous_f32, f32s};
use super::{BatchNormKernels, BatchNormTail, NativeBatchNorm};

impl NativeBatchNorm for Flex {
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

/// `[batch, channels, values per plane]` of a `[batch, channels, ...]` tensor.
fn planes(tensor: &FlexTensor) -> [usize; 3] {
    let shape = tensor.layout().shape();
    let (batch, channels) = (shape[0], shape[1]);
    [
        batch,
        channels,
        (2..shape.num_dims()).map(|d| shape[d]).product(),
    ]
}

/// Independent partial sums per reduction: an `f32` sum in one accumulator is a chain of
/// dependent additions that the compiler may not reorder, so it runs at one addition per
/// latency; sixteen chains vectorise and keep the adders busy.
const LANES: usize = 16;

/// `Σ f(a[i])`, in [`LANES`] partial sums.
fn sum_map(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let (chunks, tail) = a.as_chunks::<LANES>();
    let mut partial = [0f32; LANES];
    for chunk in chunks {
        for lane in 0..LANES {
            partial[lane] += f(chunk[lane]);
        }
    }
    partial.iter().sum::<f32>() + tail.iter().map(|&v| f(v)).sum::<f32>()
}

fn vector(values: Vec<f32>) -> FlexTensor {
    let len = values.len();
    FlexTensor::from_data(TensorData::new(values, [len]))
}

/// Planes per rayon task: enough for some 4 096 values, so that small planes (ResNet's last
/// stage, or the `[N, C]` input of an MLP's batch norm) do not become one task each.
fn min_planes_per_task(plane: usize) -> usize {
    (4096 / plane.max(1)).max(1)
}

/// The gradient `g` at a ReLU's input, from its output `y`: zero where `y` is not positive (as
/// Burn's and PyTorch's `threshold_backward`).
fn through_relu(g: f32, y: f32) -> f32 {
    if y <= 0.0 { 0.0 } else { g }
}

/// `(Σ g, Σ g·(x − mean))` over one plane, in [`LANES`] partial sums each, where `g` is zero
/// wherever the ReLU's output `y`, when given, is not positive.
fn grad_sums(g: &[f32], y: Option<&[f32]>, x: &[f32], mean: f32) -> (f32, f32) {
    let n = g.len();
    let (gc, g_tail) = g.as_chunks::<LANES>();
    let (xc, x_tail) = x[..n].as_chunks::<LANES>();
    let (mut sum, mut dot) = ([0f32; LANES], [0f32; LANES]);
    let (mut tail_sum, mut tail_dot) = (0f32, 0f32);
    match y {
        Some(y) => {
            let (yc, y_tail) = y[..n].as_chunks::<LANES>();
            for ((g, y), x) in gc.iter().zip(yc).zip(xc) {
                for lane in 0..LANES {
                    let g = through_relu(g[lane], y[lane]);
                    sum[lane] += g;
                    dot[lane] += g * (x[lane] - mean);
                }
            }
            for ((&g, &y), &x) in g_tail.iter().zip(y_tail).zip(x_tail) {
                let g = through_relu(g, y);
                tail_sum += g;
                tail_dot += g * (x - mean);
            }
        }
        None => {
            for (g, x) in gc.iter().zip(xc) {
                for lane in 0..LANES {
                    sum[lane] += g[lane];
                    dot[lane] += g[lane] * (x[lane] - mean);
                }
            }
            for (&g, &x) in g_tail.iter().zip(x_tail) {
                tail_sum += g;
                tail_dot += g * (x - mean);
            }
        }
    }
    (
        sum.iter().sum::<f32>() + tail_sum,
        dot.iter().sum::<f32>() + tail_dot,
    )
}

impl BatchNormKernels for Flex {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: Option<FloatTensor<Self>>,
        tail: BatchNormTail,
        _track: [bool; 4],
    ) -> ([FloatTensor<Self>; 3], Vec<FloatTensor<Self>>) {
        let epsilon = tail.epsilon;
        let other_dtype = [Some(&x), Some(&gamma), Some(&beta), residual.as_ref()]
            .iter()
            .flatten()
            .any(|t| t.dtype() != DType::F32);
        if other_dtype {
            // Burn's ops for the other float types.
            let result = Flex::batch_norm_train(x.clone(), gamma.clone(), beta, epsilon);
            let output = match residual {
                Some(residual) => Flex::float_add(result.output, residual),
                None => result.output,
            };
            let output = if tail.relu {
                Flex::relu(output)
            } else {
                output
            };
            let mut saved = vec![x, gamma, result.mean.clone(), result.variance.clone()];
            saved.extend(tail.relu.then(|| output.clone()));
            return ([output, result.mean, result.variance], saved);
        }
        let (x, gamma, beta) = (
            contiguous_f32(&x),
            contiguous_f32(&gamma),
            contiguous_f32(&beta),
        );
        let shape = planes(&x);
        let [batch, channels, plane] = shape;
        let count = (batch * plane) as f64;
        let xs = f32s(&x);
        // Per plane, its mean and the sum of squared deviations from it (the plane is read twice
        // while it is in cache); per channel, Chan et al.'s combination of them in `f64`.
        let width = plane.max(1);
        let plane_stats: Vec<(f64, f64)> = xs
            .par_chunks(width)
            .with_min_len(min_planes_per_task(width))
            .map(|values| {
                let mean = sum_map(values, |v| v) / width as f32;
                let m2 = sum_map(values, |v| (v - mean) * (v - mean));
                (f64::from(mean), f64::from(m2))
            })
            .collect();
        let stats: Vec<(f32, f32)> = (0..channels)
            .map(|c| {
                let of_channel = || (0..batch).map(|n| plane_stats[n * channels + c]);
                let mean = of_channel().map(|(m, _)| m).sum::<f64>() * plane as f64 / count;
                let m2: f64 = of_channel()
                    .map(|(m, m2)| m2 + plane as f64 * (m - mean) * (m - mean))
                    .sum();
                (mean as f32, (m2 / count) as f32)
            })
            .collect();
        let (gs, bs) = (f32s(&gamma), f32s(&beta));
        let affine: Vec<(f32, f32)> = stats
            .iter()
            .zip(gs.iter().zip(bs))
            .map(|(&(mean, variance), (g, b))| {
                let scale = g / (variance + epsilon as f32).sqrt();
                (scale, b - mean * scale)
            })
            .collect();
        let residual = residual.map(|r| contiguous_f32(&r));
        let rs = residual.as_ref().map(f32s);
        // Zero where `v <= 0` as Burn's and PyTorch's ReLU, so a NaN goes through.
        let relu = tail.relu;
        let act = move |v: f32| if relu && v <= 0.0 { 0.0 } else { v };
        let mut out = vec![0f32; xs.len()];
        out.par_chunks_mut(width)
            .zip(xs.par_chunks(width))
            .enumerate()
            .for_each(|(index, (dst, src))| {
                let (scale, shift) = affine[index % channels];
                match rs {
                    Some(rs) => {
                        let rs = &rs[index * width..][..dst.len()];
                        for ((d, s), r) in dst.iter_mut().zip(src).zip(rs) {
                            *d = act(s * scale + shift + r);
                        }
                    }
                    None => dst
                        .iter_mut()
                        .zip(src)
                        .for_each(|(d, s)| *d = act(s * scale + shift)),
                }
            });
        let output = FlexTensor::from_data(TensorData::new(out, x.layout().shape().clone()));
        let mean = vector(stats.iter().map(|s| s.0).collect());
        let variance = vector(stats.iter().map(|s| s.1).collect());
        // With a ReLU, the output says where the gradient passes (it shares the output's buffer).
        let mut saved = vec![x, gamma, mean.clone(), variance.clone()];
        saved.extend(tail.relu.then(|| output.clone()));
        ([output, mean, variance], saved)
    }

    fn batch_norm_gradients(
        saved: Vec<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        tail: BatchNormTail,
        wanted: [bool; 4],
    ) -> [Option<FloatTensor<Self>>; 4] {
        let epsilon = tail.epsilon;
        let mut saved = saved.into_iter();
        let mut next = || {
            saved
                .next()
                .expect("flex batch norm saves x, gamma, mean, variance")
        };
        let (x, gamma, mean, variance) = (next(), next(), next(), next());
        let relu_output = tail.relu.then(next);
        if x.dtype() != DType::F32 || output_grad.dtype() != DType::F32 {
            let dy = match relu_output {
                Some(output) => Flex::relu_backward(output, output_grad),
                None => output_grad,
            };
            let grads =
                Flex::batch_norm_train_backward(x, gamma, mean, variance, epsilon, dy.clone());
            return [
                wanted[0].then_some(grads.x_grad),
                wanted[1].then_some(grads.gamma_grad),
                wanted[2].then_some(grads.beta_grad),
                wanted[3].then_some(dy),
            ];
        }
        // The gradient at the normalisation's output (and the residual's) is `dy` through the
        // ReLU's mask, where the output is positive: applied on the fly in both passes below,
        // and written out for the residual in the second.
        let dy = contiguous_f32(&output_grad);
        let output = relu_output.as_ref().map(contiguous_f32);
        let (xs, dys, ys) = (f32s(&x), f32s(&dy), output.as_ref().map(f32s));
        let shape = planes(&x);
        let [batch, channels, plane] = shape;
        let width = plane.max(1);
        let count = (batch * plane) as f32;
        let (gs, means, variances) = (f32s(&gamma), f32s(&mean), f32s(&variance));
        let inv_std: Vec<f32> = variances
            .iter()
            .map(|v| 1.0 / (v + epsilon as f32).sqrt())
            .collect();
        // Per plane Σ dy and Σ dy·(x − mean); per channel, their sums in `f64`.
        let plane_sums: Vec<(f32, f32)> = (0..xs.len() / width)
            .into_par_iter()
            .with_min_len(min_planes_per_task(width))
            .map(|index| {
                let at = index * width;
                let (g, x) = (&dys[at..at + width], &xs[at..at + width]);
                grad_sums(
                    g,
                    ys.map(|ys| &ys[at..at + width]),
                    x,
                    means[index % channels],
                )
            })
            .collect();
        let sums: Vec<(f32, f32)> = (0..channels)
            .map(|c| {
                let of_channel = || (0..batch).map(|n| plane_sums[n * channels + c]);
                let sum_dy: f64 = of_channel().map(|(s, _)| f64::from(s)).sum();
                let sum_dy_xmu: f64 = of_channel().map(|(_, s)| f64::from(s)).sum();
                (sum_dy as f32, sum_dy_xmu as f32)
            })
            .collect();
        let gamma_grad =
            wanted[1].then(|| vector(sums.iter().zip(&inv_std).map(|(s, i)| s.1 * i).collect()));
        let beta_grad = wanted[2].then(|| vector(sums.iter().map(|s| s.0).collect()));
        // dx = a·dy + b·x + d per channel.
        let coefficients: Vec<(f32, f32, f32)> = (0..channels)
            .map(|c| {
                let (sum_dy, sum_dy_xmu) = sums[c];
                let a = gs[c] * inv_std[c];
                let b = -a * inv_std[c] * inv_std[c] * sum_dy_xmu / count;
                (a, b, -a * sum_dy / count - b * means[c])
            })
            .collect();
        let tensor = |values: Vec<f32>| {
            FlexTensor::from_data(TensorData::new(values, x.layout().shape().clone()))
        };
        // With a ReLU the residual's gradient is the masked `dy`, written here (in the `dx` pass
        // when there is one); without, it is `dy` itself.
        let mut masked = (wanted[3] && ys.is_some()).then(|| vec![0f32; xs.len()]);
        // One plane of `dx = a·dy + b·x + d` (with `dy` through the mask), and of the masked `dy`
        // when asked for. Indexed loops over slices of one length: the compiler vectorises them.
        let dx_plane = |index: usize, dst: &mut [f32], masked: Option<&mut [f32]>| {
            let (a, b, d) = coefficients[index % channels];
            let (at, n) = (index * width, dst.len());
            let (g, x) = (&dys[at..at + n], &xs[at..at + n]);
            match (ys.map(|ys| &ys[at..at + n]), masked) {
                (None, _) => {
                    for i in 0..n {
                        dst[i] = a * g[i] + b * x[i] + d;
                    }
                }
                (Some(y), None) => {
                    for i in 0..n {
                        dst[i] = a * through_relu(g[i], y[i]) + b * x[i] + d;
                    }
                }
                (Some(y), Some(masked)) => {
                    let masked = &mut masked[..n];
                    for i in 0..n {
                        let g = through_relu(g[i], y[i]);
                        masked[i] = g;
                        dst[i] = a * g + b * x[i] + d;
                    }
                }
            }
        };
        let x_grad = wanted[0].then(|| {
            let mut dx = vec![0f32; xs.len()];
            let planes = dx.par_chunks_mut(width);
            match masked.as_mut() {
                Some(masked) => planes
                    .zip(masked.par_chunks_mut(width))
                    .enumerate()
                    .for_each(|(index, (dst, masked))| dx_plane(index, dst, Some(masked))),
                None => planes
                    .enumerate()
                    .for_each(|(index, dst)| dx_plane(index, dst, None)),
            }
            tensor(dx)
        });
        let residual_grad = match (masked, ys) {
            (Some(mut masked), Some(ys)) => {
                if !wanted[0] {
                    // No `dx` pass wrote it.
                    masked
                        .par_chunks_mut(1 << 16)
                        .zip(dys.par_chunks(1 << 16).zip(ys.par_chunks(1 << 16)))
                        .for_each(|(dst, (g, y))| {
                            for ((d, &g), &y) in dst.iter_mut().zip(g).zip(y) {
                                *d = through_relu(g, y);
                            }
                        });
                }
                Some(tensor(masked))
            }
            _ => wanted[3].then(|| dy.clone()),
        };
        [x_grad, gamma_grad, beta_grad, residual_grad]
    }
}
