//! Writes a PNG grid of CIFAR-10 images and their two augmented views (seed 000's figure):
//! one row per image: original, view 1, view 2, un-normalised.
//!
//! ```text
//! cargo run --release --example augmentations -- --data-dir ../shared/data/cifar-10-batches-bin --out views.png
//! cargo run --release --example augmentations -- --download --out views.png   # into ~/.cache/selfsup
//! ```
//!
//! On bad data it exits non-zero with the reader's error, which names the file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use selfsup::data::transforms::{
    Image, MultiViewTransform, Normalize, SimClrTransform, SimSiamTransform, TwoViewConfig, rng_for,
};
use selfsup::data::{CifarDataset, ImageDataset, Split, download_cifar10, image_grid};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    Simclr,
    Simsiam,
}

/// PNG grid of images × their two augmented views.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Directory holding the CIFAR-10 binary files.
    #[arg(long, required_unless_present = "download")]
    data_dir: Option<PathBuf>,
    /// Download CIFAR-10 (official URL, MD5-checked) into --cache-dir first and use it.
    #[arg(long)]
    download: bool,
    /// Where --download puts the dataset.
    #[arg(long, default_value_os_t = default_cache_dir())]
    cache_dir: PathBuf,
    /// Output PNG file.
    #[arg(long)]
    out: PathBuf,
    /// Number of images (rows).
    #[arg(long, default_value_t = 8)]
    n: usize,
    /// Seed of the augmentations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which preset pipeline.
    #[arg(long, value_enum, default_value_t = Preset::Simclr)]
    preset: Preset,
    /// Upscaling factor of each 32×32 cell.
    #[arg(long, default_value_t = 4)]
    scale: usize,
}

fn default_cache_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/selfsup")
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = match (&args.data_dir, args.download) {
        (_, true) => download_cifar10(&args.cache_dir)?,
        (Some(dir), false) => dir.clone(),
        (None, false) => unreachable!("clap requires --data-dir unless --download"),
    };
    let train = CifarDataset::cifar10(&data_dir, Split::Train)?;
    let config = TwoViewConfig::cifar10();
    let transform: Box<dyn MultiViewTransform> = match args.preset {
        Preset::Simclr => Box::new(SimClrTransform::new(config.clone())?),
        Preset::Simsiam => Box::new(SimSiamTransform::new(config.clone())?),
    };
    let denormalize = config
        .normalize
        .as_ref()
        .map(|(mean, std)| Normalize::new(mean.clone(), std.clone()))
        .transpose()?;
    let [c, h, w] = train.shape();
    let rows: Vec<Vec<Image>> = (0..args.n.min(train.len()))
        .map(|i| {
            let original = Image::from_chw_u8(train.pixels(i), c, h, w).expect("CIFAR shape");
            let mut views = transform.views(&original, &mut rng_for(args.seed, 0, i as u64));
            if let Some(norm) = &denormalize {
                views.iter_mut().for_each(|v| norm.denormalize(v));
            }
            std::iter::once(original).chain(views).collect()
        })
        .collect();
    let grid = image_grid(&rows, args.scale, 2)?;
    grid.save(&args.out)?;
    println!(
        "wrote {} ({} images × original + 2 views, {:?} preset, seed {})",
        args.out.display(),
        rows.len(),
        args.preset,
        args.seed
    );
    Ok(())
}
