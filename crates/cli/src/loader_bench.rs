//! `selfsup loader-bench`: will loading keep my GPU fed? Reads a folder (or any `--dataset`),
//! makes a method's views in batches with the training loader, and prints the images per second.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use selfsup::data::{ImageDataset, Loader, LoaderConfig};

use crate::Result;
use crate::args::{BackboneArgs, BackboneKind};
use crate::data::{DataArgs, DatasetKind, Part};
use crate::pretrain::{method_parser, setup, views_of};

/// `selfsup loader-bench`.
#[derive(Args, Debug)]
pub struct LoaderBenchArgs {
    /// An image folder (class sub-folders, or images only): the same as `--dataset folder
    /// --data-dir DIR`. Without it, `--dataset` and `--data-dir` say what to read.
    pub dir: Option<PathBuf>,
    /// Whose views to make: the method's augmentations at `--image-size` (default 224, where
    /// BYOL, MoCo v3 and Barlow Twins get BYOL's ImageNet pair, DINO and SwAV their ImageNet
    /// multi-crop).
    #[arg(long, value_parser = method_parser(), default_value = "byol")]
    pub views: String,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Loader threads (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Local views of DINO and SwAV (default: their ImageNet multi-crop's 6 at ImageNet sizes,
    /// none at CIFAR's).
    #[arg(long)]
    pub local_views: Option<usize>,
    /// Batches timed (fewer when the data has fewer).
    #[arg(long, default_value_t = 50)]
    pub batches: usize,
    /// Batches made before the timing starts (the workers' first batches are ready early).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Seed of the order and the augmentations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataArgs,
}

/// Runs `selfsup loader-bench`.
pub fn run(mut args: LoaderBenchArgs) -> Result<()> {
    if let Some(dir) = args.dir.take() {
        args.data.dataset = DatasetKind::Folder;
        args.data.data_dir = Some(dir);
    }
    if args.data.image_size.is_none() && args.data.dataset == DatasetKind::Folder {
        args.data.image_size = Some(224);
    }
    if args.batch_size == 0 || args.batches == 0 {
        return Err("--batch-size and --batches must be positive".into());
    }
    let size = args.data.image_size();
    let multi_crop = matches!(args.views.as_str(), "dino" | "swav");
    let mut setup = setup(&args.data, &BackboneArgs::of(BackboneKind::Resnet18))?;
    setup.local_views =
        Some(
            args.local_views
                .unwrap_or(if multi_crop && size > 96 { 6 } else { 0 }),
        );
    let transform = views_of(&args.views, &setup)?;
    let started = Instant::now();
    let opened = args.data.open(Part::Pretrain)?;
    // "indexed N images in S s" (what tools/bench_index_folder.sh reads) for a streamed
    // folder; "opened" otherwise, where the time includes decoding or reading every image.
    println!(
        "{} {} images in {:.2} s: {}",
        if opened.storage == Some(selfsup::data::Storage::Stream) {
            "indexed"
        } else {
            "opened"
        },
        opened.dataset.len(),
        started.elapsed().as_secs_f64(),
        opened.what
    );
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let config = LoaderConfig {
        batch_size: args.batch_size,
        seed: args.seed,
        num_workers: workers,
        skip_unreadable: args.data.skip_unreadable,
        ..LoaderConfig::default()
    };
    let dataset: Arc<dyn ImageDataset> = opened.dataset;
    let loader = Loader::new(dataset, transform.clone(), config)?;
    let views = transform.num_views();
    let per_epoch = loader.batches_per_epoch();
    if per_epoch == 0 {
        return Err(format!(
            "{} images do not make one batch of {}",
            loader.num_images(),
            args.batch_size
        )
        .into());
    }
    println!(
        "{} views per image ({}), batches of {}, {workers} workers, {} warm-up + {} timed \
         batches",
        views, args.views, args.batch_size, args.warmup, args.batches
    );
    // Epochs follow one another as in training, so any number of batches can be asked for.
    let mut epoch = 0u64;
    let mut iter = loader.epoch(epoch);
    let mut next = || -> Result<selfsup::data::ViewBatch> {
        loop {
            if let Some(batch) = iter.next() {
                return Ok(batch?);
            }
            epoch += 1;
            iter = loader.epoch(epoch);
        }
    };
    for _ in 0..args.warmup {
        next()?;
    }
    let timed = Instant::now();
    let (mut images, mut skipped) = (0usize, 0usize);
    for _ in 0..args.batches {
        let batch = next()?;
        images += batch.len();
        skipped += batch.skipped.len();
    }
    let seconds = timed.elapsed().as_secs_f64();
    if skipped > 0 {
        println!("{skipped} unreadable images left out");
    }
    println!(
        "{images} images ({} views) in {seconds:.2} s, {:.1} views/s",
        images * views,
        (images * views) as f64 / seconds
    );
    println!("{:.1} images/s", images as f64 / seconds);
    Ok(())
}
