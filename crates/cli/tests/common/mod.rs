//! What the command line's tests share: a synthetic CIFAR-10 on disk.

use std::path::Path;

/// A synthetic CIFAR-10 in the binary format, with the official record counts (10 000 in each of
/// the five train batches and the test batch: the reader refuses other counts), labels cycling
/// through the ten classes, each class a different mean brightness (so that a kNN has something
/// to find). The commands then work on small subsets of it.
pub fn fake_cifar10(dir: &Path) {
    let per_file = 10_000;
    std::fs::create_dir_all(dir).unwrap();
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u8
    };
    let names = [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
    ];
    for name in names.iter().chain(&["test_batch"]) {
        let mut bytes = Vec::new();
        for i in 0..per_file {
            let label = (i % 10) as u8;
            bytes.push(label);
            bytes.extend((0..3072).map(|_| label * 20 + next() / 8));
        }
        std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
    }
}
