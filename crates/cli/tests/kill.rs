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

/// `selfsup pretrain <method>` on `data` into `out`, from the first step: 30 steps of 20
/// images, a checkpoint after every step.
fn pretrain(method: &str, data: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfsup"));
    command.args([
        "pretrain",
        method,
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
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// `selfsup pretrain --resume <run>`, with no other flag: the run's own are read back.
fn resume(run: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfsup"));
    command.args(["pretrain", "--resume"]).arg(run);
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

/// A temporary directory with the data and an uninterrupted reference run of `method` in it.
fn data_and_reference(method: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let reference = tmp.path().join("reference");
    let out = pretrain(method, &data, &reference).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, data, reference)
}

/// The step of the checkpoint in `run`, when there is one that reads.
fn checkpoint_step(run: &Path) -> Option<usize> {
    selfsup::train::Checkpoint::read(&run.join("checkpoint.ckpt"))
        .ok()
        .map(|c| c.state.step)
}

/// A temporary file of an atomic write is in `run` (a write in progress, or one a kill cut).
fn writing(run: &Path) -> bool {
    std::fs::read_dir(run).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "tmp"))
    })
}

/// Kills `method`'s run with SIGKILL at random moments and resumes it each time with
/// `pretrain --resume RUN` alone: at least five kills, of which at least one inside a checkpoint
/// write, each process verified to have made progress and each resume to continue (the
/// checkpoint's step only grows; the log says `resuming` once per resume, `training` once); the end equals an uninterrupted
/// run's per-step losses and encoder. The moments come from a seed printed in every failure
/// message (`SELFSUP_KILL_SEED` replays one).
fn killed_and_resumed(method: &str) {
    let seed: u64 = match std::env::var("SELFSUP_KILL_SEED") {
        Ok(seed) => seed.parse().expect("SELFSUP_KILL_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    let (tmp, data, reference) = data_and_reference(method);
    let expected = history(&reference);
    assert_eq!(expected.step_losses.len(), 30);

    let run = tmp.path().join("killed");
    let mut state = seed;
    let mut random = |below: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % below
    };
    let (mut kills, mut in_writes, mut resumes) = (0, 0, 0);
    let mut last_step = 0;
    let modified = |run: &Path| {
        std::fs::metadata(run.join("checkpoint.ckpt"))
            .and_then(|m| m.modified())
            .ok()
    };
    loop {
        let resuming = checkpoint_step(&run).is_some();
        let written_before = modified(&run);
        let mut child = match resuming {
            true => resume(&run),
            false => pretrain(method, &data, &run),
        }
        .spawn()
        .unwrap();
        resumes += usize::from(resuming);
        // Each process is killed once it has written a checkpoint of its own (so that every
        // resume is seen to make progress, however slow the machine), at a random moment 0 to
        // 1.5 s after that; every other kill then waits for a checkpoint write in progress and
        // lands inside it. After five kills with at least one inside a write, the run goes to
        // its end.
        let done_killing = kills >= 5 && in_writes >= 1;
        let delay = Duration::from_millis(random(1500));
        let inside_write = kills % 2 == 1;
        let started = Instant::now();
        let mut progressed: Option<Instant> = None;
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
                assert!(status.success(), "seed {seed}: {stderr}");
                break true;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "seed {seed}: a run did not end in 10 minutes"
            );
            if progressed.is_none() && modified(&run) != written_before {
                progressed = Some(Instant::now());
            }
            if !done_killing
                && let Some(since) = progressed
                && since.elapsed() >= delay
                && (!inside_write
                    || writing(&run)
                    || since.elapsed() >= delay + Duration::from_secs(20))
            {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                // The write's temporary file outlives a kill that landed inside it.
                in_writes += usize::from(writing(&run));
                break false;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let step = checkpoint_step(&run).expect("every process wrote a checkpoint");
        // A resume continues: a restarted run would go back to its first steps.
        assert!(
            step > last_step || (finished && step >= last_step),
            "seed {seed}: the checkpoint went from step {last_step} to {step}"
        );
        last_step = step;
        if finished {
            break;
        }
        assert!(
            kills < 40,
            "seed {seed}: no kill landed inside a write in 40"
        );
    }
    // The run started once; every later start resumed it and said where from.
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert_eq!(log.matches("training ").count(), 1, "seed {seed}: {log}");
    assert_eq!(
        log.matches("resuming ").count(),
        resumes,
        "seed {seed}: {log}"
    );
    assert!(resumes >= 5, "seed {seed}: {resumes} resumes");
    let got = history(&run);
    assert_eq!(
        got.step_losses, expected.step_losses,
        "seed {seed}: after {kills} kills, {in_writes} inside a write"
    );
    assert_eq!(
        encoder_values(&run),
        encoder_values(&reference),
        "seed {seed}"
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    // A kill inside a write can leave a temporary file; it is never read as a checkpoint, and
    // the next write replaces it.
    assert!(leftovers.len() <= 1, "seed {seed}: {leftovers:?}");
}

#[test]
fn killed_at_random_moments_and_resumed_it_ends_as_an_uninterrupted_run() {
    killed_and_resumed("simsiam");
}

/// The same for MoCo v2+, whose EMA target network and queue of keys must come back too.
#[test]
fn a_method_with_an_ema_target_and_a_queue_survives_kills_the_same() {
    killed_and_resumed("moco");
}

#[test]
fn sigterm_stops_cleanly_with_a_checkpoint_and_the_resume_command() {
    let (tmp, data, reference) = data_and_reference("simsiam");

    let run = tmp.path().join("stopped");
    let mut child = pretrain("simsiam", &data, &run).spawn().unwrap();
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
        stderr.contains(&format!("selfsup pretrain --resume {}", run.display())),
        "{stderr}"
    );
    let stopped = history(&run);
    assert!(
        stopped.step_losses.len() < 30,
        "it stopped early: {}",
        stopped.step_losses.len()
    );

    let out = resume(&run).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(history(&run).step_losses, history(&reference).step_losses);
    assert_eq!(encoder_values(&run), encoder_values(&reference));
}

/// `--resume RUN` beside a flag that contradicts the run is refused, naming the flag and both
/// values, before any work; the flags that may change are accepted; a `--data-dir` holding other
/// files (two batches swapped) is refused by the data fingerprint.
#[test]
fn a_resume_refuses_flags_that_contradict_the_run_and_other_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(["pretrain", "simsiam", "--device", "flex"])
        .args([
            "--backbone",
            "small-cnn",
            "--limit",
            "40",
            "--batch-size",
            "20",
        ])
        .args([
            "--epochs",
            "2",
            "--seed",
            "7",
            "--workers",
            "1",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--out-dir")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = run.display().to_string();

    let refused = |args: &[&str], says: &[&str]| {
        let out = resume(&run).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        for part in says {
            assert!(stderr.contains(part), "{args:?}: {part:?} not in {stderr}");
        }
    };
    let contradiction = |flag: &str, then: &str, now: &str| {
        format!(
            "error: {flag}: the run in {dir} was started with {then}, this command gives {now}: \
             a resumed run keeps its own flags (resume with `--resume {dir}` alone"
        )
    };
    for (args, flag, then, now) in [
        (
            &["--limit", "100"][..],
            "--limit",
            "--limit 40",
            "--limit 100",
        ),
        (&["--seed", "8"], "--seed", "--seed 7", "--seed 8"),
        (&["--epochs", "3"], "--epochs", "--epochs 2", "--epochs 3"),
        (
            &["--batch-size", "10"],
            "--batch-size",
            "--batch-size 20",
            "--batch-size 10",
        ),
        (&["--lr", "0.5"], "--lr", "no --lr", "--lr 0.5"),
        (
            &["--max-steps", "3"],
            "--max-steps",
            "no --max-steps",
            "--max-steps 3",
        ),
        (
            &["--recipe", "adam-constant"],
            "--recipe",
            "no --recipe",
            "--recipe adam-constant",
        ),
        (
            &["--online-linear"],
            "--online-linear",
            "no --online-linear",
            "--online-linear",
        ),
        (
            &["--image-size", "24"],
            "--image-size",
            "no --image-size",
            "--image-size 24",
        ),
        (
            &["--dataset", "cifar100"],
            "--dataset",
            "--dataset cifar10",
            "--dataset cifar100",
        ),
        (
            &["--backbone", "resnet18"],
            "--backbone",
            "--backbone small-cnn",
            "--backbone resnet18",
        ),
        (
            &["--local-views", "2"],
            "--local-views",
            "no --local-views",
            "--local-views 2",
        ),
        (&["simclr"], "<METHOD>", "simsiam", "simclr"),
    ] {
        refused(args, &[&contradiction(flag, then, now)]);
    }
    // The same value as the run's is no contradiction; nor are the flags that may change.
    let out = resume(&run)
        .args(["simsiam", "--seed", "7", "--limit", "040", "--workers", "2"])
        .args(["--checkpoint-every", "5", "--device", "flex", "--out-dir"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = std::fs::read(run.join("checkpoint.ckpt")).unwrap();
    // Another directory is not where the run continues.
    refused(
        &["--out-dir", "elsewhere"],
        &[&format!(
            "error: --out-dir elsewhere: a resumed run continues in its own directory, {dir}"
        )],
    );
    // --overwrite and --resume contradict each other: clap refuses the pair.
    let out = resume(&run).arg("--overwrite").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A copy of the data with two batch files swapped: same names and sizes, other images.
    let copy = tmp.path().join("swapped");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let target = match name.as_str() {
            "data_batch_1.bin" => "data_batch_2.bin".to_string(),
            "data_batch_2.bin" => "data_batch_1.bin".to_string(),
            _ => name,
        };
        std::fs::copy(&path, copy.join(target)).unwrap();
    }
    refused(
        &["--data-dir", copy.to_str().unwrap()],
        &[
            "checkpoint.ckpt: the run was trained on other data",
            "the pixels of the sampled images differ",
        ],
    );
    // The refusals left the run as it was.
    assert!(std::fs::read(run.join("checkpoint.ckpt")).unwrap() == before);
}

/// Ctrl-C while `baseline` tests its trained classifier: training is saved, so the program
/// says so and quits at once (status 130), instead of promising a checkpoint it would never
/// write.
#[test]
fn ctrl_c_during_the_final_test_quits_at_once_saying_the_run_is_saved() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("baseline");
    let mut child = Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(["baseline", "--device", "flex", "--backbone", "small-cnn"])
        .args(["--limit", "40", "--batch-size", "20", "--epochs", "1"])
        .args(["--workers", "1", "--data-dir"])
        .arg(&data)
        .arg("--out-dir")
        .arg(&run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let testing = line.contains("testing the classifier");
        lines.push(line);
        if testing {
            let status = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    let status = wait(&mut child, Duration::from_secs(60));
    let text = lines.join("\n");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        text.contains("stopping now: the run is saved; only the evaluation is cut short"),
        "{text}"
    );
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert!(
        !stdout.contains("accuracy:"),
        "the test was cut short: {stdout}"
    );
    assert!(run.join("checkpoint.ckpt").is_file());
}

/// Ctrl-C (SIGINT) says it will stop after the step with a checkpoint; a second Ctrl-C quits at
/// once (status 130), and the last checkpoint written still reads.
#[test]
fn a_second_ctrl_c_quits_at_once_and_the_last_checkpoint_stays_good() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("twice");
    let mut child = pretrain("simsiam", &data, &run).spawn().unwrap();
    let started = Instant::now();
    while checkpoint_step(&run).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupt = || {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    interrupt();
    std::thread::sleep(Duration::from_millis(50));
    interrupt();
    let signalled = Instant::now();
    let status = wait(&mut child, Duration::from_secs(60));
    let quit_after = signalled.elapsed();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "stopping after this step or evaluation, with a checkpoint; press Ctrl-C again to \
             quit now"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("stopping now"), "{stderr}");
    assert!(quit_after < Duration::from_secs(5), "{quit_after:?}");
    assert!(checkpoint_step(&run).is_some(), "the last checkpoint reads");
}
