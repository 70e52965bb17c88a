//! Image folders: labelled and flat layouts, resizing, unreadable files reported or skipped.

use std::fs;
use std::path::Path;

use selfsup_data::{Error, ImageDataset, ImageFolder, ImageFolderOptions};

fn write_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
        .save(path)
        .unwrap();
}

#[test]
fn class_subfolders_give_sorted_labels_and_resized_chw_pixels() {
    let root = tempfile::tempdir().unwrap();
    for class in ["dog", "cat"] {
        fs::create_dir(root.path().join(class)).unwrap();
    }
    fs::create_dir(root.path().join("dog/nested")).unwrap();
    write_png(&root.path().join("cat/a.png"), 10, 7, [255, 0, 10]);
    write_png(&root.path().join("dog/b.PNG"), 8, 8, [0, 200, 0]);
    write_png(&root.path().join("dog/nested/c.png"), 3, 5, [1, 2, 3]);
    fs::write(root.path().join("dog/notes.txt"), "not an image").unwrap();
    fs::write(
        root.path().join("stray.png"),
        "ignored: not in a class folder",
    )
    .unwrap();

    let opts = ImageFolderOptions {
        size: 4,
        ..Default::default()
    };
    let folder = ImageFolder::open(root.path(), &opts).unwrap();
    assert_eq!(folder.classes(), &["cat".to_string(), "dog".to_string()]);
    assert_eq!(folder.len(), 3);
    assert_eq!(folder.shape(), [3, 4, 4]);
    assert_eq!(
        (0..3).map(|i| folder.target(i)).collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(1)]
    );
    // CHW: the whole red plane first, then green, then blue.
    let cat = folder.pixels(0);
    assert!(cat[..16].iter().all(|&v| v == 255));
    assert!(cat[16..32].iter().all(|&v| v == 0));
    assert!(cat[32..].iter().all(|&v| v == 10));
    assert!(folder.pixels(2).starts_with(&[1; 16]));
    assert!(folder.skipped().is_empty());
}

#[test]
fn a_flat_folder_is_unlabelled() {
    let root = tempfile::tempdir().unwrap();
    write_png(&root.path().join("x.png"), 4, 4, [9, 9, 9]);
    write_png(&root.path().join("y.png"), 4, 4, [9, 9, 9]);
    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    assert_eq!(folder.len(), 2);
    assert!(!folder.is_labelled());
    assert_eq!(folder.target(0), None);
    assert_eq!(folder.num_classes(), 0);
    assert_eq!(folder.shape(), [3, 32, 32]);
}

#[test]
fn an_unreadable_image_is_an_error_naming_it_unless_skipping_is_asked_for() {
    let root = tempfile::tempdir().unwrap();
    write_png(&root.path().join("good.png"), 4, 4, [1, 1, 1]);
    fs::write(
        root.path().join("broken.jpg"),
        b"\xff\xd8 definitely not a jpeg",
    )
    .unwrap();

    let err = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Image { path, .. } if path.ends_with("broken.jpg")),
        "{err:?}"
    );
    assert!(err.to_string().contains("broken.jpg"), "{err}");

    let opts = ImageFolderOptions {
        skip_unreadable: true,
        ..Default::default()
    };
    let folder = ImageFolder::open(root.path(), &opts).unwrap();
    assert_eq!(folder.len(), 1);
    assert_eq!(folder.skipped().len(), 1);
    assert!(folder.skipped()[0].0.ends_with("broken.jpg"));
    assert!(!folder.skipped()[0].1.is_empty());
}

#[test]
fn empty_folder_missing_folder_and_zero_size_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let err = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(err.to_string().contains("holds no image files"), "{err}");
    let err =
        ImageFolder::open(root.path().join("missing"), &ImageFolderOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
    let opts = ImageFolderOptions {
        size: 0,
        ..Default::default()
    };
    let err = ImageFolder::open(root.path(), &opts).unwrap_err();
    assert!(err.to_string().contains("size must be positive"), "{err}");
}
