//! `cargo xtask fuzz --secs N [target…]`: runs sessio-core's cargo-fuzz targets for N
//! seconds each (all of them unless some are named) and prints executions and crashes per
//! target.
//!
//! Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
//! (`cargo install cargo-fuzz`). The fuzz crate is not a workspace member; it builds into
//! its own `crates/sessio-core/fuzz/target`, keeps its corpus in `fuzz/corpus/<target>`
//! (reused by the next run) and writes crashing inputs to `fuzz/artifacts/<target>`.
//!
//! Builds use `--sanitizer none` and `--debug-assertions`: sessio-core forbids unsafe code,
//! so AddressSanitizer would only re-check dependencies at a few times the cost, while
//! debug assertions turn integer overflow into a crash the fuzzer can find.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::shown;

const FUZZ_DIR: &str = "crates/sessio-core/fuzz";
const TARGETS: &[&str] = &[
    "cookie_header",
    "session_id",
    "record_decode",
    "set_cookie_config",
];
/// An input slower than this is reported as a crash (a hang), not waited out.
const INPUT_TIMEOUT_SECS: u32 = 10;
const BUILD_FLAGS: &[&str] = &["--sanitizer", "none", "--debug-assertions"];

pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let (secs, targets) = parse_args(args)?;
    let mut build = fuzz_cargo(&["build"]);
    build.args(BUILD_FLAGS);
    let line = shown(&build);
    println!("==> {line}");
    let status = build
        .status()
        .map_err(|err| format!("could not start `{line}`: {err} (is rustup on PATH?)"))?;
    if !status.success() {
        return Err(format!(
            "`{line}` failed ({status}); it needs `rustup toolchain install nightly` and \
             `cargo install cargo-fuzz`"
        ));
    }

    let mut results = Vec::new();
    for target in &targets {
        results.push(run_target(target, secs)?);
    }

    println!("\nfuzz: {secs} s per target");
    println!("{:<20} {:>14} {:>8}", "target", "execs", "crashes");
    for r in &results {
        println!("{:<20} {:>14} {:>8}", r.target, r.execs, r.crashes.len());
    }
    let crashed: Vec<String> = results
        .iter()
        .flat_map(|r| r.crashes.iter().map(move |c| format!("{}: {c}", r.target)))
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "crashing inputs (replay with `cargo +nightly fuzz run <target> <file>` in {FUZZ_DIR}):\n    {}",
            crashed.join("\n    ")
        ))
    }
}

fn parse_args(args: &[&str]) -> Result<(u64, Vec<String>), String> {
    let mut secs = None;
    let mut targets = Vec::new();
    let mut rest = args.iter();
    while let Some(&arg) = rest.next() {
        match arg {
            "--secs" => {
                let value = rest.next().ok_or("--secs needs a number of seconds")?;
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--secs {value}: not a positive number"))?;
                secs = Some(n);
            }
            name if TARGETS.contains(&name) => targets.push(name.to_owned()),
            other => {
                return Err(format!(
                    "unknown fuzz argument `{other}`; targets: {}",
                    TARGETS.join(", ")
                ))
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok((secs.unwrap_or(60), targets))
}

struct Outcome {
    target: String,
    execs: u64,
    crashes: Vec<String>,
}

fn run_target(target: &str, secs: u64) -> Result<Outcome, String> {
    let artifacts = Path::new(FUZZ_DIR).join("artifacts").join(target);
    let before = artifact_names(&artifacts);
    let log_path = Path::new(FUZZ_DIR)
        .join("target")
        .join(format!("xtask-fuzz-{target}.log"));
    if let Some(dir) = log_path.parent() {
        fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    let log = fs::File::create(&log_path)
        .map_err(|err| format!("cannot create {}: {err}", log_path.display()))?;
    let mut cmd = fuzz_cargo(&["run"]);
    cmd.args(BUILD_FLAGS).arg(target).args([
        "--".to_owned(),
        format!("-max_total_time={secs}"),
        format!("-timeout={INPUT_TIMEOUT_SECS}"),
        "-print_final_stats=1".to_owned(),
    ]);
    let line = shown(&cmd);
    println!("==> {target}: {line} (log: {})", log_path.display());
    let status = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .status()
        .map_err(|err| format!("could not start `{line}`: {err}"))?;
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let execs = executions(&text);
    let crashes: Vec<String> = artifact_names(&artifacts)
        .difference(&before)
        .map(|name| artifacts.join(name).display().to_string())
        .collect();
    if !status.success() && crashes.is_empty() {
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`{line}` failed ({status}) without a crash artifact:\n{}",
            tail.join("\n")
        ));
    }
    println!(
        "    {target}: {} execs, {} crash(es)",
        execs.map_or_else(|| "?".to_owned(), |n| n.to_string()),
        crashes.len()
    );
    Ok(Outcome {
        target: target.to_owned(),
        execs: execs.unwrap_or(0),
        crashes,
    })
}

/// `cargo +nightly fuzz <subcommand>` in the fuzz crate, through the rustup proxy (the
/// `cargo` running xtask is a stable toolchain's own binary, which knows no `+nightly`).
fn fuzz_cargo(subcommand: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(FUZZ_DIR)
        .args(["+nightly", "fuzz"])
        .args(subcommand);
    // Variables the outer cargo set for xtask would pin the inner build to its toolchain
    // or its target directory.
    for var in [
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// libFuzzer's own count: `stat::number_of_executed_units: N` (with
/// `-print_final_stats=1`), else the `#N DONE` or last `#N` status line.
fn executions(log: &str) -> Option<u64> {
    let stat = log.lines().find_map(|line| {
        line.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    stat.or_else(|| {
        log.lines().rev().find_map(|line| {
            let count = line.strip_prefix('#')?.split_whitespace().next()?;
            count.parse().ok()
        })
    })
}

fn artifact_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
