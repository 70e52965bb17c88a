//! The training program killed at random moments (SIGKILL: no chance to clean up, sometimes in
//! the middle of a checkpoint write) and resumed each time ends exactly where an uninterrupted
//! run ends; SIGTERM stops it cleanly with a checkpoint and the command that resumes it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use selfsup::burn::tensor::Device;
use selfsup::train::{History, load_backbone};

mod common;
use common::fake_cifar10;

/// `selfsup pretrain simsiam` on `data` into `out`, fresh or resumed.
fn pretrain(data: &Path, out: &Path, resume: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfsup"));
    command.args([
        "pretrain",
        "simsiam",
        "--device",
        "flex",
        "--backbone",
        "small-cnn",
    ]);
    command.args([
        "--limit",
        "200",
        "--batch-size",
        "20",
        "--epochs",
        "3",
        "--seed",
        "7",
    ]);
    command.args(["--workers", "1", "--checkpoint-every", "1", "--data-dir"]);
    command.arg(data).arg("--out-dir").arg(out);
    if resume {
        command.arg("--resume").arg(out);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn history(out: &Path) -> History {
    serde_json::from_slice(&std::fs::read(out.join("history.json")).unwrap()).unwrap()
}

/// Every value of the run's encoder, in order.
fn encoder_values(out: &Path) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let loaded = load_backbone(&out.join("checkpoint.ckpt"), &device).unwrap();
    // The features of fixed inputs depend on every weight and running statistic.
    let inputs = selfsup::burn::tensor::Tensor::<4>::ones([2, 3, 32, 32], &device);
    let features = loaded.backbone.forward_features(inputs);
    vec![
        features
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap(),
    ]
}

fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "the run did not end in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temporary directory with the data and an uninterrupted reference run in it.
fn data_and_reference() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let reference = tmp.path().join("reference");
    let out = pretrain(&data, &reference, false).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, data, reference)
}

#[test]
fn killed_at_random_moments_and_resumed_it_ends_as_an_uninterrupted_run() {
    let (tmp, data, reference) = data_and_reference();
    let expected = history(&reference);
    assert_eq!(expected.step_losses.len(), 30);

    let run = tmp.path().join("killed");
    // Five kills at times from a fixed sequence, 1 to 6 s after each start (the program reads
    // its data in about a second, then checkpoints after every step), then a run to the end.
    let mut state = 0x5eed_u64;
    let mut kills = 0;
    loop {
        let resume = run.join("checkpoint.ckpt").exists();
        let mut child = pretrain(&data, &run, resume).spawn().unwrap();
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        let delay = match kills {
            5 => Duration::from_secs(600),
            _ => Duration::from_millis(1000 + (state >> 33) % 5000),
        };
        let started = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
                assert!(status.success(), "{stderr}");
                break true;
            }
            if started.elapsed() >= delay {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                break false;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if finished {
            break;
        }
    }
    assert!(
        kills >= 3,
        "only {kills} kills: the runs were too short to test anything"
    );
    let got = history(&run);
    assert_eq!(got.step_losses, expected.step_losses, "after {kills} kills");
    assert_eq!(encoder_values(&run), encoder_values(&reference));
    let leftovers: Vec<PathBuf> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    // A kill inside a write can leave a temporary file; it is never read as a checkpoint, and
    // the next write replaces it.
    assert!(leftovers.len() <= 1, "{leftovers:?}");
}

#[test]
fn sigterm_stops_cleanly_with_a_checkpoint_and_the_resume_command() {
    let (tmp, data, reference) = data_and_reference();

    let run = tmp.path().join("stopped");
    let mut child = pretrain(&data, &run, false).spawn().unwrap();
    // Wait for the first checkpoint, so that the signal lands mid-run.
    let started = Instant::now();
    while !run.join("checkpoint.ckpt").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait(&mut child, Duration::from_secs(120));
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopped after step"), "{stderr}");
    assert!(
        stderr.contains(&format!("--resume {}", run.display())),
        "{stderr}"
    );
    let stopped = history(&run);
    assert!(
        stopped.step_losses.len() < 30,
        "it stopped early: {}",
        stopped.step_losses.len()
    );

    let out = pretrain(&data, &run, true).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(history(&run).step_losses, history(&reference).step_losses);
    assert_eq!(encoder_values(&run), encoder_values(&reference));
}
