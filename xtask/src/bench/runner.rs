//! The throughput cells: one server, one workload, the load generator, the numbers.

use std::time::{Duration, Instant};

use super::redis_stats::Redis;
use super::servers::{Row, Server};
use crate::load::{self, Client, Limit, LoadSpec, Response};

/// A workload: what each connection sends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// `GET /me` with a logged-in session: the read path.
    Me,
    /// `POST /cart` on a logged-in session: the write path.
    AddToCart,
    /// `GET /health`: no session.
    Health,
}

/// A connection starts a fresh session (logs in again) after this many `POST /cart`, so
/// that carts stay small (at most this many items) and the write path's cost does not
/// drift with the cart's size. The log-ins are not measured.
pub(crate) const CART_RESET: u64 = 100;

/// What a bare row's connections send as their cookie: sessio's cookie name, and a value
/// as long as a session id (43 characters), which the bare servers never read.
const STAND_IN_COOKIE: (&str, &str) = ("sessio", "bareBareBareBareBareBareBareBareBareBareBar");

impl Workload {
    pub(crate) const ALL: [Workload; 3] = [Workload::Me, Workload::AddToCart, Workload::Health];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Workload::Me => "GET /me (read path, logged in)",
            Workload::AddToCart => "POST /cart (write path, logged in)",
            Workload::Health => "GET /health (no session)",
        }
    }

    pub(crate) fn short(self) -> &'static str {
        match self {
            Workload::Me => "GET /me",
            Workload::AddToCart => "POST /cart",
            Workload::Health => "GET /health",
        }
    }

    /// Sends one request of this workload.
    pub(crate) fn send(self, client: &mut Client) -> Result<Response, String> {
        match self {
            Workload::Me => client.get("/me"),
            Workload::AddToCart => client.post_json("/cart", r#"{"item":"apple"}"#),
            Workload::Health => client.get("/health"),
        }
    }

    /// Logs the connection in, with one user per connection. A server that keeps no
    /// session (a bare row) sets no cookie; the connection then sends a stand-in of the
    /// sessio cookie's name and length all the same, so that every row of a workload
    /// parses the same request bytes and a bare row's cost is its framework's with the
    /// cookie a logged-in browser sends (rocket, for one, parses every `Cookie` header
    /// into its own jar whether or not anything reads it).
    fn setup(self, client: &mut Client, conn: usize) -> Result<(), String> {
        match self {
            Workload::Health => Ok(()),
            Workload::Me | Workload::AddToCart => {
                client.login(&format!("bench{conn}"))?;
                if !client.has_cookies() {
                    client.add_cookie(STAND_IN_COOKIE.0, STAND_IN_COOKIE.1);
                }
                Ok(())
            }
        }
    }
}

/// How hard and how long to push each cell.
#[derive(Clone, Copy)]
pub(crate) struct CellPlan {
    pub(crate) connections: usize,
    /// Times each cell is measured, alternating with the framework's other rows; the
    /// cell reports its median round.
    pub(crate) rounds: usize,
    /// Load before each round's measurement starts (fresh connections log in, caches
    /// warm), not counted.
    pub(crate) warmup: Duration,
    /// Measured time of one round.
    pub(crate) duration: Duration,
}

/// One round of one cell.
pub(crate) struct Round {
    pub(crate) requests_per_sec: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) errors: u64,
    /// The server's CPU use over the round, in cores (1.0 = one core fully busy).
    pub(crate) server_cpu: f64,
    /// Redis's CPU use over the round, in cores, for a server that uses Redis (measured
    /// while no other row runs).
    pub(crate) redis_cpu: Option<f64>,
}

/// The median of a cell's rounds by requests/s, with its own latencies and CPU (a
/// round's figures belong together) but the errors of all rounds; and every round's
/// requests/s in the order measured, so that the spread stays visible.
pub(crate) fn median_round(mut rounds: Vec<Round>) -> (Round, String) {
    let errors = rounds.iter().map(|r| r.errors).sum();
    let all = rounds
        .iter()
        .map(|r| format!("{:.0}", r.requests_per_sec))
        .collect::<Vec<_>>()
        .join(" ");
    rounds.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    let mut median = rounds.swap_remove(rounds.len() / 2);
    median.errors = errors;
    (median, all)
}

/// One measured cell: what served which workload, and its median round.
pub(crate) struct Cell {
    pub(crate) framework: &'static str,
    /// The framework's peer session library, if the bench has one.
    pub(crate) peer: Option<&'static str>,
    pub(crate) row: Row,
    pub(crate) workload: Workload,
    pub(crate) measured: Round,
}

impl Cell {
    /// What served this cell, as the tables name it: the row, and for a peer row which
    /// library it is.
    pub(crate) fn server(&self) -> String {
        match (self.row, self.peer) {
            (Row::PeerMemory | Row::PeerRedis, Some(peer)) => {
                format!("{} ({peer})", self.row.label())
            }
            _ => self.row.label().to_owned(),
        }
    }
}

/// One round of `workload` against `server`.
pub(crate) fn measure(
    server: &Server,
    workload: Workload,
    plan: CellPlan,
    mut redis: Option<&mut Redis>,
) -> Result<Round, String> {
    let setup = |conn: usize, client: &mut Client| workload.setup(client, conn);
    let request = |_conn: usize, _seq: u64, client: &mut Client| workload.send(client);
    let spec = LoadSpec {
        port: server.port,
        connections: plan.connections,
        warmup: plan.warmup,
        limit: Limit::Time(plan.duration),
        setup: &setup,
        setup_every: (workload == Workload::AddToCart).then_some(CART_RESET),
        request: &request,
    };
    let redis_before = redis.as_deref_mut().map(Redis::cpu_secs).transpose()?;
    let cpu_before = server.cpu_secs();
    let started = Instant::now();
    let stats = load::run(&spec)?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = (server.cpu_secs() - cpu_before) / wall;
    let redis_cpu = match (redis, redis_before) {
        (Some(redis), Some(before)) => Some((redis.cpu_secs()? - before) / wall),
        _ => None,
    };
    if let Some(err) = &stats.first_error {
        eprintln!("    warning: {err}");
    }
    Ok(Round {
        requests_per_sec: stats.requests_per_sec(),
        p50: stats.latency.quantile(0.5),
        p99: stats.latency.quantile(0.99),
        errors: stats.bad_status + stats.failed_connections,
        server_cpu: cpu,
        redis_cpu,
    })
}
