//! `cargo xtask soak --secs N`: mixed login / cart / logout load against every cart app,
//! with the memory store capped (`SESSION_MAX`) and with Redis, for `N` seconds in all.
//!
//! Each connection loops through a visitor's life: log in as a new user, add to the cart,
//! read `/me` and the cart, then log out, log out everywhere, or simply leave (the session
//! is abandoned, as most are). Afterwards it checks:
//! - no answer was a 5xx (and reports any other non-2xx);
//! - the app's RSS is flat after warm-up (the curve is printed);
//! - Redis holds no more than the live sessions: once the idle timeout has passed without
//!   traffic, not a single key is left (user indexes included).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use crate::bench::redis_stats::{bench_url, Redis};
use crate::bench::servers::{use_profile, Server};
use crate::load::{self, Client, Limit, LoadSpec, Response};
use crate::{cargo, execute, redis};

const APPS: [&str; 4] = ["axum-cart", "actix-cart", "rocket-cart", "warp-cart"];
/// The memory store's cap: small, so that abandoned sessions reach it within seconds.
const CAP: &str = "200";
/// The Redis cells' idle timeout: short, so that expiry is checked within the run.
const REDIS_IDLE_SECS: u64 = 4;
const CONNECTIONS: usize = 8;
const STEPS_PER_VISIT: u64 = 12;

/// One app × store run.
struct Cell {
    name: String,
    requests: u64,
    non_2xx: u64,
    server_errors: u64,
    rss_curve: Vec<u64>,
    leftover_keys: Option<usize>,
}

pub(crate) fn run(total: Duration) -> Result<(), String> {
    // The same selection and features as `cargo test --workspace --all-targets`, so that
    // after the tests (as in `cargo xtask ci`) this builds nothing new.
    execute(&mut cargo(&[
        "build",
        "--locked",
        "--workspace",
        "--all-targets",
    ]))?;
    use_profile("debug");
    let redis_url = bench_url(&redis::ensure()?)?;
    let per_cell = (total / (APPS.len() as u32 * 2)).max(Duration::from_secs(4));
    let mut cells = Vec::new();
    for app in APPS {
        cells.push(soak(
            app,
            &[("SESSION_STORE", "memory"), ("SESSION_MAX", CAP)],
            per_cell,
            None,
        )?);
        let mut redis = Redis::connect(&redis_url)?;
        redis.flush_bench_db()?;
        let idle = REDIS_IDLE_SECS.to_string();
        let env = [
            ("SESSION_STORE", redis_url.as_str()),
            ("SESSION_IDLE_SECS", idle.as_str()),
            ("SESSION_ABSOLUTE_SECS", "60"),
        ];
        cells.push(soak(app, &env, per_cell, Some(&mut redis))?);
    }
    report(&cells)
}

fn soak(
    app: &str,
    env: &[(&str, &str)],
    duration: Duration,
    redis: Option<&mut Redis>,
) -> Result<Cell, String> {
    let mut env = env.to_vec();
    env.push(("SESSION_INSECURE_COOKIE", "1"));
    let store = if redis.is_some() { "redis" } else { "memory" };
    println!(
        "==> soak: {app} with the {store} store for {}s",
        duration.as_secs()
    );
    let server = Server::start(app, &env, None)?;
    let server_errors = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let curve = Mutex::new(Vec::new());
    let request = |conn: usize, seq: u64, client: &mut Client| -> Result<Response, String> {
        let response = visit_step(conn, seq, client)?;
        if response.status >= 500 {
            server_errors.fetch_add(1, Ordering::Relaxed);
        }
        Ok(response)
    };
    let stats = thread::scope(|scope| {
        scope.spawn(|| {
            let every = duration / 20;
            while !done.load(Ordering::Relaxed) {
                if let (Ok(rss), Ok(mut curve)) = (server.rss(), curve.lock()) {
                    curve.push(rss);
                }
                thread::sleep(every);
            }
        });
        let stats = load::run(&LoadSpec {
            port: server.port,
            connections: CONNECTIONS,
            warmup: Duration::ZERO,
            limit: Limit::Time(duration),
            setup: &|_, _| Ok(()),
            setup_every: None,
            request: &request,
        });
        done.store(true, Ordering::Relaxed);
        stats
    })?;
    let leftover_keys = match redis {
        Some(redis) => {
            // No traffic for longer than the idle timeout: every session and every user
            // index must be gone. `KEYS` skips (and removes) expired keys, unlike `DBSIZE`,
            // so the count is exact; the script returns just the count.
            thread::sleep(Duration::from_secs(REDIS_IDLE_SECS + 2));
            let keys = redis.command(&["EVAL", "return #redis.call('KEYS', '*')", "0"])?;
            Some(keys.trim().parse().unwrap_or(usize::MAX))
        }
        None => None,
    };
    drop(server);
    let rss_curve = curve.into_inner().unwrap_or_default();
    Ok(Cell {
        name: format!("{app}/{store}"),
        requests: stats.requests,
        non_2xx: stats.bad_status,
        server_errors: server_errors.load(Ordering::Relaxed),
        rss_curve,
        leftover_keys,
    })
}

/// One step of a visitor's life; `seq` counts this connection's requests.
fn visit_step(conn: usize, seq: u64, client: &mut Client) -> Result<Response, String> {
    let visit = seq / STEPS_PER_VISIT;
    match seq % STEPS_PER_VISIT {
        0 => {
            client.clear_cookies();
            let user = format!("soak{conn}v{visit}");
            client.post_json(
                "/login",
                &format!(r#"{{"user":"{user}","password":"pw-{user}"}}"#),
            )
        }
        1..=4 => client.post_json("/cart", &format!(r#"{{"item":"item{seq}"}}"#)),
        5..=8 => client.get("/me"),
        9 => client.get("/cart"),
        10 => match visit % 3 {
            0 => client.send("POST", "/logout", None),
            1 => client.send("POST", "/logout-all", None),
            _ => {
                // Leaves without logging out: the session is abandoned in the store.
                client.clear_cookies();
                client.get("/health")
            }
        },
        _ => client.get("/cart"),
    }
}

fn report(cells: &[Cell]) -> Result<(), String> {
    let mut failures = Vec::new();
    println!("\n| app/store | requests | non-2xx | 5xx | RSS start → warm → end (MiB) | Redis keys after idle |");
    println!("|---|---:|---:|---:|---|---:|");
    for cell in cells {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let curve = &cell.rss_curve;
        let warm = curve.get(curve.len() * 2 / 5).copied().unwrap_or(0);
        let end = curve.last().copied().unwrap_or(0);
        let start = curve.first().copied().unwrap_or(0);
        println!(
            "| {} | {} | {} | {} | {:.1} → {:.1} → {:.1} | {} |",
            cell.name,
            cell.requests,
            cell.non_2xx,
            cell.server_errors,
            mib(start),
            mib(warm),
            mib(end),
            cell.leftover_keys.map_or("-".to_owned(), |k| k.to_string())
        );
        let curve_text: Vec<String> = curve.iter().map(|b| format!("{:.1}", mib(*b))).collect();
        println!(
            "    RSS curve (MiB, {} samples): {}",
            curve.len(),
            curve_text.join(" ")
        );
        if cell.server_errors > 0 {
            failures.push(format!(
                "{}: {} answers were 5xx",
                cell.name, cell.server_errors
            ));
        }
        // Flat after warm-up: a little allocator slack is fine, steady growth is not.
        let allowed = (warm as f64 * 1.25).max(warm as f64 + 4.0 * 1024.0 * 1024.0);
        if warm > 0 && end as f64 > allowed {
            failures.push(format!(
                "{}: RSS grew from {:.1} to {:.1} MiB after warm-up",
                cell.name,
                mib(warm),
                mib(end)
            ));
        }
        if let Some(keys) = cell.leftover_keys.filter(|&k| k > 0) {
            failures.push(format!(
                "{}: {keys} Redis keys outlived the idle timeout",
                cell.name
            ));
        }
    }
    if failures.is_empty() {
        println!("\nsoak: no 5xx, RSS flat after warm-up, Redis empty once idle");
        Ok(())
    } else {
        Err(format!("soak failures:\n  {}", failures.join("\n  ")))
    }
}
