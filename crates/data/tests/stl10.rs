//! STL-10 on small synthetic files: the column-major to row-major transpose, the splits, and
//! every strictness check.

use std::fs;
use std::path::Path;

use selfsup_data::{Error, ImageDataset, Stl10, Stl10Options, Stl10Split};

const SIDE: usize = 96;
const RECORD: usize = 3 * SIDE * SIDE;

fn small() -> Stl10Options {
    Stl10Options {
        check_official_counts: false,
        ..Default::default()
    }
}

/// `n` image records as on disk (column-major planes). Record `i` is filled with `i`, except
/// that the byte at on-disk position `(channel 1, column 5, row 2)` -- offset
/// `96 * 96 + 5 * 96 + 2` -- is `200 + i`.
fn image_file(n: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(n * RECORD);
    for i in 0..n {
        let mut record = vec![i as u8; RECORD];
        record[SIDE * SIDE + 5 * SIDE + 2] = 200 + i as u8;
        bytes.extend_from_slice(&record);
    }
    bytes
}

/// A `stl10_binary` directory with 3 train, 2 test and 4 unlabelled images.
fn write_dataset(dir: &Path) {
    fs::write(dir.join("train_X.bin"), image_file(3)).unwrap();
    fs::write(dir.join("train_y.bin"), [1u8, 10, 4]).unwrap();
    fs::write(dir.join("test_X.bin"), image_file(2)).unwrap();
    fs::write(dir.join("test_y.bin"), [2u8, 3]).unwrap();
    fs::write(dir.join("unlabeled_X.bin"), image_file(4)).unwrap();
}

#[test]
fn images_are_transposed_to_row_major_chw_and_labels_shifted_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let train = Stl10::open_with(dir.path(), Stl10Split::Train, &small()).unwrap();
    assert_eq!(train.len(), 3);
    assert_eq!(train.labels(), &[0, 9, 3]);
    assert_eq!(train.shape(2), [3, 96, 96]);
    assert_eq!(train.num_classes(), 10);
    assert_eq!(train.classes()[9], "truck");
    for i in 0..3 {
        let img = train.pixels(i).unwrap();
        // torchvision: np.transpose(images, (0, 1, 3, 2)), so disk (c, col, row) is
        // pixel (c, row, col): disk (1, 5, 2) is row 2, column 5 of the green plane.
        let moved = SIDE * SIDE + 2 * SIDE + 5;
        assert_eq!(img[moved], 200 + i as u8, "image {i}");
        assert_eq!(img[SIDE * SIDE + 5 * SIDE + 2], i as u8, "image {i}");
        assert_eq!(
            img.iter().filter(|&&v| v != i as u8).count(),
            1,
            "image {i}"
        );
    }
    assert_eq!(train.target(1), Some(9));
}

#[test]
fn the_four_splits_are_torchvisions() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let open = |split| Stl10::open_with(dir.path(), split, &small()).unwrap();

    let test = open(Stl10Split::Test);
    assert_eq!((test.len(), test.labels()), (2, &[1u8, 2][..]));

    let unlabeled = open(Stl10Split::Unlabeled);
    assert_eq!(unlabeled.len(), 4);
    assert_eq!(unlabeled.target(0), None);
    assert_eq!(unlabeled.num_classes(), 0);

    let both = open(Stl10Split::TrainUnlabeled);
    assert_eq!(both.len(), 7);
    let targets: Vec<_> = (0..7).map(|i| both.target(i)).collect();
    assert_eq!(targets, [Some(0), Some(9), Some(3), None, None, None, None]);
    // The unlabelled images follow the training ones, transposed too.
    assert_eq!(both.pixels(4).unwrap()[SIDE * SIDE + 2 * SIDE + 5], 201);
    assert_eq!(both.pixels(4).unwrap()[0], 1);
    assert_eq!(
        "train+unlabeled".parse::<Stl10Split>().unwrap(),
        Stl10Split::TrainUnlabeled
    );
    assert!("val".parse::<Stl10Split>().is_err());
}

#[test]
fn official_counts_are_checked_unless_disabled() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let err = Stl10::open(dir.path(), Stl10Split::Train).unwrap_err();
    assert!(
        matches!(&err, Error::RecordCount { path, expected: 5000, found: 3 }
            if path.ends_with("train_X.bin")),
        "{err:?}"
    );
    assert!(err.to_string().contains("train_X.bin"), "{err}");
}

#[test]
fn a_partial_record_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let mut bytes = image_file(2);
    bytes.pop();
    fs::write(dir.path().join("test_X.bin"), bytes).unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::Test, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::TruncatedFile { path, record_size: 27_648, record: 1, .. }
            if path.ends_with("test_X.bin")),
        "{err:?}"
    );
}

#[test]
fn images_and_labels_must_agree_in_number() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    fs::write(dir.path().join("train_y.bin"), [1u8, 2]).unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::Train, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::CountMismatch { num_images: 3, num_labels: 2, labels, .. }
            if labels.ends_with("train_y.bin")),
        "{err:?}"
    );
}

#[test]
fn a_label_outside_one_to_ten_names_its_record() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    for bad in [0u8, 11] {
        fs::write(dir.path().join("train_y.bin"), [3u8, 5, bad]).unwrap();
        let err = Stl10::open_with(dir.path(), Stl10Split::Train, &small()).unwrap_err();
        assert!(
            matches!(&err, Error::LabelOutOfRange { path, record: 2, label, min: 1, max: 10 }
                if path.ends_with("train_y.bin") && *label == bad),
            "{err:?}"
        );
        assert!(err.to_string().contains("record 2"), "{err}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    fs::remove_file(dir.path().join("unlabeled_X.bin")).unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::TrainUnlabeled, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingFile { path } if path.ends_with("unlabeled_X.bin")),
        "{err:?}"
    );
    fs::remove_file(dir.path().join("test_y.bin")).unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::Test, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingFile { path } if path.ends_with("test_y.bin")),
        "{err:?}"
    );
    let err = Stl10::open(dir.path().join("nope"), Stl10Split::Test).unwrap_err();
    assert!(matches!(&err, Error::NotADirectory { .. }), "{err:?}");
}

#[test]
fn class_names_come_from_the_file_and_must_be_ten() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    fs::write(dir.path().join("class_names.txt"), names.join("\n")).unwrap();
    let test = Stl10::open_with(dir.path(), Stl10Split::Test, &small()).unwrap();
    assert_eq!(test.classes(), names);
    fs::write(dir.path().join("class_names.txt"), "a\nb\n").unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::Test, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::BadClassNames { found: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn a_fold_keeps_its_training_images_and_all_unlabelled_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let folds: Vec<String> = (0..10)
        .map(|f| format!("{} {}", f % 3, (f + 2) % 3))
        .collect();
    fs::write(dir.path().join("fold_indices.txt"), folds.join("\n")).unwrap();
    let options = Stl10Options {
        fold: Some(1),
        ..small()
    };
    // Fold 1 is "1 0": images 1 then 0.
    let train = Stl10::open_with(dir.path(), Stl10Split::Train, &options).unwrap();
    assert_eq!(train.labels(), &[9, 0]);
    assert_eq!(train.pixels(0).unwrap()[0], 1);
    assert_eq!(train.pixels(1).unwrap()[0], 0);
    let both = Stl10::open_with(dir.path(), Stl10Split::TrainUnlabeled, &options).unwrap();
    assert_eq!(both.len(), 6);
    assert_eq!(both.pixels(2).unwrap()[0], 0, "the first unlabelled image");

    let err = Stl10::open_with(dir.path(), Stl10Split::Test, &options).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    fs::write(dir.path().join("fold_indices.txt"), "0 1\n7 0\n").unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::Train, &options).unwrap_err();
    assert!(err.to_string().contains("`7`"), "{err}");
}

/// A file of `records` STL-10 records that takes no disk space (sparse, all zeros).
fn sparse_file(path: &Path, records: u64) {
    fs::File::create(path)
        .unwrap()
        .set_len(records * RECORD as u64)
        .unwrap();
}

/// 40 million records: 1.1 TB, which could be neither held in memory nor read in a test.
const HUGE: u64 = 40_000_000;

#[test]
fn a_wrong_size_is_refused_from_the_file_size_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    sparse_file(&dir.path().join("train_X.bin"), 5_000);
    // Zeros: invalid labels, which are never read because a size is wrong first.
    fs::write(dir.path().join("train_y.bin"), vec![0u8; 5_000]).unwrap();
    sparse_file(&dir.path().join("unlabeled_X.bin"), HUGE);
    let err = Stl10::open(dir.path(), Stl10Split::TrainUnlabeled).unwrap_err();
    assert!(
        matches!(&err, Error::RecordCount { path, expected: 100_000, found: 40_000_000 }
            if path.ends_with("unlabeled_X.bin")),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message
            .ends_with("unlabeled_X.bin holds 40000000 records, but the official file has 100000"),
        "{message}"
    );

    // Without the official counts, images and labels disagreeing, and a partial record, are
    // also found from the sizes.
    sparse_file(&dir.path().join("train_X.bin"), HUGE);
    let err = Stl10::open_with(dir.path(), Stl10Split::Train, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::CountMismatch { num_images: 40_000_000, num_labels: 5_000, labels, .. }
            if labels.ends_with("train_y.bin")),
        "{err:?}"
    );
    fs::File::options()
        .write(true)
        .open(dir.path().join("train_X.bin"))
        .unwrap()
        .set_len(HUGE * RECORD as u64 + 1)
        .unwrap();
    let err = Stl10::open_with(dir.path(), Stl10Split::Train, &small()).unwrap_err();
    assert!(
        matches!(&err, Error::TruncatedFile { path, record: 40_000_000, .. }
            if path.ends_with("train_X.bin")),
        "{err:?}"
    );
}
