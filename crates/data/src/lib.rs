//! # selfsup-data
//!
//! Datasets and the seeded multi-view augmentation pipelines of `selfsup`.
//!
//! ## Datasets
//! Every source of images implements [`ImageDataset`] (CHW `u8` images, each with its own
//! shape, and optional labels); the [`Loader`] and the subset helpers take any of them.
//! - **CIFAR-10 / CIFAR-100** ([`CifarDataset`]): the binary versions, 32×32, 50 000 training
//!   and 10 000 test images (Krizhevsky, 2009).
//! - **STL-10** ([`Stl10`]): the binary version, 96×96, 5 000 labelled training, 8 000 test
//!   and 100 000 unlabelled images, with torchvision's splits `train`, `test`, `unlabeled` and
//!   `train+unlabeled` (Coates, Ng and Lee, AISTATS 2011).
//! - **Image folders** ([`ImageFolder`]): users' own pictures, class sub-folders (labelled) or
//!   a flat folder (unlabelled), as torchvision's `ImageFolder`; each image keeps its own
//!   resolution (optionally capped), so a random resized crop samples from the original.
//!   Opening one indexes it (each file's size from its header, in parallel); the pixels are
//!   then held in memory or, for large folders, decoded by the loader's workers batch by batch
//!   ([`Storage`]), so memory does not grow with the number of images.
//! - **ImageNet (ILSVRC-2012) / ImageNet-100** ([`ImageNetFiles`]): the file lists and labels
//!   of the standard `train/` and `val/` folders (flat `val/` labelled through the devkit), all
//!   1000 classes or CMC's 100 ([`IMAGENET100_CLASSES`]), opened as image folders through
//!   [`ImageFolder::from_files`]; ImageNet is not downloadable
//!   automatically ([`IMAGENET_SETUP`]).
//! - [`CenterResized`] brings any of them to one size for evaluation, as torchvision's
//!   `Resize(size)` + `CenterCrop(size)`.
//!
//! ## Downloads
//! [`download_archive`] fetches [`Archive::CIFAR10`], [`Archive::CIFAR100`] or
//! [`Archive::STL10`] from its official address (torchvision's) into a cache directory
//! ([`default_cache_dir`]: `$SELFSUP_CACHE_DIR`, `$XDG_CACHE_HOME/selfsup` or
//! `~/.cache/selfsup`), verifies its MD5 and unpacks it atomically;
//! [`download_archive_with_progress`] reports the bytes received.
//!
//! ## Crate map
//! Each dataset's module holds all it knows of itself: its reader, its archive
//! ([`Archive::CIFAR10`], …), its default image size and normalisation
//! ([`CifarVariant::normalize`], [`Stl10::normalize`], [`ImageNetClasses::normalize`]) and
//! which split serves which [`Part`].
//! - [`cifar`]: strict readers for the CIFAR-10 / CIFAR-100 binary files, MD5 verification.
//! - [`stl10`]: a strict reader for the STL-10 binary files.
//! - [`imagenet`]: ImageNet and ImageNet-100 file lists, the devkit's `meta.mat`.
//! - [`folder`]: users' own images, labelled (class sub-folders) or not, at their own sizes, in
//!   memory or streamed from disk.
//! - [`center`]: [`CenterResized`], resize and centre-crop for evaluation.
//! - [`dataset`]: the [`ImageDataset`] trait every image source implements, and [`Part`], what
//!   a part of a dataset is for (pre-training, the evaluations' training and test images).
//! - [`grid`]: picture grids of images and their views.
//! - [`loader`]: the multi-threaded, seeded loader of augmented view batches.
//! - [`subset`]: seeded class-balanced label-budget subsets.
//! - [`download`]: atomic, MD5-verified downloads of an [`Archive`] into a cache directory.
//! - [`tensor`]: image bytes to `[B, C, H, W]` float tensors.
//! - [`transforms`]: seeded, torchvision-matching augmentations on planar float [`Image`]s
//!   (crop, flip, colour jitter, …), the SimCLR / SimSiam / VICReg / MoCo v2 two-view presets,
//!   BYOL's asymmetric pair ([`ByolTransform`], also Barlow Twins' and MoCo v3's CIFAR-10
//!   recipe), DINO's and SwAV's multi-crop ([`MultiCropTransform`]) and the rotation, shear
//!   and colour-inversion pretext tasks.
//! - [`error`]: the crate's [`Error`] and [`Result`].
//!
//! This crate enables no Burn backend: tensor helpers take the `&Device` to build on.
#![warn(missing_docs)]

pub mod center;
pub mod cifar;
pub mod dataset;
pub mod download;
pub mod error;
mod files;
pub mod folder;
pub mod grid;
mod header;
pub mod imagenet;
pub mod loader;
pub mod stl10;
pub mod subset;
pub mod tensor;
pub mod transforms;

pub use center::CenterResized;
pub use cifar::{
    CIFAR_IMAGE_BYTES, CIFAR_SIDE, CIFAR10_CLASSES, CIFAR100_MEAN, CIFAR100_STD, CifarBatch,
    CifarDataset, CifarOptions, CifarVariant, Split, download_cifar10, download_cifar100,
    parse_batch, verify_cifar10,
};
pub use dataset::{ImageDataset, Part};
pub use download::{
    Archive, DownloadProgress, default_cache_dir, download_archive, download_archive_with_progress,
};
pub use error::{Error, Result};
pub use files::verify_md5;
pub use folder::{
    DEFAULT_MAX_PIXELS, DEFAULT_MEMORY_LIMIT, ImageFolder, ImageFolderOptions, Storage,
    StorageChoice,
};
pub use grid::image_grid;
pub use imagenet::{
    DevkitSynset, IMAGENET_NUM_CLASSES, IMAGENET_SETUP, IMAGENET100_CLASSES, ImageNetClasses,
    ImageNetFiles, ImageNetOptions, ImageNetSplit, read_meta_mat,
};
pub use loader::{EpochIter, Loader, LoaderConfig, ViewBatch};
pub use stl10::{
    STL10_CLASSES, STL10_IMAGE_BYTES, STL10_SIDE, Stl10, Stl10Options, Stl10Split, download_stl10,
};
pub use subset::class_balanced_subset;
pub use tensor::images_to_tensor;
pub use transforms::{
    ByolTransform, Image, MocoV2Transform, MultiCropTransform, MultiViewTransform, PretextViews,
    SimClrTransform, SimSiamTransform, Transform, TransformError, TwoViewConfig, VicRegTransform,
    rng_for,
};
