//! ImageNet (ILSVRC-2012) and ImageNet-100: the image files of a split and their labels.
//!
//! ImageNet's classification set (Russakovsky et al., "ImageNet Large Scale Visual Recognition
//! Challenge", IJCV 2015) has 1 281 167 training and 50 000 validation images in 1000 classes,
//! each a WordNet synset named by its WNID (`n01440764`, …). It cannot be downloaded
//! automatically (see [`IMAGENET_SETUP`]); [`ImageNetFiles::list`] reads the folders its three
//! official archives unpack to:
//! - `train/<wnid>/*.JPEG`, one folder per synset;
//! - `val/`, either flat (`val/ILSVRC2012_val_00000001.JPEG` …, as `ILSVRC2012_img_val.tar`
//!   unpacks) or already sorted into synset folders (`val/<wnid>/*.JPEG`);
//! - for a flat `val/`, the devkit (`ILSVRC2012_devkit_t12/data/`): its
//!   `ILSVRC2012_validation_ground_truth.txt` gives, on line *k*, the ILSVRC2012_ID (1..=1000)
//!   of the *k*-th validation image in file-name order, and its `meta.mat` maps each
//!   ILSVRC2012_ID to a WNID (see [`read_meta_mat`]). The IDs do not follow the sorted order of
//!   the WNIDs, so they are never used as labels.
//!
//! **Labels** are indices into the sorted WNIDs of the classes, as torchvision's `ImageFolder`
//! on `train/` gives them (and so torchvision's `ImageNet`): for full ImageNet, the synset
//! folders found in `train/` (also for the validation split, so that both splits agree), for
//! ImageNet-100 the 100 WNIDs of [`IMAGENET100_CLASSES`], sorted, labels 0..=99.
//!
//! ImageNet-100 is the 100-class subset of CMC (Tian, Krishnan and Isola, "Contrastive
//! Multiview Coding", ECCV 2020), the one solo-learn and most self-supervised work on
//! ImageNet-100 use; it is read from the same root as full ImageNet, keeping its classes.
//!
//! Listing only reads directories (one `read_dir` per synset folder, the folders shared among
//! threads): it opens no image and reads no file's metadata.

mod matlab;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::dataset::Part;
use crate::error::{Error, Result};
use crate::folder::IMAGE_EXTENSIONS;
use crate::transforms::Normalize;
use matlab::{FieldKind, Value};

/// Number of classes of ImageNet (ILSVRC-2012).
pub const IMAGENET_NUM_CLASSES: usize = 1000;

/// The devkit's folder, as `ILSVRC2012_devkit_t12.tar.gz` unpacks, looked for in the root.
pub const IMAGENET_DEVKIT_DIR: &str = "ILSVRC2012_devkit_t12";

/// The validation ground truth, relative to the devkit folder.
pub const IMAGENET_GROUND_TRUTH: &str = "data/ILSVRC2012_validation_ground_truth.txt";

/// The synsets' metadata, relative to the devkit folder.
pub const IMAGENET_META: &str = "data/meta.mat";

/// How to get ImageNet and the folder layout [`ImageNetFiles::list`] reads; the error for a
/// missing root, `train/` or `val/` ends with it.
pub const IMAGENET_SETUP: &str = "\
ImageNet (ILSVRC-2012) cannot be downloaded automatically: its terms of access ask every user to
register at https://image-net.org and download it themselves. Download ILSVRC2012_img_train.tar,
ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz, then unpack them into one folder, the
root (ImageNet-100 reads the same root, keeping 100 of the classes):

  mkdir -p train val
  tar -xf ILSVRC2012_img_train.tar -C train
  for f in train/*.tar; do mkdir -p \"${f%.tar}\" && tar -xf \"$f\" -C \"${f%.tar}\" && rm \"$f\"; done
  tar -xf ILSVRC2012_img_val.tar -C val
  tar -xzf ILSVRC2012_devkit_t12.tar.gz

The root then holds:

root/
├── train/
│   ├── n01440764/                    one folder per synset (WordNet ID), 1000 in all
│   │   ├── n01440764_10026.JPEG
│   │   └── ...
│   └── ...
├── val/                              flat, as the archive unpacks:
│   ├── ILSVRC2012_val_00000001.JPEG
│   └── ...                           50 000 images
│                                     (or sorted into synset folders: val/n01440764/*.JPEG)
└── ILSVRC2012_devkit_t12/            needed for a flat val/ only
    └── data/
        ├── ILSVRC2012_validation_ground_truth.txt
        └── meta.mat";

/// The 100 classes of ImageNet-100, in the order of CMC's list.
///
/// The subset of CMC (Tian, Krishnan and Isola, "Contrastive Multiview Coding", ECCV 2020),
/// from `imagenet100.txt` in github.com/HobbitLong/CMC; solo-learn's
/// `solo/data/dataset_subset/imagenet100_classes.txt` (github.com/vturrisi/solo-learn) is the
/// same list in the same order. Labels follow the *sorted* WNIDs, not this order.
pub const IMAGENET100_CLASSES: [&str; 100] = [
    "n02869837",
    "n01749939",
    "n02488291",
    "n02107142",
    "n13037406",
    "n02091831",
    "n04517823",
    "n04589890",
    "n03062245",
    "n01773797",
    "n01735189",
    "n07831146",
    "n07753275",
    "n03085013",
    "n04485082",
    "n02105505",
    "n01983481",
    "n02788148",
    "n03530642",
    "n04435653",
    "n02086910",
    "n02859443",
    "n13040303",
    "n03594734",
    "n02085620",
    "n02099849",
    "n01558993",
    "n04493381",
    "n02109047",
    "n04111531",
    "n02877765",
    "n04429376",
    "n02009229",
    "n01978455",
    "n02106550",
    "n01820546",
    "n01692333",
    "n07714571",
    "n02974003",
    "n02114855",
    "n03785016",
    "n03764736",
    "n03775546",
    "n02087046",
    "n07836838",
    "n04099969",
    "n04592741",
    "n03891251",
    "n02701002",
    "n03379051",
    "n02259212",
    "n07715103",
    "n03947888",
    "n04026417",
    "n02326432",
    "n03637318",
    "n01980166",
    "n02113799",
    "n02086240",
    "n03903868",
    "n02483362",
    "n04127249",
    "n02089973",
    "n03017168",
    "n02093428",
    "n02804414",
    "n02396427",
    "n04418357",
    "n02172182",
    "n01729322",
    "n02113978",
    "n03787032",
    "n02089867",
    "n02119022",
    "n03777754",
    "n04238763",
    "n02231487",
    "n03032252",
    "n02138441",
    "n02104029",
    "n03837869",
    "n03494278",
    "n04136333",
    "n03794056",
    "n03492542",
    "n02018207",
    "n04067472",
    "n03930630",
    "n03584829",
    "n02123045",
    "n04229816",
    "n02100583",
    "n03642806",
    "n04336792",
    "n03259280",
    "n02116738",
    "n02108089",
    "n03424325",
    "n01855672",
    "n02090622",
];

/// Which part of ImageNet to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageNetSplit {
    /// `train/`: 1 281 167 images (126 689 for ImageNet-100).
    Train,
    /// `val/`: 50 000 images (5 000 for ImageNet-100).
    Val,
}

impl ImageNetSplit {
    /// The split that serves `part`: pre-training and the evaluations' labelled images use
    /// `train/`, their tests `val/` (ImageNet's test labels are not public).
    pub const fn for_part(part: Part) -> Self {
        match part {
            Part::Pretrain | Part::Train => ImageNetSplit::Train,
            Part::Test => ImageNetSplit::Val,
        }
    }

    /// The split's folder under the root (`"train"`, `"val"`).
    pub fn dir_name(self) -> &'static str {
        match self {
            ImageNetSplit::Train => "train",
            ImageNetSplit::Val => "val",
        }
    }
}

/// Which classes to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImageNetClasses {
    /// Every synset folder of `train/` (1000 in the full dataset; fewer are accepted, see
    /// [`ImageNetFiles::is_complete`]).
    #[default]
    All,
    /// The 100 classes of [`IMAGENET100_CLASSES`]; all of them must be present.
    ImageNet100,
}

impl ImageNetClasses {
    /// The default side of the training views and evaluation images, 224: the crop of
    /// torchvision's ImageNet training recipe (`RandomResizedCrop(224)`).
    pub const fn image_size(self) -> usize {
        224
    }

    /// ImageNet's channel statistics, [`Normalize::imagenet`] (also for ImageNet-100).
    pub fn normalize(self) -> Normalize {
        Normalize::imagenet()
    }

    /// The number of classes of the official dataset: 1000 or 100.
    pub fn official_count(self) -> usize {
        match self {
            ImageNetClasses::All => IMAGENET_NUM_CLASSES,
            ImageNetClasses::ImageNet100 => IMAGENET100_CLASSES.len(),
        }
    }

    /// The dataset's name: `"ImageNet"` or `"ImageNet-100"`.
    pub fn name(self) -> &'static str {
        match self {
            ImageNetClasses::All => "ImageNet",
            ImageNetClasses::ImageNet100 => "ImageNet-100",
        }
    }
}

/// How [`ImageNetFiles::list`] reads the root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageNetOptions {
    /// The classes kept. Default [`ImageNetClasses::All`].
    pub classes: ImageNetClasses,
    /// The devkit folder (the one holding `data/meta.mat`), read for a flat `val/` only.
    /// Default `None`: [`IMAGENET_DEVKIT_DIR`] in the root.
    pub devkit: Option<PathBuf>,
    /// Listing threads; 0 (the default) uses [`std::thread::available_parallelism`]. The
    /// result does not depend on it.
    pub threads: usize,
}

/// One synset of the devkit's `meta.mat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevkitSynset {
    /// The ILSVRC2012_ID: 1..=1000 for the classes, above for WordNet's inner nodes.
    pub id: u32,
    /// The WordNet ID, such as `n01440764`.
    pub wnid: String,
    /// The synset's names, comma-separated (`"tench, Tinca tinca"`).
    pub words: String,
}

/// Reads the synsets of the ILSVRC-2012 devkit's `data/meta.mat`, in file order.
///
/// The file holds a MATLAB struct array `synsets`, one element per synset with the fields
/// `ILSVRC2012_ID`, `WNID`, `words`, `gloss`, `num_children`, `children`, `wordnet_height` and
/// `num_train_images` (torchvision reads it with `scipy.io.loadmat` in
/// `torchvision/datasets/imagenet.py`, `parse_meta_mat`). It is read here by a small MAT-file
/// reader of its own: level 5 (MATLAB's `-v6` and `-v7`), uncompressed or compressed,
/// little-endian. All 1860 synsets are returned, the 860 inner nodes (ID above 1000) too.
///
/// # Errors
/// [`Error::MissingFile`] / [`Error::Io`] when the file cannot be read; [`Error::Invalid`]
/// naming the file when it is not such a MAT-file, is truncated or corrupt, or an ID is not a
/// positive integer.
pub fn read_meta_mat(path: impl AsRef<Path>) -> Result<Vec<DevkitSynset>> {
    let path = path.as_ref();
    let rows = matlab::read_struct_fields(
        path,
        "synsets",
        &[
            ("ILSVRC2012_ID", FieldKind::Scalar),
            ("WNID", FieldKind::Text),
            ("words", FieldKind::Text),
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| match <[Value; 3]>::try_from(row) {
            Ok([Value::Scalar(id), Value::Text(wnid), Value::Text(words)]) => {
                if !(id >= 1.0 && id <= f64::from(u32::MAX) && id.fract() == 0.0) {
                    return Err(Error::Invalid(format!(
                        "{}: synsets({}).ILSVRC2012_ID is {id}, not a positive integer",
                        path.display(),
                        i + 1
                    )));
                }
                Ok(DevkitSynset {
                    id: id as u32,
                    wnid,
                    words,
                })
            }
            _ => unreachable!("the reader returns the kinds asked for"),
        })
        .collect()
}

/// The image files of one ImageNet split and their labels, in sorted path order.
///
/// # Example
///
/// ```no_run
/// use selfsup_data::imagenet::{ImageNetClasses, ImageNetFiles, ImageNetOptions, ImageNetSplit};
///
/// let options = ImageNetOptions {
///     classes: ImageNetClasses::ImageNet100,
///     ..Default::default()
/// };
/// let train = ImageNetFiles::list("/data/imagenet", ImageNetSplit::Train, &options)?;
/// assert_eq!(train.num_classes(), 100);
/// let (path, label) = &train.files()[0];
/// println!("{} is of class {}", path.display(), train.classes()[*label]);
/// # Ok::<(), selfsup_data::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageNetFiles {
    split: ImageNetSplit,
    selection: ImageNetClasses,
    classes: Vec<String>,
    files: Vec<(PathBuf, usize)>,
    left_out: usize,
}

impl ImageNetFiles {
    /// Lists the images of `split` under `root` (see the [module docs](self) for the layout
    /// and the labels).
    ///
    /// Image files are those with an extension of [`IMAGE_EXTENSIONS`] (any case; ImageNet's
    /// are `.JPEG`), directly in a synset folder (or in a flat `val/`); names starting with `.`
    /// are ignored, and so are files directly in `train/` (the per-synset `.tar` archives, say).
    /// Synset folders may be symbolic links (an ImageNet-100 folder of links into a full
    /// ImageNet, say). Full ImageNet is listed from whatever synset folders `train/` has, which
    /// [`num_classes`](Self::num_classes) reports.
    ///
    /// # Errors
    /// All name the folder or file at fault:
    /// - [`Error::Invalid`] ending with [`IMAGENET_SETUP`] when the root, `train/` (needed for
    ///   the training split, and for the labels of full ImageNet's validation split) or `val/`
    ///   is missing;
    /// - [`Error::Invalid`] for a sub-folder of `train/` or `val/` whose name is not a WNID
    ///   (`n` and 8 digits), for ImageNet-100 classes missing from `train/` (or from `val/`'s
    ///   synset folders), for a `val/` synset folder of full ImageNet without a `train/`
    ///   counterpart, and for a `val/` holding both synset folders and images;
    /// - [`Error::EmptyFolder`] for a synset folder (or a flat `val/`) without images, or a
    ///   `train/` without synset folders;
    /// - for a flat `val/`: [`Error::MissingFile`] for a missing ground truth or `meta.mat`,
    ///   [`Error::Invalid`] for a ground truth whose line count differs from the number of
    ///   images, a line that is not an ILSVRC2012_ID of `meta.mat`, or (full ImageNet) a
    ///   class without a `train/` folder, and the errors of [`read_meta_mat`];
    /// - [`Error::Io`] when a folder cannot be read.
    pub fn list(
        root: impl AsRef<Path>,
        split: ImageNetSplit,
        options: &ImageNetOptions,
    ) -> Result<Self> {
        let root = root.as_ref();
        let selection = options.classes;
        let train = root.join(ImageNetSplit::Train.dir_name());
        let val = root.join(ImageNetSplit::Val.dir_name());
        let needs_train = split == ImageNetSplit::Train || selection == ImageNetClasses::All;
        let needed = [
            (true, root),
            (needs_train, train.as_path()),
            (split == ImageNetSplit::Val, val.as_path()),
        ];
        for (needed, dir) in needed {
            if needed && !dir.is_dir() {
                return Err(not_found(dir));
            }
        }
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };

        let train_listing = if needs_train {
            Some(DirListing::read(&train)?)
        } else {
            None
        };
        let classes: Vec<String> = match selection {
            ImageNetClasses::All => {
                let folders = &train_listing.as_ref().expect("read for All").folders;
                if folders.is_empty() {
                    return Err(Error::EmptyFolder { path: train });
                }
                folders.clone()
            }
            ImageNetClasses::ImageNet100 => {
                let mut wnids: Vec<String> =
                    IMAGENET100_CLASSES.iter().map(|s| s.to_string()).collect();
                wnids.sort();
                wnids
            }
        };
        let label_of = |wnid: &str| classes.binary_search_by(|c| c.as_str().cmp(wnid)).ok();

        let mut left_out = 0;
        let files = match split {
            ImageNetSplit::Train => {
                let listing = train_listing.expect("read for the training split");
                check_complete(selection, &classes, &listing.folders, &train)?;
                let jobs: Vec<(PathBuf, usize)> = classes
                    .iter()
                    .enumerate()
                    .map(|(label, wnid)| (train.join(wnid), label))
                    .collect();
                list_synset_folders(&jobs, threads)?
            }
            ImageNetSplit::Val => {
                let listing = DirListing::read(&val)?;
                if !listing.folders.is_empty() {
                    if !listing.images.is_empty() {
                        return Err(Error::Invalid(format!(
                            "{} holds both synset folders ({}) and images ({}): expected one \
                             layout, flat or sorted into synset folders",
                            val.display(),
                            listing.folders.len(),
                            listing.images.len()
                        )));
                    }
                    check_complete(selection, &classes, &listing.folders, &val)?;
                    let mut jobs = Vec::new();
                    for wnid in &listing.folders {
                        match (label_of(wnid), selection) {
                            (Some(label), _) => jobs.push((val.join(wnid), label)),
                            (None, ImageNetClasses::ImageNet100) => {}
                            (None, ImageNetClasses::All) => {
                                return Err(Error::Invalid(format!(
                                    "{} has no counterpart in {}: labels follow the synset \
                                     folders of train/",
                                    val.join(wnid).display(),
                                    train.display()
                                )));
                            }
                        }
                    }
                    list_synset_folders(&jobs, threads)?
                } else {
                    let devkit = options
                        .devkit
                        .clone()
                        .unwrap_or_else(|| root.join(IMAGENET_DEVKIT_DIR));
                    let (files, skipped) =
                        flat_val(&val, &listing.images, &devkit, selection, &train, label_of)?;
                    left_out = skipped;
                    files
                }
            }
        };
        Ok(Self {
            split,
            selection,
            classes,
            files,
            left_out,
        })
    }

    /// The split listed.
    pub fn split(&self) -> ImageNetSplit {
        self.split
    }

    /// The classes asked for.
    pub fn selection(&self) -> ImageNetClasses {
        self.selection
    }

    /// The classes' WNIDs, sorted: a label is an index into it.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The number of classes: the synset folders found in `train/` for full ImageNet, 100 for
    /// ImageNet-100.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Whether every class of the official dataset was found (always, for ImageNet-100).
    pub fn is_complete(&self) -> bool {
        self.classes.len() == self.selection.official_count()
    }

    /// The image files and their labels, in sorted path order.
    pub fn files(&self) -> &[(PathBuf, usize)] {
        &self.files
    }

    /// The image files and their labels, in sorted path order.
    pub fn into_files(self) -> Vec<(PathBuf, usize)> {
        self.files
    }

    /// The number of image files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no image files (never, for a successful listing).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The images of a flat `val/` left out because their class is not selected (those of
    /// the other 900 classes, for ImageNet-100); 0 otherwise.
    pub fn left_out(&self) -> usize {
        self.left_out
    }
}

/// The error for a missing root, `train/` or `val/`: what is missing, how to get ImageNet.
fn not_found(dir: &Path) -> Error {
    Error::Invalid(format!(
        "ImageNet not found: {} does not exist or is not a directory\n\n{IMAGENET_SETUP}",
        dir.display()
    ))
}

/// Whether `name` is a WordNet ID: `n` and 8 digits.
fn is_wnid(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() == 9 && bytes[0] == b'n' && bytes[1..].iter().all(u8::is_ascii_digit)
}

fn is_hidden(name: &OsString) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn has_image_extension(name: &OsString) -> bool {
    Path::new(name).extension().is_some_and(|ext| {
        let ext = ext.to_string_lossy().to_ascii_lowercase();
        IMAGE_EXTENSIONS.contains(&ext.as_str())
    })
}

/// Lists at most this many offending names in an error.
const NAMES_SHOWN: usize = 5;

/// `"a", "b", … (12 in all)`.
fn name_list(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(NAMES_SHOWN)
        .map(|n| format!("{n:?}"))
        .collect();
    let more = if names.len() > NAMES_SHOWN {
        ", …"
    } else {
        ""
    };
    format!("{}{more} ({} in all)", shown.join(", "), names.len())
}

/// The entries of a split's folder: synset folders (checked to be WNIDs) and image files, each
/// sorted by name, hidden names left out.
struct DirListing {
    folders: Vec<String>,
    images: Vec<OsString>,
}

impl DirListing {
    fn read(dir: &Path) -> Result<Self> {
        let mut folders = Vec::new();
        let mut images = Vec::new();
        let mut bad = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            if is_hidden(&name) {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            // A link is followed (a broken one is neither a folder nor an image).
            let is_dir = file_type.is_dir()
                || (file_type.is_symlink() && entry.path().metadata().is_ok_and(|m| m.is_dir()));
            if is_dir {
                match name.into_string() {
                    Ok(name) if is_wnid(&name) => folders.push(name),
                    Ok(name) => bad.push(name),
                    Err(name) => bad.push(name.to_string_lossy().into_owned()),
                }
            } else if has_image_extension(&name) {
                images.push(name);
            }
        }
        if !bad.is_empty() {
            bad.sort();
            return Err(Error::Invalid(format!(
                "{} holds folders that are not WordNet IDs (n and 8 digits, such as n01440764): \
                 {}",
                dir.display(),
                name_list(&bad)
            )));
        }
        folders.sort();
        images.sort();
        Ok(Self { folders, images })
    }
}

/// For ImageNet-100: the error listing the classes without a folder in `dir`.
fn check_complete(
    selection: ImageNetClasses,
    classes: &[String],
    folders: &[String],
    dir: &Path,
) -> Result<()> {
    if selection == ImageNetClasses::All {
        return Ok(());
    }
    let missing: Vec<String> = classes
        .iter()
        .filter(|c| folders.binary_search(c).is_err())
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{}: {} of its {} classes have no folder in {}: {}",
        selection.name(),
        missing.len(),
        classes.len(),
        dir.display(),
        name_list(&missing)
    )))
}

/// The image files of each synset folder `(folder, label)`, in the order given, each folder's
/// files sorted; the folders are shared among `threads` threads.
fn list_synset_folders(jobs: &[(PathBuf, usize)], threads: usize) -> Result<Vec<(PathBuf, usize)>> {
    // Every folder is listed (no early stop); the first failing one in order is the error.
    let results = crate::folder::parallel_map(jobs, threads, false, |(dir, _)| synset_images(dir));
    let total = results
        .iter()
        .map(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map_or(0, Vec::len))
        .sum();
    let mut files = Vec::with_capacity(total);
    for ((_, label), result) in jobs.iter().zip(results) {
        // The first failing folder in order, whatever the threads did first.
        let paths = result.expect("every folder is listed")?;
        files.extend(paths.into_iter().map(|p| (p, *label)));
    }
    Ok(files)
}

/// The image files directly in one synset folder, sorted; an error when there is none.
///
/// Only `read_dir`'s file types are looked at: a symbolic link with an image extension is taken
/// for an image without following it.
fn synset_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if is_hidden(&name) || !has_image_extension(&name) {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if file_type.is_file() || file_type.is_symlink() {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(Error::EmptyFolder {
            path: dir.to_path_buf(),
        });
    }
    names.sort();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// A flat `val/`: the images (sorted names) labelled through the devkit; returns the files and
/// the number of images left out (classes not selected).
fn flat_val(
    val: &Path,
    images: &[OsString],
    devkit: &Path,
    selection: ImageNetClasses,
    train: &Path,
    label_of: impl Fn(&str) -> Option<usize>,
) -> Result<(Vec<(PathBuf, usize)>, usize)> {
    if images.is_empty() {
        return Err(Error::EmptyFolder {
            path: val.to_path_buf(),
        });
    }
    let truth_path = devkit.join(IMAGENET_GROUND_TRUTH);
    let meta_path = devkit.join(IMAGENET_META);
    for file in [&truth_path, &meta_path] {
        if !file.is_file() {
            return Err(Error::MissingFile { path: file.clone() });
        }
    }
    let truth = read_ground_truth(&truth_path)?;
    if truth.len() != images.len() {
        return Err(Error::Invalid(format!(
            "{} has {} lines of ground truth, but {} holds {} images",
            truth_path.display(),
            truth.len(),
            val.display(),
            images.len()
        )));
    }
    let mut wnid_of: HashMap<u32, String> = HashMap::new();
    for synset in read_meta_mat(&meta_path)? {
        if let Some(previous) = wnid_of.insert(synset.id, synset.wnid) {
            return Err(Error::Invalid(format!(
                "{}: ILSVRC2012_ID {} appears twice (first as {previous})",
                meta_path.display(),
                synset.id
            )));
        }
    }
    let mut files = Vec::with_capacity(images.len());
    let mut left_out = 0;
    for (name, (line, id)) in images.iter().zip(truth) {
        let at = || format!("{} line {line}", truth_path.display());
        let wnid = wnid_of.get(&id).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: ILSVRC2012_ID {id} is not in {}",
                at(),
                meta_path.display()
            ))
        })?;
        if !is_wnid(wnid) {
            return Err(Error::Invalid(format!(
                "{}: the WNID {wnid:?} of ILSVRC2012_ID {id} is not a WordNet ID",
                meta_path.display()
            )));
        }
        let path = val.join(name);
        match (label_of(wnid), selection) {
            (Some(label), _) => files.push((path, label)),
            (None, ImageNetClasses::ImageNet100) => left_out += 1,
            (None, ImageNetClasses::All) => {
                return Err(Error::Invalid(format!(
                    "{}: {} is of class {wnid} (ILSVRC2012_ID {id}), which has no folder in {}: \
                     labels follow the synset folders of train/",
                    at(),
                    path.display(),
                    train.display()
                )));
            }
        }
    }
    Ok((files, left_out))
}

/// The ILSVRC2012_IDs of the ground truth, with their (1-based) line numbers; blank lines at
/// the end are ignored.
fn read_ground_truth(path: &Path) -> Result<Vec<(usize, u32)>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let used = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines[..used]
        .iter()
        .enumerate()
        .map(|(i, line)| {
            line.parse::<u32>()
                .ok()
                .filter(|&id| id >= 1)
                .map(|id| (i + 1, id))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "{} line {}: {line:?} is not an ILSVRC2012_ID (a positive integer)",
                        path.display(),
                        i + 1
                    ))
                })
        })
        .collect()
}
