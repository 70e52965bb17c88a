//! kNN evaluation of a backbone on CIFAR-10: cosine similarity of each test image's features to
//! the train features, temperature-weighted votes of the k nearest (k = 200, τ = 0.1).
//!
//! ```text
//! cargo run --release --example knn -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --checkpoint runs/simsiam/checkpoint.ckpt
//! cargo run --release --example knn -- --data-dir ... --random-init
//! ```
//!
//! Prints the per-class table and `accuracy: NN.NN%`.

mod common;

use clap::Parser;
use common::{BackboneArgs, DataArgs, Result, main_with};
use selfsup::data::Split;
use selfsup::data::transforms::Normalize;
use selfsup::device::{DeviceSpec, default_device_spec, parse_device};
use selfsup::train::{EvalSplits, KnnConfig, knn_backbone};

/// Weighted kNN evaluation of a frozen backbone.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    backbone: BackboneArgs,
    /// Backend: flex, tch, tch-cuda:N, wgpu or cuda:N (among those compiled in).
    #[arg(long, value_parser = parse_device, default_value_t = default_device_spec())]
    device: DeviceSpec,
    /// Memory-bank (train) images, class-balanced. Default: `--limit`, or all 50 000.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Test images, class-balanced. Default all 10 000.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Neighbours that vote.
    #[arg(long, default_value_t = 200)]
    k: usize,
    /// Temperature of the vote weights exp(similarity / τ).
    #[arg(long, default_value_t = 0.1)]
    temperature: f64,
    /// Images per forward pass of the backbone.
    #[arg(long, default_value_t = 256)]
    eval_batch_size: usize,
    /// Seed of the subsets and the random init.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let device = args.device.device()?;
    let (backbone, what) = args.backbone.load(&device, args.seed)?;
    let train_limit = args.train_limit.or(args.data.limit);
    let (train, train_indices) = args.data.split(Split::Train, train_limit, args.seed)?;
    let (test, test_indices) = args.data.test(args.test_limit, args.seed)?;
    println!(
        "kNN (k = {}, τ = {}) of {what} on {}: {} train images, {} test images",
        args.k,
        args.temperature,
        args.device,
        train_indices.len(),
        test_indices.len()
    );
    let normalize = Normalize::cifar10();
    let splits = EvalSplits {
        train: train.as_ref(),
        train_indices: &train_indices,
        test: test.as_ref(),
        test_indices: &test_indices,
        normalize: Some(&normalize),
        batch_size: args.eval_batch_size,
    };
    let config = KnnConfig::new()
        .with_k(args.k)
        .with_temperature(args.temperature);
    let report = knn_backbone(&backbone, splits, &config, &device)?;
    println!("{report}");
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
