//! The workspace's build targets, read from `cargo metadata`.
//!
//! A few lines of string search instead of a JSON parser: cargo prints the same compact
//! shape every time, and xtask stays free of dependencies.

use std::process::Stdio;

/// One build target of a workspace package, e.g. package `sessio-core`, kind `bench`.
pub(crate) struct Target {
    pub(crate) package: String,
    pub(crate) kind: String,
    pub(crate) name: String,
}

/// Every target of every workspace member.
pub(crate) fn targets() -> Result<Vec<Target>, String> {
    let mut cmd = crate::cargo(&["metadata", "--format-version", "1", "--no-deps"]);
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("could not start `{}`: {err}", crate::shown(&cmd)))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({})",
            crate::shown(&cmd),
            output.status
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&output.stdout)))
}

/// Each package looks like `{"name":"P","version":..,"targets":[{"kind":["K"],..,"name":"T",..}],..}`.
/// Dependencies also start with `{"name":`, but are followed by `"source"`, not `"version"`.
fn parse(json: &str) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut chunks = json.split(r#","targets":["#);
    let Some(mut before) = chunks.next() else {
        return targets;
    };
    for chunk in chunks {
        let package = before
            .rsplit(r#"{"name":""#)
            .find_map(|s| s.split_once(r#"","version":""#))
            .map_or("", |(name, _)| name);
        let list = chunk.split(r#"],"features":"#).next().unwrap_or("");
        for target in list.split(r#"{"kind":["#).skip(1) {
            let kinds = target.split(']').next().unwrap_or("");
            let name = target
                .split_once(r#""name":""#)
                .and_then(|(_, rest)| rest.split('"').next())
                .unwrap_or("");
            for kind in kinds.split(',') {
                targets.push(Target {
                    package: package.to_owned(),
                    kind: kind.trim_matches('"').to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        before = chunk;
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_packages_kinds_and_names() {
        let json = r#"{"packages":[{"name":"a","version":"0.1.0","dependencies":[{"name":"dep","source":null}],"targets":[{"kind":["lib"],"crate_types":["lib"],"name":"a","src_path":"x"},{"kind":["test"],"crate_types":["bin"],"name":"conformance","src_path":"y"}],"features":{}},{"name":"b","version":"0.1.0","dependencies":[],"targets":[{"kind":["bench"],"crate_types":["bin"],"name":"ids","src_path":"z"}],"features":{}}]}"#;
        let found: Vec<_> = parse(json)
            .into_iter()
            .map(|t| format!("{}/{}/{}", t.package, t.kind, t.name))
            .collect();
        assert_eq!(found, ["a/lib/a", "a/test/conformance", "b/bench/ids"]);
    }
}
