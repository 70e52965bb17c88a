//! The methods the [`Trainer`](crate::Trainer) trains, one file each.

mod pretext;
mod simclr;
mod simsiam;
mod supervised;

pub use pretext::{PRETEXT_TASKS, PretextMethod, PretextModel, PretextModelConfig};
pub use simclr::SimClrMethod;
pub use simsiam::SimSiamMethod;
pub use supervised::{Classifier, ClassifierConfig, SupervisedMethod};
