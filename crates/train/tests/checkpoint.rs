//! Checkpoint files: the v2 format's checksum catches overwritten bytes, truncated, garbage and
//! other-version files are errors saying which, a full disk during a write leaves the previous
//! checkpoint intact, and the reader survives fuzzing (proptest) without a panic.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor, TensorData};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use selfsup_data::ViewBatch;
use selfsup_models::{Backbone, BackboneConfig};
use selfsup_train::{
    CHECKPOINT_FORMAT, Checkpoint, CheckpointFault, ClassifierConfig, Error, Method, SimClrMethod,
    StepContext, StepOutput, SupervisedMethod, TrainData, Trainer, load_backbone,
};

use crate::support::device;
use crate::trainer::{config, dataset, single_view, ssl_data, tiny_backbone, tiny_simclr};

/// The bytes of a real checkpoint (a tiny SimCLR, one epoch of two steps), made once.
fn sample() -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let trainer = Trainer::new(tiny_simclr(), config(1, 8), &device())
            .unwrap()
            .with_out_dir(dir.path());
        trainer.fit(trainer.init_model(), &ssl_data(16)).unwrap();
        std::fs::read(dir.path().join("checkpoint.ckpt")).unwrap()
    })
}

/// The v1 fixture (an earlier version's checkpoint, without checksum).
fn v1_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/simsiam_v1.ckpt")
}

/// The offset and length of section `index` (0 state, 1 model, 2 optimizer) of a v2 file.
fn section(bytes: &[u8], index: usize) -> (usize, usize) {
    let mut at = 16 + 8;
    for _ in 0..index {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    (at + 8, len)
}

fn fault(err: &Error) -> Option<CheckpointFault> {
    match err {
        Error::Checkpoint { fault, .. } => Some(*fault),
        _ => None,
    }
}

fn parse(bytes: &[u8]) -> selfsup_train::Result<Checkpoint> {
    Checkpoint::parse(bytes, Path::new("fuzz.ckpt"))
}

#[test]
fn checkpoints_are_written_as_v2_and_read_back_identically() {
    let bytes = sample();
    assert_eq!(&bytes[..16], b"SELFSUP-CKPT-v2\n");
    assert_eq!(
        u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize,
        bytes.len(),
        "the header holds the file's length"
    );
    let checkpoint = parse(bytes).unwrap();
    assert_eq!(checkpoint.format(), CHECKPOINT_FORMAT);
    assert_eq!((checkpoint.state.epoch, checkpoint.state.step), (1, 2));
    // Encoded again, it reads back (the JSON of the history's f64 timings may differ in its
    // last bit: serde_json's parser is not exact; the losses are f32 and exact).
    let again = parse(&checkpoint.to_bytes()).unwrap();
    assert_eq!(
        again.state.history.step_losses,
        checkpoint.state.history.step_losses
    );
    let v1 = Checkpoint::read(&v1_fixture()).unwrap();
    assert_eq!(v1.format(), 1, "v1 files still load (without a checksum)");
    let rewritten = parse(&v1.to_bytes()).unwrap();
    assert_eq!(rewritten.format(), 2);
    assert_eq!(
        (rewritten.state.method.as_str(), rewritten.state.step),
        ("simsiam", v1.state.step)
    );
}

/// Before the checksum, four bytes overwritten inside the model record loaded silently and the
/// probe then ran on different weights.
#[test]
fn four_bytes_overwritten_inside_the_model_are_a_checksum_mismatch() {
    let bytes = sample();
    let (start, len) = section(bytes, 1);
    assert!(len > 64, "a model record of {len} bytes");
    let dir = tempfile::tempdir().unwrap();
    for offset in [start + len / 2, start + len - 4, start + 4] {
        let mut corrupt = bytes.to_vec();
        corrupt[offset..offset + 4].copy_from_slice(&[0x3f, 0x80, 0x00, 0x01]);
        assert_ne!(corrupt, bytes);
        let path = dir.path().join("flipped.ckpt");
        std::fs::write(&path, &corrupt).unwrap();
        for err in [
            Checkpoint::read(&path).unwrap_err(),
            load_backbone(&path, &device()).unwrap_err(),
        ] {
            assert_eq!(
                fault(&err),
                Some(CheckpointFault::ChecksumMismatch),
                "{err}"
            );
            let message = err.to_string();
            assert!(
                message.contains("checksum mismatch") && message.contains("flipped.ckpt"),
                "{message}"
            );
        }
    }
    // One flipped bit in the state (JSON) or the optimizer is caught as well.
    for index in [0, 2] {
        let (start, len) = section(bytes, index);
        let mut corrupt = bytes.to_vec();
        corrupt[start + len / 2] ^= 0x01;
        let err = parse(&corrupt).unwrap_err();
        assert_eq!(
            fault(&err),
            Some(CheckpointFault::ChecksumMismatch),
            "{err}"
        );
    }
}

#[test]
fn truncated_garbage_and_other_version_files_say_which() {
    let bytes = sample();
    for cut in [0, 1, 10, 16, 20, 24, bytes.len() / 2, bytes.len() - 1] {
        let err = parse(&bytes[..cut]).unwrap_err();
        assert_eq!(
            fault(&err),
            Some(CheckpointFault::Truncated),
            "{cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    for garbage in [
        &b"definitely not a checkpoint, but long enough"[..],
        b"PK\x03\x04 a zip file",
        b"x",
    ] {
        let err = parse(garbage).unwrap_err();
        assert_eq!(fault(&err), Some(CheckpointFault::NotACheckpoint), "{err}");
        assert!(
            err.to_string().contains("not a selfsup checkpoint"),
            "{err}"
        );
    }
    let mut newer = bytes.to_vec();
    newer[..16].copy_from_slice(b"SELFSUP-CKPT-v3\n");
    let err = parse(&newer).unwrap_err();
    assert_eq!(
        fault(&err),
        Some(CheckpointFault::UnsupportedVersion),
        "{err}"
    );
    assert!(
        err.to_string().contains("format v3") && err.to_string().contains("newer selfsup"),
        "{err}"
    );
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(b"tail");
    let err = parse(&longer).unwrap_err();
    assert_eq!(fault(&err), Some(CheckpointFault::Corrupt), "{err}");
    assert!(err.to_string().contains("4 unexpected bytes"), "{err}");
    // A missing file is an I/O error naming it.
    let err = Checkpoint::read(Path::new("/nonexistent/run/checkpoint.ckpt")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                kind: io::ErrorKind::NotFound,
                ..
            }
        ) && err.to_string().contains("/nonexistent/run/checkpoint.ckpt"),
        "{err}"
    );
}

/// Writes through to the temporary file until `budget` bytes are written, then fails as a full
/// disk does (or, with `zero`, accepts no more bytes, which `write_all` reports as `WriteZero`).
struct FullDisk {
    file: std::fs::File,
    budget: usize,
    zero: bool,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return if self.zero {
                Ok(0)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device (injected)",
                ))
            };
        }
        let n = buf.len().min(self.budget);
        self.file.write_all(&buf[..n])?;
        self.budget -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[test]
fn a_full_disk_during_a_checkpoint_write_leaves_the_previous_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    let previous = parse(sample()).unwrap();
    previous.write(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert_eq!(&before[..16], b"SELFSUP-CKPT-v2\n");

    // The next checkpoint (a later position) fails at several points of its write.
    let mut next = previous.clone();
    next.state.step += 1;
    let total = next.to_bytes().len();
    for (budget, zero) in [
        (0, false),
        (10, false),
        (total / 2, false),
        (total - 1, false),
        (total / 3, true),
    ] {
        let err = next
            .write_with(&path, |tmp| {
                Ok(Box::new(FullDisk {
                    file: std::fs::File::create(tmp)?,
                    budget,
                    zero,
                }))
            })
            .unwrap_err();
        let expected = if zero {
            io::ErrorKind::WriteZero
        } else {
            io::ErrorKind::StorageFull
        };
        match &err {
            Error::Io {
                path: named, kind, ..
            } => {
                assert_eq!(named, &path, "the error names the checkpoint");
                assert_eq!(*kind, expected, "{err}");
            }
            other => panic!("expected an I/O error, got {other}"),
        }
        assert!(
            err.to_string().contains("cannot write checkpoint")
                && err.to_string().contains("checkpoint.ckpt"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "after failing at byte {budget}, the previous checkpoint is byte-identical"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            ["checkpoint.ckpt"],
            "no temporary file is left behind"
        );
    }
    assert_eq!(
        Checkpoint::read(&path).unwrap().state.step,
        previous.state.step
    );
    // With room on the disk, the same writer replaces it.
    next.write_with(&path, |tmp| {
        Ok(Box::new(FullDisk {
            file: std::fs::File::create(tmp)?,
            budget: usize::MAX,
            zero: false,
        }))
    })
    .unwrap();
    assert_eq!(Checkpoint::read(&path).unwrap().state.step, next.state.step);
}

/// Before: serde_json wrote a NaN as `null`, which the `f64` field refused to read (and an
/// `Option<f64>` read as `None`): every checkpoint after a NaN metric failed to load.
#[test]
fn non_finite_history_values_are_saved_and_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    let mut checkpoint = parse(sample()).unwrap();
    let history = &mut checkpoint.state.history;
    history.step_losses.push(f32::NAN);
    let record = &mut history.epochs[0];
    record.loss = f64::INFINITY;
    record.lr = f64::NEG_INFINITY;
    record.seconds = f64::NAN;
    record.embedding_std = Some(f64::NAN);
    record.knn_top1 = Some(f64::NAN);
    record.online_linear_top1 = Some(f64::INFINITY);
    record.metrics.insert("diverged".into(), f64::NAN);
    checkpoint.write(&path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let (start, len) = section(&bytes, 0);
    let json = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    for written in [
        r#""loss":"inf""#,
        r#""lr":"-inf""#,
        r#""knn_top1":"NaN""#,
        r#""diverged":"NaN""#,
    ] {
        assert!(json.contains(written), "{written} in {json}");
    }
    let back = Checkpoint::read(&path).unwrap();
    let history = &back.state.history;
    assert!(history.step_losses.last().unwrap().is_nan());
    let record = &history.epochs[0];
    assert_eq!((record.loss, record.lr), (f64::INFINITY, f64::NEG_INFINITY));
    assert!(record.seconds.is_nan());
    for value in [record.embedding_std, record.knn_top1] {
        assert!(value.is_some_and(f64::is_nan), "{value:?}: NaN, not None");
    }
    assert_eq!(record.online_linear_top1, Some(f64::INFINITY));
    assert!(record.metrics["diverged"].is_nan());
    // Finite values are numbers, as before.
    assert_eq!(
        history.step_losses[..history.step_losses.len() - 1],
        checkpoint.state.history.step_losses[..history.step_losses.len() - 1]
    );
}

/// A state JSON cannot hold (a NaN where serde_json writes `null` into a float field, here the
/// training config's LR) is refused before anything is written: a checkpoint that was written
/// always loads.
#[test]
fn a_state_that_would_not_read_back_is_refused_before_the_rename() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    let previous = parse(sample()).unwrap();
    previous.write(&path).unwrap();
    let before = std::fs::read(&path).unwrap();

    let mut next = previous.clone();
    next.state.step += 1;
    next.state.training.lr = f64::NAN;
    let err = next.write(&path).unwrap_err();
    match &err {
        Error::Io {
            path: named, kind, ..
        } => {
            assert_eq!(named, &path, "the error names the checkpoint");
            assert_eq!(*kind, io::ErrorKind::InvalidData, "{err}");
        }
        other => panic!("expected an I/O error, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot write checkpoint {}: it would not read back, so nothing was written: its \
             state: `training.lr`: invalid type: null, expected f64",
            path.display()
        )) && message.ends_with("(JSON writes a NaN or an infinity as null)"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the previous checkpoint is byte-identical"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["checkpoint.ckpt"],
        "no temporary file is left behind"
    );
    assert_eq!(
        Checkpoint::read(&path).unwrap().state.step,
        previous.state.step
    );
}

/// A supervised method that also logs a NaN and an infinite metric every step.
#[derive(serde::Serialize, serde::Deserialize)]
struct NonFiniteMetrics(SupervisedMethod);

impl Method for NonFiniteMetrics {
    type EncoderConfig = BackboneConfig;
    type Model = selfsup_train::Classifier;
    const NAME: &'static str = "non-finite-metrics";

    fn init_model(&self, device: &Device) -> Self::Model {
        self.0.init_model(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> selfsup_train::Result<StepOutput> {
        let mut out = self.0.step(model, batch, ctx)?;
        for (name, value) in [("diverged", f32::NAN), ("overflow", f32::INFINITY)] {
            let value = Tensor::from_data(TensorData::new(vec![value], [1]), ctx.device);
            out.metrics.push((name.to_string(), value));
        }
        Ok(out)
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        self.0.backbone_config()
    }
}

/// Before: the first epoch's checkpoint held `"diverged": null` and could not be loaded (nor
/// `history.json`), so the run could not be resumed.
#[test]
fn a_run_logging_a_nan_metric_saves_loads_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    let method = || {
        NonFiniteMetrics(SupervisedMethod::new(ClassifierConfig::new(
            tiny_backbone(),
            10,
        )))
    };
    let data = TrainData::new(dataset(16, 10, false), single_view());
    let first = Trainer::new(method(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .stop_after_steps(3);
    let cut = first.fit(first.init_model(), &data).unwrap();
    assert_eq!(cut.checkpoint.as_deref(), Some(path.as_path()));
    let saved = Checkpoint::read(&path).unwrap();
    assert_eq!(saved.state.step, 2);
    let metrics = &saved.state.history.epochs[0].metrics;
    assert!(metrics["diverged"].is_nan(), "{metrics:?}");
    assert_eq!(metrics["overflow"], f64::INFINITY);

    let resumed = Trainer::new(method(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .resume(&path, &data)
        .unwrap();
    assert!(resumed.finished);
    let saved = Checkpoint::read(&path).unwrap();
    let history: selfsup_train::History =
        serde_json::from_slice(&std::fs::read(dir.path().join("history.json")).unwrap()).unwrap();
    for history in [&saved.state.history, &resumed.history, &history] {
        assert_eq!(history.epochs.len(), 2);
        for record in &history.epochs {
            assert!(record.metrics["diverged"].is_nan());
            assert_eq!(record.metrics["overflow"], f64::INFINITY);
        }
    }
}

#[test]
fn a_run_directory_holds_no_temporary_files_and_its_json_parses() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(
        tiny_simclr(),
        selfsup_train::TrainingConfig {
            checkpoint_every: Some(1),
            ..config(2, 8)
        },
        &device(),
    )
    .unwrap()
    .with_out_dir(dir.path());
    trainer.fit(trainer.init_model(), &ssl_data(16)).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "checkpoint.ckpt",
            "config.json",
            "history.json",
            "train.log"
        ]
    );
    for name in ["config.json", "history.json"] {
        let text = std::fs::read(dir.path().join(name)).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).unwrap();
    }
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert!(log.ends_with('\n') && log.lines().count() >= 3, "{log}");
}

/// A deterministic proptest runner (the same cases on every run, so a failure reproduces).
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn fuzz_random_bytes_are_typed_errors() {
    let mut runner = runner(2000);
    let magic = prop_oneof![
        Just(Vec::new()),
        Just(b"SELFSUP-CKPT-v2\n".to_vec()),
        Just(b"SELFSUP-CKPT-v1\n".to_vec()),
        Just(b"SELFSUP-CKPT-v".to_vec()),
    ];
    runner
        .run(
            &(magic, proptest::collection::vec(any::<u8>(), 0..2048)),
            |(magic, tail)| {
                let bytes = [magic, tail].concat();
                let err = parse(&bytes).expect_err("random bytes are not a checkpoint");
                prop_assert!(fault(&err).is_some(), "{}", err);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn fuzz_a_checkpoint_cut_anywhere_is_truncated() {
    let bytes = sample();
    let mut runner = runner(2000);
    runner
        .run(&(0..bytes.len()), |cut| {
            let err = parse(&bytes[..cut]).expect_err("a cut checkpoint");
            prop_assert_eq!(fault(&err), Some(CheckpointFault::Truncated), "{}", err);
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_flipped_bytes_anywhere_are_typed_errors() {
    let bytes = sample();
    let mut runner = runner(3000);
    let flips = proptest::collection::vec((0..bytes.len(), 1u8..=255), 1..6);
    runner
        .run(&flips, |flips| {
            let mut corrupt = bytes.to_vec();
            for (at, mask) in flips {
                corrupt[at] ^= mask;
            }
            let err = parse(&corrupt).expect_err("a corrupted checkpoint");
            // Most flips are checksum mismatches; flips in the magic or the length field are
            // "not a checkpoint", "another version", "truncated" or "unexpected bytes".
            prop_assert!(fault(&err).is_some(), "{}", err);
            Ok(())
        })
        .unwrap();
}

/// With a matching checksum over random sections, the section parsers (lengths, JSON) see the
/// garbage: still typed errors.
#[test]
fn fuzz_random_sections_under_a_valid_checksum_are_typed_errors() {
    let mut runner = runner(1000);
    let sections = proptest::collection::vec(any::<u8>(), 0..512);
    runner
        .run(&sections, |body| {
            let length = 16 + 8 + body.len() + 4;
            let mut bytes = b"SELFSUP-CKPT-v2\n".to_vec();
            bytes.extend_from_slice(&(length as u64).to_le_bytes());
            bytes.extend_from_slice(&body);
            let crc = crc32(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
            let err = parse(&bytes).expect_err("random sections");
            prop_assert_eq!(fault(&err), Some(CheckpointFault::Corrupt), "{}", err);
            Ok(())
        })
        .unwrap();
}

/// v1 files have no checksum: flipped bytes reach the JSON and Burn's record parsers, and
/// loading the backbone must still end in a value or a typed error, never a panic.
#[test]
fn fuzz_flipped_v1_files_never_panic() {
    let bytes = std::fs::read(v1_fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.ckpt");
    let mut runner = runner(300);
    let flips = proptest::collection::vec((16..bytes.len(), 1u8..=255), 1..4);
    runner
        .run(&flips, |flips| {
            let mut corrupt = bytes.clone();
            for (at, mask) in flips {
                corrupt[at] ^= mask;
            }
            std::fs::write(&path, &corrupt).unwrap();
            if let Err(err) = load_backbone(&path, &device()) {
                prop_assert!(fault(&err).is_some(), "{}", err);
            }
            Ok(())
        })
        .unwrap();
}

/// CRC-32 (IEEE), bit by bit: an independent transcription of the checksum the format uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_checksum_is_the_ieee_crc32_of_every_byte_before_it() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the CRC-32 check value");
    let bytes = sample();
    let (content, stored) = bytes.split_at(bytes.len() - 4);
    assert_eq!(
        u32::from_le_bytes(stored.try_into().unwrap()),
        crc32(content)
    );
}

/// A v2 file of these three sections (state, model, optimizer), its length and checksum right.
fn frame(sections: [&[u8]; 3]) -> Vec<u8> {
    let length = 16 + 8 + sections.iter().map(|s| 8 + s.len()).sum::<usize>() + 4;
    let mut bytes = b"SELFSUP-CKPT-v2\n".to_vec();
    bytes.extend_from_slice(&(length as u64).to_le_bytes());
    for section in sections {
        bytes.extend_from_slice(&(section.len() as u64).to_le_bytes());
        bytes.extend_from_slice(section);
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// What is done to one section of a real checkpoint.
#[derive(Debug, Clone)]
enum Mutation {
    /// Bytes XORed at these offsets (fractions of the section, the first `head` bytes only when
    /// `head` is set: a record's header and metadata, where its lengths live).
    Flip {
        at: Vec<(proptest::sample::Index, u8)>,
        head: Option<usize>,
    },
    /// Cut to a fraction of its length.
    Truncate(proptest::sample::Index),
    /// Eight bytes overwritten by a little-endian `u64` (a length or an offset gone wrong).
    Word {
        at: proptest::sample::Index,
        head: Option<usize>,
        value: u64,
    },
    /// Junk appended.
    Append(Vec<u8>),
    /// (The state only.) A JSON value somewhere in the state replaced by another of a wrong
    /// type or an out-of-range number.
    Replace {
        at: proptest::sample::Index,
        with: &'static str,
    },
    /// (The state only.) A key removed from an object, or an unknown one added.
    Key {
        at: proptest::sample::Index,
        remove: bool,
    },
}

/// JSON texts that replace a value of the state: wrong types, numbers out of every range.
const REPLACEMENTS: &[&str] = &[
    "null",
    "true",
    "\"NaN\"",
    "\"not a number\"",
    "-1",
    "0",
    "1e400",
    "-1e400",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1e19",
    "4294967296",
    "0.5",
    "-0.0",
    "[]",
    "{}",
    "[1, 2, 3]",
    "{\"kind\": \"lars\"}",
];

fn mutation(json: bool) -> BoxedStrategy<Mutation> {
    let index = any::<proptest::sample::Index>;
    let head = prop_oneof![Just(None), (16usize..512).prop_map(Some)];
    let word = prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1 << 40),
        Just(0),
        1u64..1 << 20,
        any::<u64>(),
    ];
    let bytes = prop_oneof![
        (
            proptest::collection::vec((index(), 1u8..=255), 1..8),
            head.clone()
        )
            .prop_map(|(at, head)| Mutation::Flip { at, head }),
        index().prop_map(Mutation::Truncate),
        (index(), head, word).prop_map(|(at, head, value)| Mutation::Word { at, head, value }),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
    ];
    if json {
        prop_oneof![
            2 => bytes,
            3 => (index(), proptest::sample::select(REPLACEMENTS))
                .prop_map(|(at, with)| Mutation::Replace { at, with }),
            1 => (index(), any::<bool>()).prop_map(|(at, remove)| Mutation::Key { at, remove }),
        ]
        .boxed()
    } else {
        bytes.boxed()
    }
}

/// The JSON pointers of every value in `value` (the root excluded).
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &serde_json::Value)> = match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    v,
                )
            })
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{at}/{i}"), v))
            .collect(),
        _ => Vec::new(),
    };
    for (pointer, child) in children {
        out.push(pointer.clone());
        pointers(child, pointer, out);
    }
}

fn apply(section: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut bytes = section.to_vec();
    let span = |head: &Option<usize>| head.map_or(bytes.len(), |h| h.min(bytes.len())).max(1);
    match mutation {
        Mutation::Flip { at, head } => {
            let span = span(head);
            for (i, mask) in at {
                let i = i.index(span);
                if i < bytes.len() {
                    bytes[i] ^= mask;
                }
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len().max(1))),
        Mutation::Word { at, head, value } => {
            let span = span(head).saturating_sub(8).max(1);
            let i = at.index(span);
            let end = (i + 8).min(bytes.len());
            bytes[i..end].copy_from_slice(&value.to_le_bytes()[..end - i]);
        }
        Mutation::Append(junk) => bytes.extend_from_slice(junk),
        Mutation::Replace { at, with } => {
            let mut value: serde_json::Value = serde_json::from_slice(section).unwrap();
            let mut all = Vec::new();
            pointers(&value, String::new(), &mut all);
            const MARK: &str = "@@replaced@@";
            *value.pointer_mut(&all[at.index(all.len())]).unwrap() = MARK.into();
            bytes = serde_json::to_string(&value)
                .unwrap()
                .replace(&format!("\"{MARK}\""), with)
                .into_bytes();
        }
        Mutation::Key { at, remove } => {
            let mut value: serde_json::Value = serde_json::from_slice(section).unwrap();
            let mut all = vec![String::new()];
            pointers(&value, String::new(), &mut all);
            all.retain(|p| value.pointer(p).is_some_and(serde_json::Value::is_object));
            let object = value
                .pointer_mut(&all[at.index(all.len())])
                .and_then(serde_json::Value::as_object_mut)
                .unwrap();
            if *remove {
                if let Some(key) = object.keys().next().cloned() {
                    object.remove(&key);
                }
            } else {
                object.insert("unknown_field".into(), 1.into());
            }
            bytes = serde_json::to_vec(&value).unwrap();
        }
    }
    bytes
}

/// What a reader said about a fuzzed section: its verdict (`Ok`, or the fault and the start of
/// the reason), or `None` when it was never asked.
type Verdict = Option<std::result::Result<(), (CheckpointFault, String)>>;

fn verdict<T>(
    result: selfsup_train::Result<T>,
) -> std::result::Result<(), (CheckpointFault, String)> {
    match result {
        Ok(_) => Ok(()),
        Err(Error::Checkpoint {
            fault,
            reason,
            path,
        }) => {
            assert_eq!(path, Path::new("fuzz.ckpt"));
            Err((fault, reason))
        }
        Err(other) => panic!("not a checkpoint error: {other}"),
    }
}

/// Reads `bytes` as `Trainer::resume` and `load_backbone` do: the file, the method and encoder
/// configs, the model into the sample's SimCLR, the optimizer state. Each step either succeeds
/// or is a typed `Error::Checkpoint`; never a panic.
fn read_all(bytes: &[u8]) -> [Verdict; 3] {
    let path = Path::new("fuzz.ckpt");
    let checkpoint = match Checkpoint::parse(bytes, path) {
        Ok(checkpoint) => checkpoint,
        Err(err) => return [Some(verdict::<()>(Err(err))), None, None],
    };
    // Configs that parse as JSON but not as this method's are `Corrupt` or `Mismatch`.
    let _ = verdict(checkpoint.method::<SimClrMethod>(path));
    let _ = verdict(checkpoint.encoder_config::<BackboneConfig>(path));
    let model = verdict(checkpoint.load_model(tiny_simclr().init_model(&device()), path));
    let optimizer =
        verdict(checkpoint.load_optimizer(config(1, 8).optimizer.init().unwrap(), path));
    [Some(Ok(())), Some(model), Some(optimizer)]
}

/// Structurally valid files (the right lengths, the checksum recomputed) whose state, model or
/// optimizer section is corrupted: random bytes, cuts, overwritten lengths, junk appended, and,
/// in the state, JSON values of the wrong type, numbers out of range, keys missing or unknown.
/// Every file passes the framing checks and reaches its section's parser (counted: before, a
/// random length prefix almost never fitted, so the JSON and record parsers never saw the
/// garbage), which accepts it or refuses it with a typed error; never a panic.
#[test]
fn fuzz_corrupt_sections_under_valid_framing_reach_their_parsers() {
    let bytes = sample();
    let sections: Vec<&[u8]> = (0..3)
        .map(|i| {
            let (start, len) = section(bytes, i);
            &bytes[start..start + len]
        })
        .collect();
    // Per section: (cases, refused by its parser, accepted by it).
    let mut counts = [(0usize, 0usize, 0usize); 3];
    let mut reasons = std::collections::BTreeSet::new();
    for (target, cases) in [(0, 600), (1, 300), (2, 300)] {
        let mut runner = runner(cases);
        let (seen, refused, accepted) = (
            std::cell::Cell::new(0),
            std::cell::Cell::new(0),
            std::cell::Cell::new(0),
        );
        let found = std::cell::RefCell::new(std::collections::BTreeSet::new());
        runner
            .run(&mutation(target == 0), |m| {
                let mut parts = [
                    sections[0].to_vec(),
                    sections[1].to_vec(),
                    sections[2].to_vec(),
                ];
                parts[target] = apply(sections[target], &m);
                let file = frame([&parts[0], &parts[1], &parts[2]]);
                let verdicts = read_all(&file);
                // The other sections are intact: the mutated one decides.
                for (i, v) in verdicts.iter().enumerate().take(target) {
                    prop_assert_eq!(v, &Some(Ok(())), "section {} is intact: {:?}", i, m);
                }
                let Some(v) = &verdicts[target] else {
                    return Err(TestCaseError::fail(format!(
                        "never reached section {target}"
                    )));
                };
                seen.set(seen.get() + 1);
                match v {
                    Ok(()) => accepted.set(accepted.get() + 1),
                    Err((fault, reason)) => {
                        let expected = [
                            "unreadable state",
                            "unreadable model",
                            "unreadable optimizer",
                        ];
                        prop_assert!(
                            reason.starts_with(expected[target])
                                || (target == 1 && *fault == CheckpointFault::Mismatch),
                            "section {}: {:?} {} ({:?})",
                            target,
                            fault,
                            reason,
                            m
                        );
                        prop_assert!(
                            *fault == CheckpointFault::Corrupt
                                || *fault == CheckpointFault::Mismatch
                        );
                        refused.set(refused.get() + 1);
                        found.borrow_mut().insert(format!(
                            "{target}: {fault:?} {}",
                            reason.chars().take(60).collect::<String>()
                        ));
                    }
                }
                Ok(())
            })
            .unwrap();
        counts[target] = (seen.get(), refused.get(), accepted.get());
        reasons.extend(found.into_inner());
    }
    eprintln!("cases, refused, accepted per section (state, model, optimizer): {counts:?}");
    for reason in &reasons {
        eprintln!("  {reason}");
    }
    for (target, &(seen, refused, accepted)) in counts.iter().enumerate() {
        assert_eq!(
            seen,
            [600, 300, 300][target],
            "every case reached its parser"
        );
        assert!(
            refused * 4 >= seen,
            "section {target}: a quarter refused at least: {counts:?}"
        );
        assert!(
            accepted * 20 >= seen,
            "section {target}: some accepted: {counts:?}"
        );
    }
}
