//! The core micro-benchmarks: `cargo bench -p sessio-core`, criterion's `time:` lines
//! shown live and kept for the report.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::cargo;

/// One criterion benchmark: its id and the middle (best) estimate, e.g. `12.3 ns`.
pub(crate) struct MicroResult {
    pub(crate) name: String,
    pub(crate) time: String,
}

pub(crate) fn run(quick: bool) -> Result<Vec<MicroResult>, String> {
    // `--bench '*'` keeps criterion's flags away from the lib's libtest harness.
    let mut cmd = cargo(&["bench", "-p", "sessio-core", "--bench", "*"]);
    if quick {
        cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "2"])
            .env("SESSIO_BENCH_SMALL", "1");
    }
    let shown = crate::shown(&cmd);
    println!("    {shown}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            lines.push(line);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("`{shown}` failed ({status})"));
    }
    Ok(parse(&lines))
}

/// Criterion prints `name   time:   [low mid high]`, the name on a line of its own when
/// it is long.
fn parse(lines: &[String]) -> Vec<MicroResult> {
    let mut results = Vec::new();
    let mut pending = String::new();
    for line in lines {
        let Some((before, after)) = line.split_once("time:") else {
            if !line.starts_with(' ') && !line.trim().is_empty() {
                pending = line.trim().to_owned();
            }
            continue;
        };
        let name = match before.trim() {
            "" => pending.clone(),
            name => name.to_owned(),
        };
        let words: Vec<&str> = after
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split_whitespace()
            .collect();
        if let [_, _, mid, unit, ..] = words.as_slice() {
            results.push(MicroResult {
                name,
                time: format!("{mid} {unit}"),
            });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_layouts() {
        let lines: Vec<String> = [
            "Benchmarking cookie/parse: Analyzing",
            "cookie/parse            time:   [20.1 ns 20.5 ns 20.9 ns]",
            "cycle/one_request_at_1M_sessions",
            "                        time:   [1.2000 µs 1.2500 µs 1.3000 µs]",
            "                        change: [-1.0% +0.2% +1.1%]",
        ]
        .map(String::from)
        .to_vec();
        let found: Vec<_> = parse(&lines)
            .into_iter()
            .map(|r| format!("{}={}", r.name, r.time))
            .collect();
        assert_eq!(
            found,
            [
                "cookie/parse=20.5 ns",
                "cycle/one_request_at_1M_sessions=1.2500 µs"
            ]
        );
    }
}
