//! `cargo xtask bench [--quick]`: the published benchmark.
//!
//! One invocation builds every server in release, then measures on loopback: each
//! framework (axum, actix-web, rocket, warp) bare (no session, the limit), with sessio
//! (memory store, Redis), and with the peer its users pick where the bench has one
//! (tower-sessions on axum, actix-session on actix), on `GET /me`, `POST /cart` and
//! `GET /health`; bytes per live session and RSS past the memory store's cap; Redis
//! commands per request; and the core's criterion micro-benchmarks. It prints the tables
//! and writes `target/bench/report.md` and `target/bench/report.svg`.
//!
//! `--quick` runs every cell for a second or two on debug builds, without the criterion
//! micro-benchmarks, to check cheaply that the bench still works; only a full run's
//! ratios mean anything. `--only axum,actix` measures those frameworks' throughput rows
//! and nothing else: a few minutes, for checking a change to one framework's path.
//!
//! Modules: `servers` (what runs and how it is started), `runner` (throughput cells over
//! [`crate::load`]), `memory`, `redis_stats`, `micro`, `report` (markdown), `svg`.

mod memory;
mod micro;
pub(crate) mod redis_stats;
mod report;
mod runner;
pub(crate) mod servers;
mod svg;

use std::process::Command;
use std::time::Duration;

use self::redis_stats::Redis;
use self::report::{Machine, MemoryRow, RedisRow, Report};
use self::runner::{Cell, CellPlan, Round, Workload};
use self::servers::{Server, ServerSpec, PACKAGES, SERVERS};
use crate::load::Client;
use crate::{cargo, execute, redis, target_dir};

/// How long to measure.
pub(crate) enum Mode {
    /// A second or two per cell, 10k sessions, small criterion inputs: keeps it working.
    Quick,
    /// Ten seconds per cell, 100k sessions, criterion's defaults: the published numbers.
    Full,
}

/// The memory store's cap for the flat-RSS check, and how many sessions to create past it.
const CAP: u64 = 10_000;
const CAP_STEPS: u64 = 5;
const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;

/// What `cargo xtask bench` was asked for.
pub(crate) struct Options {
    mode: Mode,
    /// Frameworks whose throughput rows alone are measured; empty: everything.
    only: Vec<String>,
}

impl Options {
    pub(crate) fn quick() -> Self {
        Options {
            mode: Mode::Quick,
            only: Vec::new(),
        }
    }

    /// `[--quick] [--only FRAMEWORK,…]`.
    pub(crate) fn parse(args: &[&str]) -> Result<Self, String> {
        let mut options = Options {
            mode: Mode::Full,
            only: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--quick" => options.mode = Mode::Quick,
                "--only" => {
                    let list = args
                        .next()
                        .ok_or("bench: --only needs a list of frameworks")?;
                    for framework in list.split(',') {
                        if !SERVERS.iter().any(|s| s.framework == framework) {
                            return Err(format!(
                                "bench: --only: no framework `{framework}` (the bench has {})",
                                frameworks().join(", ")
                            ));
                        }
                        options.only.push(framework.to_owned());
                    }
                }
                other => return Err(format!("bench: unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

/// The frameworks of [`SERVERS`], in order, each once.
fn frameworks() -> Vec<&'static str> {
    // `SERVERS` lists each framework's rows together, so `dedup` leaves each name once.
    let mut frameworks: Vec<&str> = SERVERS.iter().map(|s| s.framework).collect();
    frameworks.dedup();
    frameworks
}

pub(crate) fn run(options: Options) -> Result<(), String> {
    let Options { mode, only } = options;
    let quick = matches!(mode, Mode::Quick);
    // The quick run only keeps the bench working (CI runs it), so it reuses the debug
    // build the tests already made instead of paying for a release build of every server.
    let profile = if quick { "debug" } else { "release" };
    servers::use_profile(profile);
    println!("==> bench: building the servers ({profile})");
    let mut build = vec!["build", "--locked"];
    if quick {
        // The same selection and features as `cargo test --workspace --all-targets`, so
        // after the tests this builds nothing new.
        build.extend(["--workspace", "--all-targets"]);
    } else {
        build.push("--release");
        for package in PACKAGES {
            build.extend(["-p", package]);
        }
    }
    execute(&mut cargo(&build))?;

    let redis_url = redis_stats::bench_url(&redis::ensure()?)?;
    println!("==> bench: Redis database {redis_url} (flushed before each Redis server)");
    // Read before pinning: the CPU count follows this process's affinity.
    let mut machine = Machine::read(false);
    let pinned = pin_self(&CLIENT_CPU.to_string());
    machine.pinned = pinned;
    let server_cpu = pinned.then_some(SERVER_CPU);
    let plan = if quick {
        CellPlan {
            connections: 16,
            rounds: 1,
            warmup: Duration::from_millis(300),
            duration: Duration::from_millis(1500),
        }
    } else {
        CellPlan {
            connections: 32,
            rounds: 3,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(4),
        }
    };
    let result = measure_all(quick, &only, plan, &redis_url, server_cpu);
    if pinned {
        pin_self(&format!("0-{}", machine.cpus.saturating_sub(1)));
    }
    let Measured {
        cells,
        memory,
        curve,
        redis,
        failed_starts,
    } = result?;

    println!("\n==> bench: sessio-core micro-benchmarks");
    // Criterion needs an optimised build; the quick run leaves the micro-benchmarks to the
    // full run (`cargo test` already runs each of them once as a smoke test).
    let micro = if quick || !only.is_empty() {
        Vec::new()
    } else {
        micro::run(false)?
    };

    let report = Report {
        machine,
        quick,
        only,
        plan,
        cells,
        memory,
        cap: CAP,
        curve,
        redis,
        micro,
        failed_starts,
    };
    let markdown = report.markdown();
    println!("\n{markdown}");
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in [("report.md", markdown), ("report.svg", svg::chart(&report))] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    // The quick run is a check (CI runs it): a server that answers with errors, or not at
    // all, fails it. A full run's tables show the errors next to the numbers they spoil.
    if quick {
        let failing: Vec<String> = report
            .cells
            .iter()
            .filter(|c| c.measured.errors > 0 || c.measured.requests_per_sec == 0.0)
            .map(|c| {
                format!(
                    "{}/{} {}: {} errors, {:.0} req/s",
                    c.framework,
                    c.server(),
                    c.workload.short(),
                    c.measured.errors,
                    c.measured.requests_per_sec
                )
            })
            .collect();
        if !failing.is_empty() {
            return Err(format!(
                "bench --quick: {} cells failed (logs in {}):\n  {}",
                failing.len(),
                dir.join("logs").display(),
                failing.join("\n  ")
            ));
        }
    }
    Ok(())
}

/// Everything [`measure_all`] measured, for the report.
struct Measured {
    cells: Vec<Cell>,
    memory: Vec<MemoryRow>,
    curve: Vec<(u64, u64)>,
    redis: Vec<RedisRow>,
    /// Every server start that had to be made again: which server, how the attempt ended.
    failed_starts: Vec<(String, String)>,
}

fn measure_all(
    quick: bool,
    only: &[String],
    plan: CellPlan,
    redis_url: &str,
    cpu: Option<usize>,
) -> Result<Measured, String> {
    println!("==> bench: throughput ({} rounds per cell)", plan.rounds);
    let mut cells = Vec::new();
    let mut failed_starts = Vec::new();
    // Reads Redis's CPU time around the rounds of the rows that use it.
    let mut redis = Redis::connect(redis_url)?;
    let chosen = frameworks()
        .into_iter()
        .filter(|f| only.is_empty() || only.iter().any(|o| o == f));
    for framework in chosen {
        // Every server of one framework runs at once (an idle server costs nothing), so
        // that each workload's rounds can alternate between them: a slow spell of the
        // shared machine then lands on every row alike instead of on one row.
        let specs: Vec<&ServerSpec> = SERVERS
            .iter()
            .filter(|s| s.framework == framework)
            .collect();
        let mut servers = Vec::new();
        for spec in &specs {
            servers.push(start(spec, redis_url, cpu, &mut failed_starts)?);
        }
        for workload in Workload::ALL {
            let mut rounds: Vec<Vec<Round>> = specs.iter().map(|_| Vec::new()).collect();
            for _ in 0..plan.rounds {
                for ((server, spec), measured) in servers.iter().zip(&specs).zip(&mut rounds) {
                    let redis = spec.uses_redis().then_some(&mut redis);
                    measured.push(runner::measure(server, workload, plan, redis)?);
                }
            }
            for (spec, measured) in specs.iter().zip(rounds) {
                let (round, all) = runner::median_round(measured);
                println!(
                    "    {:<22} {:<12} {:>9.0} req/s  p50 {:>9.1?}  p99 {:>9.1?}  cpu {:.2}  errors {}  (rounds: {})",
                    spec.name(),
                    workload.short(),
                    round.requests_per_sec,
                    round.p50,
                    round.p99,
                    round.server_cpu,
                    round.errors,
                    all,
                );
                cells.push(Cell {
                    framework: spec.framework,
                    peer: spec.peer,
                    row: spec.row,
                    workload,
                    measured: round,
                });
            }
        }
    }

    if !only.is_empty() {
        return Ok(Measured {
            cells,
            memory: Vec::new(),
            curve: Vec::new(),
            redis: Vec::new(),
            failed_starts,
        });
    }

    println!("==> bench: memory");
    let count = if quick { 10_000 } else { 100_000 };
    let memory_env = [
        ("SESSION_STORE", "memory"),
        ("SESSION_INSECURE_COOKIE", "1"),
    ];
    let mut memory = Vec::new();
    for (name, bin) in [
        ("sessio MemoryStore (axum-cart)", "axum-cart"),
        ("tower-sessions 0.15 MemoryStore", "peer-tower-sessions"),
    ] {
        let server = Server::start(bin, &memory_env, cpu)?;
        note_failed_starts(name, &server, &mut failed_starts);
        let bytes = memory::bytes_per_session(&server, count)?;
        println!("    {name:<34} {bytes:>8.0} bytes per live session ({count} sessions)");
        memory.push(MemoryRow {
            server: name.to_owned(),
            sessions: count,
            bytes_per_session: bytes,
        });
    }
    let cap = CAP.to_string();
    let capped_env = [
        ("SESSION_STORE", "memory"),
        ("SESSION_INSECURE_COOKIE", "1"),
        ("SESSION_MAX", cap.as_str()),
    ];
    let server = Server::start("axum-cart", &capped_env, cpu)?;
    note_failed_starts(
        &format!("axum-cart (SESSION_MAX={CAP})"),
        &server,
        &mut failed_starts,
    );
    let curve = memory::rss_curve(&server, CAP, CAP_STEPS)?;
    drop(server);
    for (sessions, rss) in &curve {
        println!("    SESSION_MAX={CAP}: {sessions:>6} created, RSS {rss:>10} bytes");
    }

    println!("==> bench: Redis commands per request");
    let count = if quick { 50 } else { 500 };
    let mut redis = Vec::new();
    for spec in SERVERS.iter().filter(|s| s.uses_redis()) {
        let server = start(spec, redis_url, cpu, &mut failed_starts)?;
        let mut client = Client::connect(server.port)?;
        client.login("redis-bench")?;
        for workload in Workload::ALL {
            // Warm: connections opened, scripts loaded, before anything is counted.
            for _ in 0..5 {
                workload.send(&mut client)?;
            }
            let send = |client: &mut Client| match workload.send(client)?.status {
                200 => Ok(()),
                status => Err(format!("{} answered {status}", workload.short())),
            };
            let trips = redis_stats::measure(redis_url, count, &mut client, &send)?;
            let library = match (spec.row, spec.peer) {
                (servers::Row::PeerRedis, Some(peer)) => peer,
                _ => "sessio",
            };
            let name = format!("{} ({library})", spec.name());
            println!(
                "    {name:<40} {:<12} {:.2} commands/request ({:.2} inside scripts)",
                workload.short(),
                trips.per_request,
                trips.in_scripts
            );
            redis.push(RedisRow {
                server: name,
                path: workload.short(),
                trips,
            });
        }
    }
    Ok(Measured {
        cells,
        memory,
        curve,
        redis,
        failed_starts,
    })
}

/// Starts a server for `spec`, with the bench's Redis database flushed first if it uses it;
/// notes in `failed_starts` any attempt that had to be made again.
fn start(
    spec: &ServerSpec,
    redis_url: &str,
    cpu: Option<usize>,
    failed_starts: &mut Vec<(String, String)>,
) -> Result<Server, String> {
    if spec.uses_redis() {
        Redis::connect(redis_url)?.flush_bench_db()?;
    }
    let server = Server::start(spec.bin, &spec.env(redis_url), cpu)?;
    note_failed_starts(&spec.name(), &server, failed_starts);
    Ok(server)
}

/// Keeps, for the report, the failed attempts that came before `server` started.
fn note_failed_starts(name: &str, server: &Server, failed_starts: &mut Vec<(String, String)>) {
    for ended in &server.failed_starts {
        failed_starts.push((name.to_owned(), ended.clone()));
    }
}

/// Pins this process (every thread) to `cpus` with `taskset`; false where that is not
/// possible (one CPU, or no `taskset`).
fn pin_self(cpus: &str) -> bool {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return false;
    }
    Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
