//! flex: batch normalisation in training mode in two passes each way (Ioffe & Szegedy, 2015),
//! one rayon task per channel for the statistics and one per channel plane for the rest, where
//! Burn's generic formulas take a dozen tensor operations.
//!
//! Forward: the per-channel mean, then the biased variance around it (two reads of `x`, sums of
//! one plane in `f32`, across planes in `f64`), then `y = x·scale + shift`, plus the residual and
//! through the ReLU in the same pass when asked for.
//! Backward, with `x̂ = (x − mean)·inv_std` and `M` values per channel: `dy` is first masked where
//! the ReLU's output was not positive (it is then also the residual's gradient), and
//! `dβ = Σ dy`, `dγ = Σ dy·x̂`, `dx = γ·inv_std·(dy − dβ/M − x̂·dγ/M)`.

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

fn vector(values: Vec<f32>) -> FlexTensor {
    let len = values.len();
    FlexTensor::from_data(TensorData::new(values, [len]))
}

/// Σ over every plane of channel `c` of `f(plane of a, plane of b)`, in `f64` across planes.
fn channel_sum(
    a: &[f32],
    b: &[f32],
    [batch, channels, plane]: [usize; 3],
    c: usize,
    f: impl Fn(&[f32], &[f32]) -> f32,
) -> f64 {
    (0..batch)
        .map(|n| {
            let at = (n * channels + c) * plane;
            f64::from(f(&a[at..at + plane], b.get(at..at + plane).unwrap_or(&[])))
        })
        .sum()
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
        let stats: Vec<(f32, f32)> = (0..channels)
            .into_par_iter()
            .map(|c| {
                let mean = channel_sum(xs, &[], shape, c, |p, _| p.iter().sum()) / count;
                let m = mean as f32;
                let variance = channel_sum(xs, &[], shape, c, |p, _| {
                    p.iter().map(|v| (v - m) * (v - m)).sum()
                }) / count;
                (m, variance as f32)
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
        let width = plane.max(1);
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
        // The gradient at the normalisation's output (and the residual's): through the ReLU's
        // mask, where the output is positive.
        let dy = contiguous_f32(&output_grad);
        let dy = match relu_output {
            Some(output) => {
                let output = contiguous_f32(&output);
                let mut masked = vec![0f32; f32s(&dy).len()];
                masked
                    .par_chunks_mut(1 << 16)
                    .zip(
                        f32s(&dy)
                            .par_chunks(1 << 16)
                            .zip(f32s(&output).par_chunks(1 << 16)),
                    )
                    .for_each(|(dst, (g, y))| {
                        for ((d, g), y) in dst.iter_mut().zip(g).zip(y) {
                            *d = if *y <= 0.0 { 0.0 } else { *g };
                        }
                    });
                FlexTensor::from_data(TensorData::new(masked, dy.layout().shape().clone()))
            }
            None => dy,
        };
        let residual_grad = wanted[3].then(|| dy.clone());
        let shape = planes(&x);
        let [batch, channels, plane] = shape;
        let count = (batch * plane) as f32;
        let (xs, dys) = (f32s(&x), f32s(&dy));
        let (gs, means, variances) = (f32s(&gamma), f32s(&mean), f32s(&variance));
        let inv_std: Vec<f32> = variances
            .iter()
            .map(|v| 1.0 / (v + epsilon as f32).sqrt())
            .collect();
        // Per channel: Σ dy and Σ dy·(x − mean).
        let sums: Vec<(f32, f32)> = (0..channels)
            .into_par_iter()
            .map(|c| {
                let m = means[c];
                let sum_dy = channel_sum(dys, &[], shape, c, |p, _| p.iter().sum());
                let sum_dy_xmu = channel_sum(dys, xs, shape, c, |g, x| {
                    g.iter().zip(x).map(|(g, x)| g * (x - m)).sum()
                });
                (sum_dy as f32, sum_dy_xmu as f32)
            })
            .collect();
        let gamma_grad =
            wanted[1].then(|| vector(sums.iter().zip(&inv_std).map(|(s, i)| s.1 * i).collect()));
        let beta_grad = wanted[2].then(|| vector(sums.iter().map(|s| s.0).collect()));
        let x_grad = wanted[0].then(|| {
            // dx = a·dy + b·x + d per channel.
            let coefficients: Vec<(f32, f32, f32)> = (0..channels)
                .map(|c| {
                    let (sum_dy, sum_dy_xmu) = sums[c];
                    let a = gs[c] * inv_std[c];
                    let b = -a * inv_std[c] * inv_std[c] * sum_dy_xmu / count;
                    (a, b, -a * sum_dy / count - b * means[c])
                })
                .collect();
            let mut dx = vec![0f32; xs.len()];
            dx.par_chunks_mut(plane.max(1))
                .zip(
                    dys.par_chunks(plane.max(1))
                        .zip(xs.par_chunks(plane.max(1))),
                )
                .enumerate()
                .for_each(|(index, (dst, (g, x)))| {
                    let (a, b, d) = coefficients[index % channels];
                    for ((dst, g), x) in dst.iter_mut().zip(g).zip(x) {
                        *dst = a * g + b * x + d;
                    }
                });
            FlexTensor::from_data(TensorData::new(dx, x.layout().shape().clone()))
        });
        [x_grad, gamma_grad, beta_grad, residual_grad]
    }
}
