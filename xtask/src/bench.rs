//! `cargo xtask bench [--quick]`: run the benchmarks, one section at a time.
//!
//! Add a benchmark group by adding a [`Section`] to [`SECTIONS`].

use crate::{cargo, execute, metadata};

/// How long to measure.
pub(crate) enum Mode {
    /// Small inputs (`SESSIO_BENCH_SMALL=1`) and short warm-up and measurement times.
    Quick,
    /// Criterion's defaults, for numbers worth comparing.
    Full,
}

/// One group of benchmarks: the bench targets of one package.
struct Section {
    title: &'static str,
    package: &'static str,
}

const SECTIONS: &[Section] = &[Section {
    title: "sessio-core: ids, cookies, table",
    package: "sessio-core",
}];

pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let targets = metadata::targets()?;
    for section in SECTIONS {
        println!("==> bench: {}", section.title);
        let has_benches = targets
            .iter()
            .any(|t| t.package == section.package && t.kind == "bench");
        if !has_benches {
            println!("    skipped: {} has no bench targets yet", section.package);
            continue;
        }
        // `--bench '*'` keeps criterion's flags away from the lib's libtest harness,
        // which would reject them.
        let mut cmd = cargo(&["bench", "-p", section.package, "--bench", "*"]);
        if let Mode::Quick = mode {
            cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "2"])
                .env("SESSIO_BENCH_SMALL", "1");
        }
        execute(&mut cmd)?;
    }
    Ok(())
}
