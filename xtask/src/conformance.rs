//! `cargo xtask conformance`: run the adapter conformance suite.
//!
//! For now this runs every package's `conformance` test target as is; it is skipped with a
//! note while no package has one.

use crate::{cargo, execute, metadata};

/// Runs the suite with `env` added to the test processes' environment.
pub(crate) fn run(env: &[(&str, &str)]) -> Result<(), String> {
    let targets = metadata::targets()?;
    if !targets
        .iter()
        .any(|t| t.kind == "test" && t.name == "conformance")
    {
        println!("conformance: skipped, no package has a `conformance` test target yet");
        return Ok(());
    }
    let mut cmd = cargo(&["test", "--workspace", "--locked", "--test", "conformance"]);
    cmd.envs(env.iter().copied());
    execute(&mut cmd)
}
