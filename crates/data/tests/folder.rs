//! Image folders: labelled and flat layouts, images at their own sizes, the downscaling cap,
//! colour conversions (grey, alpha, 16-bit), EXIF orientation, unreadable and oversized files
//! reported or skipped, and results independent of the number of decoding threads.

use std::fs;
use std::path::Path;

use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use selfsup_data::{Error, ImageDataset, ImageFolder, ImageFolderOptions};

fn write_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(w, h, Rgb(rgb))
        .save(path)
        .unwrap();
}

/// An RGB image whose pixel `(x, y)` is `(x, y, x + y)` scaled to stay distinct.
fn gradient(w: u32, h: u32) -> image::RgbImage {
    ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([(3 * x) as u8, (5 * y) as u8, (x + y) as u8])
    })
}

/// Pixel `(c, y, x)` of image `i` of `folder`, read from its CHW bytes.
fn px(folder: &ImageFolder, i: usize, c: usize, y: usize, x: usize) -> u8 {
    let [_, h, w] = folder.shape(i);
    folder.pixels(i).unwrap()[c * h * w + y * w + x]
}

fn one_file(name: &str, write: impl FnOnce(&Path)) -> (tempfile::TempDir, ImageFolder) {
    let root = tempfile::tempdir().unwrap();
    write(&root.path().join(name));
    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    (root, folder)
}

#[test]
fn class_subfolders_give_sorted_labels_and_chw_pixels_at_the_images_own_sizes() {
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

    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    assert_eq!(folder.classes(), &["cat".to_string(), "dog".to_string()]);
    assert_eq!(folder.len(), 3);
    assert_eq!(
        (0..3).map(|i| folder.shape(i)).collect::<Vec<_>>(),
        vec![[3, 7, 10], [3, 8, 8], [3, 5, 3]]
    );
    assert_eq!(
        (0..3).map(|i| folder.target(i)).collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(1)]
    );
    // CHW: the whole red plane first, then green, then blue.
    let cat = folder.pixels(0).unwrap();
    assert_eq!(cat.len(), 3 * 70);
    assert!(cat[..70].iter().all(|&v| v == 255));
    assert!(cat[70..140].iter().all(|&v| v == 0));
    assert!(cat[140..].iter().all(|&v| v == 10));
    assert_eq!(
        &*folder.pixels(2).unwrap(),
        [[1; 15], [2; 15], [3; 15]].concat()
    );
    assert!(folder.skipped().is_empty());
}

#[test]
fn sizes_are_kept_pixel_for_pixel() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (gradient(40, 30), gradient(17, 50));
    a.save(root.path().join("a.png")).unwrap();
    b.save(root.path().join("b.png")).unwrap();
    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    assert_eq!(folder.shape(0), [3, 30, 40]);
    assert_eq!(folder.shape(1), [3, 50, 17]);
    for (i, img) in [(0, &a), (1, &b)] {
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                assert_eq!(
                    px(&folder, i, c, y as usize, x as usize),
                    p.0[c],
                    "image {i} channel {c} at ({x}, {y})"
                );
            }
        }
    }
}

#[test]
fn the_cap_downscales_the_shorter_side_keeping_the_aspect_ratio() {
    let root = tempfile::tempdir().unwrap();
    // 40×30 (landscape), 17×50 (portrait: already below the cap, kept), 60×90.
    write_png(&root.path().join("a.png"), 40, 30, [200, 100, 50]);
    gradient(17, 50).save(root.path().join("b.png")).unwrap();
    write_png(&root.path().join("c.png"), 60, 90, [7, 8, 9]);
    let options = ImageFolderOptions {
        max_shorter_side: Some(20),
        ..Default::default()
    };
    let folder = ImageFolder::open(root.path(), &options).unwrap();
    // torchvision's Resize(20): the long side is int(20 * long / short).
    // int(20 * 40 / 30) == 26, int(20 * 90 / 60) == 30
    assert_eq!(folder.shape(0), [3, 20, 26]);
    assert_eq!(folder.shape(1), [3, 50, 17]);
    assert_eq!(folder.shape(2), [3, 30, 20]);
    // A flat colour stays that colour through the antialiasing filter.
    assert_eq!(px(&folder, 0, 0, 10, 13), 200);
    assert_eq!(px(&folder, 0, 2, 19, 25), 50);
    assert_eq!(px(&folder, 2, 1, 29, 0), 8);
    // The uncapped image is untouched.
    assert_eq!(px(&folder, 1, 1, 49, 16), (5 * 49) as u8);
}

#[test]
fn a_greyscale_png_becomes_three_equal_channels() {
    let (_root, folder) = one_file("g.png", |p| {
        ImageBuffer::from_fn(4, 3, |x, y| Luma([(10 * x + 50 * y) as u8]))
            .save(p)
            .unwrap();
    });
    assert_eq!(folder.shape(0), [3, 3, 4]);
    for c in 0..3 {
        assert_eq!(px(&folder, 0, c, 2, 3), 130, "channel {c}");
        assert_eq!(px(&folder, 0, c, 1, 0), 50, "channel {c}");
    }
}

#[test]
fn alpha_is_dropped_from_rgba_and_grey_alpha_pngs() {
    let (_root, folder) = one_file("rgba.png", |p| {
        ImageBuffer::from_fn(3, 2, |x, _| Rgba([100 + x as u8, 20, 30, (80 * x) as u8]))
            .save(p)
            .unwrap();
    });
    assert_eq!(folder.shape(0), [3, 2, 3]);
    // PIL's convert("RGB") keeps the colour whatever the alpha (even 0).
    assert_eq!(px(&folder, 0, 0, 1, 0), 100);
    assert_eq!(px(&folder, 0, 0, 1, 2), 102);
    assert_eq!(px(&folder, 0, 1, 0, 0), 20);
    assert_eq!(px(&folder, 0, 2, 0, 1), 30);

    let (_root, folder) = one_file("la.png", |p| {
        ImageBuffer::from_pixel(2, 2, LumaA([77u8, 0]))
            .save(p)
            .unwrap();
    });
    assert_eq!(&*folder.pixels(0).unwrap(), [77; 12]);
}

#[test]
fn sixteen_bit_samples_are_scaled_to_eight_bits() {
    let (_root, folder) = one_file("deep.png", |p| {
        let img: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgb([65535, 257 * 100, 0])
            } else {
                Rgb([257 * 3, 65535, 257 * 254])
            }
        });
        img.save(p).unwrap();
    });
    assert_eq!(folder.shape(0), [3, 1, 2]);
    // CHW: red (x = 0, 1), green, blue.
    assert_eq!(&*folder.pixels(0).unwrap(), [255, 3, 100, 255, 0, 254]);
}

/// An APP1 segment holding a little-endian TIFF with one IFD entry: Orientation (0x0112),
/// SHORT, count 1, value `orientation`.
fn exif_orientation_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00"); // little-endian TIFF
    tiff.extend_from_slice(&8u32.to_le_bytes()); // first IFD right after the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding to 4 bytes
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut segment = vec![0xff, 0xe1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&payload);
    segment
}

#[test]
fn the_exif_orientation_of_a_jpeg_is_applied() {
    // 20×10, red in the top-left 10×5 quadrant, blue elsewhere.
    let img = ImageBuffer::from_fn(20, 10, |x, y| {
        if x < 10 && y < 5 {
            Rgb([255u8, 0, 0])
        } else {
            Rgb([0u8, 0, 255])
        }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100)
        .encode_image(&img)
        .unwrap();
    assert_eq!(&jpeg[..2], [0xff, 0xd8]);
    let mut rotated = jpeg[..2].to_vec();
    rotated.extend_from_slice(&exif_orientation_segment(6));
    rotated.extend_from_slice(&jpeg[2..]);

    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("plain.jpg"), &jpeg).unwrap();
    fs::write(root.path().join("rotated.jpg"), &rotated).unwrap();
    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    let red = |i, y, x| (px(&folder, i, 0, y, x), px(&folder, i, 2, y, x));

    // Without EXIF: as stored.
    assert_eq!(folder.shape(0), [3, 10, 20]);
    assert!(
        red(0, 2, 3).0 > 200 && red(0, 2, 3).1 < 60,
        "{:?}",
        red(0, 2, 3)
    );
    // Orientation 6 ("rotate 90° clockwise to view"): 10 wide, 20 tall, and the top-left
    // quadrant (x, y) -> (9 - y, x) lands in the top-right.
    assert_eq!(folder.shape(1), [3, 20, 10]);
    assert!(
        red(1, 3, 7).0 > 200 && red(1, 3, 7).1 < 60,
        "{:?}",
        red(1, 3, 7)
    );
    assert!(
        red(1, 3, 2).0 < 60 && red(1, 3, 2).1 > 200,
        "{:?}",
        red(1, 3, 2)
    );
    assert!(red(1, 15, 2).0 < 60, "counter-clockwise would put red here");
}

#[test]
fn a_flat_folder_is_unlabelled() {
    let root = tempfile::tempdir().unwrap();
    write_png(&root.path().join("x.png"), 4, 4, [9, 9, 9]);
    write_png(&root.path().join("y.png"), 5, 4, [9, 9, 9]);
    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    assert_eq!(folder.len(), 2);
    assert!(!folder.is_labelled());
    assert_eq!(folder.target(0), None);
    assert_eq!(folder.num_classes(), 0);
    assert_eq!(folder.shape(1), [3, 4, 5]);
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
    assert!(folder.paths()[0].ends_with("good.png"));
    assert_eq!(&*folder.pixels(0).unwrap(), [1; 48]);
    assert_eq!(folder.skipped().len(), 1);
    assert!(folder.skipped()[0].0.ends_with("broken.jpg"));
    assert!(!folder.skipped()[0].1.is_empty());
}

#[test]
fn an_image_over_the_pixel_limit_is_refused_naming_it_or_skipped() {
    let root = tempfile::tempdir().unwrap();
    write_png(&root.path().join("big.png"), 20, 10, [1, 2, 3]);
    write_png(&root.path().join("small.png"), 10, 10, [4, 5, 6]);
    let options = ImageFolderOptions {
        max_pixels: 150,
        ..Default::default()
    };
    let err = ImageFolder::open(root.path(), &options).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ImageTooLarge { path, width: 20, height: 10, max_pixels: 150 }
                if path.ends_with("big.png")
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("big.png"), "{err}");

    let options = ImageFolderOptions {
        skip_unreadable: true,
        ..options
    };
    let folder = ImageFolder::open(root.path(), &options).unwrap();
    assert_eq!(folder.len(), 1);
    assert_eq!(folder.shape(0), [3, 10, 10]);
    assert!(folder.skipped()[0].0.ends_with("big.png"));
    assert!(
        folder.skipped()[0].1.contains("200 pixels"),
        "{:?}",
        folder.skipped()
    );
}

#[test]
fn an_empty_class_folder_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    for class in ["a", "b", "c"] {
        fs::create_dir(root.path().join(class)).unwrap();
    }
    write_png(&root.path().join("a/x.png"), 2, 2, [0, 0, 0]);
    write_png(&root.path().join("c/x.png"), 2, 2, [0, 0, 0]);
    fs::write(root.path().join("b/readme.txt"), "no images here").unwrap();
    let err = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::EmptyFolder { path } if path.ends_with("b")),
        "{err:?}"
    );
    assert!(err.to_string().contains("holds no image files"), "{err}");
}

#[test]
fn the_dataset_does_not_depend_on_the_number_of_threads() {
    let root = tempfile::tempdir().unwrap();
    for class in ["x", "y"] {
        fs::create_dir(root.path().join(class)).unwrap();
        for k in 0..9u32 {
            ImageBuffer::from_fn(5 + k, 3 + 2 * k, |x, y| {
                Rgb([(x * 7 + k) as u8, (y * 11) as u8, class.as_bytes()[0]])
            })
            .save(root.path().join(class).join(format!("{k}.png")))
            .unwrap();
        }
    }
    fs::write(root.path().join("y/5.png"), "corrupt").unwrap();
    let open = |threads| {
        let options = ImageFolderOptions {
            threads,
            skip_unreadable: true,
            ..Default::default()
        };
        ImageFolder::open(root.path(), &options).unwrap()
    };
    let (one, four) = (open(1), open(4));
    assert_eq!(one.len(), 17);
    assert_eq!(one.paths(), four.paths());
    assert_eq!(one.skipped(), four.skipped());
    for i in 0..one.len() {
        assert_eq!(one.shape(i), four.shape(i), "image {i}");
        assert_eq!(
            &*one.pixels(i).unwrap(),
            &*four.pixels(i).unwrap(),
            "image {i}"
        );
        assert_eq!(one.target(i), four.target(i), "image {i}");
    }
    // Sorted order: x/0..8 then y/0..8 without y/5.
    assert!(one.paths()[9].ends_with("y/0.png"));
    assert_eq!(one.shape(3), [3, 9, 8]);

    // Without skipping, the first failure in file order is reported whatever the threads.
    fs::write(root.path().join("y/7.png"), "also corrupt").unwrap();
    for threads in [1, 4] {
        let options = ImageFolderOptions {
            threads,
            ..Default::default()
        };
        let err = ImageFolder::open(root.path(), &options).unwrap_err();
        assert!(
            matches!(&err, Error::Image { path, .. } if path.ends_with("y/5.png")),
            "{threads} threads: {err:?}"
        );
    }
}

#[test]
fn empty_and_missing_folders_and_zero_limits_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let err = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(matches!(err, Error::EmptyFolder { .. }), "{err:?}");
    let err =
        ImageFolder::open(root.path().join("missing"), &ImageFolderOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
    let opts = ImageFolderOptions {
        max_shorter_side: Some(0),
        ..Default::default()
    };
    let err = ImageFolder::open(root.path(), &opts).unwrap_err();
    assert!(err.to_string().contains("must be positive"), "{err}");
    let opts = ImageFolderOptions {
        max_pixels: 0,
        ..Default::default()
    };
    let err = ImageFolder::open(root.path(), &opts).unwrap_err();
    assert!(err.to_string().contains("must be positive"), "{err}");
}

/// A directory symlink back to an ancestor would make a recursive listing go on forever
/// (`root/cat/up -> root`, `root/dog/self -> root/dog`): each folder is read once, and a loop is
/// an error naming it, or a reported skip with `skip_unreadable`.
#[test]
fn symlink_loops_are_refused_or_skipped_and_reported() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    for class in ["cat", "dog"] {
        fs::create_dir(root.path().join(class)).unwrap();
    }
    write_png(&root.path().join("cat/a.png"), 2, 2, [1, 1, 1]);
    write_png(&root.path().join("dog/b.png"), 2, 2, [2, 2, 2]);
    symlink(root.path(), root.path().join("cat/up")).unwrap();

    let err = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::SymlinkLoop { path, .. } if path.ends_with("cat/up")),
        "{err:?}"
    );
    assert!(err.to_string().contains("cat/up"), "{err}");

    symlink(root.path().join("dog"), root.path().join("dog/self")).unwrap();
    let options = ImageFolderOptions {
        skip_unreadable: true,
        ..Default::default()
    };
    let folder = ImageFolder::open(root.path(), &options).unwrap();
    assert_eq!(folder.classes(), &["cat".to_string(), "dog".to_string()]);
    assert_eq!(folder.len(), 2, "each image once");
    let skipped: Vec<_> = folder.skipped().iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        skipped,
        vec![root.path().join("cat/up"), root.path().join("dog/self")]
    );
    assert!(
        folder.skipped()[0].1.contains("symbolic link loop"),
        "{:?}",
        folder.skipped()
    );
}

/// Links that are not loops are followed: a class folder that is a link, and a link inside one.
/// A folder reached by two paths is read once, under the first, and the second is reported.
#[test]
fn symlinked_folders_are_followed_and_read_once() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::create_dir(elsewhere.path().join("more")).unwrap();
    write_png(&elsewhere.path().join("x.png"), 2, 2, [5, 5, 5]);
    write_png(&elsewhere.path().join("more/y.png"), 2, 2, [6, 6, 6]);
    fs::create_dir(root.path().join("a")).unwrap();
    write_png(&root.path().join("a/z.png"), 2, 2, [7, 7, 7]);
    symlink(elsewhere.path().join("more"), root.path().join("a/linked")).unwrap();
    symlink(elsewhere.path(), root.path().join("b")).unwrap();

    let folder = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap();
    assert_eq!(folder.classes(), &["a".to_string(), "b".to_string()]);
    let names: Vec<_> = folder
        .paths()
        .iter()
        .map(|p| p.strip_prefix(root.path()).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        names,
        ["a/linked/y.png", "a/z.png", "b/x.png"]
            .map(std::path::PathBuf::from)
            .to_vec(),
        "b/more is elsewhere/more, already read through a/linked"
    );
    assert_eq!(folder.skipped().len(), 1, "{:?}", folder.skipped());
    assert_eq!(folder.skipped()[0].0, root.path().join("b/more"));
    assert!(
        folder.skipped()[0].1.contains("already read as")
            && folder.skipped()[0].1.contains("a/linked"),
        "{:?}",
        folder.skipped()
    );
}

/// An image with no pixels (a header declaring a width of 0) is refused like any undecodable
/// file, naming it, rather than becoming a 0×h image that crops cannot handle.
#[test]
fn an_image_without_pixels_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("empty.ppm");
    fs::write(&path, b"P6\n0 4\n255\n").unwrap();
    let err = ImageFolder::open(root.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Image { path: p, .. } if p == &path),
        "{err:?}"
    );
}
