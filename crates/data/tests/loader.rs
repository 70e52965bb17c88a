//! The loader: order, drop_last, per-epoch shuffling, and determinism whatever the worker count.

use std::sync::Arc;

use rand::RngCore;
use selfsup_data::{CifarDataset, CifarVariant, Image, Loader, LoaderConfig, MultiViewTransform};

/// Two views: the image with a random value written into pixel 0, and the image flipped in sign.
#[derive(Debug)]
struct Marked;

impl MultiViewTransform for Marked {
    fn num_views(&self) -> usize {
        2
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        let mut a = img.clone();
        a.data_mut()[0] = (rng.next_u32() % 1000) as f32;
        let mut b = img.clone();
        b.data_mut().iter_mut().for_each(|v| *v = -*v);
        vec![a, b]
    }
}

/// `n` images whose pixels all equal `i % 256` (so a view tells which image it came from).
fn dataset(n: usize) -> Arc<CifarDataset> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let images: Vec<u8> = (0..n)
        .flat_map(|i| std::iter::repeat_n(i as u8, 3072))
        .collect();
    Arc::new(CifarDataset::from_parts(
        CifarVariant::Cifar10,
        images,
        labels,
    ))
}

fn loader(n: usize, config: LoaderConfig) -> Loader {
    Loader::new(dataset(n), Arc::new(Marked), config).unwrap()
}

fn config(batch_size: usize, num_workers: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size,
        num_workers,
        seed: 42,
        ..Default::default()
    }
}

#[test]
fn batches_hold_the_views_of_the_images_they_name() {
    let l = loader(10, config(4, 2));
    let batches: Vec<_> = l.epoch(0).map(Result::unwrap).collect();
    assert_eq!(batches.len(), 2, "drop_last drops the 2 left over");
    for b in &batches {
        assert_eq!(b.shapes, vec![[4, 3, 32, 32]; 2]);
        for (row, &i) in b.indices.iter().enumerate() {
            let second = &b.views[1][row * 3072..(row + 1) * 3072];
            assert!(second.iter().all(|&v| v == -(i as f32) / 255.0));
            assert_eq!(b.targets[row], Some(i % 10));
        }
    }
    let seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "no image twice in an epoch");
}

#[test]
fn same_batches_whatever_the_number_of_workers() {
    let reference: Vec<_> = loader(37, config(5, 0))
        .epoch(3)
        .map(Result::unwrap)
        .collect();
    for workers in [1, 2, 3, 8] {
        let got: Vec<_> = loader(37, config(5, workers))
            .epoch(3)
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, reference, "{workers} workers");
    }
}

#[test]
fn each_epoch_has_its_own_order_and_augmentations() {
    let l = loader(64, config(64, 2));
    let e0 = l.epoch(0).map(Result::unwrap).next().unwrap();
    let e0_again = l.epoch(0).map(Result::unwrap).next().unwrap();
    let e1 = l.epoch(1).map(Result::unwrap).next().unwrap();
    assert_eq!(e0, e0_again);
    assert_ne!(e0.indices, e1.indices);
    let no_shuffle = loader(
        64,
        LoaderConfig {
            shuffle: false,
            ..config(64, 2)
        },
    );
    assert_eq!(
        no_shuffle
            .epoch(5)
            .map(Result::unwrap)
            .next()
            .unwrap()
            .indices,
        (0..64).collect::<Vec<_>>()
    );
}

#[test]
fn keep_last_partial_batch_and_subset_indices() {
    let l = Loader::with_indices(
        dataset(20),
        Arc::new(Marked),
        LoaderConfig {
            drop_last: false,
            ..config(4, 2)
        },
        vec![1, 3, 5, 7, 9, 11],
    )
    .unwrap();
    assert_eq!(l.batches_per_epoch(), 2);
    let sizes: Vec<usize> = l.epoch(0).map(Result::unwrap).map(|b| b.len()).collect();
    assert_eq!(sizes, vec![4, 2]);
    let mut all: Vec<usize> = l
        .epoch(0)
        .map(Result::unwrap)
        .flat_map(|b| b.indices)
        .collect();
    all.sort();
    assert_eq!(all, vec![1, 3, 5, 7, 9, 11]);
}

/// Runs `work` on its own thread and waits at most 60 s for it: a hang fails the test instead of
/// hanging CI. A panic inside `work` comes back as `Err(message)`.
fn within_a_minute<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = tx.send(result.map_err(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into())
        }));
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("still running after 60 s: the loader hangs")
}

#[test]
fn stopping_early_does_not_hang() {
    // 100 batches over 3 workers with 2 batches of prefetch each: after the first batch, the
    // workers fill their channels and block on a full one, and dropping the iterator must
    // still stop and join them all.
    let l = loader(200, config(2, 3));
    let expected = l.epoch_order(0)[..2].to_vec();
    let first = within_a_minute(move || {
        let mut it = l.epoch(0).map(Result::unwrap);
        let first = it.next().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50)); // let the channels fill
        drop(it); // joins every worker
        first.indices
    })
    .unwrap();
    assert_eq!(
        first, expected,
        "the first batch is the first two of the epoch order"
    );
}

/// Two views like [`Marked`], but panics on one image, as a transform with a bug would.
#[derive(Debug)]
struct PanicsOn(usize);

impl MultiViewTransform for PanicsOn {
    fn num_views(&self) -> usize {
        2
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        // Every pixel of image i is i / 255 (see `dataset`).
        let index = (img.data()[0] * 255.0).round() as usize;
        assert!(index != self.0, "transform bug on image {index}");
        Marked.views(img, rng)
    }
}

#[test]
fn a_transform_panicking_in_a_worker_reaches_the_caller_with_its_message() {
    for workers in [0, 1, 3] {
        let l = Loader::new(
            dataset(40),
            Arc::new(PanicsOn(13)),
            LoaderConfig {
                drop_last: false,
                ..config(4, workers)
            },
        )
        .unwrap();
        let result = within_a_minute(move || l.epoch(0).map(Result::unwrap).count());
        let message = result.expect_err("the epoch must not end normally");
        assert!(
            message.contains("transform bug on image 13"),
            "{workers} workers: {message}"
        );
    }
}

#[test]
fn tensors_on_a_device() {
    let device = burn::tensor::Device::flex();
    let b = loader(8, config(4, 1))
        .epoch(0)
        .map(Result::unwrap)
        .next()
        .unwrap();
    assert_eq!(b.view(0, &device).dims(), [4, 3, 32, 32]);
    let targets = b
        .targets(&device)
        .unwrap()
        .into_data()
        .try_to_vec_as::<i64>()
        .unwrap();
    let expected: Vec<i64> = b.indices.iter().map(|&i| (i % 10) as i64).collect();
    assert_eq!(targets, expected);
}

#[test]
fn bad_configurations_are_errors() {
    let err = Loader::new(dataset(4), Arc::new(Marked), config(0, 1)).unwrap_err();
    assert!(
        err.to_string().contains("batch_size must be positive"),
        "{err}"
    );
    let err =
        Loader::with_indices(dataset(4), Arc::new(Marked), config(2, 1), vec![0, 4]).unwrap_err();
    assert!(err.to_string().contains("index 4 is out of range"), "{err}");
    let err = Loader::with_indices(dataset(4), Arc::new(Marked), config(2, 1), vec![]).unwrap_err();
    assert!(err.to_string().contains("no images"), "{err}");
    assert_eq!(dataset(3).len(), 3);
}

#[test]
fn pretext_batches_carry_the_labels_their_views_were_made_with() {
    use selfsup_data::rng_for;
    use selfsup_data::transforms::{Compose, PretextViews};
    // A random-pixel dataset, so every rotation / shear / colour change shows.
    let mut rng = rng_for(1, 2, 3);
    let mut images = vec![0u8; 6 * 3072];
    rng.fill_bytes(&mut images);
    let data = Arc::new(CifarDataset::from_parts(
        CifarVariant::Cifar10,
        images,
        vec![0; 6],
    ));
    let views = PretextViews {
        base: Compose::new(),
        normalize: None,
        ..PretextViews::cifar10()
    };
    let tasks = views.tasks.clone();
    let l = Loader::new(data.clone(), Arc::new(views), config(3, 1)).unwrap();
    let batch = l.epoch(0).map(Result::unwrap).next().unwrap();
    assert_eq!(batch.labels.len(), 3, "rotation, shear and colour labels");
    for (task, classes) in [4, 3, 3].into_iter().enumerate() {
        assert_eq!(batch.labels[task].len(), 3);
        assert!(batch.labels[task].iter().all(|&l| l < classes));
    }
    for (row, &i) in batch.indices.iter().enumerate() {
        let original = Image::from_chw_u8(
            &selfsup_data::ImageDataset::pixels(&*data, i).unwrap(),
            3,
            32,
            32,
        )
        .unwrap();
        let labels = selfsup_data::transforms::PretextLabels {
            rotation: batch.labels[0][row] as u8,
            shear: batch.labels[1][row] as u8,
            color: batch.labels[2][row] as u8,
        };
        let expected = tasks.apply_with_labels(original, labels);
        assert_eq!(
            &batch.views[0][row * 3072..(row + 1) * 3072],
            expected.data(),
            "image {i}: the view is the original under its labels {labels:?}"
        );
    }
    // SSL transforms draw no labels.
    let plain = loader(4, config(2, 1))
        .epoch(0)
        .map(Result::unwrap)
        .next()
        .unwrap();
    assert!(plain.labels.is_empty());
}

/// Multi-crop through the loader: views of two sizes batch side by side, global views first,
/// the same batches whatever the number of workers.
#[test]
fn multi_crop_batches_views_of_two_sizes() {
    use selfsup_data::MultiCropTransform;
    let transform = Arc::new(
        MultiCropTransform::dino_cifar10()
            .with_local_views(3, 16, (0.05, 0.4))
            .unwrap(),
    );
    let make = |workers| Loader::new(dataset(10), transform.clone(), config(4, workers)).unwrap();
    let batches: Vec<_> = make(2).epoch(0).map(Result::unwrap).collect();
    assert_eq!(batches.len(), 2);
    for b in &batches {
        assert_eq!(
            b.shapes,
            vec![
                [4, 3, 32, 32],
                [4, 3, 32, 32],
                [4, 3, 16, 16],
                [4, 3, 16, 16],
                [4, 3, 16, 16]
            ]
        );
        for (view, shape) in b.views.iter().zip(&b.shapes) {
            assert_eq!(view.len(), shape.iter().product::<usize>());
        }
        // Each row is that image's views under rng_for(seed, epoch, index).
        for (row, &i) in b.indices.iter().enumerate() {
            let image = Image::from_chw_u8(
                &selfsup_data::ImageDataset::pixels(&*dataset(10), i).unwrap(),
                3,
                32,
                32,
            )
            .unwrap();
            let views = transform.views(&image, &mut selfsup_data::rng_for(42, 0, i as u64));
            for (k, v) in views.iter().enumerate() {
                let n = v.data().len();
                assert_eq!(&b.views[k][row * n..(row + 1) * n], v.data(), "view {k}");
            }
        }
    }
    let device = burn::tensor::Device::flex();
    assert_eq!(batches[0].view(0, &device).dims(), [4, 3, 32, 32]);
    assert_eq!(batches[0].view(4, &device).dims(), [4, 3, 16, 16]);
    assert_eq!(
        make(0).epoch(0).map(Result::unwrap).collect::<Vec<_>>(),
        batches
    );
}

/// Images of different sizes, image `i` filled with `i` and `(8 + i) × (10 + 2i)` pixels.
struct MixedSizes;

impl selfsup_data::ImageDataset for MixedSizes {
    fn len(&self) -> usize {
        6
    }

    fn shape(&self, index: usize) -> [usize; 3] {
        [3, 8 + index, 10 + 2 * index]
    }

    fn pixels(&self, index: usize) -> selfsup_data::Result<std::borrow::Cow<'_, [u8]>> {
        const BYTES: usize = 3 * 13 * 20;
        static FILLED: [[u8; BYTES]; 6] = {
            let mut all = [[0u8; BYTES]; 6];
            let mut i = 0;
            while i < 6 {
                all[i] = [i as u8; BYTES];
                i += 1;
            }
            all
        };
        Ok(std::borrow::Cow::Borrowed(
            &FILLED[index][..3 * (8 + index) * (10 + 2 * index)],
        ))
    }

    fn target(&self, _index: usize) -> Option<usize> {
        None
    }

    fn num_classes(&self) -> usize {
        0
    }
}

#[test]
fn images_of_different_sizes_are_read_at_their_own_shapes_and_cropped_to_one() {
    let transform = selfsup_data::transforms::TwoViews(
        selfsup_data::transforms::RandomResizedCrop::new(4).unwrap(),
    );
    let l = Loader::new(Arc::new(MixedSizes), Arc::new(transform), config(3, 2)).unwrap();
    for b in l.epoch(0).map(Result::unwrap) {
        assert_eq!(b.shapes, vec![[3, 3, 4, 4]; 2]);
        for (row, &i) in b.indices.iter().enumerate() {
            // A crop of a flat image is that flat value: each image was read at its own shape.
            let view = &b.views[0][row * 48..(row + 1) * 48];
            assert!(
                view.iter().all(|&v| (v - i as f32 / 255.0).abs() < 1e-6),
                "image {i}: {view:?}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "view 0 of image")]
fn views_of_different_sizes_in_one_batch_panic_naming_the_image() {
    let l = Loader::new(Arc::new(MixedSizes), Arc::new(Marked), config(6, 0)).unwrap();
    let _ = l.build_batch(&[0, 1], 0);
}

/// `n` images of one black pixel each, labelled `i % 10` (the shape of CIFAR-10's labels at
/// `n = 50 000`), without holding 50 000 CIFAR images in memory.
struct Tiny(usize);

impl selfsup_data::ImageDataset for Tiny {
    fn len(&self) -> usize {
        self.0
    }

    fn shape(&self, _index: usize) -> [usize; 3] {
        [3, 1, 1]
    }

    fn pixels(&self, _index: usize) -> selfsup_data::Result<std::borrow::Cow<'_, [u8]>> {
        Ok(std::borrow::Cow::Borrowed(&[0; 3]))
    }

    fn target(&self, index: usize) -> Option<usize> {
        Some(index % 10)
    }

    fn num_classes(&self) -> usize {
        10
    }
}

fn epoch_start(seed: u64, epoch: u64) -> Vec<usize> {
    let l = Loader::new(
        Arc::new(Tiny(50_000)),
        Arc::new(Marked),
        LoaderConfig {
            seed,
            ..config(256, 0)
        },
    )
    .unwrap();
    l.epoch_order(epoch)[..10].to_vec()
}

/// The epoch order is pinned: the project's own generator (xoshiro256++ seeded by SplitMix64)
/// and Fisher–Yates shuffle fix it for every release, so a run reproduces from its seed.
/// The numbers were computed once with this code and agree with the independent Python
/// transcription `tests/golden/shuffle_order.py`; a change of the shuffle, the generator or the
/// seeding changes them and fails this test.
#[test]
fn golden_epoch_orders_of_50000_images() {
    assert_eq!(epoch_start(0, 0), EPOCH_0);
    assert_eq!(epoch_start(0, 1), EPOCH_1);
    // The goldens are specific to the seed: another seed gives another order.
    assert_ne!(epoch_start(1, 0), EPOCH_0);
}

// python3 crates/data/tests/golden/shuffle_order.py
const EPOCH_0: [usize; 10] = [
    40189, 11431, 3740, 31513, 45300, 17250, 20801, 636, 12375, 12891,
];
const EPOCH_1: [usize; 10] = [
    48909, 13515, 15633, 35904, 35207, 6064, 19794, 19620, 4724, 16564,
];

#[test]
fn a_resumed_epoch_gives_the_remaining_batches_without_building_the_first() {
    let l = loader(37, config(5, 2));
    let whole: Vec<_> = l.epoch(4).map(Result::unwrap).collect();
    for first in [0, 1, 3, 7] {
        let rest: Vec<_> = l.epoch_from(4, first).map(Result::unwrap).collect();
        assert_eq!(rest, whole[first..], "from batch {first}");
    }
    assert_eq!(l.epoch_from(4, 99).count(), 0);
}

#[test]
fn the_time_spent_waiting_for_batches_is_counted() {
    // Without workers the caller builds every batch itself: all of it is waiting.
    let l = loader(64, config(8, 0));
    let mut it = l.epoch(0);
    assert_eq!(it.waited(), std::time::Duration::ZERO);
    let started = std::time::Instant::now();
    for batch in &mut it {
        batch.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(it.waited() > std::time::Duration::ZERO);
    assert!(it.waited() <= elapsed, "{:?} > {elapsed:?}", it.waited());
}
