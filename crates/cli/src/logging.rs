//! Log lines through `tracing` on stderr, and the progress bar they must not tear.
//!
//! On a terminal a run shows an `indicatif` bar (steps, loss, LR, img/s, ETA) and log lines
//! above it; elsewhere (a pipe, a CI log) there is no bar, and the progress comes as plain log
//! lines, about ten per epoch.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use selfsup::train::{Progress, StepProgress};
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

/// The bar currently drawn, which log lines suspend while they print.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the stderr subscriber: INFO and above, or WARN and above when `quiet`.
pub fn init(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
    let level = if quiet { Level::WARN } else { Level::INFO };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(BarSafeStderr)
        .init();
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Removes the bar (before an error message).
pub fn clear_bar() {
    if let Some(bar) = BAR.lock().expect("bar lock").take() {
        bar.finish_and_clear();
    }
}

/// A writer to stderr that suspends the progress bar while it writes.
struct BarSafeStderr;

impl<'a> MakeWriter<'a> for BarSafeStderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::new())
    }
}

/// Buffers one event and writes it whole when dropped.
struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().lock().write_all(&bytes);
        };
        match BAR.lock().expect("bar lock").as_ref() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

/// A bar for a byte count (downloads), or `None` off a terminal.
pub fn byte_bar(total: Option<u64>, what: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    Some(bar)
}

/// Draws a run's progress: a bar on a terminal, log lines elsewhere.
pub struct TrainProgress {
    state: Mutex<State>,
    on_terminal: bool,
}

struct State {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl TrainProgress {
    /// A bar when stderr is a terminal (and not `--quiet`), plain lines otherwise.
    pub fn new() -> Self {
        let quiet = QUIET.load(std::sync::atomic::Ordering::Relaxed);
        Self {
            state: Mutex::new(State {
                bar: None,
                last_line: Instant::now(),
            }),
            on_terminal: std::io::stderr().is_terminal() && !quiet,
        }
    }

    /// Takes one event of the trainer.
    pub fn event(&self, event: &Progress<'_>) {
        let mut state = self.state.lock().expect("progress lock");
        match event {
            Progress::Start {
                total_steps, step, ..
            } => {
                if self.on_terminal {
                    let bar = ProgressBar::with_draw_target(
                        Some(*total_steps as u64),
                        ProgressDrawTarget::stderr_with_hz(4),
                    );
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
                        )
                        .expect("a valid template")
                        .progress_chars("=> "),
                    );
                    bar.set_position(*step as u64);
                    bar.reset_eta();
                    *BAR.lock().expect("bar lock") = Some(bar.clone());
                    state.bar = Some(bar);
                }
            }
            Progress::Step(step) => match &state.bar {
                Some(bar) => {
                    bar.set_prefix(format!("epoch {}/{}", step.epoch + 1, step.epochs));
                    bar.set_message(step_message(step));
                    bar.set_position(step.step as u64);
                }
                None => {
                    // About ten lines per epoch, and at least one every 30 s.
                    let every = (step.steps_per_epoch / 10).max(1);
                    if step.batch.is_multiple_of(every)
                        || state.last_line.elapsed() > Duration::from_secs(30)
                    {
                        state.last_line = Instant::now();
                        tracing::info!(
                            "epoch {}/{} step {}/{}: {}",
                            step.epoch + 1,
                            step.epochs,
                            step.batch,
                            step.steps_per_epoch,
                            step_message(step)
                        );
                    }
                }
            },
            Progress::Epoch { .. } => {}
        }
    }

    /// Removes the bar at the end of the run.
    pub fn finish(&self) {
        if self
            .state
            .lock()
            .expect("progress lock")
            .bar
            .take()
            .is_some()
        {
            clear_bar();
        }
    }
}

fn step_message(step: &StepProgress) -> String {
    format!(
        "loss {:.4} lr {:.2e} {:.1} img/s",
        step.loss, step.lr, step.images_per_second
    )
}
