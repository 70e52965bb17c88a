//! # selfsup-data
//!
//! Datasets and (in later releases) the two-view augmentation pipeline of `selfsup`.
//!
//! ## Crate map
//! - [`cifar`]: strict readers for the CIFAR-10 / CIFAR-100 binary files, MD5 verification.
//! - [`tensor`]: image bytes to `[B, C, H, W]` float tensors.
//! - [`error`]: the crate's [`Error`] and [`Result`].
//!
//! This crate enables no Burn backend: tensor helpers take the `&Device` to build on.
#![warn(missing_docs)]

pub mod cifar;
pub mod error;
pub mod tensor;

pub use cifar::{
    CIFAR_IMAGE_BYTES, CIFAR_SIDE, CIFAR10_CLASSES, CifarBatch, CifarDataset, CifarVariant, Split,
    parse_batch, verify_cifar10, verify_md5,
};
pub use error::{Error, Result};
pub use tensor::images_to_tensor;
