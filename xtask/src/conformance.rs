//! `cargo xtask conformance`: every adapter × every store, as a matrix.
//!
//! Builds every package's `conformance` test target in one `cargo test --workspace
//! --no-run` (so the artifacts of the workspace test build are reused, not rebuilt per
//! package), runs each test binary, reads the `test memory::… ok` lines, and
//! prints one row per scenario and one column per adapter and store. Any failure, and any
//! scenario that did not run in some column, fails the command. Redis and the Redis
//! Cluster are started first when they do not answer, so their columns never silently
//! skip.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use crate::{cargo, redis};

/// The suite's test modules (one per store), and the column name each gets.
const STORES: [(&str, &str); 3] = [
    ("memory", "memory"),
    ("redis", "redis"),
    ("redis_cluster", "redis-cluster"),
];

/// Runs the suite with `env` added to the test processes' environment. With an empty
/// `env`, makes sure Redis answers and requires it; whatever `env` holds, makes sure a
/// Redis Cluster answers unless it names one in `SESSIO_REDIS_CLUSTER_URLS`.
pub(crate) fn run(env: &[(&str, &str)]) -> Result<(), String> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if env.is_empty() {
        let url = redis::ensure()?;
        env.push(("SESSIO_REDIS_URL".into(), url));
        env.push(("SESSIO_REQUIRE_REDIS".into(), "1".into()));
    }
    if !env.iter().any(|(k, _)| k == "SESSIO_REDIS_CLUSTER_URLS") {
        let urls = redis::ensure_cluster()?;
        env.push(("SESSIO_REDIS_CLUSTER_URLS".into(), urls));
    }
    let binaries = build(&env)?;
    if binaries.is_empty() {
        return Err("no package has a `conformance` test target".into());
    }
    // results[scenario][column] = passed
    let mut results: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    let mut columns = Vec::new();
    let mut failures = Vec::new();
    for (package, binary) in &binaries {
        let adapter = package.trim_start_matches("sessio-").to_owned();
        println!("conformance: running {package}");
        let output = Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {binary} ({package}): {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        for (_, store) in STORES {
            columns.push(format!("{adapter}/{store}"));
        }
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix("test ") else {
                continue;
            };
            let Some((name, verdict)) = rest.split_once(" ... ") else {
                continue;
            };
            let Some((module, scenario)) = name.split_once("::") else {
                continue;
            };
            let Some(&(_, store)) = STORES.iter().find(|(m, _)| *m == module) else {
                continue;
            };
            let passed = verdict.trim() == "ok";
            if !passed {
                failures.push(format!("{adapter}/{store}: {scenario}"));
            }
            results
                .entry(scenario.to_owned())
                .or_default()
                .insert(format!("{adapter}/{store}"), passed);
        }
        if !output.status.success() && !stdout.contains("FAILED") {
            print!("{stdout}");
            failures.push(format!(
                "{package}: the test run itself failed ({})",
                output.status
            ));
        }
    }
    print_matrix(&results, &columns);
    for (scenario, row) in &results {
        for column in &columns {
            if !row.contains_key(column) {
                failures.push(format!("{column}: {scenario} did not run"));
            }
        }
    }
    if failures.is_empty() {
        println!(
            "\nconformance: {} scenarios × {} columns, all passed",
            results.len(),
            columns.len()
        );
        Ok(())
    } else {
        Err(format!(
            "conformance failures:\n  {}",
            failures.join("\n  ")
        ))
    }
}

/// Builds the `conformance` test targets of the whole workspace and returns each
/// package's name and test binary, sorted by package.
fn build(env: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let output = cargo(&[
        "test",
        "--workspace",
        "--locked",
        "--test",
        "conformance",
        "--no-run",
        "--message-format",
        "json",
    ])
    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    .stderr(Stdio::inherit())
    .output()
    .map_err(|e| format!("cannot run cargo test --no-run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the conformance tests failed ({})",
            output.status
        ));
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if !line.contains(r#""name":"conformance""#) {
            continue;
        }
        let (Some(manifest), Some(executable)) = (
            json_string(line, "manifest_path"),
            json_string(line, "executable"),
        ) else {
            continue;
        };
        // `.../crates/<package>/Cargo.toml`: the package directory is named after it.
        let package = manifest.rsplit('/').nth(1).unwrap_or(&manifest).to_owned();
        binaries.push((package, executable));
    }
    binaries.sort();
    Ok(binaries)
}

/// The string value of `"key":"..."` in one line of cargo's JSON (no escapes expected in
/// paths this workspace produces).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!(r#""{key}":""#))? + key.len() + 4;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}

fn print_matrix(results: &BTreeMap<String, BTreeMap<String, bool>>, columns: &[String]) {
    let width = results.keys().map(String::len).max().unwrap_or(8).max(8);
    print!("\n| {:width$} |", "scenario");
    for c in columns {
        print!(" {c} |");
    }
    print!("\n|{}|", "-".repeat(width + 2));
    for c in columns {
        print!("{}|", "-".repeat(c.len() + 2));
    }
    println!();
    for (scenario, row) in results {
        print!("| {scenario:width$} |");
        for c in columns {
            let cell = match row.get(c) {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => "-",
            };
            print!(" {cell:w$} |", w = c.len());
        }
        println!();
    }
}
