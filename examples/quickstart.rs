//! Opens CIFAR-10 and runs one forward pass of a small CNN encoder on the chosen device.
//!
//! ```text
//! cargo run --release --example quickstart -- --data-dir ../shared/data/cifar-10-batches-bin
//! cargo run --release --features tch --example quickstart -- --device tch --data-dir ...
//! ```
//!
//! It is the smallest end-to-end check that data, model and backend fit together; the SimSiam
//! training example grows from it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use selfsup::data::{CIFAR_SIDE, CifarDataset, Split, images_to_tensor};
use selfsup::device::{DeviceSpec, default_device_spec, parse_device};
use selfsup::models::SmallCnnConfig;

/// Forward pass of a small CNN over the first CIFAR-10 test images.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Directory holding `data_batch_1..5.bin` and `test_batch.bin`.
    #[arg(long)]
    data_dir: PathBuf,
    /// Backend: flex, tch, tch-cuda:N, wgpu or cuda:N (among those compiled in).
    #[arg(long, value_parser = parse_device, default_value_t = default_device_spec())]
    device: DeviceSpec,
    /// How many images to encode.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Also check the files against the official MD5 digests.
    #[arg(long)]
    verify: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.verify {
        selfsup::data::verify_cifar10(&args.data_dir)?;
        println!("md5: all CIFAR-10 files match the official digests");
    }
    let test = CifarDataset::cifar10(&args.data_dir, Split::Test)?;
    let n = args.batch_size.clamp(1, test.len());
    println!(
        "opened CIFAR-10 test split: {} images, classes {:?}",
        test.len(),
        test.classes()
    );

    let device = args.device.device()?;
    let pixels: Vec<u8> = (0..n).flat_map(|i| test.image(i).iter().copied()).collect();
    let images = images_to_tensor(&pixels, [n, 3, CIFAR_SIDE, CIFAR_SIDE], &device);

    let config = SmallCnnConfig::new();
    let encoder = config.init(&device);
    let start = Instant::now();
    let features = encoder.forward_features(images);
    let values = features.to_data().try_to_vec_as::<f32>()?;
    let elapsed = start.elapsed();

    let mean = values.iter().sum::<f32>() / values.len() as f32;
    println!(
        "device {}: encoded {n} images into features {:?} in {:.1} ms (mean activation {mean:.4})",
        args.device,
        features.dims(),
        elapsed.as_secs_f64() * 1e3
    );
    println!("labels of the batch: {:?}", &test.labels()[..n.min(16)]);
    Ok(())
}
