//! Saving a [`ResNet`] as a PyTorch state dict in torchvision's layout (safetensors), the
//! reverse of [`pretrained`](crate::pretrained).
//!
//! The file holds exactly the keys of torchvision's `ResNet.state_dict()`: `conv1.weight`,
//! `bn1.weight`, `bn1.bias`, `bn1.running_mean`, `bn1.running_var`, `bn1.num_batches_tracked`,
//! `layer1.0.conv1.weight`, …, `layer2.0.downsample.0.weight`, `layer2.0.downsample.1.*`, and
//! `fc.weight` / `fc.bias` when the network has a classifier. Burn's store collects the
//! tensors; the differences from Burn's module tree are bridged as follows:
//!
//! - batch-norm `gamma` / `beta` are written as `weight` / `bias`, and a `Linear` weight is
//!   transposed back to PyTorch's `[out, in]`: Burn's `BurnToPyTorchAdapter`;
//! - the enum levels of our module tree ([`ResidualBlock`](crate::resnet::ResidualBlock)'s
//!   `Basic` / `Bottleneck`) are skipped;
//! - every batch norm gets the `int64` scalar `num_batches_tracked` that PyTorch's
//!   `load_state_dict(strict=True)` expects. Burn does not count batches, so it is written as
//!   `0`; PyTorch reads it only for a batch norm built with `momentum=None` (a cumulative
//!   average), which torchvision's ResNets are not;
//! - the running statistics are the current ones: the network is read through
//!   [`valid`](burn::module::Module::valid), which folds in a training step's pending update
//!   (Burn's `RunningState` keeps the latest one aside until it is read that way).
//!
//! Tensors keep the network's element type (float32 usually). Burn's `SafetensorsStore` writes
//! only the module's own tensors, so the container (an 8-byte little-endian header length, a
//! JSON header with each tensor's `dtype`, `shape` and `data_offsets`, then the raw
//! little-endian data) is written here, with the metadata `{"format": "pt"}` of
//! `safetensors.torch.save_file`. The file is written beside `path` and renamed into place, so
//! a failed export leaves no truncated file; an existing file is replaced.
//!
//! A [`Vit`] is written in timm's layout instead ([`Vit::save_timm_safetensors`]); the small
//! CNN has no PyTorch library counterpart: [`Backbone::save_pytorch_safetensors`] refuses it
//! ([`ExportErrorKind::NoTorchvisionCounterpart`]).
//!
//! # Loading the file in PyTorch
//!
//! ```text
//! import torch, torchvision
//! from safetensors.torch import load_file
//! model = torchvision.models.resnet18(num_classes=10)  # the network's num_classes
//! model.load_state_dict(load_file("resnet18.safetensors"))  # strict: every key matches
//! model.eval()
//! ```
//!
//! With [`Stem::Cifar`](crate::Stem::Cifar), patch the stem before loading
//! (`model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)`, `model.maxpool = nn.Identity()`);
//! without a classifier, set `model.fc = nn.Identity()`. `tools/check_export.py` does all of
//! this without the `safetensors` package and compares PyTorch's outputs with Burn's.
//!
//! # Example
//! ```no_run
//! use burn::prelude::*;
//! use selfsup_models::{ResNetConfig, Stem};
//!
//! let device = Device::flex();
//! let encoder = ResNetConfig::resnet18(Stem::Cifar).init(&device);
//! // ... pre-train ...
//! encoder.save_torchvision_safetensors("resnet18-cifar.safetensors")?;
//! # Ok::<(), selfsup_models::export::ExportError>(())
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::burn_pack::Tensor as StoredTensor;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
use burn::tensor::DType;

use crate::backbone::Backbone;
use crate::resnet::ResNet;
use crate::vit::Vit;

/// The suffix of a batch norm's running mean, beside which `num_batches_tracked` is added.
const RUNNING_MEAN: &str = ".running_mean";

/// A network that could not be exported: the file, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("cannot export to {}: {kind}", path.display())]
pub struct ExportError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: ExportErrorKind,
}

/// What went wrong while exporting a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportErrorKind {
    /// The file could not be written (or renamed into place).
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The encoder has no PyTorch library model to load into (the small CNN).
    #[error(
        "the {encoder} encoder has no torchvision or timm counterpart; only a ResNet or a ViT exports"
    )]
    NoTorchvisionCounterpart {
        /// The encoder's name.
        encoder: &'static str,
    },
    /// A tensor could not be read back from its device, or has an element type safetensors
    /// cannot hold.
    #[error("`{key}`: {message}")]
    Tensor {
        /// The tensor's PyTorch name.
        key: String,
        /// What went wrong.
        message: String,
    },
}

impl ResNet {
    /// Writes the network's tensors to `path` as a safetensors state dict with torchvision's
    /// names and layout, loadable by `torchvision.models.resnet*(...).load_state_dict(...,
    /// strict=True)`. See the [module docs](crate::export) for the names and the PyTorch side.
    ///
    /// The running statistics written are the network's current ones (as
    /// [`valid`](burn::module::Module::valid) sees them). An existing file is replaced.
    ///
    /// # Errors
    ///
    /// An [`ExportError`] naming `path` if the file cannot be written or a tensor cannot be read
    /// back from its device.
    pub fn save_torchvision_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ExportError> {
        let path = path.as_ref();
        let fail = |kind| ExportError {
            path: path.to_path_buf(),
            kind,
        };
        let bytes = self.torchvision_safetensors().map_err(fail)?;
        write_atomically(path, &bytes).map_err(|e| fail(ExportErrorKind::Io(e)))
    }

    /// The safetensors container of [`save_torchvision_safetensors`], in memory.
    ///
    /// [`save_torchvision_safetensors`]: ResNet::save_torchvision_safetensors
    fn torchvision_safetensors(&self) -> Result<Vec<u8>, ExportErrorKind> {
        // `valid` folds a pending running-statistics update into the value `collect` reads.
        let tensors = self
            .valid()
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
        let mut entries = Vec::with_capacity(tensors.len() * 5 / 4);
        for tensor in tensors {
            if let Some(bn) = tensor.name.strip_suffix(RUNNING_MEAN) {
                entries.push(Entry {
                    name: format!("{bn}.num_batches_tracked"),
                    dtype: "I64",
                    shape: Vec::new(),
                    bytes: 0i64.to_le_bytes().to_vec(),
                });
            }
            entries.push(Entry::read(tensor)?);
        }
        Ok(safetensors_container(entries))
    }
}

impl Vit {
    /// Writes the network's tensors to `path` as a safetensors state dict with timm's names and
    /// layout (see [`vit`](crate::vit)), loadable by
    /// `timm.create_model("vit_small_patch16_224", num_classes=0, ...).load_state_dict(...,
    /// strict=True)` with the `create_model` arguments of the network's
    /// [`VitConfig`](crate::VitConfig). An existing file is replaced.
    ///
    /// # Errors
    ///
    /// As [`ResNet::save_torchvision_safetensors`].
    pub fn save_timm_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ExportError> {
        let path = path.as_ref();
        let fail = |kind| ExportError {
            path: path.to_path_buf(),
            kind,
        };
        let tensors = self.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
        let entries = tensors
            .into_iter()
            .map(Entry::read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        write_atomically(path, &safetensors_container(entries))
            .map_err(|e| fail(ExportErrorKind::Io(e)))
    }
}

impl Backbone {
    /// The encoder as a PyTorch state dict: a ResNet in torchvision's layout
    /// ([`ResNet::save_torchvision_safetensors`]), a ViT in timm's
    /// ([`Vit::save_timm_safetensors`]).
    ///
    /// # Errors
    ///
    /// [`ExportErrorKind::NoTorchvisionCounterpart`] for the small CNN, which has no PyTorch
    /// library model; otherwise as the network's own export.
    pub fn save_pytorch_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ExportError> {
        match self {
            Backbone::ResNet(net) => net.save_torchvision_safetensors(path),
            Backbone::Vit(net) => net.save_timm_safetensors(path),
            Backbone::SmallCnn(_) => Err(ExportError {
                path: path.as_ref().to_path_buf(),
                kind: ExportErrorKind::NoTorchvisionCounterpart {
                    encoder: "small CNN",
                },
            }),
        }
    }
}

/// One tensor of the container, its data read back.
struct Entry {
    name: String,
    /// safetensors' element type name (`F32`, `I64`, …).
    dtype: &'static str,
    shape: Vec<usize>,
    /// Raw little-endian data.
    bytes: Vec<u8>,
}

impl Entry {
    fn read(tensor: StoredTensor) -> Result<Self, ExportErrorKind> {
        let fail = |name: &str, message: String| ExportErrorKind::Tensor {
            key: name.to_string(),
            message,
        };
        let dtype = safetensors_dtype(tensor.dtype).ok_or_else(|| {
            fail(
                &tensor.name,
                format!("element type {:?} has no safetensors name", tensor.dtype),
            )
        })?;
        let key = tensor.name.clone();
        let (name, element, shape, _, bytes) = tensor
            .into_parts()
            .map_err(|e| fail(&key, format!("cannot read the data back: {e}")))?;
        let shape = shape.to_vec();
        let expected = shape.iter().product::<usize>() * element.size();
        if bytes.len() != expected {
            return Err(fail(
                &name,
                format!(
                    "{} bytes read back, {expected} expected for shape {shape:?}",
                    bytes.len()
                ),
            ));
        }
        Ok(Entry {
            name,
            dtype,
            shape,
            bytes: bytes.to_vec(),
        })
    }

    /// Bytes per element, the alignment safetensors orders tensors by.
    fn element_size(&self) -> usize {
        match self.dtype {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" => 2,
            _ => 1,
        }
    }
}

/// safetensors' name for a Burn element type, or `None` if it has none.
fn safetensors_dtype(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::F64 => "F64",
        DType::F32 | DType::Flex32 => "F32",
        DType::F16 => "F16",
        DType::BF16 => "BF16",
        DType::I64 => "I64",
        DType::I32 => "I32",
        DType::I16 => "I16",
        DType::I8 => "I8",
        DType::U64 => "U64",
        DType::U32 => "U32",
        DType::U8 => "U8",
        _ => return None,
    })
}

/// The safetensors file of `entries`: header length (u64, little-endian), JSON header padded
/// with spaces to a multiple of 8 bytes, data. Like the `safetensors` crate, tensors are laid
/// out by decreasing element size, then by name, so every tensor's data is aligned to its
/// element size.
fn safetensors_container(mut entries: Vec<Entry>) -> Vec<u8> {
    entries.sort_by(|a, b| {
        b.element_size()
            .cmp(&a.element_size())
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut header = String::from(r#"{"__metadata__":{"format":"pt"}"#);
    let mut offset = 0;
    for entry in &entries {
        let end = offset + entry.bytes.len();
        let shape: Vec<String> = entry.shape.iter().map(usize::to_string).collect();
        // Writing to a String cannot fail.
        let _ = write!(
            header,
            r#","{}":{{"dtype":"{}","shape":[{}],"data_offsets":[{offset},{end}]}}"#,
            json_escape(&entry.name),
            entry.dtype,
            shape.join(","),
        );
        offset = end;
    }
    header.push('}');
    while (8 + header.len()) % 8 != 0 {
        header.push(' ');
    }

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for entry in &entries {
        bytes.extend_from_slice(&entry.bytes);
    }
    bytes
}

/// `s` as the inside of a JSON string.
fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes `bytes` to a scratch file beside `path`, then renames it onto `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        )
    })?;
    let mut scratch_name = std::ffi::OsString::from(".");
    scratch_name.push(name);
    scratch_name.push(format!(".{}.tmp", std::process::id()));
    let scratch = path.with_file_name(scratch_name);
    let result = (|| {
        let mut file = std::fs::File::create(&scratch)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&scratch, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&scratch);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, dtype: &'static str, shape: Vec<usize>, bytes: Vec<u8>) -> Entry {
        Entry {
            name: name.to_string(),
            dtype,
            shape,
            bytes,
        }
    }

    #[test]
    fn the_container_is_laid_out_as_safetensors() {
        let bytes = safetensors_container(vec![
            entry("b", "F32", vec![1], 1.5f32.to_le_bytes().to_vec()),
            entry(
                "a.num_batches_tracked",
                "I64",
                vec![],
                7i64.to_le_bytes().to_vec(),
            ),
        ]);
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + len) % 8, 0, "data starts 8-byte aligned");
        let header = std::str::from_utf8(&bytes[8..8 + len]).unwrap();
        assert_eq!(
            header.trim_end(),
            r#"{"__metadata__":{"format":"pt"},"a.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        );
        let data = &bytes[8 + len..];
        assert_eq!(data.len(), 12);
        assert_eq!(i64::from_le_bytes(data[..8].try_into().unwrap()), 7);
        assert_eq!(f32::from_le_bytes(data[8..].try_into().unwrap()), 1.5);
    }

    #[test]
    fn names_are_json_escaped() {
        assert_eq!(
            json_escape("layer1.0.conv1.weight"),
            "layer1.0.conv1.weight"
        );
        assert_eq!(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }
}
