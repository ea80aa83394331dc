//! The report: markdown tables (per workload, memory, Redis, micro-benchmarks) and the
//! machine they ran on.

use std::fmt::Write as _;
use std::time::Duration;

use super::micro::MicroResult;
use super::redis_stats::RoundTrips;
use super::runner::{Cell, CellPlan, Workload, CART_RESET};
use super::servers::Row;

/// Where and how the numbers were taken.
pub(crate) struct Machine {
    pub(crate) cpus: usize,
    pub(crate) cpu_model: String,
    pub(crate) kernel: String,
    pub(crate) load_before: String,
    pub(crate) date: String,
    pub(crate) pinned: bool,
}

impl Machine {
    pub(crate) fn read(pinned: bool) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into())
        };
        let date = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
                .unwrap_or_else(|| "unknown".into()),
            kernel: read("/proc/sys/kernel/osrelease"),
            load_before: read("/proc/loadavg"),
            date,
            pinned,
        }
    }
}

/// Bytes per live session on one server.
pub(crate) struct MemoryRow {
    pub(crate) server: String,
    pub(crate) sessions: u64,
    pub(crate) bytes_per_session: f64,
}

/// Redis commands per request of one server on one path.
pub(crate) struct RedisRow {
    pub(crate) server: String,
    pub(crate) path: &'static str,
    pub(crate) trips: RoundTrips,
}

/// Everything one `cargo xtask bench` measured.
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) quick: bool,
    /// The frameworks of an `--only` run, which measures their throughput and nothing
    /// else; empty for a whole run.
    pub(crate) only: Vec<String>,
    pub(crate) plan: CellPlan,
    pub(crate) cells: Vec<Cell>,
    pub(crate) memory: Vec<MemoryRow>,
    pub(crate) cap: u64,
    pub(crate) curve: Vec<(u64, u64)>,
    pub(crate) redis: Vec<RedisRow>,
    pub(crate) micro: Vec<MicroResult>,
    /// Server starts that failed and were made again: which server, how the attempt ended.
    pub(crate) failed_starts: Vec<(String, String)>,
}

impl Report {
    /// The cell of `framework`'s `row` on `workload`, if measured.
    pub(crate) fn cell(&self, framework: &str, row: Row, workload: Workload) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.framework == framework && c.row == row && c.workload == workload)
    }

    pub(crate) fn frameworks(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for cell in &self.cells {
            if !out.contains(&cell.framework) {
                out.push(cell.framework);
            }
        }
        out
    }

    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        let mode = if self.quick {
            " (--quick: not for comparison)"
        } else {
            ""
        };
        let only = if self.only.is_empty() {
            String::new()
        } else {
            format!(" (--only {}: throughput only)", self.only.join(","))
        };
        let _ = writeln!(md, "# sessio benchmark{mode}{only}\n");
        self.write_machine(&mut md);
        self.write_noise(&mut md);
        self.write_peers(&mut md);
        self.write_failed_starts(&mut md);
        for workload in Workload::ALL {
            self.write_workload(&mut md, workload);
        }
        if !self.only.is_empty() {
            return md;
        }
        self.write_memory(&mut md);
        self.write_redis(&mut md);
        self.write_micro(&mut md);
        md
    }

    fn write_machine(&self, md: &mut String) {
        let m = &self.machine;
        let pinning = if m.pinned {
            "server pinned to CPU 0, load generator to CPU 1 (`taskset`)"
        } else {
            "not pinned (fewer than 2 CPUs or no `taskset`)"
        };
        let _ = writeln!(
            md,
            "Machine: {} CPUs, {}, Linux {}; {}; taken {}; load average before: {}.\n\
             Shared machine: other builds may have run meanwhile.\n\n\
             Load: {} keep-alive connections; each cell measured in {} rounds of {:?} warm-up + \
             {:?}, alternating with the framework's other rows, and reported by its median \
             round; closed loop, std-thread HTTP/1.1 client in `xtask/src/load.rs`. `POST /cart`: each \
             connection starts a new session every {CART_RESET} adds (log-in not measured). \
             \"server CPU\" is the server process's CPU use in cores: below ~0.95 with \
             pinning, the client (or the machine) rather than the server was the limit. \
             \"CPU µs/req\" is the server's CPU time per request, which holds up better than \
             req/s when the machine is shared; \"Redis µs/req\" is Redis's (unpinned, on the \
             same two cores), for the rows that use it.\n",
            m.cpus,
            m.cpu_model,
            m.kernel,
            pinning,
            m.date,
            m.load_before,
            self.plan.connections,
            self.plan.rounds,
            self.plan.warmup,
            self.plan.duration,
        );
    }

    /// The lowest and the highest ratio to their bare framework of the `GET /health` rows
    /// other than bare: no session code runs there, so how far they stray from 1.00 is
    /// this run's noise. `None` when no such row was measured.
    pub(crate) fn health_spread(&self) -> Option<(f64, f64)> {
        self.cells
            .iter()
            .filter(|cell| cell.workload == Workload::Health && cell.row != Row::Bare)
            .filter_map(|cell| {
                let bare = self.cell(cell.framework, Row::Bare, Workload::Health)?;
                Some(cell.measured.requests_per_sec / bare.measured.requests_per_sec)
            })
            .fold(None, |spread, ratio| match spread {
                None => Some((ratio, ratio)),
                Some((low, high)) => Some((low.min(ratio), high.max(ratio))),
            })
    }

    /// The run's noise, read off its `GET /health` rows, so that a reader can tell a quiet
    /// run from a busy one before reading its ratios.
    fn write_noise(&self, md: &mut String) {
        if let Some((low, high)) = self.health_spread() {
            let _ = writeln!(
                md,
                "Noise: the `GET /health` rows other than bare, where no session code runs, \
                 lie within {low:.2}–{high:.2}× of their bare framework; a ratio to bare no \
                 further from 1.00 than that is within this run's noise.\n"
            );
        }
    }

    /// Which peer each framework is compared with, from the cells measured.
    fn write_peers(&self, md: &mut String) {
        let peers: Vec<String> = self
            .frameworks()
            .into_iter()
            .map(|framework| {
                let rows: Vec<&str> = [Row::PeerMemory, Row::PeerRedis]
                    .into_iter()
                    .filter(|&row| {
                        Workload::ALL
                            .iter()
                            .any(|&w| self.cell(framework, row, w).is_some())
                    })
                    .map(Row::label)
                    .collect();
                let name = self
                    .cells
                    .iter()
                    .filter(|c| c.framework == framework)
                    .find_map(|c| c.peer);
                match (name, rows.is_empty()) {
                    (Some(name), false) => format!("{framework}: {name} ({})", rows.join(", ")),
                    _ => format!("{framework}: none"),
                }
            })
            .collect();
        // The peer binaries read the same variable (`benches/peers/src/lib.rs`).
        let extension = match std::env::var("PEER_IDLE_EXTENSION").as_deref() {
            Ok("on-change") => {
                "only when the session changes (`PEER_IDLE_EXTENSION=on-change`: each \
                 library's default, which does not keep the cart contract's idle timeout)"
            }
            _ => {
                "on every request, as the cart contract's idle timeout asks (tower-sessions \
                 `with_always_save(true)`, actix-session `TtlExtensionPolicy::OnEveryRequest`)"
            }
        };
        let _ = writeln!(
            md,
            "Peers: {}. \"vs peer\" compares sessio-memory with peer-memory and sessio-redis \
             with peer-redis on the same framework; – where there is no such row. The peers \
             extend a session's idle deadline {extension}.\n",
            peers.join("; ")
        );
    }

    /// Says whether any server needed more than one attempt to start, and why.
    fn write_failed_starts(&self, md: &mut String) {
        if self.failed_starts.is_empty() {
            let _ = writeln!(md, "Every server started at its first attempt.\n");
            return;
        }
        let _ = writeln!(
            md,
            "Server starts that failed and were made again (the numbers come from the attempt \
             that started):\n"
        );
        for (server, ended) in &self.failed_starts {
            let _ = writeln!(md, "- {server}: {ended}");
        }
        md.push('\n');
    }

    fn write_workload(&self, md: &mut String, workload: Workload) {
        let _ = writeln!(md, "## {}\n", workload.title());
        let _ = writeln!(
            md,
            "| framework | server | req/s | p50 | p99 | vs bare | vs peer | server CPU | CPU µs/req | Redis µs/req | errors |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for framework in self.frameworks() {
            for row in Row::ALL {
                let Some(cell) = self.cell(framework, row, workload) else {
                    continue;
                };
                let ratio = |other: Option<&Cell>| {
                    other.map_or("–".to_owned(), |o| {
                        format!(
                            "{:.2}×",
                            cell.measured.requests_per_sec / o.measured.requests_per_sec
                        )
                    })
                };
                let vs_bare = ratio(self.cell(framework, Row::Bare, workload));
                let vs_peer = ratio(row.peer().and_then(|p| self.cell(framework, p, workload)));
                let server = cell.server();
                let per_request = |cores: f64| cores / cell.measured.requests_per_sec * 1e6;
                let redis = cell.measured.redis_cpu.map_or("–".to_owned(), |cores| {
                    format!("{:.1}", per_request(cores))
                });
                let _ = writeln!(
                    md,
                    "| {framework} | {server} | {:.0} | {} | {} | {vs_bare} | {vs_peer} | {:.2} | {:.1} | {redis} | {} |",
                    cell.measured.requests_per_sec,
                    micros(cell.measured.p50),
                    micros(cell.measured.p99),
                    cell.measured.server_cpu,
                    per_request(cell.measured.server_cpu),
                    cell.measured.errors,
                );
            }
        }
        md.push('\n');
    }

    fn write_memory(&self, md: &mut String) {
        let _ = writeln!(md, "## Memory\n");
        let _ = writeln!(
            md,
            "| server | sessions created | bytes per live session (RSS Δ / count) |"
        );
        let _ = writeln!(md, "|---|---:|---:|");
        for row in &self.memory {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} |",
                row.server, row.sessions, row.bytes_per_session
            );
        }
        if let (Some(first), Some(last)) = (self.memory.first(), self.memory.get(1)) {
            let _ = writeln!(
                md,
                "\n{} uses {:.2}× the memory per session of {}.",
                first.server,
                first.bytes_per_session / last.bytes_per_session,
                last.server
            );
        }
        let _ = writeln!(
            md,
            "\nRSS with `SESSION_MAX={}` (axum-cart, memory store) as sessions are created:\n",
            self.cap
        );
        let _ = writeln!(md, "| sessions created | RSS (MiB) |");
        let _ = writeln!(md, "|---:|---:|");
        for (sessions, rss) in &self.curve {
            let _ = writeln!(md, "| {sessions} | {:.1} |", *rss as f64 / 1048576.0);
        }
        let at_cap = self.curve.iter().find(|(s, _)| *s >= self.cap);
        if let (Some((s0, r0)), Some((s1, r1))) = (at_cap, self.curve.last()) {
            let growth = r1.saturating_sub(*r0) as f64 / (s1 - s0).max(1) as f64;
            let _ = writeln!(
                md,
                "\nPast the cap ({s0} → {s1} created): RSS {:+.1} MiB, {growth:.1} bytes per \
                 further session created.",
                (*r1 as f64 - *r0 as f64) / 1048576.0,
            );
        }
        md.push('\n');
    }

    fn write_redis(&self, md: &mut String) {
        let _ = writeln!(md, "## Redis commands per request\n");
        let _ = writeln!(
            md,
            "From `MONITOR` on the bench's own database (commands the server sends, i.e. round \
             trips unless pipelined), and the server-wide `INFO commandstats` delta (which also \
             counts commands run inside Lua scripts, and any other client's traffic).\n"
        );
        let _ = writeln!(
            md,
            "| server | path | commands / request | which | inside scripts | commandstats Δ / request |"
        );
        let _ = writeln!(md, "|---|---|---:|---|---:|---:|");
        for row in &self.redis {
            let which: Vec<String> = row
                .trips
                .by_command
                .iter()
                .map(|(name, n)| format!("{name} {n:.2}"))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {} | {:.2} | {:.2} |",
                row.server,
                row.path,
                row.trips.per_request,
                if which.is_empty() {
                    "–".to_owned()
                } else {
                    which.join(", ")
                },
                row.trips.in_scripts,
                row.trips.commandstats,
            );
        }
        md.push('\n');
    }

    fn write_micro(&self, md: &mut String) {
        let _ = writeln!(md, "## sessio-core micro-benchmarks (criterion)\n");
        let _ = writeln!(md, "| benchmark | time |");
        let _ = writeln!(md, "|---|---:|");
        for result in &self.micro {
            let _ = writeln!(md, "| {} | {} |", result.name, result.time);
        }
        md.push('\n');
    }
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bench::runner::Round;

    /// A cell measured at `requests_per_sec`.
    pub(crate) fn cell(
        framework: &'static str,
        peer: Option<&'static str>,
        row: Row,
        workload: Workload,
        requests_per_sec: f64,
    ) -> Cell {
        Cell {
            framework,
            peer,
            row,
            workload,
            measured: Round {
                requests_per_sec,
                p50: Duration::ZERO,
                p99: Duration::ZERO,
                errors: 0,
                server_cpu: 1.0,
                redis_cpu: None,
            },
        }
    }

    /// A report of `cells` alone.
    pub(crate) fn report(cells: Vec<Cell>) -> Report {
        Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "test".into(),
                kernel: "test".into(),
                load_before: String::new(),
                date: String::new(),
                pinned: true,
            },
            quick: false,
            only: Vec::new(),
            plan: CellPlan {
                connections: 1,
                rounds: 1,
                warmup: Duration::ZERO,
                duration: Duration::ZERO,
            },
            cells,
            memory: Vec::new(),
            cap: 0,
            curve: Vec::new(),
            redis: Vec::new(),
            micro: Vec::new(),
            failed_starts: Vec::new(),
        }
    }

    #[test]
    fn the_noise_is_the_spread_of_the_health_rows_around_their_bare_framework() {
        let health = |framework, row, rps| cell(framework, None, row, Workload::Health, rps);
        let report = report(vec![
            health("axum", Row::Bare, 100.0),
            health("axum", Row::SessioMemory, 93.0),
            health("axum", Row::SessioRedis, 101.0),
            health("rocket", Row::Bare, 50.0),
            health("rocket", Row::SessioMemory, 54.0),
            // Other workloads and a framework without a bare row say nothing of noise.
            cell("axum", None, Row::SessioMemory, Workload::Me, 10.0),
            health("warp", Row::SessioMemory, 1.0),
        ]);
        let (low, high) = report.health_spread().expect("health rows");
        assert!((low - 0.93).abs() < 1e-9, "{low}");
        assert!((high - 1.08).abs() < 1e-9, "{high}");
        assert!(report
            .markdown()
            .contains("lie within 0.93–1.08× of their bare framework"));
        let quiet = super::tests::report(vec![cell("axum", None, Row::Bare, Workload::Me, 1.0)]);
        assert_eq!(quiet.health_spread(), None);
        assert!(!quiet.markdown().contains("Noise:"));
    }
}
