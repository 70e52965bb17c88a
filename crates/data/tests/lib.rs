//! Integration tests of `selfsup-data`, in one binary.

mod cifar;
mod download;
mod folder;
mod loader;
mod subset;
mod transforms;
