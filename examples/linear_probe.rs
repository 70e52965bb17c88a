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
use common::{EvalArgs, Result, main_with};
use selfsup::train::{LinearProbeConfig, linear_probe_backbone};

/// Linear evaluation of a frozen backbone.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    eval: EvalArgs,
    /// Labelled training images for the classifier (class-balanced; seed 001 uses 5000).
    /// Default: `--limit`, or all 50 000.
    #[arg(long)]
    labels: Option<usize>,
    /// Epochs of the linear classifier (over the stored features, so seconds each).
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Base LR of the classifier (× batch / 256, cosine, SGD momentum 0.9).
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Batch of the classifier's training.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let eval = args.eval.prepare(args.labels)?;
    println!(
        "linear probe of {} on {}: {} labelled train images, {} test images",
        eval.what,
        args.eval.device,
        eval.train_indices.len(),
        eval.test_indices.len()
    );
    let config = LinearProbeConfig::new()
        .with_epochs(args.epochs)
        .with_lr(args.lr)
        .with_batch_size(args.batch_size)
        .with_seed(args.eval.seed);
    let start = Instant::now();
    let report = linear_probe_backbone(&eval.backbone, eval.splits(), &config, &eval.device)?;
    println!("{report}");
    println!(
        "probe took {:.1} s (feature extraction included)",
        start.elapsed().as_secs_f64()
    );
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
