//! SimSiam training-step throughput: ResNet-18 (CIFAR stem) with the paper's projector and
//! predictor, batch of 64 two-view images `[64, 3, 32, 32]`, forward + [`simsiam_loss`] +
//! backward + SGD (momentum 0.9, weight decay 5e-4), on every compiled backend. Prints img/s
//! (batch images per second, each image two views) and ms per step. Not a criterion bench: a
//! step takes seconds on a CPU.
//!
//! `tools/bench_train_step_torch.py` measures the same step in PyTorch; docs/benchmarks.md has
//! both.
//!
//! ```text
//! cargo bench --bench train_step                                    # flex
//! . scripts/env.sh && cargo bench --features tch --bench train_step # flex and tch
//! cargo bench --bench train_step -- --pieces                        # conv / batch norm / matmul
//! ```
//!
//! Environment: `SELFSUP_BENCH_STEPS` (timed steps, default 5), `SELFSUP_BENCH_WARMUP` (default
//! 2), `SELFSUP_BENCH_WGPU=1` to include wgpu (lavapipe is far too slow to be on by default),
//! `SELFSUP_BENCH_DEVICES=flex,tch` to choose among the compiled backends.
//!
//! `--pieces` times the layers that dominate the step instead, forward and forward + backward:
//! selfsup's 3×3 convolution at each of ResNet-18's four stages, the stride-2 ones, batch norm
//! (alone and with residual and ReLU) and ReLU at layer1's shape `[64, 64, 32, 32]`, and the
//! projector's first matmul: where one backend loses time against another.

use std::time::Instant;

use selfsup::burn::module::Module;
use selfsup::burn::nn::conv::{Conv2d, Conv2dConfig};
use selfsup::burn::nn::{BatchNormConfig, PaddingConfig2d};
use selfsup::burn::optim::GradientsParams;
use selfsup::burn::prelude::*;
use selfsup::burn::tensor::activation::relu;
use selfsup::burn::tensor::{Distribution, s};
use selfsup::device::DeviceSpec;
use selfsup::kernels::{
    batch_norm, batch_norm_relu, batch_norm_train, batch_norm_train_add_relu, conv2d_forward,
};
use selfsup::losses::simsiam_loss;
use selfsup::models::{BackboneConfig, ResNetConfig, SimSiamConfig, Stem};
use selfsup::train::OptimizerConfig;

const BATCH: usize = 64;
const LR: f64 = 0.05;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// flex always, tch when compiled in, wgpu only with `SELFSUP_BENCH_WGPU=1`; narrowed by
/// `SELFSUP_BENCH_DEVICES` if set.
fn backends() -> Vec<DeviceSpec> {
    let wgpu = std::env::var("SELFSUP_BENCH_WGPU").is_ok_and(|v| v == "1");
    let wanted: Option<Vec<DeviceSpec>> = std::env::var("SELFSUP_BENCH_DEVICES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect());
    [DeviceSpec::Flex, DeviceSpec::Tch, DeviceSpec::Wgpu]
        .into_iter()
        .filter(|s| s.is_compiled())
        .filter(|s| *s != DeviceSpec::Wgpu || wgpu)
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(s)))
        .collect()
}

/// Waits for `t` (a no-op on eager CPU backends, a sync on wgpu) by reading one value.
fn sync<const D: usize>(t: Tensor<D>) {
    let _ = t.sum().into_scalar::<f32>();
}

fn images(device: &Device) -> Tensor<4> {
    Tensor::random([BATCH, 3, 32, 32], Distribution::Normal(0.0, 1.0), device)
}

fn train_step(spec: DeviceSpec, warmup: usize, steps: usize) {
    let device = spec.device().expect("a compiled backend").autodiff();
    let config = SimSiamConfig::paper(BackboneConfig::ResNet(ResNetConfig::resnet18(Stem::Cifar)));
    let mut model = config.init(&device);
    let mut optimizer = OptimizerConfig::sgd(0.9, 5e-4)
        .init()
        .expect("a valid optimizer config");
    let (x1, x2) = (images(&device), images(&device));

    // Per timed step: [forward + loss, backward, optimizer] in seconds. The phase split is exact
    // on the eager CPU backends (flex, tch); on wgpu only the total is (the loss read syncs).
    let mut times: Vec<[f64; 3]> = Vec::with_capacity(steps);
    for step in 0..warmup + steps {
        let start = Instant::now();
        let out = model.forward(x1.clone(), x2.clone());
        let loss = simsiam_loss(out.p1, out.p2, out.z1, out.z2);
        let forward = start.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let backward = start.elapsed().as_secs_f64();
        model = optimizer.step(LR, model, grads);
        // Reading the loss waits for the whole step on an asynchronous backend.
        let _ = loss.inner().into_scalar::<f32>();
        let total = start.elapsed().as_secs_f64();
        if step >= warmup {
            times.push([forward, backward - forward, total - backward]);
        }
    }
    let mean = |i: usize| times.iter().map(|t| t[i]).sum::<f64>() / times.len() as f64;
    let step_s = mean(0) + mean(1) + mean(2);
    let best = times
        .iter()
        .map(|t| t.iter().sum::<f64>())
        .fold(f64::INFINITY, f64::min);
    println!(
        "{spec:>5}  {:6.2} img/s  {:7.0} ms/step  (forward+loss {:.0}, backward {:.0}, sgd {:.0} ms; best step {:.0} ms; {steps} steps after {warmup} warm-up)",
        BATCH as f64 / step_s,
        step_s * 1e3,
        mean(0) * 1e3,
        mean(1) * 1e3,
        mean(2) * 1e3,
        best * 1e3,
    );
}

/// Milliseconds of `f`, the median of `reps` calls after one warm-up call.
fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn pieces(spec: DeviceSpec, reps: usize) {
    let device = spec.device().expect("a compiled backend").autodiff();
    let x = || {
        Tensor::<4>::random([BATCH, 64, 32, 32], Distribution::Normal(0.0, 1.0), &device)
            .require_grad()
    };
    let conv = Conv2dConfig::new([64, 64], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(&device);
    let bn = BatchNormConfig::new(64).init(&device);
    let (input, g) = (x(), x());
    let weight =
        Tensor::<2>::random([512, 2048], Distribution::Normal(0.0, 0.02), &device).require_grad();
    let features =
        Tensor::<2>::random([BATCH, 512], Distribution::Normal(0.0, 1.0), &device).require_grad();

    let row = |what: &str, fwd: f64, fwd_bwd: f64| {
        println!("{spec:>5}  {what:<44} fwd {fwd:8.2} ms   fwd+bwd {fwd_bwd:8.2} ms");
    };
    let g_inner = g.clone().inner();
    // Forward alone runs outside autodiff (no graph is recorded); forward + backward on the
    // autodiff device, through a weighted sum so the upstream gradient is dense.
    let (gamma, beta) = (bn.gamma.val().inner(), bn.beta.val().inner());
    // selfsup's convolution (`ops::conv2d_forward`): forward alone, and forward + backward to
    // the weight's gradient from `g`.
    let conv_row = |what: &str, conv: &Conv2d, input: &Tensor<4>, g: &Tensor<4>| {
        let conv_inner = conv.valid();
        row(
            what,
            time_ms(reps, || {
                sync(conv2d_forward(&conv_inner, input.clone().inner()))
            }),
            time_ms(reps, || {
                let y = conv2d_forward(conv, input.clone());
                let grads = (y * g.clone()).sum().backward();
                sync(conv.weight.grad(&grads).expect("a weight gradient"));
            }),
        );
    };
    conv_row("conv2d 3x3 s1 p1 64->64, [64,64,32,32]", &conv, &input, &g);
    // The same 3x3 convolution at the other stages' shapes (about the same multiply-adds each):
    // where a backend's products lose efficiency as the images shrink and the channels grow.
    for (channels, size) in [(128, 16), (256, 8), (512, 4)] {
        let conv = Conv2dConfig::new([channels, channels], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(&device);
        let shape = [BATCH, channels, size, size];
        let input =
            Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
        let g = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let what = format!("conv2d 3x3 s1 p1 {channels}->{channels}, {shape:?}");
        conv_row(&what, &conv, &input, &g);
    }
    // Stride 2 (the first block of layers 2-4 and its 1x1 downsample): the generic backward
    // computes the weight gradient as a convolution dilated by the stride.
    for (kernel, pad) in [(3, 1), (1, 0)] {
        let conv = Conv2dConfig::new([64, 128], [kernel, kernel])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(&device);
        let g = Tensor::<4>::random(
            [BATCH, 128, 16, 16],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let what = format!("conv2d {kernel}x{kernel} s2 64->128, [64,64,32,32]");
        conv_row(&what, &conv, &input, &g);
    }
    {
        // The same 1x1 stride-2 convolution as a stride-2 subsampling then a stride-1 1x1
        // convolution (identical values): the backward is a plain 1x1 convolution's.
        let conv = Conv2dConfig::new([64, 128], [1, 1])
            .with_bias(false)
            .init(&device);
        let conv_inner = conv.valid();
        let g = Tensor::<4>::random(
            [BATCH, 128, 16, 16],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let sub = |x: Tensor<4>| x.slice(s![.., .., 0..32;2, 0..32;2]);
        row(
            "subsample s2 + conv2d 1x1 s1 64->128",
            time_ms(reps, || {
                sync(conv2d_forward(&conv_inner, sub(input.clone().inner())))
            }),
            time_ms(reps, || {
                let y = conv2d_forward(&conv, sub(input.clone()));
                let grads = (y * g.clone()).sum().backward();
                sync(conv.weight.grad(&grads).expect("a weight gradient"));
            }),
        );
    }
    row(
        "batch norm (train), [64,64,32,32]",
        time_ms(reps, || {
            let (y, _, _) =
                batch_norm_train(input.clone().inner(), gamma.clone(), beta.clone(), 1e-5);
            sync(y)
        }),
        time_ms(reps, || {
            let y = batch_norm(&bn, input.clone());
            let grads = (y * g.clone()).sum().backward();
            sync(input.grad(&grads).expect("an input gradient"));
        }),
    );
    row(
        "batch norm + residual + relu, [64,64,32,32]",
        time_ms(reps, || {
            let (y, _, _) = batch_norm_train_add_relu(
                input.clone().inner(),
                gamma.clone(),
                beta.clone(),
                Some(g_inner.clone()),
                true,
                1e-5,
            );
            sync(y)
        }),
        time_ms(reps, || {
            let y = batch_norm_relu(&bn, input.clone(), Some(g.clone()));
            let grads = (y * g.clone()).sum().backward();
            sync(input.grad(&grads).expect("an input gradient"));
        }),
    );
    row(
        "relu, [64,64,32,32]",
        time_ms(reps, || sync(relu(input.clone().inner()))),
        time_ms(reps, || {
            let grads = (relu(input.clone()) * g.clone()).sum().backward();
            sync(input.grad(&grads).expect("an input gradient"));
        }),
    );
    row(
        "add (residual), [64,64,32,32]",
        time_ms(reps, || sync(input.clone().inner() + g_inner.clone())),
        time_ms(reps, || {
            let grads = ((input.clone() + g.clone()) * g.clone()).sum().backward();
            sync(input.grad(&grads).expect("an input gradient"));
        }),
    );
    row(
        "matmul [64,512]x[512,2048] (projector fc1)",
        time_ms(reps, || {
            sync(features.clone().inner().matmul(weight.clone().inner()))
        }),
        time_ms(reps, || {
            let grads = features.clone().matmul(weight.clone()).sum().backward();
            sync(weight.grad(&grads).expect("a weight gradient"));
        }),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it (and
    // with test-name filters): a step takes seconds to minutes, so there is nothing to do then.
    if !args.iter().any(|a| a == "--bench") {
        println!("train_step: a benchmark; run it with `cargo bench --bench train_step`");
        return;
    }
    // `SELFSUP_NATIVE_OPS=0`: Burn's own convolution and batch norm everywhere (the "before").
    let native = std::env::var("SELFSUP_NATIVE_OPS").map_or(true, |v| v != "0");
    selfsup::kernels::set_native_ops(native);
    // As the command line does; `SELFSUP_KEEP_FREED_MEMORY=0` for glibc's defaults.
    if std::env::var("SELFSUP_KEEP_FREED_MEMORY").map_or(true, |v| v != "0") {
        selfsup::train::memory::keep_freed_memory();
    }
    let steps = env_usize("SELFSUP_BENCH_STEPS", 5).max(1);
    let warmup = env_usize("SELFSUP_BENCH_WARMUP", 2);
    let specs = backends();
    if args.iter().any(|a| a == "--pieces") {
        for spec in specs {
            pieces(spec, env_usize("SELFSUP_BENCH_REPS", 10).max(1));
        }
        return;
    }
    println!(
        "SimSiam ResNet-18 (CIFAR stem) train step, batch {BATCH} images x 2 views [{BATCH}, 3, 32, 32], native kernels {}",
        if native { "on" } else { "off" }
    );
    for spec in specs {
        train_step(spec, warmup, steps);
    }
}
