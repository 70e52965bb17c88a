//! Augmentation throughput, in images per second (`Throughput::Elements` = images).
//!
//! - each transform alone on a 32×32 CIFAR image;
//! - the full two-view SimCLR pipeline at CIFAR-10 size (`SimClrTransform::cifar10`), single thread;
//! - the loader (all cores) producing batches of 256 two-view images.
//!
//! Images are the real CIFAR-10 test images when `SELFSUP_CIFAR10_DIR` (or
//! `../shared/data/cifar-10-batches-bin`) exists, otherwise a synthetic pattern.
//! `tools/bench_torchvision.py` measures torchvision's SimCLR two-view pipeline the same way;
//! docs/benchmarks.md has both.
//!
//! ```text
//! cargo bench --bench augment
//! ```
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use selfsup::data::transforms::{
    ColorJitter, Cutout, GaussianBlur, Image, MultiViewTransform, Normalize, RandomAffine,
    RandomGrayscale, RandomHorizontalFlip, RandomResizedCrop, RandomSolarize, SimClrTransform,
    Transform, rng_for,
};
use selfsup::data::{
    CIFAR_IMAGE_BYTES, CifarDataset, CifarVariant, ImageDataset, Loader, LoaderConfig, Split,
};

fn dataset() -> CifarDataset {
    let dir = std::env::var_os("SELFSUP_CIFAR10_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/cifar-10-batches-bin"));
    CifarDataset::cifar10(&dir, Split::Test).unwrap_or_else(|_| {
        let n = 1024;
        let images = (0..n * CIFAR_IMAGE_BYTES)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        CifarDataset::from_parts(CifarVariant::Cifar10, images, vec![0; n])
    })
}

fn images(data: &CifarDataset, n: usize) -> Vec<Image> {
    (0..n)
        .map(|i| Image::from_chw_u8(&data.pixels(i).unwrap(), 3, 32, 32).unwrap())
        .collect()
}

fn single_transforms(c: &mut Criterion) {
    let data = dataset();
    let imgs = images(&data, 256);
    let transforms: Vec<(&str, Box<dyn Transform>)> = vec![
        (
            "random_resized_crop",
            Box::new(
                RandomResizedCrop::new(32)
                    .unwrap()
                    .with_scale(0.2, 1.0)
                    .unwrap(),
            ),
        ),
        ("hflip", Box::new(RandomHorizontalFlip::new(1.0).unwrap())),
        (
            "color_jitter",
            Box::new(ColorJitter::new(0.4, 0.4, 0.4, 0.1).unwrap()),
        ),
        ("grayscale", Box::new(RandomGrayscale::new(1.0).unwrap())),
        ("normalize", Box::new(Normalize::cifar10())),
        ("cutout", Box::new(Cutout::new(1, 16).unwrap())),
        (
            "affine",
            Box::new(RandomAffine::new(15.0).unwrap().with_shear(10.0).unwrap()),
        ),
        ("gaussian_blur_3", Box::new(GaussianBlur::new(3).unwrap())),
        ("solarize", Box::new(RandomSolarize::new(0.5, 1.0).unwrap())),
    ];
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Elements(imgs.len() as u64));
    for (name, t) in &transforms {
        group.bench_function(*name, |b| {
            b.iter(|| {
                for (i, img) in imgs.iter().enumerate() {
                    black_box(t.apply(img.clone(), &mut rng_for(0, 0, i as u64)));
                }
            })
        });
    }
    group.finish();
}

fn two_view_pipeline(c: &mut Criterion) {
    let data = dataset();
    let imgs = images(&data, 256);
    let simclr = SimClrTransform::cifar10();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(imgs.len() as u64));
    group.bench_function("simclr_two_views_1_thread", |b| {
        b.iter(|| {
            for (i, img) in imgs.iter().enumerate() {
                black_box(simclr.views(img, &mut rng_for(0, 0, i as u64)));
            }
        })
    });
    group.finish();
}

fn loader(c: &mut Criterion) {
    let data: Arc<dyn ImageDataset> = Arc::new(dataset());
    let batch_size = 256;
    let mut group = c.benchmark_group("loader");
    group.sample_size(10);
    for workers in [1, 2] {
        let loader = Loader::new(
            data.clone(),
            Arc::new(SimClrTransform::cifar10()),
            LoaderConfig {
                batch_size,
                num_workers: workers,
                ..Default::default()
            },
        )
        .unwrap();
        let batches = loader.batches_per_epoch().min(8);
        group.throughput(Throughput::Elements((batches * batch_size) as u64));
        group.bench_function(format!("simclr_batches_{workers}_workers"), |b| {
            let mut epoch = 0;
            b.iter(|| {
                epoch += 1;
                for batch in loader.epoch(epoch).take(batches) {
                    black_box(batch.unwrap());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, single_transforms, two_view_pipeline, loader);
criterion_main!(benches);
