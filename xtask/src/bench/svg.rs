//! The report's bar chart, as hand-written SVG: one panel per workload, one group of bars
//! per framework, requests/s relative to the bare framework.

use std::fmt::Write as _;

use super::report::Report;
use super::runner::Workload;
use super::servers::Row;

const WIDTH: f64 = 760.0;
const LABEL: f64 = 210.0;
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

pub(crate) fn chart(report: &Report) -> String {
    let mut body = String::new();
    let mut y = 40.0;
    let bar_room = WIDTH - LABEL - 90.0;
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
                let width = bar_room * cell.measured.requests_per_sec / max;
                let label = format!("{framework} {}", cell.server());
                let _ = writeln!(
                    body,
                    r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{LABEL}" y="{:.0}" width="{width:.1}" height="{BAR}" fill="{}"/><text x="{:.1}" y="{:.0}">{:.0}/s</text>"#,
                    LABEL - 6.0,
                    y + BAR - 4.0,
                    escape(&label),
                    y,
                    colour(row),
                    LABEL + width + 4.0,
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
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{:.0}" font-family="sans-serif" font-size="12">
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
