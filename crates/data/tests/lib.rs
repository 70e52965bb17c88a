//! Integration tests of `selfsup-data`, in one binary.

/// The six batch files of `cifar-10-batches-bin`, written out independently of the reader's list.
const CIFAR10_FILES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

mod center;
mod cifar;
mod download;
mod folder;
mod fuzz;
mod imagenet;
mod loader;
mod stl10;
mod stream;
mod subset;
mod transforms;
