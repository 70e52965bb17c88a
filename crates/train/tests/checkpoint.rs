//! Checkpoint files: the v2 format's checksum catches overwritten bytes, truncated, garbage and
//! other-version files are errors saying which, a full disk during a write leaves the previous
//! checkpoint intact, and the reader survives fuzzing (proptest) without a panic.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor, TensorData};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use selfsup_data::ViewBatch;
use selfsup_models::{Backbone, BackboneConfig};
use selfsup_train::{
    CHECKPOINT_FORMAT, Checkpoint, CheckpointFault, ClassifierConfig, Error, Method, StepContext,
    StepOutput, SupervisedMethod, TrainData, Trainer, load_backbone,
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
