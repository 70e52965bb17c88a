//! Clean stops: Ctrl-C or SIGTERM asks the trainer to finish its step and write a checkpoint;
//! a second one ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once training is over and saved, while the command evaluates the result: a signal then
/// ends the process at once.
static EVALUATING: AtomicBool = AtomicBool::new(false);

/// Says that training is over and saved: from now on the first Ctrl-C / SIGTERM ends the
/// process at once (the evaluation that follows has nothing to checkpoint).
pub fn evaluating() {
    EVALUATING.store(true, Ordering::SeqCst);
}

/// The flag the trainer polls between steps, set by the first Ctrl-C / SIGTERM.
pub fn install() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            // The second signal: the user wants out now (the last checkpoint stays valid).
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        if EVALUATING.load(Ordering::SeqCst) {
            // Training is over and saved: nothing is left to checkpoint.
            eprintln!("\nstopping now: the run is saved; only the evaluation is cut short");
            std::process::exit(130);
        }
        eprintln!(
            "\nstopping after this step or evaluation, with a checkpoint; press Ctrl-C again \
             to quit now"
        );
    });
    if let Err(err) = installed {
        tracing::warn!("Ctrl-C will not stop cleanly: {err}");
    }
    stop
}

/// The command that continues the run in `out_dir`: `selfsup <command> --resume <dir>`, which
/// reads the run's own flags back from its config.json.
pub fn resume_command(out_dir: &std::path::Path) -> String {
    let command = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "pretrain".into());
    let dir = out_dir.display().to_string();
    let dir = match dir.contains([' ', '\'', '"']) {
        true => format!("'{}'", dir.replace('\'', "'\\''")),
        false => dir,
    };
    format!("selfsup {command} --resume {dir}")
}
