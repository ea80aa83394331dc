//! `cargo xtask no-std`: prove sessio-core links into a `#![no_std]` binary.
//!
//! `crates/sessio-core/no-std-check` is a `#![no_std]` program with its own panic handler
//! and allocator. If anything in sessio-core's dependency tree links `std`, std's panic
//! handler clashes with that one and the build fails. The program is then run, since a
//! binary that links is only half the proof: it must also start and pass its checks.

use std::process::Command;

use crate::{cargo, execute, target_dir};

const DIR: &str = "crates/sessio-core/no-std-check";
const BINARY: &str = "sessio-core-no-std-check";

pub(crate) fn run() -> Result<(), String> {
    let manifest = format!("{DIR}/Cargo.toml");
    let target = target_dir().join("no-std-check");
    let mut build = cargo(&["build", "--locked", "--manifest-path", &manifest]);
    build.arg("--target-dir").arg(&target);
    execute(&mut build).map_err(|err| {
        format!(
            "{err}\n\
             A duplicate `panic_impl` lang item means something in sessio-core's dependency \
             tree links std (often a dependency with default features on); find it with\n    \
             cargo tree -e features --manifest-path {manifest}\n\
             If Cargo.lock is out of date after a dependency change, run the build without \
             --locked and commit {DIR}/Cargo.lock"
        )
    })?;

    let binary = target.join("debug").join(BINARY);
    let status = Command::new(&binary)
        .status()
        .map_err(|err| format!("could not start {}: {err}", binary.display()))?;
    match status.code() {
        Some(0) => {
            println!("no-std: sessio-core links without std, and {BINARY} passed");
            Ok(())
        }
        Some(check) => Err(format!(
            "{BINARY} exited with {check}: the check returning {check} in \
             {DIR}/src/main.rs failed"
        )),
        None => Err(format!("{BINARY} was killed ({status})")),
    }
}
