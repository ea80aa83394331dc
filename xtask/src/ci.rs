//! `cargo xtask ci`: everything CI checks, in order, stopping at the first failure.
//!
//! Every step prints a timing line; a failing step prints the command that reproduces it.

use std::time::{Duration, Instant};

use crate::{bench, cargo, conformance, execute, no_std, redis, shown, soak};

const STEPS: usize = 8;
const FMT: &[&str] = &["fmt", "--all", "--", "--check"];
const CLIPPY: &[&str] = &[
    "clippy",
    "--workspace",
    "--all-targets",
    "--locked",
    "--",
    "-D",
    "warnings",
];
const TESTS: &[&str] = &["test", "--workspace", "--locked", "--all-targets"];
const DOC_TESTS: &[&str] = &["test", "--workspace", "--locked", "--doc"];

pub(crate) fn run() -> Result<(), String> {
    let started = Instant::now();
    let mut ci = Ci { step: 0 };

    ci.step("rustfmt", &shown(&cargo(FMT)), || execute(&mut cargo(FMT)))?;
    ci.step("clippy", &shown(&cargo(CLIPPY)), || {
        execute(&mut cargo(CLIPPY))
    })?;
    let (url, cluster_urls) = ci.step("redis", "cargo xtask redis", || {
        Ok((redis::ensure()?, redis::ensure_cluster()?))
    })?;
    println!("    using {url} and the cluster {cluster_urls}");

    // Without Redis the tests skip loudly; in CI a missing Redis must fail them instead.
    let redis_env = [
        ("SESSIO_REDIS_URL", url.as_str()),
        ("SESSIO_REDIS_CLUSTER_URLS", cluster_urls.as_str()),
        ("SESSIO_REQUIRE_REDIS", "1"),
    ];
    let mut tests = cargo(TESTS);
    let mut doc_tests = cargo(DOC_TESTS);
    tests.envs(redis_env);
    doc_tests.envs(redis_env);
    let both = format!("{} && {}", shown(&tests), shown(&doc_tests));
    ci.step("tests", &both, || {
        execute(&mut tests)?;
        execute(&mut doc_tests)
    })?;

    ci.step("no-std", "cargo xtask no-std", no_std::run)?;
    let env_prefix = redis_env
        .map(|(key, value)| format!("{key}={value} "))
        .concat();
    let reproduce = format!("{env_prefix}cargo xtask conformance");
    ci.step("conformance", &reproduce, || conformance::run(&redis_env))?;
    // On the debug build the tests made, so it only checks that every server still starts
    // and answers under load; its numbers mean nothing.
    ci.step("bench --quick", "cargo xtask bench --quick", || {
        bench::run(bench::Options::quick())
    })?;
    ci.step("soak", "cargo xtask soak --secs 60", || {
        soak::run(Duration::from_secs(60))
    })?;

    println!(
        "\nci: all {STEPS} steps passed in {}",
        secs(started.elapsed())
    );
    Ok(())
}

struct Ci {
    step: usize,
}

impl Ci {
    /// Runs the next step; on failure, says which step failed and how to reproduce it.
    fn step<T>(
        &mut self,
        name: &str,
        reproduce: &str,
        body: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        self.step += 1;
        let n = self.step;
        println!("\n==> [{n}/{STEPS}] {name}: {reproduce}");
        let started = Instant::now();
        let result = body();
        let took = secs(started.elapsed());
        match result {
            Ok(value) => {
                println!("==> [{n}/{STEPS}] {name}: ok in {took}");
                Ok(value)
            }
            Err(err) => {
                println!("==> [{n}/{STEPS}] {name}: FAILED after {took}");
                Err(format!(
                    "ci step {n}/{STEPS} ({name}) failed: {err}\n\
                     reproduce locally with:\n    {reproduce}"
                ))
            }
        }
    }
}

fn secs(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
