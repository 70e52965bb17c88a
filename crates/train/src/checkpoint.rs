//! Checkpoints: model, optimizer, schedule position and run state in one file, written
//! atomically.
//!
//! # Format
//! ```text
//! b"SELFSUP-CKPT-v1\n"                    16 bytes
//! u64 LE length, JSON  CheckpointState    method, its config, training config, position, history
//! u64 LE length, burnpack                 the model (Module::into_record)
//! u64 LE length, burnpack                 the optimizer state (ModuleOptimizer::into_bytes)
//! ```
//!
//! The schedule holds no state (the LR is a function of the step) and the data order and every
//! augmentation are functions of `(seed, epoch, image)`, so `epoch`, `batch_in_epoch` and
//! `step` are the whole random and schedule state: resuming replays exactly what an
//! uninterrupted run does.
//!
//! [`Checkpoint::write`] writes `<path>.tmp` beside the target, syncs it and renames it over
//! the target, so a kill at any moment leaves either the previous checkpoint or the new one,
//! never half of one.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use selfsup_models::{Backbone, BackboneConfig, EncoderConfig, EncoderOf};
use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::error::{Error, Result};
use crate::history::History;
use crate::method::Method;

const MAGIC: &[u8; 16] = b"SELFSUP-CKPT-v1\n";

/// The JSON part of a checkpoint: which method and config, and where the run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// [`Method::NAME`] of the run.
    pub method: String,
    /// The method value (its hyper-parameters and model config).
    pub method_config: serde_json::Value,
    /// The config of the method's encoder ([`Method::backbone_config`]), from which
    /// [`load_encoder`] rebuilds it. Absent from checkpoints written before it existed, whose
    /// methods all kept it at `method_config.model.backbone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_config: Option<serde_json::Value>,
    /// The training config of the run.
    pub training: TrainingConfig,
    /// The epoch in progress: the next batch belongs to it.
    pub epoch: usize,
    /// Batches of `epoch` already trained.
    pub batch_in_epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// Everything logged so far.
    pub history: History,
}

/// A checkpoint in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Method, config and position.
    pub state: CheckpointState,
    model: Bytes,
    optimizer: Bytes,
}

impl Checkpoint {
    /// Captures `model` and `optimizer` (tensors are shared, not copied, until serialised).
    ///
    /// # Errors
    /// If Burn cannot serialise them.
    pub fn capture<M: Module>(
        state: CheckpointState,
        model: &M,
        optimizer: &ModuleOptimizer,
    ) -> Result<Self> {
        // Through `valid()`: it folds batch norm's pending running-statistics update into the
        // value the record reads (a plain `into_record` would save them one update behind).
        let model = model
            .valid()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::Data(format!("cannot serialise the model: {e}")))?;
        let optimizer = optimizer
            .into_bytes()
            .map_err(|e| Error::Data(format!("cannot serialise the optimizer: {e}")))?;
        Ok(Self {
            state,
            model,
            optimizer,
        })
    }

    /// Writes the checkpoint to `path` atomically (temp file, sync, rename).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec(&self.state)
            .map_err(|e| Error::checkpoint(path, format!("cannot encode the state: {e}")))?;
        let tmp = tmp_path(path);
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(MAGIC)?;
            for section in [&json[..], &self.model[..], &self.optimizer[..]] {
                file.write_all(&(section.len() as u64).to_le_bytes())?;
                file.write_all(section)?;
            }
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io("cannot write checkpoint", path, e)
        })
    }

    /// Reads a checkpoint written by [`write`](Self::write).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::Checkpoint`] if it is not a
    /// checkpoint or is truncated.
    pub fn read(path: &Path) -> Result<Self> {
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io("cannot read checkpoint", path, e))?;
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
            Error::checkpoint(path, "not a selfsup checkpoint (its first bytes differ)")
        })?;
        let mut sections = Vec::with_capacity(3);
        let mut rest = rest;
        for name in ["state", "model", "optimizer"] {
            let (len, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| Error::checkpoint(path, format!("truncated before the {name}")))?;
            let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
            if tail.len() < len {
                return Err(Error::checkpoint(
                    path,
                    format!(
                        "truncated in the {name}: {len} bytes announced, {} left",
                        tail.len()
                    ),
                ));
            }
            let (section, tail) = tail.split_at(len);
            sections.push(section.to_vec());
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(Error::checkpoint(
                path,
                format!("{} unexpected bytes after the optimizer", rest.len()),
            ));
        }
        let optimizer = Bytes::from_bytes_vec(sections.pop().expect("three sections"));
        let model = Bytes::from_bytes_vec(sections.pop().expect("three sections"));
        let state = serde_json::from_slice(&sections[0])
            .map_err(|e| Error::checkpoint(path, format!("unreadable state: {e}")))?;
        Ok(Self {
            state,
            model,
            optimizer,
        })
    }

    /// Loads the saved weights into `model` (built from the same config).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the record does not fit the model.
    pub fn load_model<M: Module>(&self, model: M, path: &Path) -> Result<M> {
        let record = ModuleRecord::from_bytes(self.model.clone())
            .map_err(|e| Error::checkpoint(path, format!("unreadable model: {e}")))?;
        model
            .try_load_record(record)
            .map_err(|e| Error::checkpoint(path, format!("the model does not fit: {e}")))
    }

    /// Loads the saved optimizer state into `optimizer` (built from the same config).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the state cannot be read.
    pub fn load_optimizer(
        &self,
        optimizer: ModuleOptimizer,
        path: &Path,
    ) -> Result<ModuleOptimizer> {
        optimizer
            .from_bytes(self.optimizer.clone())
            .map_err(|e| Error::checkpoint(path, format!("unreadable optimizer state: {e}")))
    }

    /// The method value of the run, when it is `M`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the checkpoint is of another method or its config does not
    /// parse.
    pub fn method<M: Method>(&self, path: &Path) -> Result<M> {
        if self.state.method != M::NAME {
            return Err(Error::checkpoint(
                path,
                format!("it is a {} run, not a {} one", self.state.method, M::NAME),
            ));
        }
        serde_json::from_value(self.state.method_config.clone())
            .map_err(|e| Error::checkpoint(path, format!("unreadable {} config: {e}", M::NAME)))
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

impl Checkpoint {
    /// The config of the run's encoder, as `C`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the checkpoint holds no encoder config, or one that is not a
    /// `C`.
    pub fn encoder_config<C: EncoderConfig>(&self, path: &Path) -> Result<C> {
        let value = match &self.state.encoder_config {
            Some(value) => value.clone(),
            // Checkpoints written before `encoder_config` existed: every method then kept its
            // encoder config at `model.backbone`.
            None => self.state.method_config["model"]["backbone"].clone(),
        };
        if value.is_null() {
            return Err(Error::checkpoint(
                path,
                format!("the {} run holds no encoder config", self.state.method),
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            Error::checkpoint(
                path,
                format!(
                    "its encoder config is not a {}: {e}",
                    std::any::type_name::<C>()
                ),
            )
        })
    }
}

/// The encoder of a run, loaded by [`load_encoder`].
#[derive(Debug, Clone)]
pub struct LoadedEncoder<C: EncoderConfig> {
    /// The trained encoder.
    pub encoder: EncoderOf<C>,
    /// Its config (to build a classifier around it, or a fresh one like it).
    pub config: C,
    /// [`Method::NAME`] of the run.
    pub method: String,
}

/// The built-in encoder of a run, loaded by [`load_backbone`].
#[derive(Debug, Clone)]
pub struct LoadedBackbone {
    /// The trained backbone.
    pub backbone: Backbone,
    /// Its config (to build a classifier around it, or a fresh one like it).
    pub config: BackboneConfig,
    /// [`Method::NAME`] of the run.
    pub method: String,
}

/// The model of any method, seen only through its field `backbone` (every other tensor of the
/// checkpoint is left unread).
#[derive(Module, Debug)]
struct BackboneOnly<E: Module> {
    backbone: E,
}

/// The encoder of any run's checkpoint, whatever its method: what the linear probe, kNN and
/// fine-tuning start from. The encoder is rebuilt from the config the checkpoint holds (a `C`)
/// and loaded from the model's field `backbone` (see [`Method`]).
///
/// # Errors
/// As [`Checkpoint::read`]; [`Error::Checkpoint`] when the encoder config is not a `C`, or the
/// model has no `backbone` field of that architecture.
pub fn load_encoder<C: EncoderConfig>(path: &Path, device: &Device) -> Result<LoadedEncoder<C>> {
    let checkpoint = Checkpoint::read(path)?;
    let config: C = checkpoint.encoder_config(path)?;
    let record = ModuleRecord::from_bytes(checkpoint.model.clone())
        .map_err(|e| Error::checkpoint(path, format!("unreadable model: {e}")))?
        .allow_unused(true);
    let shell = BackboneOnly {
        backbone: config.init(device),
    };
    let loaded = shell.try_load_record(record).map_err(|e| {
        Error::checkpoint(
            path,
            format!(
                "its model's `backbone` does not fit the {} encoder it describes: {e}",
                checkpoint.state.method
            ),
        )
    })?;
    Ok(LoadedEncoder {
        encoder: loaded.backbone,
        config,
        method: checkpoint.state.method,
    })
}

/// The built-in encoder ([`Backbone`]) of any run's checkpoint: [`load_encoder`] for
/// [`BackboneConfig`].
///
/// # Errors
/// As [`load_encoder`].
pub fn load_backbone(path: &Path, device: &Device) -> Result<LoadedBackbone> {
    let loaded = load_encoder::<BackboneConfig>(path, device)?;
    Ok(LoadedBackbone {
        backbone: loaded.encoder,
        config: loaded.config,
        method: loaded.method,
    })
}
