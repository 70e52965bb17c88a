//! # selfsup-embedding
//!
//! Two-dimensional maps of embeddings, for looking at what a network learned: PCA and exact
//! t-SNE, on host data (`&[f32]`, row-major `n × dim`, e.g. the features of
//! `selfsup_train::extract_features` read back with `into_data`). Nothing here touches a
//! tensor or a backend.
//!
//! ## Crate map
//! - [`pca`]: [`pca_2d`], the data centred and projected on its top two principal axes, with
//!   the explained-variance ratios (scikit-learn's `PCA(n_components=2)`, computed exactly).
//! - [`tsne`](mod@tsne): [`tsne()`], exact t-SNE (van der Maaten & Hinton, "Visualizing Data
//!   using t-SNE", JMLR 2008) with the defaults and optimiser of scikit-learn's `TSNE`
//!   ([`TsneConfig`]). Memory and time per iteration are O(n²): fine up to a few thousand
//!   points (n = 5 000 holds one `n × n` float64 matrix, 200 MB). The rows of the distance
//!   matrix and of the gradient are spread over rayon's thread pool; each row is computed by
//!   one task and summed in order, so the result does not depend on the number of threads.
//! - [`Error`] / [`Result`]: data that is not whole finite rows, bad t-SNE hyper-parameters.
//!
//! UMAP (McInnes et al. 2018) is not offered: no maintained crate does it without heavy
//! dependencies or external nearest-neighbour and initialisation steps.
//!
//! # Example
//! ```
//! use selfsup_embedding::{TsneConfig, pca_2d, tsne};
//!
//! // 40 points in 3-D: two clusters.
//! let data: Vec<f32> = (0..40 * 3)
//!     .map(|k| (k / 3 % 2) as f32 * 10.0 + ((k * 7919) % 13) as f32 * 0.1)
//!     .collect();
//! let pca = pca_2d(&data, 3)?;
//! assert_eq!(pca.coords.len(), 40);
//! let map = tsne(&data, 3, &TsneConfig::new().with_perplexity(10.0).with_max_iter(300))?;
//! assert_eq!(map.embedding.len(), 40);
//! # Ok::<(), selfsup_embedding::Error>(())
//! ```
#![warn(missing_docs)]

mod error;
mod parallel;
pub mod pca;
pub mod tsne;

pub use error::{Error, Result};
pub use pca::{Pca2d, pca_2d};
pub use tsne::{TsneConfig, TsneInit, TsneOutput, tsne, tsne_conditional_probabilities};
