//! `parse_stl10_labels` on arbitrary bytes: labels `0..=9` when every byte is `1..=10`, or
//! `LabelOutOfRange` naming the file and the first bad record. Never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use selfsup_data::Error;
use selfsup_data::stl10::parse_stl10_labels;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz/train_y.bin");
    let first_bad = data.iter().position(|b| !(1..=10).contains(b));
    match parse_stl10_labels(data, path) {
        Ok(labels) => {
            assert_eq!(first_bad, None);
            assert!(labels.iter().zip(data).all(|(&l, &b)| l + 1 == b));
        }
        Err(Error::LabelOutOfRange {
            path: p,
            record,
            label,
            min: 1,
            max: 10,
        }) => {
            assert_eq!(p, path);
            assert_eq!(Some(record), first_bad);
            assert_eq!(label, data[record]);
        }
        Err(other) => panic!("unexpected error: {other:?}"),
    }
});
