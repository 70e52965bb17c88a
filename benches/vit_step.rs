//! ViT-Small training-step throughput: timm's `vit_small_patch16_224` layout (384 features, 12
//! blocks of 6 heads, patch 16) on a batch of 8 images `[8, 3, 224, 224]`, forward to the class
//! token + a mean-square loss + backward + AdamW (weight decay 0.05), on every compiled backend.
//! Prints img/s and ms per step. `tools/bench_vit_step_timm.py` measures the same step with timm
//! in PyTorch; docs/benchmarks.md has both.
//!
//! ```text
//! . scripts/env.sh && cargo bench --features tch --bench vit_step   # flex and tch
//! ```
//!
//! Environment: `SELFSUP_BENCH_STEPS` (timed steps, default 5), `SELFSUP_BENCH_WARMUP` (default
//! 2), `SELFSUP_BENCH_DEVICES=flex,tch` to choose among the compiled backends.

use std::time::Instant;

use selfsup::burn::optim::GradientsParams;
use selfsup::burn::prelude::*;
use selfsup::burn::tensor::Distribution;
use selfsup::device::DeviceSpec;
use selfsup::models::VitConfig;
use selfsup::train::OptimizerConfig;

const BATCH: usize = 8;
const SIZE: usize = 224;
const LR: f64 = 1e-4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn train_step(spec: DeviceSpec, warmup: usize, steps: usize) {
    let device = spec.device().expect("a compiled backend").autodiff();
    let mut model = VitConfig::small(SIZE, 16).init(&device);
    let mut optimizer = OptimizerConfig::AdamW {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.05,
    }
    .init()
    .expect("a valid optimizer config");
    let x = Tensor::<4>::random(
        [BATCH, 3, SIZE, SIZE],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let mut times: Vec<[f64; 3]> = Vec::with_capacity(steps);
    for step in 0..warmup + steps {
        let start = Instant::now();
        let loss = model.forward_features(x.clone()).square().mean();
        let forward = start.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let backward = start.elapsed().as_secs_f64();
        model = optimizer.step(LR, model, grads);
        let _ = loss.inner().into_scalar::<f32>();
        let total = start.elapsed().as_secs_f64();
        if step >= warmup {
            times.push([forward, backward - forward, total - backward]);
        }
    }
    let mean = |i: usize| times.iter().map(|t| t[i]).sum::<f64>() / times.len() as f64;
    let step_s = mean(0) + mean(1) + mean(2);
    println!(
        "{spec:>5}  {:6.2} img/s  {:7.0} ms/step  (forward+loss {:.0}, backward {:.0}, adamw {:.0} ms; {steps} steps after {warmup} warm-up)",
        BATCH as f64 / step_s,
        step_s * 1e3,
        mean(0) * 1e3,
        mean(1) * 1e3,
        mean(2) * 1e3,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --all-targets` runs this binary without `--bench`: nothing to do then.
    if !args.iter().any(|a| a == "--bench") {
        println!("vit_step: a benchmark; run it with `cargo bench --bench vit_step`");
        return;
    }
    if std::env::var("SELFSUP_KEEP_FREED_MEMORY").map_or(true, |v| v != "0") {
        selfsup::train::memory::keep_freed_memory();
    }
    let steps = env_usize("SELFSUP_BENCH_STEPS", 5).max(1);
    let warmup = env_usize("SELFSUP_BENCH_WARMUP", 2);
    let wanted: Option<Vec<DeviceSpec>> = std::env::var("SELFSUP_BENCH_DEVICES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect());
    println!("ViT-Small/16 train step, batch {BATCH} of [3, {SIZE}, {SIZE}] (197 tokens)");
    for spec in [DeviceSpec::Flex, DeviceSpec::Tch]
        .into_iter()
        .filter(|s| s.is_compiled())
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(s)))
    {
        train_step(spec, warmup, steps);
    }
}
