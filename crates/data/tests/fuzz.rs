//! Property tests (fuzzing on stable Rust) of everything that reads bytes from disk: the CIFAR
//! and STL-10 parsers on arbitrary bytes and on valid files with random corruptions, and image
//! decoding in folders (random bytes named `.png` / `.jpg` / …, valid PNG and JPEG files with
//! random byte flips). Each input must give `Ok` or a typed [`Error`] naming the file, never a
//! panic, and the parsers must agree with a plain reference of what they should accept.
//!
//! A few thousand cases in all, from a fresh random seed each run; `PROPTEST_RNG_SEED=<n>`
//! replays a run. The same parsers run under cargo-fuzz in `fuzz/` (nightly) for longer runs.

use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;
use selfsup_data::stl10::{parse_stl10_images, parse_stl10_labels};
use selfsup_data::{
    CIFAR_IMAGE_BYTES, CifarVariant, Error, ImageDataset, ImageFolder, ImageFolderOptions,
    STL10_IMAGE_BYTES, STL10_SIDE, parse_batch,
};

const VARIANTS: [CifarVariant; 2] = [CifarVariant::Cifar10, CifarVariant::Cifar100];

/// What `parse_batch` must answer, written the plain way: a length that is not a whole number of
/// records is `TruncatedFile`; otherwise the first record with a label out of range (coarse
/// before fine for CIFAR-100) is `BadLabel`; otherwise the records split into labels and pixels.
#[derive(Debug, PartialEq)]
enum Expected {
    Truncated { len: u64, record: usize },
    BadLabel { record: usize, label: u8 },
    Ok { records: usize },
}

fn expected_cifar(bytes: &[u8], variant: CifarVariant) -> Expected {
    let size = variant.record_size();
    if !bytes.len().is_multiple_of(size) {
        return Expected::Truncated {
            len: bytes.len() as u64,
            record: bytes.len() / size,
        };
    }
    for (record, chunk) in bytes.chunks(size).enumerate() {
        let limits: &[u8] = match variant {
            CifarVariant::Cifar10 => &[10],
            _ => &[20, 100],
        };
        for (&label, &limit) in chunk.iter().zip(limits) {
            if label >= limit {
                return Expected::BadLabel { record, label };
            }
        }
    }
    Expected::Ok {
        records: bytes.len() / size,
    }
}

/// Runs `parse_batch` and checks its answer against [`expected_cifar`], and an accepted batch
/// against the bytes it came from.
fn check_cifar(bytes: &[u8], variant: CifarVariant) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/data_batch_1.bin");
    let got = parse_batch(bytes, variant, path);
    match (expected_cifar(bytes, variant), got) {
        (Expected::Ok { records }, Ok(batch)) => {
            let labels = variant.label_bytes();
            prop_assert_eq!(batch.labels.len(), records);
            prop_assert_eq!(batch.images.len(), records * CIFAR_IMAGE_BYTES);
            for (r, chunk) in bytes.chunks(variant.record_size()).enumerate() {
                prop_assert_eq!(batch.labels[r], chunk[labels - 1]);
                prop_assert_eq!(
                    &batch.images[r * CIFAR_IMAGE_BYTES..(r + 1) * CIFAR_IMAGE_BYTES],
                    &chunk[labels..]
                );
            }
            if variant == CifarVariant::Cifar100 {
                prop_assert_eq!(batch.coarse_labels.len(), records);
            }
        }
        (
            Expected::Truncated { len, record },
            Err(Error::TruncatedFile {
                path: p,
                len: l,
                record: r,
                record_size,
            }),
        ) => {
            prop_assert_eq!(p.as_path(), path);
            prop_assert_eq!((l, r, record_size), (len, record, variant.record_size()));
        }
        (
            Expected::BadLabel { record, label },
            Err(Error::BadLabel {
                path: p,
                record: r,
                label: l,
                ..
            }),
        ) => {
            prop_assert_eq!(p.as_path(), path);
            prop_assert_eq!((r, l), (record, label));
        }
        (expected, got) => {
            prop_assert!(
                false,
                "expected {:?}, got {:?}",
                expected,
                got.map(|b| b.labels.len())
            );
        }
    }
    Ok(())
}

/// Valid records of `variant` (labels in range, random pixels).
fn valid_records(variant: CifarVariant, max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0u8..20, 0u8..100, any::<u64>()), 0..=max).prop_map(move |records| {
        let mut bytes = Vec::with_capacity(records.len() * variant.record_size());
        for (coarse, fine, seed) in records {
            match variant {
                CifarVariant::Cifar10 => bytes.push(fine % 10),
                _ => bytes.extend([coarse, fine]),
            }
            let mut x = seed;
            bytes.extend((0..CIFAR_IMAGE_BYTES).map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            }));
        }
        bytes
    })
}

/// A corruption of a file: bytes overwritten at random places, then the end cut or extended.
#[derive(Debug, Clone)]
struct Corruption {
    writes: Vec<(prop::sample::Index, u8)>,
    resize: i32,
}

fn corruption() -> impl Strategy<Value = Corruption> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        prop_oneof![Just(0), -4000i32..4000, Just(-1), Just(1)],
    )
        .prop_map(|(writes, resize)| Corruption { writes, resize })
}

fn corrupt(mut bytes: Vec<u8>, c: &Corruption) -> Vec<u8> {
    if !bytes.is_empty() {
        for (at, value) in &c.writes {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
    }
    let len = (bytes.len() as i64 + i64::from(c.resize)).max(0) as usize;
    bytes.resize(len, 0xAB);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn cifar_parse_batch_on_arbitrary_bytes(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 3000..3200),
            prop::collection::vec(any::<u8>(), 6140..6160),
        ]
    ) {
        for variant in VARIANTS {
            check_cifar(&bytes, variant)?;
        }
    }

    #[test]
    fn cifar_parse_batch_on_corrupted_valid_files(
        variant in prop::sample::select(VARIANTS.to_vec()),
        file in (0usize..4).prop_flat_map(|n| (
            valid_records(CifarVariant::Cifar10, n),
            valid_records(CifarVariant::Cifar100, n),
        )),
        c in corruption(),
    ) {
        let bytes = match variant {
            CifarVariant::Cifar10 => file.0,
            _ => file.1,
        };
        // The file is valid before it is corrupted.
        prop_assert!(parse_batch(&bytes, variant, Path::new("x")).is_ok());
        check_cifar(&corrupt(bytes, &c), variant)?;
    }

    #[test]
    fn stl10_labels_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let path = Path::new("fuzz/train_y.bin");
        match parse_stl10_labels(&bytes, path) {
            Ok(labels) => {
                prop_assert!(bytes.iter().all(|b| (1..=10).contains(b)));
                prop_assert_eq!(labels, bytes.iter().map(|b| b - 1).collect::<Vec<_>>());
            }
            Err(Error::LabelOutOfRange { path: p, record, label, min: 1, max: 10 }) => {
                prop_assert_eq!(p.as_path(), path);
                let first_bad = bytes.iter().position(|b| !(1..=10).contains(b));
                prop_assert_eq!(Some(record), first_bad);
                prop_assert_eq!(label, bytes[record]);
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn stl10_images_on_arbitrary_bytes(
        len in prop_oneof![
            0usize..100,
            STL10_IMAGE_BYTES - 3..STL10_IMAGE_BYTES + 3,
            Just(2 * STL10_IMAGE_BYTES),
            2 * STL10_IMAGE_BYTES - 1..2 * STL10_IMAGE_BYTES + 1,
        ],
        seed in any::<u64>(),
    ) {
        let mut x = seed;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        let path = Path::new("fuzz/train_X.bin");
        match parse_stl10_images(bytes.clone(), path) {
            Ok(images) => {
                prop_assert!(len.is_multiple_of(STL10_IMAGE_BYTES));
                prop_assert_eq!(images.len(), len);
                // Column-major planes on disk, row-major out.
                const N: usize = STL10_SIDE;
                for plane in 0..len / (N * N) {
                    for (row, col) in [(0, 1), (5, 90), (95, 3), (17, 17)] {
                        prop_assert_eq!(
                            images[plane * N * N + row * N + col],
                            bytes[plane * N * N + col * N + row]
                        );
                    }
                }
            }
            Err(Error::TruncatedFile { path: p, len: l, record_size, record }) => {
                prop_assert_eq!(p.as_path(), path);
                prop_assert!(!len.is_multiple_of(STL10_IMAGE_BYTES));
                prop_assert_eq!((l, record_size, record), (len as u64, STL10_IMAGE_BYTES, len / STL10_IMAGE_BYTES));
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

/// Options for the folder properties: a small pixel limit, so that a corrupted header
/// declaring a huge image is refused before anything is allocated; one decoding thread (each
/// case is a single file).
fn folder_options(skip: bool) -> ImageFolderOptions {
    ImageFolderOptions {
        max_pixels: 1 << 16,
        skip_unreadable: skip,
        threads: 1,
        ..Default::default()
    }
}

/// Opens a flat folder holding one file `name` with `bytes`: `Ok` with a consistent image, or
/// an image error naming the file; with `skip_unreadable`, the same file listed as skipped.
fn check_one_file(name: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    match ImageFolder::open(root.path(), &folder_options(false)) {
        Ok(folder) => {
            prop_assert_eq!(folder.len(), 1);
            let [c, h, w] = folder.shape(0);
            prop_assert_eq!(c, 3);
            prop_assert!(h * w <= 1 << 16 && h * w > 0);
            prop_assert_eq!(folder.pixels(0).unwrap().len(), c * h * w);
        }
        Err(Error::Image { path: p, reason }) => {
            prop_assert_eq!(&p, &path);
            prop_assert!(!reason.is_empty());
            let skipped = ImageFolder::open(root.path(), &folder_options(true)).unwrap();
            prop_assert_eq!(skipped.len(), 0);
            prop_assert_eq!(skipped.skipped().len(), 1);
            prop_assert_eq!(&skipped.skipped()[0].0, &path);
        }
        Err(Error::ImageTooLarge {
            path: p,
            width,
            height,
            ..
        }) => {
            prop_assert_eq!(&p, &path);
            prop_assert!(u64::from(width) * u64::from(height) > 1 << 16);
        }
        Err(other) => prop_assert!(false, "unexpected error {:?}", other),
    }
    Ok(())
}

/// A small valid image, encoded as `format`.
fn encoded(format: image::ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 17) as u8, (y * 29) as u8, (x * y) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn folder_random_bytes_as_image_files(
        ext in prop::sample::select(vec!["png", "jpg", "jpeg", "bmp", "gif", "webp", "tiff", "ppm", "tga", "qoi"]),
        prefix in prop::sample::select(vec![
            &b""[..],
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8\xff",
            b"GIF89a",
            b"BM",
            b"P6\n4 4\n255\n",
        ]),
        tail in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let bytes = [prefix, &tail[..]].concat();
        check_one_file(&format!("random.{ext}"), &bytes)?;
    }

    #[test]
    fn folder_valid_png_and_jpeg_with_byte_flips(
        format in prop::sample::select(vec![
            image::ImageFormat::Png,
            image::ImageFormat::Jpeg,
            image::ImageFormat::Bmp,
        ]),
        (w, h) in (1u32..24, 1u32..24),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = encoded(format, w, h);
        for (at, xor) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        if let Some(cut) = cut {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep);
        }
        let ext = format.extensions_str()[0];
        check_one_file(&format!("flipped.{ext}"), &bytes)?;
    }
}

/// The unflipped encodings decode, so the flip property above starts from valid files.
#[test]
fn the_encoded_images_decode_before_corruption() {
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Bmp,
    ] {
        let root = tempfile::tempdir().unwrap();
        let ext = format.extensions_str()[0];
        std::fs::write(root.path().join(format!("a.{ext}")), encoded(format, 7, 5)).unwrap();
        let folder = ImageFolder::open(root.path(), &folder_options(false)).unwrap();
        assert_eq!(folder.shape(0), [3, 5, 7], "{format:?}");
    }
}
