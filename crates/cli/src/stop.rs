//! Clean stops: Ctrl-C or SIGTERM asks the trainer to finish its step and write a checkpoint;
//! a second one ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
        eprintln!(
            "\nstopping after this step (writing a checkpoint); press Ctrl-C again to quit now"
        );
    });
    if let Err(err) = installed {
        tracing::warn!("Ctrl-C will not stop cleanly: {err}");
    }
    stop
}

/// The command that continues the run in `out_dir`: this one with `--resume` and without
/// `--overwrite`.
pub fn resume_command(out_dir: &std::path::Path) -> String {
    let mut args: Vec<String> = Vec::new();
    let mut skip_value = false;
    for arg in std::env::args() {
        if skip_value {
            skip_value = false;
            continue;
        }
        match arg.as_str() {
            "--overwrite" => {}
            "--resume" => skip_value = true,
            a if a.starts_with("--resume=") => {}
            _ => args.push(arg),
        }
    }
    args[0] = "selfsup".to_string();
    args.push("--resume".to_string());
    args.push(out_dir.display().to_string());
    args.iter()
        .map(|a| match a.contains([' ', '\'', '"']) {
            true => format!("'{}'", a.replace('\'', "'\\''")),
            false => a.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
