//! The CIFAR reader on synthetic files: every way a file can be wrong gives a typed error naming
//! the file and record; random bytes never panic; the real CIFAR-10 beside the repository opens.

use std::fs;
use std::path::{Path, PathBuf};

use selfsup_data::{
    CIFAR_IMAGE_BYTES, CifarDataset, CifarOptions, CifarVariant, Error, Split, parse_batch,
    verify_cifar10, verify_md5,
};

/// Small synthetic files: any whole number of records.
const SMALL: CifarOptions = CifarOptions {
    check_official_counts: false,
    verify_md5: false,
};

/// Opens a split of small synthetic CIFAR-10 files.
fn open_small(dir: &Path, split: Split) -> selfsup_data::Result<CifarDataset> {
    CifarDataset::open_with(dir, CifarVariant::Cifar10, split, &SMALL)
}

/// Opens a split of small synthetic CIFAR-100 files.
fn open_small_100(dir: &Path, split: Split) -> selfsup_data::Result<CifarDataset> {
    CifarDataset::open_with(dir, CifarVariant::Cifar100, split, &SMALL)
}

/// One CIFAR-10 record whose pixels encode `(seed, position)`.
fn record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..CIFAR_IMAGE_BYTES).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    r
}

fn batch(labels: &[u8]) -> Vec<u8> {
    labels
        .iter()
        .enumerate()
        .flat_map(|(i, &l)| record(l, i as u8))
        .collect()
}

/// A complete synthetic `cifar-10-batches-bin` with `per_file` records in each batch.
fn synthetic_cifar10(dir: &Path, per_file: usize) {
    for (f, name) in crate::CIFAR10_FILES.iter().enumerate() {
        let labels: Vec<u8> = (0..per_file).map(|i| ((i + f) % 10) as u8).collect();
        fs::write(dir.join(name), batch(&labels)).unwrap();
    }
}

#[test]
fn reads_images_labels_and_default_class_names() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_cifar10(dir.path(), 3);
    let train = open_small(dir.path(), Split::Train).unwrap();
    let test = open_small(dir.path(), Split::Test).unwrap();
    assert_eq!(train.len(), 15);
    assert_eq!(test.len(), 3);
    // file 2 (data_batch_2), record 1: label (1 + 1) % 10, pixels seeded with 1
    assert_eq!(train.label(4), 2);
    assert_eq!(train.image(4)[..], record(2, 1)[1..]);
    assert_eq!(test.labels(), &[5, 6, 7]);
    assert_eq!(train.classes()[0], "airplane");
    assert!(train.coarse_labels().is_empty());
}

#[test]
fn class_names_come_from_batches_meta_when_present() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_cifar10(dir.path(), 1);
    let names: String = (0..10).map(|i| format!("c{i}\n")).collect();
    fs::write(dir.path().join("batches.meta.txt"), names).unwrap();
    let test = open_small(dir.path(), Split::Test).unwrap();
    assert_eq!(test.classes()[9], "c9");

    fs::write(dir.path().join("batches.meta.txt"), "a\nb\n").unwrap();
    let err = open_small(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadClassNames {
                expected: 10,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn truncated_file_names_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_cifar10(dir.path(), 4);
    let path = dir.path().join("data_batch_3.bin");
    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 100);
    fs::write(&path, bytes).unwrap();
    let err = open_small(dir.path(), Split::Train).unwrap_err();
    match &err {
        Error::TruncatedFile {
            path: p,
            len,
            record,
            record_size,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*len, 4 * 3073 - 100);
            assert_eq!(*record, 3);
            assert_eq!(*record_size, 3073);
        }
        other => panic!("expected TruncatedFile, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("data_batch_3.bin") && msg.contains("12192 bytes") && msg.contains("record 3"),
        "{msg}"
    );
    // The default options refuse it the same way: sizes are checked before counts.
    let err = CifarDataset::cifar10(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(&err, Error::RecordCount { path, found: 4, .. } if path.ends_with("data_batch_1.bin")),
        "{err:?}"
    );
}

#[test]
fn bad_label_names_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_cifar10(dir.path(), 2);
    fs::write(dir.path().join("test_batch.bin"), batch(&[3, 4, 10])).unwrap();
    let err = open_small(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(&err, Error::BadLabel { record: 2, label: 10, num_classes: 10, path } if path.ends_with("test_batch.bin")),
        "{err:?}"
    );
    assert!(err.to_string().contains("record 2 has label 10"), "{err}");
}

#[test]
fn missing_file_and_directory_in_place_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_cifar10(dir.path(), 1);
    fs::remove_file(dir.path().join("data_batch_5.bin")).unwrap();
    let err = open_small(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(&err, Error::MissingFile { path } if path.ends_with("data_batch_5.bin")),
        "{err:?}"
    );

    fs::create_dir(dir.path().join("data_batch_5.bin")).unwrap();
    let err = open_small(dir.path(), Split::Train).unwrap_err();
    assert!(matches!(&err, Error::NotAFile { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("data_batch_5.bin is not a regular file")
    );

    let err = open_small(&dir.path().join("nope"), Split::Test).unwrap_err();
    assert!(matches!(&err, Error::NotADirectory { .. }), "{err:?}");
}

#[test]
fn cifar100_reads_coarse_and_fine_labels_and_checks_both() {
    let dir = tempfile::tempdir().unwrap();
    let rec = |coarse: u8, fine: u8| {
        let mut r = vec![coarse, fine];
        r.extend(std::iter::repeat_n(fine, CIFAR_IMAGE_BYTES));
        r
    };
    let bytes: Vec<u8> = [rec(19, 99), rec(0, 5)].concat();
    fs::write(dir.path().join("test.bin"), &bytes).unwrap();
    let test = open_small_100(dir.path(), Split::Test).unwrap();
    assert_eq!(test.labels(), &[99, 5]);
    assert_eq!(test.coarse_labels(), &[19, 0]);
    assert_eq!(test.image(1)[0], 5);
    assert_eq!(test.variant(), CifarVariant::Cifar100);

    fs::write(dir.path().join("test.bin"), rec(20, 1)).unwrap();
    let err = open_small_100(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadLabel {
                label: 20,
                num_classes: 20,
                ..
            }
        ),
        "{err}"
    );
    fs::write(dir.path().join("test.bin"), rec(1, 100)).unwrap();
    let err = open_small_100(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadLabel {
                label: 100,
                num_classes: 100,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn md5_mismatch_names_the_file_and_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.bin");
    fs::write(&path, b"hello").unwrap();
    verify_md5(&path, "5d41402abc4b2a76b9719d911017c592").unwrap();
    let err = verify_md5(&path, "00000000000000000000000000000000").unwrap_err();
    assert!(
        matches!(&err, Error::ChecksumMismatch { actual, .. } if actual == "5d41402abc4b2a76b9719d911017c592")
    );
    assert!(err.to_string().contains("x.bin"), "{err}");

    synthetic_cifar10(dir.path(), 1);
    let err = verify_cifar10(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::ChecksumMismatch { path, .. } if path.ends_with("data_batch_1.bin")),
        "{err}"
    );
}

/// Fuzz-style: random lengths and random bytes give `Ok` or a typed error, never a panic.
#[test]
fn random_bytes_never_panic() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut oks = 0;
    for round in 0..400 {
        let len = match round % 4 {
            0 => (next() % 10_000) as usize,
            1 => 3073 * (next() % 4) as usize,
            2 => 3074 * (next() % 4) as usize,
            _ => (next() % 8) as usize,
        };
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        for variant in [CifarVariant::Cifar10, CifarVariant::Cifar100] {
            if let Ok(b) = parse_batch(&bytes, variant, Path::new("fuzz.bin")) {
                assert_eq!(b.images.len(), b.labels.len() * CIFAR_IMAGE_BYTES);
                oks += 1;
            }
        }
    }
    // Empty and well-sized inputs with small labels do parse: the loop exercises both paths.
    assert!(oks > 0);
}

/// Full-size files without the disk space: sparse files of `records` all-zero records (label 0,
/// black pixels), which read back as zeros.
fn sparse(path: &Path, records: usize, record_size: usize) {
    let file = fs::File::create(path).unwrap();
    file.set_len((records * record_size) as u64).unwrap();
}

/// A `cifar-10-batches-bin` of official size (10 000 all-zero records per file), on no disk.
fn full_size_cifar10(dir: &Path) {
    for name in crate::CIFAR10_FILES {
        sparse(&dir.join(name), 10_000, 3073);
    }
}

/// Writes `label` into record `record` of a CIFAR-10 file in place.
fn set_label(path: &Path, record: usize, label: u8) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start((record * 3073) as u64)).unwrap();
    file.write_all(&[label]).unwrap();
}

#[test]
fn official_sizes_open_with_the_default_options() {
    let dir = tempfile::tempdir().unwrap();
    full_size_cifar10(dir.path());
    set_label(&dir.path().join("data_batch_2.bin"), 7, 9);
    let train = CifarDataset::cifar10(dir.path(), Split::Train).unwrap();
    assert_eq!(train.len(), 50_000);
    assert_eq!(train.label(10_007), 9);
    assert_eq!(
        CifarDataset::cifar10(dir.path(), Split::Test)
            .unwrap()
            .len(),
        10_000
    );
}

#[test]
fn an_empty_short_or_long_batch_is_refused_naming_the_file_and_both_counts() {
    let dir = tempfile::tempdir().unwrap();
    full_size_cifar10(dir.path());
    let path = dir.path().join("data_batch_3.bin");
    // 0 bytes is a whole number of records, 9 999 and 10 001 records too: only the count tells.
    for records in [0, 9_999, 10_001, 1] {
        sparse(&path, records, 3073);
        let err = CifarDataset::cifar10(dir.path(), Split::Train).unwrap_err();
        match &err {
            Error::RecordCount {
                path: p,
                expected,
                found,
            } => {
                assert_eq!(p, &path);
                assert_eq!((*expected, *found), (10_000, records));
            }
            other => panic!("{records} records: expected RecordCount, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("data_batch_3.bin")
                && msg.contains(&format!("holds {records} records"))
                && msg.contains("has 10000"),
            "{msg}"
        );
        // Without the check, any whole number of records is accepted.
        let train = open_small(dir.path(), Split::Train).unwrap();
        assert_eq!(train.len(), 40_000 + records);
    }
    // The test file is checked too.
    sparse(&path, 10_000, 3073);
    sparse(&dir.path().join("test_batch.bin"), 9_999, 3073);
    let err = CifarDataset::cifar10(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(&err, Error::RecordCount { path, expected: 10_000, found: 9_999 } if path.ends_with("test_batch.bin")),
        "{err:?}"
    );
}

#[test]
fn a_bad_label_in_a_full_size_file_names_the_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    full_size_cifar10(dir.path());
    let path = dir.path().join("data_batch_4.bin");
    set_label(&path, 9_876, 10);
    let err = CifarDataset::cifar10(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(&err, Error::BadLabel { path: p, record: 9_876, label: 10, num_classes: 10 } if p == &path),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("data_batch_4.bin: record 9876 has label 10"),
        "{err}"
    );
}

#[test]
fn cifar100_official_counts_and_label_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let test = dir.path().join("test.bin");
    sparse(&test, 10_000, 3074);
    let data = CifarDataset::cifar100(dir.path(), Split::Test).unwrap();
    assert_eq!((data.len(), data.coarse_labels().len()), (10_000, 10_000));

    sparse(&test, 9_999, 3074);
    let err = CifarDataset::cifar100(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(&err, Error::RecordCount { path, expected: 10_000, found: 9_999 } if path.ends_with("test.bin")),
        "{err:?}"
    );
    // train.bin is one file of 50 000 records.
    fs::write(dir.path().join("train.bin"), []).unwrap();
    let err = CifarDataset::cifar100(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(&err, Error::RecordCount { path, expected: 50_000, found: 0 } if path.ends_with("train.bin")),
        "{err:?}"
    );
    // A record that is not a whole CIFAR-100 record (a CIFAR-10 one, 3 073 bytes).
    fs::write(&test, vec![0u8; 3073]).unwrap();
    let err = CifarDataset::cifar100(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::TruncatedFile {
                len: 3073,
                record_size: 3074,
                record: 0,
                ..
            }
        ),
        "{err:?}"
    );
    // There are no per-file digests to check CIFAR-100 against: asking is an error, not a pass.
    sparse(&test, 10_000, 3074);
    let err = CifarDataset::open_with(
        dir.path(),
        CifarVariant::Cifar100,
        Split::Test,
        &CifarOptions {
            verify_md5: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(msg) if msg.contains("md5")),
        "{err:?}"
    );
}

#[test]
fn verify_md5_refuses_files_that_are_not_the_official_ones() {
    let dir = tempfile::tempdir().unwrap();
    full_size_cifar10(dir.path());
    let strict = CifarOptions {
        verify_md5: true,
        ..Default::default()
    };
    let err = CifarDataset::open_with(dir.path(), CifarVariant::Cifar10, Split::Test, &strict)
        .unwrap_err();
    assert!(
        matches!(&err, Error::ChecksumMismatch { path, expected, .. }
            if path.ends_with("test_batch.bin") && expected == "803d5f7f4d78ea53de84dbe85f74fb6d"),
        "{err:?}"
    );
    assert!(err.to_string().contains("test_batch.bin"), "{err}");
}

/// A well-formed file in the wrong place: `test_batch.bin` copied over `data_batch_3.bin` (as
/// symbolic links to the real files, so nothing is copied). Every size, count and label check
/// passes and the model would train on the test set; only the MD5 catches it.
#[test]
fn a_swapped_file_is_caught_only_by_md5_naming_it() {
    let Some(real) = real_cifar10_dir() else {
        return;
    };
    let real = fs::canonicalize(real).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in crate::CIFAR10_FILES {
        let source = if name == "data_batch_3.bin" {
            "test_batch.bin"
        } else {
            name
        };
        std::os::unix::fs::symlink(real.join(source), dir.path().join(name)).unwrap();
    }
    let train = CifarDataset::cifar10(dir.path(), Split::Train).unwrap();
    assert_eq!(train.len(), 50_000, "undetectable without the digests");

    let strict = CifarOptions {
        verify_md5: true,
        ..Default::default()
    };
    let err = CifarDataset::open_with(dir.path(), CifarVariant::Cifar10, Split::Train, &strict)
        .unwrap_err();
    match &err {
        Error::ChecksumMismatch {
            path,
            expected,
            actual,
        } => {
            assert!(path.ends_with("data_batch_3.bin"), "{err}");
            assert_eq!(expected, "942cd6a4bcdd0dd3c604fbe906cb4421");
            assert_eq!(
                actual, "803d5f7f4d78ea53de84dbe85f74fb6d",
                "test_batch.bin's digest"
            );
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("data_batch_3.bin"), "{err}");
}

fn real_cifar10_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SELFSUP_CIFAR10_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cifar-10-batches-bin")
        });
    if dir.join("test_batch.bin").is_file() {
        Some(dir)
    } else if std::env::var_os("SELFSUP_REQUIRE_DATA").is_some() {
        panic!(
            "SELFSUP_REQUIRE_DATA is set but no CIFAR-10 at {}",
            dir.display()
        );
    } else {
        eprintln!(
            "skipping: no CIFAR-10 at {} (set SELFSUP_CIFAR10_DIR)",
            dir.display()
        );
        None
    }
}

#[test]
fn real_cifar10_opens_and_verifies() {
    let Some(dir) = real_cifar10_dir() else {
        return;
    };
    verify_cifar10(&dir).unwrap();
    let strict = CifarOptions {
        verify_md5: true,
        ..Default::default()
    };
    let train =
        CifarDataset::open_with(&dir, CifarVariant::Cifar10, Split::Train, &strict).unwrap();
    let test = CifarDataset::open_with(&dir, CifarVariant::Cifar10, Split::Test, &strict).unwrap();
    assert_eq!((train.len(), test.len()), (50_000, 10_000));
    // Balanced classes: 5 000 / 1 000 of each.
    for class in 0..10u8 {
        assert_eq!(
            train.labels().iter().filter(|&&l| l == class).count(),
            5_000
        );
        assert_eq!(test.labels().iter().filter(|&&l| l == class).count(), 1_000);
    }
    // The first training image is a frog (label 6) in the official order.
    assert_eq!(train.label(0), 6);
    assert_eq!(train.classes()[6], "frog");
}
