//! The checkpoint reader on arbitrary bytes: `Checkpoint::parse`, then the state's method and
//! encoder configs, the model record (loaded into the fixture's SimSiam) and the optimizer
//! state. An input starting with the v2 magic gets its length field and its CRC-32 fixed up
//! first, so that the fuzzer, which would hardly ever guess a checksum, reaches the section
//! parsers (the JSON state and Burn's burnpack records) instead of stopping at
//! `ChecksumMismatch`; v1 inputs have no checksum to fix. Every input ends in a checkpoint that
//! loads or a typed `Error::Checkpoint`; a panic that escapes the reader, or any other error, is
//! a crash.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use burn::tensor::Device;
use libfuzzer_sys::fuzz_target;
use selfsup_models::BackboneConfig;
use selfsup_train::{Checkpoint, Error, Method, OptimizerConfig, SimSiamMethod};

/// The v1 fixture of the train tests: its model and optimizer config are what fuzzed records
/// are loaded into (built once, whatever size a fuzzed config asks for).
const FIXTURE: &[u8] = include_bytes!("../../crates/train/tests/golden/simsiam_v1.ckpt");

struct Target {
    model: <SimSiamMethod as Method>::Model,
    optimizer: OptimizerConfig,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        // libfuzzer-sys's panic hook aborts at any panic, even one that `load_model` and
        // `load_optimizer` catch and turn into `unreadable … (its parser panicked)` (Burn's
        // optimizer parser panics on a record claiming a tensor of rank 9, for one). Back to
        // the default hook: a panic that escapes the reader still aborts (libfuzzer-sys catches
        // it at the target's boundary), one the reader guards is the error it becomes.
        drop(std::panic::take_hook());
        let path = Path::new("simsiam_v1.ckpt");
        let fixture = Checkpoint::parse(FIXTURE, path).expect("the fixture parses");
        let method: SimSiamMethod = fixture.method(path).expect("the fixture is a simsiam run");
        Target {
            model: method.init_model(&Device::flex()),
            optimizer: fixture.state.training.optimizer.clone(),
        }
    })
}

/// `data`, with a v2 header's length and checksum made to match.
fn fix_up(data: &[u8]) -> Vec<u8> {
    let mut bytes = data.to_vec();
    if bytes.starts_with(b"SELFSUP-CKPT-v2\n") && bytes.len() >= 16 + 8 + 4 {
        let len = bytes.len();
        bytes[16..24].copy_from_slice(&(len as u64).to_le_bytes());
        let crc = crc32fast::hash(&bytes[..len - 4]);
        bytes[len - 4..].copy_from_slice(&crc.to_le_bytes());
    }
    bytes
}

fn typed<T>(result: selfsup_train::Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(Error::Checkpoint { path, .. }) => {
            assert_eq!(path, Path::new("fuzz.ckpt"), "the error names the file");
            None
        }
        Err(other) => panic!("not a checkpoint error: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let target = target();
    let path = Path::new("fuzz.ckpt");
    let Some(checkpoint) = typed(Checkpoint::parse(&fix_up(data), path)) else {
        return;
    };
    typed(checkpoint.method::<SimSiamMethod>(path));
    typed(checkpoint.encoder_config::<BackboneConfig>(path));
    typed(checkpoint.load_model(target.model.clone(), path));
    let optimizer = target
        .optimizer
        .init()
        .expect("the fixture's optimizer config is valid");
    typed(checkpoint.load_optimizer(optimizer, path));
});
