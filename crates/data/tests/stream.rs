//! Streamed image folders: the same images and views as in memory, bit for bit; the storage
//! choice; broken files found when the folder is indexed; a file broken after indexing reported
//! by the loader, naming it, or left out.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{ImageBuffer, Luma, Rgb, Rgba};
use selfsup_data::transforms::{ByolTransform, MultiCropTransform, TwoViewConfig};
use selfsup_data::{
    Error, ImageDataset, ImageFolder, ImageFolderOptions, Loader, LoaderConfig, MultiViewTransform,
    Storage, StorageChoice,
};

/// A photograph-like image: smooth gradients plus a per-pixel pattern, so JPEG has detail to
/// keep and every crop differs.
fn photo(w: u32, h: u32, seed: u32) -> image::RgbImage {
    ImageBuffer::from_fn(w, h, |x, y| {
        let n = (x * 7 + y * 13 + seed * 31) % 23;
        Rgb([
            ((x * 255 / w) as u8).wrapping_add(n as u8),
            ((y * 255 / h) as u8).wrapping_add((seed * 40) as u8),
            ((x + y + seed) % 256) as u8,
        ])
    })
}

fn jpeg_bytes(img: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

/// An APP1 Exif segment holding only an orientation (a little-endian TIFF with one entry).
fn exif_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = b"II\x2a\x00".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut segment = vec![0xff, 0xe1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&payload);
    segment
}

/// A JPEG with the given EXIF orientation, inserted right after its start-of-image marker.
fn oriented_jpeg(img: &image::RgbImage, orientation: u16) -> Vec<u8> {
    let jpeg = jpeg_bytes(img, 90);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&exif_segment(orientation));
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Two class folders of mixed files: JPEGs at every EXIF orientation, a progressive-free
/// baseline JPEG, grey, RGBA and 16-bit PNGs, of various sizes.
fn mixed_folder() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    for orientation in 1..=8u16 {
        let img = photo(60 + 3 * u32::from(orientation), 41, u32::from(orientation));
        fs::write(
            a.join(format!("o{orientation}.jpg")),
            oriented_jpeg(&img, orientation),
        )
        .unwrap();
    }
    fs::write(b.join("plain.JPEG"), jpeg_bytes(&photo(77, 90, 9), 75)).unwrap();
    ImageBuffer::from_fn(50, 40, |x, y| Luma([(x * 5 + y) as u8]))
        .save(b.join("grey.png"))
        .unwrap();
    ImageBuffer::from_fn(45, 64, |x, y| Rgba([x as u8 * 4, y as u8 * 3, 9, 128]))
        .save(b.join("alpha.png"))
        .unwrap();
    ImageBuffer::from_fn(48, 48, |x, y| {
        image::Rgb([(x * 1000) as u16, (y * 1300) as u16, 40000u16])
    })
    .save(b.join("deep.png"))
    .unwrap();
    root
}

fn open(root: &Path, storage: StorageChoice, cap: Option<u32>) -> ImageFolder {
    let options = ImageFolderOptions {
        storage,
        max_shorter_side: cap,
        ..ImageFolderOptions::default()
    };
    ImageFolder::open(root, &options).unwrap()
}

fn batches(
    dataset: ImageFolder,
    transform: Arc<dyn MultiViewTransform>,
    workers: usize,
) -> Vec<selfsup_data::ViewBatch> {
    let loader = Loader::new(
        Arc::new(dataset),
        transform,
        LoaderConfig {
            batch_size: 4,
            seed: 7,
            num_workers: workers,
            drop_last: false,
            ..LoaderConfig::default()
        },
    )
    .unwrap();
    (0..2)
        .flat_map(|epoch| loader.epoch(epoch).map(Result::unwrap).collect::<Vec<_>>())
        .collect()
}

#[test]
fn streamed_and_in_memory_folders_give_the_same_images_bit_for_bit() {
    let root = mixed_folder();
    for cap in [None, Some(30)] {
        let memory = open(root.path(), StorageChoice::Memory, cap);
        let stream = open(root.path(), StorageChoice::Stream, cap);
        assert_eq!(memory.storage(), Storage::Memory);
        assert_eq!(stream.storage(), Storage::Stream);
        assert_eq!(memory.len(), 12);
        assert_eq!(memory.paths(), stream.paths());
        assert_eq!(memory.classes(), stream.classes());
        assert_eq!(memory.decoded_bytes(), stream.decoded_bytes());
        for i in 0..memory.len() {
            assert_eq!(memory.shape(i), stream.shape(i), "{cap:?}: image {i}");
            assert_eq!(memory.target(i), stream.target(i));
            let (m, s) = (memory.pixels(i).unwrap(), stream.pixels(i).unwrap());
            assert_eq!(m.len(), memory.shape(i).iter().product::<usize>());
            assert!(
                m == s,
                "{cap:?}: image {i} ({})",
                memory.paths()[i].display()
            );
        }
        // The quarter-turn orientations (5 to 8) swap the sides the header gives.
        let [_, h, w] = memory.shape(5);
        if cap.is_none() {
            assert_eq!([h, w], [60 + 3 * 6, 41], "orientation 6 is shown 41 wide");
        }
    }
}

#[test]
fn streamed_and_in_memory_folders_give_the_same_views_bit_for_bit() {
    let root = mixed_folder();
    let byol: Arc<dyn MultiViewTransform> = Arc::new(
        ByolTransform::new(
            ByolTransform::imagenet()
                .view1_config()
                .clone()
                .with_input_size(24),
            ByolTransform::imagenet()
                .view2_config()
                .clone()
                .with_input_size(24),
        )
        .unwrap(),
    );
    let dino = MultiCropTransform::dino();
    let global: Vec<TwoViewConfig> = dino
        .global_configs()
        .iter()
        .map(|c| c.clone().with_input_size(24))
        .collect();
    let local = dino.local_config().clone();
    let multi_crop: Arc<dyn MultiViewTransform> = Arc::new(
        MultiCropTransform::new(global, local, 0)
            .unwrap()
            .with_local_views(3, 12, (0.05, 0.4))
            .unwrap(),
    );
    for transform in [byol, multi_crop] {
        let memory = batches(
            open(root.path(), StorageChoice::Memory, None),
            transform.clone(),
            0,
        );
        let stream = batches(
            open(root.path(), StorageChoice::Stream, None),
            transform.clone(),
            2,
        );
        assert_eq!(memory.len(), 6);
        assert_eq!(memory, stream, "{transform:?}");
    }
}

#[test]
fn auto_storage_holds_a_folder_in_memory_up_to_the_limit_and_streams_it_above() {
    let root = mixed_folder();
    let bytes = open(root.path(), StorageChoice::Stream, None).decoded_bytes();
    let at = |limit| {
        let options = ImageFolderOptions {
            memory_limit: limit,
            ..ImageFolderOptions::default()
        };
        ImageFolder::open(root.path(), &options).unwrap().storage()
    };
    assert_eq!(at(bytes), Storage::Memory);
    assert_eq!(at(bytes - 1), Storage::Stream);
    assert_eq!(
        ImageFolderOptions::default().storage,
        StorageChoice::Auto,
        "auto is the default"
    );
}

/// Files that a header read finds broken, each with what its error must say.
fn broken_files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let good = jpeg_bytes(&photo(40, 30, 1), 90);
    let mut cut = good[..good.len().min(40)].to_vec();
    cut.truncate(40);
    let files = [
        ("empty.jpg", Vec::new(), "cannot decode image"),
        (
            "text.jpg",
            b"this is not an image at all".to_vec(),
            "cannot decode image",
        ),
        ("cut.jpg", cut, "ends in its header"),
    ];
    files
        .into_iter()
        .map(|(name, bytes, says)| {
            let path = dir.join(name);
            fs::write(&path, bytes).unwrap();
            (path, says)
        })
        .collect()
}

#[test]
fn broken_files_are_found_when_a_streamed_folder_is_indexed() {
    for (path, says) in broken_files(tempfile::tempdir().unwrap().keep().as_path()) {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("good.jpg"),
            jpeg_bytes(&photo(40, 30, 2), 90),
        )
        .unwrap();
        let broken = root.path().join(path.file_name().unwrap());
        fs::copy(&path, &broken).unwrap();
        let stream = ImageFolderOptions {
            storage: StorageChoice::Stream,
            ..ImageFolderOptions::default()
        };
        let err = ImageFolder::open(root.path(), &stream).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&broken.display().to_string()) && message.contains(says),
            "{message}"
        );
        let skipping = ImageFolderOptions {
            skip_unreadable: true,
            ..stream
        };
        let folder = ImageFolder::open(root.path(), &skipping).unwrap();
        assert_eq!(folder.storage(), Storage::Stream);
        assert_eq!(folder.len(), 1);
        assert_eq!(folder.skipped().len(), 1);
        assert_eq!(folder.skipped()[0].0, broken);
    }
}

#[test]
fn an_image_over_the_pixel_limit_is_refused_from_its_header_when_streamed() {
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join("big.jpg"),
        jpeg_bytes(&photo(30, 20, 3), 90),
    )
    .unwrap();
    let options = ImageFolderOptions {
        storage: StorageChoice::Stream,
        max_pixels: 599,
        ..ImageFolderOptions::default()
    };
    match ImageFolder::open(root.path(), &options) {
        Err(Error::ImageTooLarge {
            width: 30,
            height: 20,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_streamed_file_broken_after_indexing_is_an_error_naming_it_or_left_out() {
    let root = tempfile::tempdir().unwrap();
    for i in 0..4u32 {
        fs::write(
            root.path().join(format!("{i}.jpg")),
            jpeg_bytes(&photo(40, 30, i), 90),
        )
        .unwrap();
    }
    let folder = open(root.path(), StorageChoice::Stream, None);
    // One file replaced by garbage, another by an image of another size.
    let garbage = root.path().join("1.jpg");
    fs::write(&garbage, b"garbage").unwrap();
    let resized = root.path().join("2.jpg");
    fs::write(&resized, jpeg_bytes(&photo(41, 30, 2), 90)).unwrap();
    let err = folder.pixels(1).unwrap_err().to_string();
    assert!(err.contains(&garbage.display().to_string()), "{err}");
    let err = folder.pixels(2).unwrap_err().to_string();
    assert!(
        err.contains(&resized.display().to_string()) && err.contains("41×30"),
        "{err}"
    );

    let dataset: Arc<dyn ImageDataset> = Arc::new(folder);
    let transform: Arc<dyn MultiViewTransform> = Arc::new(
        ByolTransform::new(
            TwoViewConfig::cifar10().with_input_size(16),
            TwoViewConfig::cifar10().with_input_size(16),
        )
        .unwrap(),
    );
    let config = LoaderConfig {
        batch_size: 4,
        shuffle: false,
        num_workers: 2,
        ..LoaderConfig::default()
    };
    let strict = Loader::new(dataset.clone(), transform.clone(), config.clone()).unwrap();
    let err = strict.epoch(0).next().unwrap().unwrap_err().to_string();
    assert!(err.contains(&garbage.display().to_string()), "{err}");

    let lenient = Loader::new(
        dataset,
        transform,
        LoaderConfig {
            skip_unreadable: true,
            ..config
        },
    )
    .unwrap();
    let batch = lenient.epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.indices, vec![0, 3]);
    assert_eq!(batch.shapes[0][0], 2);
    assert_eq!(
        batch.skipped.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn a_file_list_makes_a_folder_and_bad_lists_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..3u32)
        .map(|i| {
            let path = root.path().join(format!("{i}.jpg"));
            fs::write(&path, jpeg_bytes(&photo(20 + i, 10, i), 90)).unwrap();
            path
        })
        .collect();
    let classes = vec!["x".to_string(), "y".to_string()];
    let files = vec![
        (paths[2].clone(), Some(1)),
        (paths[0].clone(), Some(0)),
        (paths[1].clone(), Some(1)),
    ];
    let folder =
        ImageFolder::from_files(files, classes.clone(), &ImageFolderOptions::default()).unwrap();
    assert_eq!(folder.paths()[0], paths[2], "the order given is kept");
    assert_eq!(folder.shape(0), [3, 10, 22]);
    assert_eq!(
        (0..3).map(|i| folder.target(i)).collect::<Vec<_>>(),
        vec![Some(1), Some(0), Some(1)]
    );
    let options = ImageFolderOptions::default();
    let mixed = vec![(paths[0].clone(), Some(0)), (paths[1].clone(), None)];
    assert!(ImageFolder::from_files(mixed, classes.clone(), &options).is_err());
    let out_of_range = vec![(paths[0].clone(), Some(2))];
    let err = ImageFolder::from_files(out_of_range, classes, &options).unwrap_err();
    assert!(err.to_string().contains("2 classes"), "{err}");
    assert!(ImageFolder::from_files(Vec::new(), Vec::new(), &options).is_err());
}
