//! Loading a [`ResNet`] state dict saved by PyTorch (torchvision layout) through Burn's store.
//!
//! A torchvision `ResNet` and ours name their tensors alike (`conv1.weight`,
//! `layer2.0.downsample.1.running_var`, `fc.bias`; see [`resnet`](crate::resnet)). Loading
//! bridges the remaining differences:
//!
//! - batch-norm `weight` / `bias` are Burn's `gamma` / `beta`, and a `Linear` weight is
//!   transposed (PyTorch `[out, in]`, Burn `[in, out]`): Burn's `PyTorchToBurnAdapter`;
//! - the enum levels of our module tree ([`ResidualBlock`](crate::resnet::ResidualBlock)'s
//!   `Basic` / `Bottleneck`) do not exist in PyTorch's names and are skipped;
//! - `num_batches_tracked` counters have no Burn counterpart and are ignored;
//! - `fc.*` is ignored when the network has no classifier (a torchvision checkpoint loads into
//!   a feature extractor); a network *with* a classifier needs `fc.*` in the checkpoint;
//! - with [`LoadOptions::with_prefix`], only keys under the prefix are read, the prefix removed:
//!   `backbone.` for solo-learn's or lightly's SSL models (`backbone.conv1.weight` beside
//!   `projector.0.weight`), `encoder.` for others. Keys outside the prefix are ignored;
//! - tensors are cast to the network's float type (a float16 or float64 checkpoint loads into
//!   a float32 network).
//!
//! Loading is strict otherwise: every tensor of the network must be in the checkpoint with the
//! same shape, and every key under the prefix must be used, so that a ResNet-34 checkpoint does
//! not load silently into a ResNet-18. Anything wrong is a [`LoadError`] naming the file and the
//! PyTorch keys at fault; nothing panics on a bad file.
//!
//! Supported format: safetensors ([`ResNet::load_safetensors`]). A `.pt` / `.pth` file (a
//! pickled state dict) converts to it in one line of Python:
//!
//! ```text
//! python -c "import sys, torch, safetensors.torch as st; \
//!     st.save_file(torch.load(sys.argv[1], map_location='cpu'), sys.argv[2])" model.pth model.safetensors
//! ```
//!
//! (a Lightning / solo-learn checkpoint keeps its weights under `["state_dict"]`; index it
//! first). Burn's `PytorchStore` reads `.pt` files directly but needs Burn's `pytorch` feature,
//! which this workspace does not enable (its zip dependency changes the features of crates
//! shared with the wgpu backend, and so rebuilds it).
//!
//! # Example
//! ```no_run
//! use burn::prelude::*;
//! use selfsup_models::pretrained::LoadOptions;
//! use selfsup_models::{ResNetConfig, Stem};
//!
//! let device = Device::flex();
//! // torchvision's state dict: conv1.weight, bn1.weight, ..., fc.bias (fc ignored here).
//! let encoder = ResNetConfig::resnet18(Stem::ImageNet)
//!     .init(&device)
//!     .load_safetensors("resnet18.safetensors")?;
//! // The backbone of a solo-learn SimSiam checkpoint (keys backbone.conv1.weight, ...).
//! let encoder = ResNetConfig::resnet18(Stem::Cifar).init(&device).load_safetensors_with(
//!     "simsiam-cifar10.safetensors",
//!     &LoadOptions::new().with_prefix("backbone."),
//! )?;
//! let features = encoder.valid().forward_features(Tensor::zeros([1, 3, 32, 32], &device));
//! # Ok::<(), selfsup_models::pretrained::LoadError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use burn::store::burn_pack::Tensor as StoredTensor;
use burn::store::{
    ApplyError, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    SafetensorsStore, SafetensorsStoreError,
};

use burn::tensor::DType;

use crate::resnet::ResNet;
use crate::vit::Vit;

/// How to read a checkpoint: which keys belong to the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Only keys starting with this are read, with it removed. Default `""`: every key.
    pub prefix: String,
}

impl LoadOptions {
    /// The defaults: every key, no prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads only the keys under `prefix` (e.g. `"backbone."`), with the prefix removed; other
    /// keys (a projection head, say) are ignored.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// A checkpoint that could not be loaded: the file, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("cannot load {}: {kind}", path.display())]
pub struct LoadError {
    /// The checkpoint file.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: LoadErrorKind,
}

/// What went wrong while loading a checkpoint. Keys are PyTorch's (prefix included).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The file is not a valid checkpoint of the expected format.
    #[error("not a valid {format} file: {message}")]
    Format {
        /// The format expected (`safetensors`).
        format: &'static str,
        /// What the reader reported.
        message: String,
    },
    /// Tensors of the network that the checkpoint lacks.
    #[error("{} missing from the checkpoint: {}", plural(keys.len(), "key"), KeyList(keys))]
    MissingKeys {
        /// The missing keys, sorted.
        keys: Vec<String>,
    },
    /// Keys under the prefix that the network has no tensor for (a deeper network, say).
    #[error("{} the network has no tensor for: {}", plural(keys.len(), "key"), KeyList(keys))]
    UnexpectedKeys {
        /// The unused keys, sorted.
        keys: Vec<String>,
    },
    /// A tensor whose shape differs from the network's (a wider network, say).
    #[error("`{key}` has shape {found:?} in the checkpoint, the network expects {expected:?}")]
    ShapeMismatch {
        /// The key.
        key: String,
        /// The network's shape, in PyTorch's layout.
        expected: Vec<usize>,
        /// The checkpoint's shape.
        found: Vec<usize>,
    },
    /// A tensor that could not be read or converted (wrong dtype kind, truncated data).
    #[error("`{key}`: {message}")]
    Tensor {
        /// The key.
        key: String,
        /// What went wrong.
        message: String,
    },
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The first few keys of a list, then how many more.
struct KeyList<'a>(&'a [String]);

impl fmt::Display for KeyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        let shown: Vec<String> = self
            .0
            .iter()
            .take(SHOWN)
            .map(|k| format!("`{k}`"))
            .collect();
        f.write_str(&shown.join(", "))?;
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl ResNet {
    /// This network with its tensors read from a safetensors file holding a torchvision-layout
    /// state dict (every key, no prefix). See the [module docs](self) for the name mapping.
    ///
    /// The network's configuration (depths, widths, block, stem, classifier) must match the
    /// checkpoint's: build it with [`ResNetConfig`](crate::ResNetConfig) first. Call
    /// [`valid`](burn::module::Module::valid) or use a device without autodiff for
    /// inference with the loaded running statistics.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming `path` if the file cannot be read or parsed, a tensor of the
    /// network is missing or has another shape, or the checkpoint has tensors the network lacks.
    pub fn load_safetensors(self, path: impl AsRef<Path>) -> Result<ResNet, LoadError> {
        self.load_safetensors_with(path, &LoadOptions::default())
    }

    /// [`load_safetensors`](ResNet::load_safetensors) with [`LoadOptions`] (a key prefix).
    ///
    /// # Errors
    ///
    /// As [`load_safetensors`](ResNet::load_safetensors).
    pub fn load_safetensors_with(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<ResNet, LoadError> {
        let path = path.as_ref();
        let has_fc = self.fc.is_some();
        let float = self.conv1.weight.val().dtype();
        let mut net = self;
        load_torch_safetensors(&mut net, path, float, &options.prefix, |key| {
            key.ends_with("num_batches_tracked")
                || (!has_fc && (key == "fc.weight" || key == "fc.bias"))
        })?;
        Ok(net)
    }
}

impl Vit {
    /// This network with its tensors read from a safetensors file holding timm's
    /// `VisionTransformer` state dict (see [`vit`](crate::vit) for the names). A classifier
    /// (`head.weight`, `head.bias`) in the file is ignored; everything else must match the
    /// network's [`VitConfig`](crate::VitConfig) (width, depth, patch size, grid, register
    /// tokens, `class_position`), strictly, as for a ResNet.
    ///
    /// # Errors
    ///
    /// As [`ResNet::load_safetensors`].
    pub fn load_timm_safetensors(self, path: impl AsRef<Path>) -> Result<Vit, LoadError> {
        self.load_timm_safetensors_with(path, &LoadOptions::default())
    }

    /// [`load_timm_safetensors`](Vit::load_timm_safetensors) with [`LoadOptions`] (a key
    /// prefix, e.g. `backbone.` for a solo-learn or lightly model).
    ///
    /// # Errors
    ///
    /// As [`ResNet::load_safetensors`].
    pub fn load_timm_safetensors_with(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Vit, LoadError> {
        let float = self.cls_token.val().dtype();
        let mut net = self;
        load_torch_safetensors(&mut net, path.as_ref(), float, &options.prefix, |key| {
            key == "head.weight" || key == "head.bias"
        })?;
        Ok(net)
    }
}

/// Reads the safetensors file at `path` into a module through [`apply_torch_state`].
pub(crate) fn load_torch_safetensors<M: ModuleSnapshot>(
    module: &mut M,
    path: &Path,
    float: DType,
    prefix: &str,
    ignored: impl Fn(&str) -> bool,
) -> Result<(), LoadError> {
    let fail = |kind| LoadError {
        path: path.to_path_buf(),
        kind,
    };
    // A clear "not found" / "is a directory" before the store memory-maps the file.
    let meta = std::fs::metadata(path).map_err(|e| fail(LoadErrorKind::Io(e)))?;
    if !meta.is_file() {
        return Err(fail(LoadErrorKind::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ))));
    }
    let mut store = SafetensorsStore::from_file(path);
    let tensors = store.get_all_tensors().map_err(|e| {
        fail(match e {
            SafetensorsStoreError::Io(e) => LoadErrorKind::Io(e),
            other => LoadErrorKind::Format {
                format: "safetensors",
                message: other.to_string(),
            },
        })
    })?;
    apply_torch_state(module, tensors.values().cloned(), float, prefix, ignored).map_err(fail)
}

/// Copies a PyTorch-named state dict into a module: only keys under `prefix` (removed), minus
/// those `ignored` says (given the key without the prefix); PyTorch's layout and names through
/// Burn's `PyTorchToBurnAdapter`, cast to `float`; strict otherwise (see the module docs).
pub(crate) fn apply_torch_state<M: ModuleSnapshot>(
    module: &mut M,
    tensors: impl Iterator<Item = StoredTensor>,
    float: DType,
    prefix: &str,
    ignored: impl Fn(&str) -> bool,
) -> Result<(), LoadErrorKind> {
    let selected: Vec<StoredTensor> = tensors
        .filter_map(|mut t| {
            let key = t.name.strip_prefix(prefix)?.to_string();
            (!ignored(&key)).then(|| {
                t.name = key;
                t
            })
        })
        .collect();

    // Burn's layout and names, and the network's float type.
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(float));
    let result = module.apply(selected, None, Some(Box::new(adapter)), true);

    let torch_key = |burn_path: &str| format!("{prefix}{}", torch_name(burn_path));
    if let Some(error) = result.errors.first() {
        return Err(match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => {
                // Compared after the adapter, i.e. in Burn's layout: report PyTorch's. The only
                // matrices of these networks are linear weights, which Burn stores transposed.
                let torch_layout = |shape: &[usize]| {
                    let mut dims = shape.to_vec();
                    if dims.len() == 2 {
                        dims.reverse();
                    }
                    dims
                };
                LoadErrorKind::ShapeMismatch {
                    key: torch_key(path),
                    expected: torch_layout(expected.as_slice()),
                    found: torch_layout(found.as_slice()),
                }
            }
            ApplyError::DTypeMismatch { path, found, .. } => LoadErrorKind::Tensor {
                key: torch_key(path),
                message: format!("element type {found:?} cannot be read as a float tensor"),
            },
            ApplyError::AdapterError { path, message }
            | ApplyError::LoadError { path, message } => LoadErrorKind::Tensor {
                key: torch_key(path),
                message: message.clone(),
            },
        });
    }
    if !result.missing.is_empty() {
        let keys: BTreeSet<String> = result.missing.iter().map(|(p, _)| torch_key(p)).collect();
        return Err(LoadErrorKind::MissingKeys {
            keys: keys.into_iter().collect(),
        });
    }
    if !result.unused.is_empty() {
        let keys: BTreeSet<String> = result
            .unused
            .iter()
            .map(|k| format!("{prefix}{k}"))
            .collect();
        return Err(LoadErrorKind::UnexpectedKeys {
            keys: keys.into_iter().collect(),
        });
    }
    Ok(())
}

/// A Burn tensor path (enum levels already skipped) as PyTorch names it: normalisation
/// `gamma` / `beta` are `weight` / `bias` (only norms have `gamma` / `beta` in these networks).
fn torch_name(burn_path: &str) -> String {
    match burn_path.rsplit_once('.') {
        Some((parent, "gamma")) => format!("{parent}.weight"),
        Some((parent, "beta")) => format!("{parent}.bias"),
        _ => burn_path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_norm_names_read_as_pytorch() {
        assert_eq!(torch_name("layer1.0.bn1.gamma"), "layer1.0.bn1.weight");
        assert_eq!(torch_name("bn1.beta"), "bn1.bias");
        assert_eq!(torch_name("conv1.weight"), "conv1.weight");
        assert_eq!(torch_name("bn1.running_var"), "bn1.running_var");
    }

    #[test]
    fn long_key_lists_are_shortened() {
        let keys: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
        let msg = LoadErrorKind::MissingKeys { keys }.to_string();
        assert_eq!(
            msg,
            "7 keys missing from the checkpoint: `k0`, `k1`, `k2`, `k3`, `k4` and 2 more"
        );
    }
}
