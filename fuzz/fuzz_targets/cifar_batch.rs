//! `parse_batch` on arbitrary bytes, as CIFAR-10 and as CIFAR-100 records: either a batch that
//! matches the bytes, or `TruncatedFile` / `BadLabel` naming the file. Never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use selfsup_data::{CIFAR_IMAGE_BYTES, CifarVariant, Error, parse_batch};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz/data_batch_1.bin");
    for variant in [CifarVariant::Cifar10, CifarVariant::Cifar100] {
        let size = variant.record_size();
        match parse_batch(data, variant, path) {
            Ok(batch) => {
                assert!(data.len().is_multiple_of(size));
                let records = data.len() / size;
                assert_eq!(batch.labels.len(), records);
                assert_eq!(batch.images.len(), records * CIFAR_IMAGE_BYTES);
                assert!(
                    batch
                        .labels
                        .iter()
                        .all(|&l| usize::from(l) < variant.num_classes())
                );
            }
            Err(Error::TruncatedFile {
                path: p,
                len,
                record_size,
                record,
            }) => {
                assert_eq!(p, path);
                assert!(!data.len().is_multiple_of(size));
                assert_eq!(
                    (len, record_size, record),
                    (data.len() as u64, size, data.len() / size)
                );
            }
            Err(Error::BadLabel {
                path: p,
                record,
                label,
                num_classes,
            }) => {
                assert_eq!(p, path);
                assert!(usize::from(label) >= num_classes);
                assert!(record < data.len() / size);
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
});
