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
use common::{EvalArgs, Result, main_with};
use selfsup::train::{KnnConfig, knn_backbone};

/// Weighted kNN evaluation of a frozen backbone.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    eval: EvalArgs,
    /// Memory-bank (train) images, class-balanced. Default: `--limit`, or all 50 000.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Neighbours that vote.
    #[arg(long, default_value_t = 200)]
    k: usize,
    /// Temperature of the vote weights exp(similarity / τ).
    #[arg(long, default_value_t = 0.1)]
    temperature: f64,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let eval = args.eval.prepare(args.train_limit)?;
    println!(
        "kNN (k = {}, τ = {}) of {} on {}: {} train images, {} test images",
        args.k,
        args.temperature,
        eval.what,
        args.eval.device,
        eval.train_indices.len(),
        eval.test_indices.len()
    );
    let config = KnnConfig::new()
        .with_k(args.k)
        .with_temperature(args.temperature);
    let report = knn_backbone(&eval.backbone, eval.splits(), &config, &eval.device)?;
    println!("{report}");
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
