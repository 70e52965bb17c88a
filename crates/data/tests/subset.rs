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
