//! `--resume RUN`: the run continues with its own command line, read from its `config.json`.
//!
//! A run records the command that started it. `selfsup pretrain --resume RUN` alone reads it back,
//! so the data, subset, views, recipe and schedule are the run's own; a flag given beside
//! `--resume` that contradicts the run is refused, naming the flag and both values. The flags in
//! [`MAY_CHANGE`] change neither what the run trains on nor how, and may differ; the trainer
//! then checks the data itself against the fingerprint in the checkpoint (count, labels in
//! order, sampled pixels, views), so a `--data-dir` pointing at other or reordered files is
//! refused too.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use selfsup::train::files;

use crate::Result;
use crate::train::TrainArgs;

/// The flags (clap ids) that may differ from the run's when it is resumed: where the data and
/// the outputs are, how fast and how often it is written, and the backend. A run continued on
/// another backend (`--device`) continues the same run, but not bit for bit.
pub const MAY_CHANGE: &[&str] = &[
    "resume",
    "quiet",
    "device",
    "workers",
    "data_dir",
    "test_dir",
    "offline",
    "verify_md5",
    "storage",
    "memory_limit",
    "checkpoint_every",
];

/// The run directory of `--resume PATH` (a run directory, or a checkpoint file in one).
pub fn run_dir(resume: &Path) -> PathBuf {
    if resume.is_dir() {
        resume.to_path_buf()
    } else {
        resume.parent().map(PathBuf::from).unwrap_or_default()
    }
}

/// The command that started the run in `dir`, as `config.json` records it, without the
/// program name, `--overwrite` and `--resume`: `None` when the run records none (written before
/// selfsup recorded it, or by a library program).
///
/// # Errors
/// A `config.json` that cannot be read or parsed.
pub fn recorded_command(dir: &Path) -> Result<Option<Vec<String>>> {
    let path = dir.join(files::CONFIG);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|err| format!("could not read {}: {err}", path.display()))?;
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| format!("{} is not valid JSON: {err}", path.display()))?;
    let Some(command) = config["run"]["command"].as_array() else {
        return Ok(None);
    };
    let words: Option<Vec<String>> = command
        .iter()
        .map(|w| w.as_str().map(String::from))
        .collect();
    let Some(words) = words else {
        return Err(format!("{}: run.command is not a list of words", path.display()).into());
    };
    let mut kept = Vec::new();
    let mut words = words.into_iter().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--overwrite" => {}
            "--resume" => {
                words.next();
            }
            w if w.starts_with("--resume=") => {}
            _ => kept.push(word),
        }
    }
    Ok(Some(kept))
}

/// What a resumed command becomes: the run's recorded command (parsed by `parse`) with the flags
/// of [`MAY_CHANGE`] given now, after checking that no other flag given now contradicts it.
/// `now` are the matches of the command as typed (the subcommand's), `command` clap's
/// definition of the whole command line. Returns the recorded command's matches (the whole command line's) and words, or
/// `None` when the run records no command (it then continues with the flags given now).
///
/// # Errors
/// A flag that contradicts the run (naming the flag and both values), a run of another
/// command, or a recorded command that no longer parses.
pub fn check(
    command: &Command,
    subcommand: &str,
    now: &ArgMatches,
    resume: &Path,
) -> Result<Option<(ArgMatches, Vec<String>)>> {
    let dir = run_dir(resume);
    let Some(words) = recorded_command(&dir)? else {
        tracing::warn!(
            "{} records no command (written before selfsup recorded it): the run continues \
             with the flags given now, which must be the run's own",
            dir.join(files::CONFIG).display()
        );
        return Ok(None);
    };
    let argv = std::iter::once("selfsup".to_string()).chain(words.iter().cloned());
    let recorded = command.clone().try_get_matches_from(argv).map_err(|err| {
        format!(
            "the command recorded in {} no longer parses ({}): start a new run",
            dir.join(files::CONFIG).display(),
            err.kind()
        )
    })?;
    let Some((recorded_sub, then)) = recorded.subcommand() else {
        return Err(format!("{} records no command", dir.display()).into());
    };
    if recorded_sub != subcommand {
        return Err(format!(
            "--resume {}: it is a `selfsup {recorded_sub}` run, not a `selfsup {subcommand}` one",
            resume.display()
        )
        .into());
    }
    let definition = command
        .find_subcommand(subcommand)
        .expect("the subcommand is defined");
    for id in now.ids() {
        let id = id.as_str();
        if MAY_CHANGE.contains(&id) || now.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        if id == "out_dir" {
            // The run continues in its directory, wherever it was first written.
            let out = now.get_one::<PathBuf>(id).expect("--out-dir has a value");
            if !same_place(out, &dir) {
                return Err(format!(
                    "--out-dir {}: a resumed run continues in its own directory, {}",
                    out.display(),
                    dir.display()
                )
                .into());
            }
            continue;
        }
        // (clap also lists the groups that derive makes of flattened structs: not arguments.)
        let Some(arg) = definition.get_arguments().find(|a| a.get_id() == id) else {
            continue;
        };
        let canonical = |matches: &ArgMatches| -> Option<String> {
            let raw: Vec<&OsStr> = matches.try_get_raw(id).ok()??.collect();
            let words: Vec<String> = raw
                .iter()
                .map(|v| {
                    let v = v.to_string_lossy();
                    arg.get_possible_values()
                        .into_iter()
                        .find(|p| p.matches(&v, false))
                        .map_or_else(|| v.to_string(), |p| p.get_name().to_string())
                })
                .collect();
            Some(words.join(" "))
        };
        let (value_now, value_then) = (canonical(now), canonical(then));
        let same = match (&value_now, &value_then) {
            (Some(a), Some(b)) => {
                a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
            }
            (None, None) => true,
            _ => false,
        };
        if same {
            continue;
        }
        let switch = !arg.get_action().takes_values();
        let name = match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => format!("<{}>", id.to_uppercase()),
        };
        let describe = |value: &Option<String>| match (value.as_deref(), switch) {
            (None | Some("false"), true) | (None, false) => format!("no {name}"),
            (Some(_), true) => name.clone(),
            (Some(v), false) if arg.get_long().is_some() => format!("{name} {v}"),
            (Some(v), false) => v.to_string(),
        };
        return Err(format!(
            "{name}: the run in {} was started with {}, this command gives {}: a resumed run \
             keeps its own flags (resume with `--resume {}` alone, or start a new run \
             elsewhere with --out-dir)",
            dir.display(),
            describe(&value_then),
            describe(&value_now),
            dir.display(),
        )
        .into());
    }
    Ok(Some((recorded.clone(), words)))
}

/// Whether two paths name one directory.
fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Carries the flags of [`MAY_CHANGE`] given `now` (their matches `given`) into the run's
/// recorded training flags `run`, which continue the run in the directory `--resume` names.
pub fn carry(run: &mut TrainArgs, now: &TrainArgs, given: &ArgMatches) {
    let is_given = |id: &str| given.value_source(id) == Some(ValueSource::CommandLine);
    if is_given("device") && now.device.device.to_string() != run.device.device.to_string() {
        tracing::warn!(
            "continuing on {} a run trained on {}: the run goes on, but not bit for bit as it \
             would have on {}",
            now.device.device,
            run.device.device,
            run.device.device
        );
        run.device = now.device.clone();
    }
    if is_given("workers") {
        run.workers = now.workers;
    }
    if is_given("data_dir") {
        run.data.data_dir = now.data.data_dir.clone();
    }
    if is_given("test_dir") {
        run.data.test_dir = now.data.test_dir.clone();
    }
    if is_given("offline") {
        run.data.offline = now.data.offline;
    }
    if is_given("verify_md5") {
        run.data.verify_md5 = now.data.verify_md5;
    }
    if is_given("storage") {
        run.data.storage = now.data.storage;
    }
    if is_given("memory_limit") {
        run.data.memory_limit = now.data.memory_limit;
    }
    if is_given("checkpoint_every") {
        run.checkpoint_every = now.checkpoint_every;
    }
    run.resume = now.resume.clone();
    run.overwrite = false;
    // The run continues where it is now, wherever it was first written.
    run.out_dir = now.out_dir.clone();
}
