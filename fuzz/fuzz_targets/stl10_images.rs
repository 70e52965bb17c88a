//! `parse_stl10_images` on arbitrary bytes: the same number of bytes back (planes transposed),
//! or `TruncatedFile` naming the file. Never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use selfsup_data::stl10::parse_stl10_images;
use selfsup_data::{Error, STL10_IMAGE_BYTES, STL10_SIDE};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz/train_X.bin");
    match parse_stl10_images(data.to_vec(), path) {
        Ok(images) => {
            assert!(data.len().is_multiple_of(STL10_IMAGE_BYTES));
            assert_eq!(images.len(), data.len());
            const N: usize = STL10_SIDE;
            for (plane, (out, input)) in images
                .chunks_exact(N * N)
                .zip(data.chunks_exact(N * N))
                .enumerate()
            {
                for (row, col) in [(0, 1), (95, 3), (40, 77)] {
                    assert_eq!(out[row * N + col], input[col * N + row], "plane {plane}");
                }
            }
        }
        Err(Error::TruncatedFile {
            path: p,
            len,
            record_size,
            record,
        }) => {
            assert_eq!(p, path);
            assert!(!data.len().is_multiple_of(STL10_IMAGE_BYTES));
            assert_eq!(
                (len, record_size, record),
                (
                    data.len() as u64,
                    STL10_IMAGE_BYTES,
                    data.len() / STL10_IMAGE_BYTES
                )
            );
        }
        Err(other) => panic!("unexpected error: {other:?}"),
    }
});
