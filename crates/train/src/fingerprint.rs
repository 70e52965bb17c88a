//! What a run trains on, in a few bytes: [`DataFingerprint`], saved in every checkpoint and
//! checked when the run is resumed, so that a run continued on other images (another dataset,
//! another subset, files swapped or reordered, other views) is refused instead of silently
//! becoming a different run.

use serde::{Deserialize, Serialize};

use crate::trainer::TrainData;

/// Images sampled for the pixel hash, spread evenly over the run's images.
const SAMPLES: usize = 16;

/// A cheap content fingerprint of a run's training data: the number of images, their labels in
/// the run's order, the pixels of [`SAMPLES`] images spread over them, and the views.
///
/// Cheap by design (the labels are read from memory or the folder index; 16 images are decoded),
/// it tells apart what a user can get wrong when continuing a run: another dataset or split,
/// another `--limit` subset or seed, batch files swapped (CIFAR-10's `data_batch_1.bin` and
/// `data_batch_2.bin` hold other labels in other order), an image folder with files added,
/// removed or relabelled, and another view pipeline. It does not prove that every pixel is the
/// same: a file edited in place outside the sampled images passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// Images the run trains on.
    pub images: usize,
    /// Classes of the dataset (0: unlabelled).
    pub classes: usize,
    /// FNV-1a hash of the images' labels in the run's order (unlabelled images included as
    /// such), hexadecimal.
    pub labels: String,
    /// FNV-1a hash of the shapes and pixels of up to 16 images spread evenly over the run's
    /// images, hexadecimal.
    pub samples: String,
    /// The view pipeline, as its `Debug` form.
    pub views: String,
}

impl DataFingerprint {
    /// The fingerprint of `data`.
    pub fn of(data: &TrainData) -> Self {
        let dataset = data.dataset.as_ref();
        let images = data.indices.as_ref().map_or(dataset.len(), Vec::len);
        // The dataset index of the run's `k`-th image.
        let index_of = |k: usize| data.indices.as_ref().map_or(k, |indices| indices[k]);
        let mut labels = Fnv::new();
        for index in (0..images).map(index_of) {
            match dataset.target(index) {
                Some(target) => labels.write(&(target as u64).to_le_bytes()),
                None => labels.write(&u64::MAX.to_le_bytes()),
            }
        }
        let mut samples = Fnv::new();
        let picks = SAMPLES.min(images);
        for k in 0..picks {
            // Evenly spread, first and last included.
            let position = if picks == 1 {
                0
            } else {
                k * (images - 1) / (picks - 1)
            };
            let index = index_of(position);
            for side in dataset.shape(index) {
                samples.write(&(side as u64).to_le_bytes());
            }
            match dataset.pixels(index) {
                Ok(pixels) => samples.write(&pixels),
                // The loader reports an unreadable image when it reaches it; here it only
                // counts as unreadable.
                Err(_) => samples.write(b"unreadable"),
            }
        }
        Self {
            images,
            classes: dataset.num_classes(),
            labels: labels.hex(),
            samples: samples.hex(),
            views: format!("{:?}", data.transform),
        }
    }

    /// What differs between the run's fingerprint (`self`) and `now`, in words; empty when
    /// nothing does.
    pub fn differences(&self, now: &Self) -> Vec<String> {
        let mut differences = Vec::new();
        if self.images != now.images {
            differences.push(format!(
                "the run trained on {} images, these are {}",
                self.images, now.images
            ));
        }
        if self.classes != now.classes {
            differences.push(format!(
                "the run's data had {} classes, this has {}",
                self.classes, now.classes
            ));
        }
        if self.labels != now.labels {
            differences.push(format!(
                "the images' labels in order differ (hash {} vs {}: another dataset, subset or \
                 seed, or files swapped or reordered)",
                self.labels, now.labels
            ));
        }
        if self.samples != now.samples {
            differences.push(format!(
                "the pixels of the sampled images differ (hash {} vs {})",
                self.samples, now.samples
            ));
        }
        if self.views != now.views {
            differences.push(format!(
                "the views differ: the run's {} vs {}",
                self.views, now.views
            ));
        }
        differences
    }
}

/// 64-bit FNV-1a: a stable, dependency-free hash (std's `DefaultHasher` may change between
/// releases, and a checkpoint outlives them).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv;

    /// The published FNV-1a 64 test vectors (Fowler, Noll and Vo's reference values).
    #[test]
    fn fnv1a_matches_the_reference_values() {
        for (input, expected) in [
            (&b""[..], "cbf29ce484222325"),
            (b"a", "af63dc4c8601ec8c"),
            (b"foobar", "85944171f73967e8"),
        ] {
            let mut hash = Fnv::new();
            hash.write(input);
            assert_eq!(hash.hex(), expected, "{input:?}");
        }
    }
}
