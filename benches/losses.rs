//! Loss forward + backward time, NT-Xent and SimSiam, N ∈ {128, 256, 512, 1024}, D = 128, on
//! every compiled backend (`Throughput::Elements` = rows N).
//! `tools/bench_losses_torch.py` measures PyTorch the same way; docs/benchmarks.md has both.
//!
//! ```text
//! cargo bench --bench losses                      # flex
//! . scripts/env.sh && cargo bench --features tch,wgpu --bench losses
//! ```
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use selfsup::burn::prelude::*;
use selfsup::burn::tensor::Distribution;
use selfsup::device::DeviceSpec;
use selfsup::losses::{nt_xent, simsiam_loss};

const DIM: usize = 128;
const SIZES: [usize; 4] = [128, 256, 512, 1024];

fn backends() -> Vec<DeviceSpec> {
    let wanted = std::env::var("SELFSUP_BENCH_DEVICES").unwrap_or_else(|_| "flex,tch".into());
    wanted
        .split(',')
        .filter_map(|s| s.parse::<DeviceSpec>().ok())
        .filter(|s| s.is_compiled())
        .collect()
}

fn leaf(n: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::random([n, DIM], Distribution::Normal(0.0, 1.0), device).require_grad()
}

fn losses(c: &mut Criterion) {
    for spec in backends() {
        let device = spec.device().unwrap().autodiff();
        let mut group = c.benchmark_group(format!("loss_fwd_bwd/{spec}"));
        group.sample_size(20);
        for n in SIZES {
            group.throughput(Throughput::Elements(n as u64));
            let (a, b) = (leaf(n, &device), leaf(n, &device));
            group.bench_with_input(BenchmarkId::new("nt_xent", n), &n, |bench, _| {
                bench.iter(|| {
                    let loss = nt_xent(a.clone(), b.clone(), 0.5);
                    let grads = loss.backward();
                    black_box(a.grad(&grads).unwrap().into_data());
                })
            });
            let (p1, p2, z1, z2) = (
                leaf(n, &device),
                leaf(n, &device),
                leaf(n, &device),
                leaf(n, &device),
            );
            group.bench_with_input(BenchmarkId::new("simsiam", n), &n, |bench, _| {
                bench.iter(|| {
                    let loss = simsiam_loss(p1.clone(), p2.clone(), z1.clone(), z2.clone());
                    let grads = loss.backward();
                    black_box(p1.grad(&grads).unwrap().into_data());
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, losses);
criterion_main!(benches);
