//! Class-balanced label-budget subsets.

use selfsup_data::{CifarDataset, CifarVariant, ImageDataset, class_balanced_subset};

/// 10 classes, `per_class` images each, labels interleaved.
fn dataset(per_class: usize) -> CifarDataset {
    let labels: Vec<u8> = (0..10 * per_class).map(|i| (i % 10) as u8).collect();
    let images = vec![0u8; labels.len() * 3072];
    CifarDataset::from_parts(CifarVariant::Cifar10, images, labels)
}

#[test]
fn picks_the_same_number_from_each_class_reproducibly() {
    let data = dataset(50);
    let subset = class_balanced_subset(&data, 100, 7).unwrap();
    assert_eq!(subset.len(), 100);
    for class in 0..10 {
        let n = subset
            .iter()
            .filter(|&&i| data.target(i) == Some(class))
            .count();
        assert_eq!(n, 10, "class {class}");
    }
    assert!(subset.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    assert_eq!(subset, class_balanced_subset(&data, 100, 7).unwrap());
    assert_ne!(subset, class_balanced_subset(&data, 100, 8).unwrap());
}

#[test]
fn impossible_budgets_are_errors() {
    let data = dataset(5);
    let msg = class_balanced_subset(&data, 15, 0).unwrap_err().to_string();
    assert!(
        msg.contains("cannot be split evenly over 10 classes"),
        "{msg}"
    );
    let msg = class_balanced_subset(&data, 0, 0).unwrap_err().to_string();
    assert!(msg.contains("cannot be split evenly"), "{msg}");
    let msg = class_balanced_subset(&data, 60, 0).unwrap_err().to_string();
    assert!(msg.contains("has 5 images, fewer than the 6"), "{msg}");
}

/// CIFAR-10-shaped labels without the pixels: 50 000 images, 5 000 of each class.
struct Labels;

impl ImageDataset for Labels {
    fn len(&self) -> usize {
        50_000
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

/// The 10 % label budget is pinned: the project's own generator and Fisher–Yates shuffle fix the
/// subset of a seed for every release. Computed once with this code, and agreeing with the
/// independent Python transcription `tests/golden/shuffle_order.py`; a change of the shuffle,
/// the generator or the seeding changes them and fails this test. The subset is sorted, so the
/// sum of all 5 000 indices pins the rest.
#[test]
fn golden_subset_of_5000_cifar10_labels() {
    let subset = class_balanced_subset(&Labels, 5_000, 0).unwrap();
    assert_eq!(subset.len(), 5_000);
    assert_eq!(subset[..10], SUBSET_SEED_0);
    assert_eq!(subset.iter().sum::<usize>(), 125_809_950);
    let other = class_balanced_subset(&Labels, 5_000, 1).unwrap();
    assert_ne!(
        other[..10],
        SUBSET_SEED_0,
        "the goldens are specific to the seed"
    );
}

// python3 crates/data/tests/golden/shuffle_order.py
const SUBSET_SEED_0: [usize; 10] = [4, 8, 14, 21, 23, 25, 34, 40, 55, 63];
