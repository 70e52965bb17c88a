//! Checkpoints: model, optimizer, schedule position and run state in one file, written
//! atomically and checked on load.
//!
//! # Format (v2)
//! ```text
//! b"SELFSUP-CKPT-v2\n"                    16 bytes
//! u64 LE  file length                     every byte, this field and the checksum included
//! u64 LE length, JSON  CheckpointState    method, its config, training config, position, history
//! u64 LE length, burnpack                 the model (Module::into_record)
//! u64 LE length, burnpack                 the optimizer state (ModuleOptimizer::into_bytes)
//! u32 LE  CRC-32 (IEEE)                   of every byte before it
//! ```
//!
//! [`Checkpoint::read`] checks, in order: the magic (else [`CheckpointFault::NotACheckpoint`],
//! or [`CheckpointFault::UnsupportedVersion`] for a `SELFSUP-CKPT-v<n>` it does not know), the
//! length (a shorter file is [`CheckpointFault::Truncated`]), the checksum
//! ([`CheckpointFault::ChecksumMismatch`]), then the sections. Nothing of a file is parsed before
//! its checksum matched, so a flipped bit anywhere (in the weights too) is an error, never
//! silently different weights.
//!
//! **Why CRC-32.** The checksum guards against accidents (bit rot, a bad copy, an overwrite),
//! not against an adversary: whoever can write the checkpoint can also write its checksum, so a
//! cryptographic hash (SHA-256) would buy nothing here. CRC-32 detects every error burst of up to
//! 32 bits (any four overwritten bytes, any single flip) with certainty and any other corruption
//! with probability 1 − 2⁻³², and `crc32fast` computes it at memory speed (SIMD), so writing and
//! loading a ResNet checkpoint costs no visible time. The length in the header makes a truncated
//! file read as truncated rather than as a checksum mismatch.
//!
//! **v1**, written by earlier selfsup versions, is the same without the file length and the
//! checksum (magic `SELFSUP-CKPT-v1\n`). It still loads and resumes, but nothing detects a
//! corrupted v1 file whose sections still parse: resume it once to rewrite it as v2.
//!
//! The schedule holds no state (the LR is a function of the step) and the data order and every
//! augmentation are functions of `(seed, epoch, image)`, so `epoch`, `batch_in_epoch` and
//! `step` are the whole random and schedule state: resuming replays exactly what an
//! uninterrupted run does.
//!
//! [`Checkpoint::write`] writes `<path>.tmp` beside the target, syncs it, renames it over the
//! target and syncs the directory, so a kill or a power cut at any moment leaves either the
//! previous checkpoint or the new one, never half of one; a failed write (a full disk) leaves
//! the previous checkpoint untouched and no `.tmp` behind. The state is parsed back from the JSON
//! about to be written before anything is written, so a written checkpoint always loads (a
//! state that would not read back is refused, naming the field). The trainer writes a
//! checkpoint only from finite weights and batch-norm statistics, checked as saved
//! ([`first_non_finite_parameter`], [`Error::NonFiniteWeights`]), so the last checkpoint of a
//! run is always a good one.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use selfsup_models::{Backbone, BackboneConfig, EncoderConfig, EncoderOf};
use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::error::{CheckpointFault, Error, Result};
use crate::history::History;
use crate::method::Method;
use crate::run_dir::{open_file, reads_back, refused, write_atomically};

/// The start of every format's magic: `SELFSUP-CKPT-v<version>\n`, 16 bytes in all.
const MAGIC_PREFIX: &[u8] = b"SELFSUP-CKPT-v";
const MAGIC_LEN: usize = 16;
const MAGIC_V1: &[u8; MAGIC_LEN] = b"SELFSUP-CKPT-v1\n";
const MAGIC_V2: &[u8; MAGIC_LEN] = b"SELFSUP-CKPT-v2\n";
/// The format [`Checkpoint::write`] writes.
pub const CHECKPOINT_FORMAT: u32 = 2;
const SECTIONS: [&str; 3] = ["state", "model", "optimizer"];

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
    /// The online linear classifier, when the run trains one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_linear: Option<crate::online_linear::OnlineLinearState>,
    /// What the run trains on, checked when it is resumed. Absent from checkpoints written
    /// before it existed, whose data is not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<crate::DataFingerprint>,
}

/// A checkpoint in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Method, config and position.
    pub state: CheckpointState,
    model: Bytes,
    optimizer: Bytes,
    format: u32,
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
            format: CHECKPOINT_FORMAT,
        })
    }

    /// The format version of the file it was read from (1 or 2), or [`CHECKPOINT_FORMAT`] for a
    /// captured one. A v1 file has no checksum.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Writes the checkpoint to `path` atomically (temp file, sync, rename, directory sync), in
    /// the current format ([`CHECKPOINT_FORMAT`]).
    ///
    /// The state is first parsed back from the JSON about to be written: a state that would not
    /// read back (a NaN in a float that JSON writes as `null`) is refused before anything is
    /// written, so that a checkpoint that was written always loads.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file (and the I/O error's kind, e.g.
    /// [`StorageFull`](std::io::ErrorKind::StorageFull)); a state that would not read back is
    /// [`InvalidData`](std::io::ErrorKind::InvalidData), naming the field. `path` is then left
    /// as it was.
    pub fn write(&self, path: &Path) -> Result<()> {
        self.write_with(path, open_file)
    }

    /// [`write`](Self::write) through a writer that `open` makes for the temporary file (whose
    /// path it receives): a seam for fault-injection tests (a writer that fails like a full
    /// disk). The temporary file is synced and renamed as by `write`.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    #[doc(hidden)]
    pub fn write_with(
        &self,
        path: &Path,
        open: impl FnOnce(&Path) -> io::Result<Box<dyn Write>>,
    ) -> Result<()> {
        let json = serde_json::to_vec(&self.state).map_err(|e| {
            Error::checkpoint(
                path,
                CheckpointFault::Corrupt,
                format!("cannot encode the state: {e}"),
            )
        })?;
        reads_back::<CheckpointState>(&json).map_err(|reason| {
            Error::io(
                "cannot write checkpoint",
                path,
                refused(format!("its state: {reason}")),
            )
        })?;
        write_atomically(path, open, |out| self.encode(&json, out))
            .map_err(|e| Error::io("cannot write checkpoint", path, e))
    }

    /// The checkpoint as the bytes of a v2 file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(&self.state).expect("the state serialises");
        let mut bytes = Vec::with_capacity(json.len() + self.model.len() + self.optimizer.len());
        self.encode(&json, &mut bytes)
            .expect("writing to a Vec does not fail");
        bytes
    }

    fn encode(&self, json: &[u8], out: &mut dyn Write) -> io::Result<()> {
        let sections = [json, &self.model[..], &self.optimizer[..]];
        let length = MAGIC_LEN + 8 + sections.iter().map(|s| 8 + s.len()).sum::<usize>() + 4;
        let mut out = CrcWriter {
            inner: out,
            crc: crc32fast::Hasher::new(),
        };
        out.write_all(MAGIC_V2)?;
        out.write_all(&(length as u64).to_le_bytes())?;
        for section in sections {
            out.write_all(&(section.len() as u64).to_le_bytes())?;
            out.write_all(section)?;
        }
        let crc = out.crc.finalize();
        out.inner.write_all(&crc.to_le_bytes())
    }

    /// Reads a checkpoint written by [`write`](Self::write) (format v2, or v1 of earlier
    /// versions).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Checkpoint`] whose
    /// [`CheckpointFault`] says why the bytes are not a checkpoint (see [`parse`](Self::parse)).
    pub fn read(path: &Path) -> Result<Self> {
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io("cannot read checkpoint", path, e))?;
        Self::parse(&bytes, path)
    }

    /// A checkpoint from the bytes of a file; `path` only names it in errors.
    ///
    /// # Errors
    /// [`Error::Checkpoint`]: [`NotACheckpoint`](CheckpointFault::NotACheckpoint) (other bytes
    /// than a checkpoint's magic), [`UnsupportedVersion`](CheckpointFault::UnsupportedVersion),
    /// [`Truncated`](CheckpointFault::Truncated), [`ChecksumMismatch`](CheckpointFault::ChecksumMismatch)
    /// (v2), or [`Corrupt`](CheckpointFault::Corrupt) when a section does not parse.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let fail = |fault, reason: String| Error::checkpoint(path, fault, reason);
        let format = match_magic(bytes).map_err(|(fault, reason)| fail(fault, reason))?;
        let body = match format {
            1 => &bytes[MAGIC_LEN..],
            _ => {
                let Some((length, _)) = bytes[MAGIC_LEN..].split_first_chunk::<8>() else {
                    return Err(fail(
                        CheckpointFault::Truncated,
                        format!("truncated in its header ({} bytes)", bytes.len()),
                    ));
                };
                let length = u64::from_le_bytes(*length);
                let actual = bytes.len() as u64;
                if actual < length {
                    return Err(fail(
                        CheckpointFault::Truncated,
                        format!("truncated: {actual} of the {length} bytes its header announces"),
                    ));
                }
                if actual > length {
                    return Err(fail(
                        CheckpointFault::Corrupt,
                        format!(
                            "{} unexpected bytes after the {length} its header announces",
                            actual - length
                        ),
                    ));
                }
                let (content, crc) = bytes.split_at(bytes.len() - 4);
                let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
                let computed = crc32fast::hash(content);
                if stored != computed {
                    return Err(fail(
                        CheckpointFault::ChecksumMismatch,
                        format!(
                            "checksum mismatch (stored {stored:08x}, computed {computed:08x}): \
                             the file changed after it was written"
                        ),
                    ));
                }
                &content[MAGIC_LEN + 8..]
            }
        };
        // In v2 the sections passed the length and checksum checks: a section overrunning
        // them is corruption (a writer bug), not truncation.
        let (overrun, what) = if format == 1 {
            (CheckpointFault::Truncated, "truncated")
        } else {
            (
                CheckpointFault::Corrupt,
                "corrupt sections (checksum matched)",
            )
        };
        let mut sections = Vec::with_capacity(3);
        let mut rest = body;
        for name in SECTIONS {
            let (len, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| fail(overrun, format!("{what}: the file ends before the {name}")))?;
            let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
            if tail.len() < len {
                return Err(fail(
                    overrun,
                    format!(
                        "{what}: the {name} announces {len} bytes, {} are left",
                        tail.len()
                    ),
                ));
            }
            let (section, tail) = tail.split_at(len);
            sections.push(section);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(fail(
                CheckpointFault::Corrupt,
                format!("{} unexpected bytes after the optimizer", rest.len()),
            ));
        }
        let state = serde_json::from_slice(sections[0])
            .map_err(|e| fail(CheckpointFault::Corrupt, format!("unreadable state: {e}")))?;
        Ok(Self {
            state,
            model: Bytes::from_bytes_vec(sections[1].to_vec()),
            optimizer: Bytes::from_bytes_vec(sections[2].to_vec()),
            format,
        })
    }

    /// Loads the saved weights into `model` (built from the same config).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the record does not parse
    /// ([`Corrupt`](CheckpointFault::Corrupt)) or does not fit the model
    /// ([`Mismatch`](CheckpointFault::Mismatch)).
    pub fn load_model<M: Module>(&self, model: M, path: &Path) -> Result<M> {
        let record = model_record(&self.model, path)?;
        model.try_load_record(record).map_err(|e| {
            Error::checkpoint(
                path,
                CheckpointFault::Mismatch,
                format!("the model does not fit: {e}"),
            )
        })
    }

    /// Loads the saved optimizer state into `optimizer` (built from the same config).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] ([`Corrupt`](CheckpointFault::Corrupt)) when the state cannot be
    /// read.
    pub fn load_optimizer(
        &self,
        optimizer: ModuleOptimizer,
        path: &Path,
    ) -> Result<ModuleOptimizer> {
        let bytes = self.optimizer.clone();
        catch_parser_panic(path, "optimizer state", move || optimizer.from_bytes(bytes))?.map_err(
            |e| {
                Error::checkpoint(
                    path,
                    CheckpointFault::Corrupt,
                    format!("unreadable optimizer state: {e}"),
                )
            },
        )
    }

    /// The method value of the run, when it is `M`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] ([`Mismatch`](CheckpointFault::Mismatch)) naming both methods when
    /// the checkpoint is of another method, ([`Corrupt`](CheckpointFault::Corrupt)) when its
    /// config does not parse.
    pub fn method<M: Method>(&self, path: &Path) -> Result<M> {
        if self.state.method != M::NAME {
            return Err(Error::checkpoint(
                path,
                CheckpointFault::Mismatch,
                format!(
                    "it is a {} run, not a {} one: resume it with the {} method",
                    self.state.method,
                    M::NAME,
                    self.state.method
                ),
            ));
        }
        serde_json::from_value(self.state.method_config.clone()).map_err(|e| {
            Error::checkpoint(
                path,
                CheckpointFault::Corrupt,
                format!("unreadable {} config: {e}", M::NAME),
            )
        })
    }
}

/// The format version of `bytes`' magic.
fn match_magic(bytes: &[u8]) -> std::result::Result<u32, (CheckpointFault, String)> {
    let head = &bytes[..bytes.len().min(MAGIC_LEN)];
    if head.len() < MAGIC_LEN {
        // A prefix of a magic: a checkpoint cut short (an empty file included).
        return if MAGIC_V2.starts_with(head) || MAGIC_V1.starts_with(head) {
            Err((
                CheckpointFault::Truncated,
                format!("truncated in its header ({} bytes)", bytes.len()),
            ))
        } else {
            Err((
                CheckpointFault::NotACheckpoint,
                "not a selfsup checkpoint (its first bytes differ)".into(),
            ))
        };
    }
    if head == MAGIC_V2 {
        return Ok(2);
    }
    if head == MAGIC_V1 {
        return Ok(1);
    }
    let version = head
        .strip_prefix(MAGIC_PREFIX)
        .and_then(|rest| rest.strip_suffix(b"\n"))
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u32>().ok());
    match version {
        Some(version) => Err((
            CheckpointFault::UnsupportedVersion,
            format!(
                "format v{version}, which this version of selfsup does not read (it reads v1 and \
                 v{CHECKPOINT_FORMAT}): a newer selfsup wrote it"
            ),
        )),
        None => Err((
            CheckpointFault::NotACheckpoint,
            "not a selfsup checkpoint (its first bytes differ)".into(),
        )),
    }
}

/// The model record of a checkpoint's model section.
fn model_record(bytes: &Bytes, path: &Path) -> Result<ModuleRecord> {
    let bytes = bytes.clone();
    catch_parser_panic(path, "model", move || ModuleRecord::from_bytes(bytes))?.map_err(|e| {
        Error::checkpoint(
            path,
            CheckpointFault::Corrupt,
            format!("unreadable model: {e}"),
        )
    })
}

/// Runs one of Burn's parsers, turning a panic on malformed input into an error: a v2 file
/// reaches them only with a matching checksum, but a v1 file has none.
fn catch_parser_panic<T>(path: &Path, what: &str, parse: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).map_err(|_| {
        Error::checkpoint(
            path,
            CheckpointFault::Corrupt,
            format!("unreadable {what} (its parser panicked)"),
        )
    })
}

/// A writer that computes the CRC-32 of what passes through it.
struct CrcWriter<'a> {
    inner: &'a mut dyn Write,
    crc: crc32fast::Hasher,
}

impl Write for CrcWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The path (`backbone.blocks.0.conv.weight`) of the first float tensor of `model` (parameters
/// and running state such as batch-norm statistics) holding a NaN or an infinity, `None` when
/// every value is finite. Reads the model back from the device once.
///
/// It checks what a checkpoint saves ([`Checkpoint::capture`]): the model through
/// [`valid`](Module::valid), which folds batch norm's pending running-statistics update into
/// the value. Burn's `RunningState` keeps a step's update pending until the next forward pass,
/// and a plain [`Module::visit`] reads the value before it: the check would be one update late,
/// and a checkpoint could save statistics poisoned by the last step.
pub fn first_non_finite_parameter<M: Module>(model: &M) -> Option<String> {
    let model = model.valid();
    struct Check {
        path: Vec<String>,
        names: Vec<String>,
        flags: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for Check {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if value.shape().num_elements() == 0 {
                return;
            }
            let bad = value.is_finite().bool_not().any().float();
            self.names.push(self.path.join("."));
            self.flags.push(bad);
        }
    }
    let mut check = Check {
        path: Vec::new(),
        names: Vec::new(),
        flags: Vec::new(),
    };
    model.visit(&mut check);
    if check.flags.is_empty() {
        return None;
    }
    let flags: Vec<f32> = Tensor::cat(check.flags, 0)
        .into_data()
        .iter::<f32>()
        .collect();
    flags
        .iter()
        .position(|&bad| bad != 0.0)
        .map(|i| check.names.swap_remove(i))
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
                CheckpointFault::Corrupt,
                format!("the {} run holds no encoder config", self.state.method),
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            Error::checkpoint(
                path,
                CheckpointFault::Mismatch,
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
    let record = model_record(&checkpoint.model, path)?.allow_unused(true);
    let shell = BackboneOnly {
        backbone: config.init(device),
    };
    let loaded = shell.try_load_record(record).map_err(|e| {
        Error::checkpoint(
            path,
            CheckpointFault::Mismatch,
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
