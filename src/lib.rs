//! # selfsup
//!
//! Self-supervised visual representation learning (SimCLR, SimSiam) on [Burn](https://burn.dev).
//!
//! This facade re-exports the member crates and is the one place where a backend is chosen.
//!
//! ## Crate map
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`data`] | `selfsup-data` | CIFAR-10/100 readers, tensors from images |
//! | [`embedding`] | `selfsup-embedding` | 2-D maps of features: exact PCA and t-SNE |
//! | [`kernels`] | `selfsup-kernels` | native convolution and batch-norm kernels (flex, LibTorch) |
//! | [`models`] | `selfsup-models` | encoders and heads (Config/Module/init) |
//! | [`losses`] | `selfsup-losses` | loss functions over tensors |
//! | [`train`] | `selfsup-train` | training loop and evaluation |
//! | [`device`] | this crate | the `--device` flag: picking a compiled backend |
//!
//! Dependencies point one way: `data`, `models` and `losses` know nothing of each other;
//! `models` calls `kernels`; `train` builds on the three; `embedding` works on plain `f32` rows
//! and depends on none of them; this facade and the examples sit on top.
//!
//! ## Feature flags
//! - `flex` (default): Burn's pure-Rust CPU backend.
//! - `tch`: LibTorch, CPU or CUDA (`scripts/setup-tch.sh` installs it).
//! - `wgpu`: wgpu (Vulkan, Metal, DX12; lavapipe on CPU-only machines; `scripts/setup-wgpu.sh`).
//! - `cuda`: CubeCL's CUDA backend (needs the CUDA toolkit; not built in CI).
#![warn(missing_docs)]

pub mod device;

pub use selfsup_data as data;
pub use selfsup_embedding as embedding;
pub use selfsup_kernels as kernels;
pub use selfsup_losses as losses;
pub use selfsup_models as models;
pub use selfsup_train as train;

pub use burn;
