//! Build tooling for the sessio workspace, run as `cargo xtask <command>`.
//!
//! One module per command; each has a `run` that returns `Err` with a message saying what
//! failed and what to run to reproduce it. No dependencies beyond std, so the tooling
//! builds in seconds on a clean clone.

mod bench;
mod ci;
mod conformance;
mod fuzz;
mod load;
mod no_std;
mod redis;
mod soak;

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
usage: cargo xtask <command>

commands:
  ci             everything CI checks, in order, stopping at the first failure:
                 rustfmt, clippy, Redis, tests + doc tests, no-std, conformance,
                 a quick bench and a 60 s soak
  no-std         link sessio-core into a #![no_std] binary and run it
  redis          make sure a Redis server and a three-node Redis Cluster answer (starting
                 them if needed); print SESSIO_REDIS_URL=… and SESSIO_REDIS_CLUSTER_URLS=…
  conformance    run the adapter conformance suite
  bench [--quick] [--only FRAMEWORK,…]
                 the published benchmark: bare frameworks, sessio and the peers on
                 loopback, memory, Redis round trips, core micro-benchmarks; writes
                 target/bench/report.md and report.svg (--quick: a second or two per
                 cell, to keep it working; not for comparison. --only axum,actix: the
                 throughput rows of those frameworks and nothing else, for profiling)
  soak --secs N  mixed login/cart/logout load against every cart app, memory store
                 capped and Redis, N seconds in all; fails on any 5xx, RSS growth
                 after warm-up, or Redis keys left once the sessions are idle
  fuzz --secs N [target…]
                 run sessio-core's fuzz targets for N seconds each (nightly, cargo-fuzz)
  help           this message
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Every path below (and every cargo invocation) is relative to the workspace root.
    if let Err(err) = env::set_current_dir(project_root()) {
        eprintln!("xtask: cannot enter {}: {err}", project_root().display());
        return ExitCode::FAILURE;
    }
    let result = match args.as_slice() {
        [] | ["help" | "--help" | "-h"] => {
            print!("{HELP}");
            Ok(())
        }
        ["ci"] => ci::run(),
        ["no-std"] => no_std::run(),
        ["redis"] => redis::run(),
        ["conformance"] => conformance::run(&[]),
        ["bench", rest @ ..] => bench::Options::parse(rest).and_then(bench::run),
        ["fuzz", rest @ ..] => fuzz::run(rest),
        ["soak", "--secs", secs] => match secs.parse() {
            Ok(secs) => soak::run(std::time::Duration::from_secs(secs)),
            Err(_) => Err(format!("soak: --secs needs a whole number, not {secs:?}")),
        },
        _ => Err(format!("unknown command `{}`\n\n{HELP}", args.join(" "))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask always lives one level below it.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Cargo's target directory, as cargo itself will pick it when run from the root.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// A `cargo` command; uses the cargo that runs xtask, so the toolchain stays the same.
fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(args);
    cmd
}

/// Runs `cmd` with inherited output; an unsuccessful exit is an error naming the command.
fn execute(cmd: &mut Command) -> Result<(), String> {
    let line = shown(cmd);
    let status = cmd
        .status()
        .map_err(|err| format!("could not start `{line}`: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// `cmd` as one would type it in a shell: set variables, program name, quoted arguments.
fn shown(cmd: &Command) -> String {
    let env = cmd
        .get_envs()
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_string_lossy(), quoted(value?))));
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program());
    let words = env
        .chain([program.to_string_lossy().into_owned()])
        .chain(cmd.get_args().map(quoted));
    words.collect::<Vec<_>>().join(" ")
}

fn quoted(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=./:,@+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
