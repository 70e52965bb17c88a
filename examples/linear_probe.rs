//! Linear probe of a backbone on CIFAR-10: the backbone frozen in eval mode, features
//! extracted once without augmentation, a linear classifier trained on them.
//!
//! ```text
//! cargo run --release --example linear_probe -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --checkpoint runs/simsiam/checkpoint.ckpt
//! cargo run --release --example linear_probe -- --data-dir ... --random-init   # the baseline
//! cargo run --release --example linear_probe -- --data-dir ... --checkpoint ... --labels 5000
//! ```
//!
//! Prints the per-class table and `accuracy: NN.NN%` (top-1 on the test images).

mod common;

use std::time::Instant;

use clap::Parser;
use common::{BackboneArgs, DataArgs, Result, main_with};
use selfsup::data::Split;
use selfsup::data::transforms::Normalize;
use selfsup::device::{DeviceSpec, default_device_spec, parse_device};
use selfsup::train::{EvalSplits, LinearProbeConfig, linear_probe_backbone};

/// Linear evaluation of a frozen backbone.
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
    /// Labelled training images for the classifier (class-balanced; seed 001 uses 5000).
    /// Default: `--limit`, or all 50 000.
    #[arg(long)]
    labels: Option<usize>,
    /// Test images (class-balanced; default all 10 000).
    #[arg(long)]
    test_limit: Option<usize>,
    /// Epochs of the linear classifier (over the stored features, so seconds each).
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Base LR of the classifier (× batch / 256, cosine, SGD momentum 0.9).
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Batch of the classifier's training.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Images per forward pass of the backbone.
    #[arg(long, default_value_t = 256)]
    eval_batch_size: usize,
    /// Seed of the subsets, the random init and the classifier.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let device = args.device.device()?;
    let (backbone, what) = args.backbone.load(&device, args.seed)?;
    let labels = args.labels.or(args.data.limit);
    let (train, train_indices) = args.data.split(Split::Train, labels, args.seed)?;
    let (test, test_indices) = args.data.test(args.test_limit, args.seed)?;
    println!(
        "linear probe of {what} on {}: {} labelled train images, {} test images",
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
    let config = LinearProbeConfig::new()
        .with_epochs(args.epochs)
        .with_lr(args.lr)
        .with_batch_size(args.batch_size)
        .with_seed(args.seed);
    let start = Instant::now();
    let report = linear_probe_backbone(&backbone, splits, &config, &device)?;
    println!("{report}");
    println!(
        "probe took {:.1} s (feature extraction included)",
        start.elapsed().as_secs_f64()
    );
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
