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
    let batches: Vec<_> = l.epoch(0).collect();
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
    let reference: Vec<_> = loader(37, config(5, 0)).epoch(3).collect();
    for workers in [1, 2, 3, 8] {
        let got: Vec<_> = loader(37, config(5, workers)).epoch(3).collect();
        assert_eq!(got, reference, "{workers} workers");
    }
}

#[test]
fn each_epoch_has_its_own_order_and_augmentations() {
    let l = loader(64, config(64, 2));
    let e0 = l.epoch(0).next().unwrap();
    let e0_again = l.epoch(0).next().unwrap();
    let e1 = l.epoch(1).next().unwrap();
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
        no_shuffle.epoch(5).next().unwrap().indices,
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
    let sizes: Vec<usize> = l.epoch(0).map(|b| b.len()).collect();
    assert_eq!(sizes, vec![4, 2]);
    let mut all: Vec<usize> = l.epoch(0).flat_map(|b| b.indices).collect();
    all.sort();
    assert_eq!(all, vec![1, 3, 5, 7, 9, 11]);
}

#[test]
fn stopping_early_does_not_hang() {
    let l = loader(200, config(2, 3));
    let mut it = l.epoch(0);
    it.next().unwrap();
    drop(it); // workers blocked on full channels must stop
}

#[test]
fn tensors_on_a_device() {
    let device = burn::tensor::Device::flex();
    let b = loader(8, config(4, 1)).epoch(0).next().unwrap();
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
    let batch = l.epoch(0).next().unwrap();
    assert_eq!(batch.labels.len(), 3, "rotation, shear and colour labels");
    for (task, classes) in [4, 3, 3].into_iter().enumerate() {
        assert_eq!(batch.labels[task].len(), 3);
        assert!(batch.labels[task].iter().all(|&l| l < classes));
    }
    for (row, &i) in batch.indices.iter().enumerate() {
        let original =
            Image::from_chw_u8(selfsup_data::ImageDataset::pixels(&*data, i), 3, 32, 32).unwrap();
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
    let plain = loader(4, config(2, 1)).epoch(0).next().unwrap();
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
    let batches: Vec<_> = make(2).epoch(0).collect();
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
                selfsup_data::ImageDataset::pixels(&*dataset(10), i),
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
    assert_eq!(make(0).epoch(0).collect::<Vec<_>>(), batches);
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

    fn pixels(&self, index: usize) -> &[u8] {
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
        &FILLED[index][..3 * (8 + index) * (10 + 2 * index)]
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
    for b in l.epoch(0) {
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
    l.build_batch(&[0, 1], 0);
}
