//! Memory: bytes per live session (RSS delta over many new sessions), and RSS past the
//! memory store's cap. A session is created by `POST /cart` without a cookie, so each one
//! holds the same one-item cart on every server.

use std::thread;
use std::time::Duration;

use super::servers::Server;
use crate::load::{self, Client, Limit, LoadSpec};

const CONNECTIONS: usize = 4;
/// Sessions created before the baseline reading, so that the runtime's and allocator's
/// one-time growth is not counted.
const WARM_SESSIONS: u64 = 2_000;

/// Creates `count` new sessions on `server` (each request without a cookie).
pub(crate) fn create_sessions(server: &Server, count: u64) -> Result<(), String> {
    let setup = |_: usize, _: &mut Client| Ok(());
    let request = |_: usize, _: u64, client: &mut Client| {
        client.clear_cookies();
        client.post_json("/cart", r#"{"item":"apple"}"#)
    };
    let stats = load::run(&LoadSpec {
        port: server.port,
        connections: CONNECTIONS,
        warmup: Duration::ZERO,
        limit: Limit::Requests(count.div_ceil(CONNECTIONS as u64)),
        setup: &setup,
        setup_every: None,
        request: &request,
    })?;
    if stats.bad_status + stats.failed_connections > 0 {
        return Err(format!(
            "creating sessions failed: {}",
            stats.first_error.unwrap_or_default()
        ));
    }
    // Let the allocator settle (and background tasks run) before RSS is read.
    thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// Bytes of RSS per live session after `count` new sessions.
pub(crate) fn bytes_per_session(server: &Server, count: u64) -> Result<f64, String> {
    create_sessions(server, WARM_SESSIONS)?;
    let before = server.rss()?;
    create_sessions(server, count)?;
    let after = server.rss()?;
    Ok(after.saturating_sub(before) as f64 / count as f64)
}

/// RSS after each of `steps` rounds of `per_step` new sessions: `(sessions, rss)`.
pub(crate) fn rss_curve(
    server: &Server,
    per_step: u64,
    steps: u64,
) -> Result<Vec<(u64, u64)>, String> {
    let mut curve = vec![(0, server.rss()?)];
    for step in 1..=steps {
        create_sessions(server, per_step)?;
        curve.push((step * per_step, server.rss()?));
    }
    Ok(curve)
}
