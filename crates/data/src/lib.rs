//! # selfsup-data
//!
//! Datasets and the seeded multi-view augmentation pipelines of `selfsup`.
//!
//! ## Crate map
//! - [`cifar`]: strict readers for the CIFAR-10 / CIFAR-100 binary files, MD5 verification.
//! - [`folder`]: users' own images, labelled (class sub-folders) or not, resized on load.
//! - [`dataset`]: the [`ImageDataset`] trait every image source implements.
//! - [`grid`]: picture grids of images and their views.
//! - [`loader`]: the multi-threaded, seeded loader of augmented view batches.
//! - [`subset`]: seeded class-balanced label-budget subsets.
//! - [`download`]: atomic, MD5-verified download of CIFAR-10 into a cache directory.
//! - [`tensor`]: image bytes to `[B, C, H, W]` float tensors.
//! - [`transforms`]: seeded, torchvision-matching augmentations on planar float [`Image`]s
//!   (crop, flip, colour jitter, …), the SimCLR / SimSiam / VICReg / MoCo v2 two-view presets,
//!   BYOL's asymmetric pair ([`ByolTransform`], also Barlow Twins' and MoCo v3's CIFAR-10
//!   recipe), DINO's and SwAV's multi-crop ([`MultiCropTransform`]) and seed 001's pretext
//!   tasks.
//! - [`error`]: the crate's [`Error`] and [`Result`].
//!
//! This crate enables no Burn backend: tensor helpers take the `&Device` to build on.
#![warn(missing_docs)]

pub mod cifar;
pub mod dataset;
pub mod download;
pub mod error;
pub mod folder;
pub mod grid;
pub mod loader;
pub mod subset;
pub mod tensor;
pub mod transforms;

pub use cifar::{
    CIFAR_IMAGE_BYTES, CIFAR_SIDE, CIFAR10_CLASSES, CifarBatch, CifarDataset, CifarVariant, Split,
    parse_batch, verify_cifar10, verify_md5,
};
pub use dataset::ImageDataset;
pub use download::{Archive, download_archive, download_cifar10};
pub use error::{Error, Result};
pub use folder::{ImageFolder, ImageFolderOptions};
pub use grid::image_grid;
pub use loader::{EpochIter, Loader, LoaderConfig, ViewBatch};
pub use subset::class_balanced_subset;
pub use tensor::images_to_tensor;
pub use transforms::{
    ByolTransform, Image, MocoV2Transform, MultiCropTransform, MultiViewTransform, PretextViews,
    SimClrTransform, SimSiamTransform, Transform, TransformError, TwoViewConfig, VicRegTransform,
    rng_for,
};
