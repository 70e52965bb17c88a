//! The methods the [`Trainer`](crate::Trainer) trains, one file each. Each is generic over its
//! encoder (the built-in [`BackboneConfig`](selfsup_models::BackboneConfig) by default) and has
//! paper defaults, and its file holds its published presets: `published(&Setup)` builds the
//! method, its training recipe and its views for a dataset [`Scale`](crate::Scale) from
//! solo-learn's configuration (see [`recipe`](crate::recipe)).
//!
//! Adding a method: its file here (declared below and re-exported), and one line in the command
//! line's `METHODS` (`crates/cli/src/pretrain.rs`). Momentum methods implement
//! [`momentum::MomentumNetwork`] and call [`momentum::after_step`].
//!
//! | method | paper | what it adds |
//! |---|---|---|
//! | [`SimClrMethod`] | Chen et al. 2020 | NT-Xent between two views' projections |
//! | [`SimSiamMethod`] | Chen & He 2021 | predictor, stop-gradient |
//! | [`ByolMethod`] | Grill et al. 2020 | predictor, EMA target, cosine momentum |
//! | [`MocoMethod`] | He et al. 2020, Chen et al. 2020, 2021 | EMA key encoder, queue of negatives (v2), predictor (v3) |
//! | [`BarlowTwinsMethod`] | Zbontar et al. 2021 | cross-correlation to the identity |
//! | [`VicRegMethod`] | Bardes et al. 2022 | variance / invariance / covariance |
//! | [`DinoMethod`] | Caron et al. 2021 | EMA teacher, centring, sharpening, multi-crop |
//! | [`SwavMethod`] | Caron et al. 2020 | prototypes, Sinkhorn-Knopp codes, multi-crop, queue |
//! | [`NnclrMethod`] | Dwibedi et al. 2021 | nearest neighbour in a queue as the positive, predictor |
//! | [`MaeMethod`] | He et al. 2022 | ViT on 25 % of the patches, decoder, pixel regression |
//! | [`SupervisedMethod`] | — | the supervised baseline and fine-tuning |
//! | [`PretextMethod`] | Gidaris et al. 2018 and others | rotation / shear / colour prediction |

mod barlow_twins;
mod byol;
mod dino;
mod mae;
mod moco;
pub mod momentum;
mod nnclr;
mod pretext;
mod queue;
mod simclr;
mod simsiam;
mod supervised;
mod swav;
mod vicreg;

pub use barlow_twins::{BarlowTwinsConfig, BarlowTwinsMethod};
pub use byol::{Byol, ByolConfig, ByolMethod};
pub use dino::{Dino, DinoConfig, DinoMethod};
pub use mae::{Mae, MaeConfig, MaeMethod, MaeOutput};
pub use moco::{Moco, MocoConfig, MocoMethod};
pub use nnclr::{Nnclr, NnclrConfig, NnclrMethod};
pub use pretext::{PRETEXT_TASKS, PretextMethod, PretextModel, PretextModelConfig};
pub use simclr::SimClrMethod;
pub use simsiam::SimSiamMethod;
pub use supervised::{Classifier, ClassifierConfig, SupervisedMethod};
pub use swav::{Swav, SwavConfig, SwavMethod};
pub use vicreg::{VicRegConfig, VicRegMethod};
