//! Label-budget subsets: a seeded, class-balanced choice of labelled examples (keeping, say,
//! 5 000 of CIFAR-10's 50 000 training labels).

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::transforms::{TransformRng, shuffle};

/// Picks `total` indices of `dataset`, `total / num_classes` from each class, uniformly at random
/// from a generator seeded with `seed`. The result is sorted (dataset order).
///
/// Class by class (in label order), the class's indices are shuffled by the project's
/// Fisher–Yates [`shuffle`] over one [`TransformRng`] seeded with
/// `seed`, and the first `total / num_classes` are kept. The choice depends only on the labels
/// and `seed`, in every release.
///
/// Errors when the dataset is unlabelled, when `total` is zero or not a multiple of the number
/// of classes, or when a class has fewer images than its share.
pub fn class_balanced_subset(
    dataset: &dyn ImageDataset,
    total: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let classes = dataset.num_classes();
    if classes == 0 {
        return Err(Error::Invalid(
            "class-balanced subset: the dataset has no labels".into(),
        ));
    }
    if total == 0 || !total.is_multiple_of(classes) {
        return Err(Error::Invalid(format!(
            "class-balanced subset: {total} labels cannot be split evenly over {classes} classes"
        )));
    }
    let per_class = total / classes;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for i in 0..dataset.len() {
        if let Some(label) = dataset.target(i) {
            by_class[label].push(i);
        }
    }
    let mut rng = TransformRng::from_u64(seed);
    let mut chosen = Vec::with_capacity(total);
    for (class, mut members) in by_class.into_iter().enumerate() {
        if members.len() < per_class {
            return Err(Error::Invalid(format!(
                "class-balanced subset: class {class} has {} images, fewer than the {per_class} asked for",
                members.len()
            )));
        }
        shuffle(&mut members, &mut rng);
        chosen.extend_from_slice(&members[..per_class]);
    }
    chosen.sort_unstable();
    Ok(chosen)
}
