//! The report's bar chart, as hand-written SVG: one panel per workload, one group of bars
//! per framework, requests/s with each panel scaled to its fastest cell.

use std::fmt::Write as _;

use super::report::Report;
use super::runner::{Cell, Workload};
use super::servers::Row;

/// A character of a 12 px sans-serif label, wide enough for DejaVu Sans (the widest of
/// the usual fonts), so that the longest label fits left of the bars.
const CHAR: f64 = 7.0;
/// The longest bar; the chart is the labels, this and room for the figure after it.
const BAR_ROOM: f64 = 460.0;
const BAR: f64 = 16.0;
const GAP: f64 = 4.0;

fn colour(row: Row) -> &'static str {
    match row {
        Row::Bare => "#9e9e9e",
        Row::SessioMemory => "#1565c0",
        Row::SessioRedis => "#42a5f5",
        Row::PeerMemory => "#e65100",
        Row::PeerRedis => "#ffb74d",
    }
}

/// A bar's label: framework and server.
fn label(cell: &Cell) -> String {
    format!("{} {}", cell.framework, cell.server())
}

pub(crate) fn chart(report: &Report) -> String {
    let mut body = String::new();
    let mut y = 40.0;
    let longest = report.cells.iter().map(|c| label(c).chars().count()).max();
    let label_room = (longest.unwrap_or(0) as f64 * CHAR + 12.0).max(120.0);
    let width = label_room + BAR_ROOM + 90.0;
    for workload in Workload::ALL {
        let max = report
            .cells
            .iter()
            .filter(|c| c.workload == workload)
            .map(|c| c.measured.requests_per_sec)
            .fold(1.0, f64::max);
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-weight="bold">{}</text>"#,
            escape(workload.title())
        );
        y += 10.0;
        for framework in report.frameworks() {
            for row in Row::ALL {
                let Some(cell) = report.cell(framework, row, workload) else {
                    continue;
                };
                let bar = BAR_ROOM * cell.measured.requests_per_sec / max;
                let _ = writeln!(
                    body,
                    r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{label_room}" y="{:.0}" width="{bar:.1}" height="{BAR}" fill="{}"/><text x="{:.1}" y="{:.0}">{:.0}/s</text>"#,
                    label_room - 6.0,
                    y + BAR - 4.0,
                    escape(&label(cell)),
                    y,
                    colour(row),
                    label_room + bar + 4.0,
                    y + BAR - 4.0,
                    cell.measured.requests_per_sec,
                );
                y += BAR + GAP;
            }
            y += 6.0;
        }
        y += 24.0;
    }
    let title = if report.quick {
        "sessio: requests/s on loopback (--quick run: not for comparison)"
    } else {
        "sessio: requests/s on loopback, higher is better"
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{:.0}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">{}</text>
{body}<text x="10" y="{:.0}" fill="#666">{}</text>
</svg>
"##,
        y + 20.0,
        escape(title),
        y + 4.0,
        escape(&format!(
            "{} CPUs, {}, Linux {}",
            report.machine.cpus, report.machine.cpu_model, report.machine.kernel
        )),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::tests::report;

    fn cell(framework: &'static str, peer: Option<&'static str>, row: Row) -> Cell {
        crate::bench::report::tests::cell(framework, peer, row, Workload::Me, 1_000.0)
    }

    /// The x of the first bar, read back from the SVG.
    fn bars_at(svg: &str) -> f64 {
        let bar = svg
            .split("<rect x=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|x| x.parse().ok());
        bar.unwrap_or_else(|| panic!("no bar in {svg}"))
    }

    #[test]
    fn the_longest_label_fits_left_of_the_bars() {
        let short = chart(&report(vec![cell("axum", None, Row::Bare)]));
        let long = chart(&report(vec![
            cell("axum", None, Row::Bare),
            cell("axum", Some("tower-sessions"), Row::PeerMemory),
        ]));
        // "axum peer-memory (tower-sessions)": 33 characters, about 230 px in DejaVu Sans
        // at 12 px; the label ends 6 px before the bars.
        assert!(bars_at(&long) - 6.0 >= 230.0, "{}", bars_at(&long));
        assert!(
            bars_at(&short) < bars_at(&long),
            "the column follows the labels"
        );
    }
}
