//! Store faults under load: a cart app on a private `redis-server` that is paused
//! (SIGSTOP) and then killed and restarted while client threads keep requesting.
//!
//! Each cart example has `tests/store_faults.rs` calling [`run_store_fault_suite`] with
//! `env!("CARGO_BIN_EXE_<name>")`. The Redis is started here on a free port, never the
//! shared one on 6379, because the test stops and kills it.
//!
//! What is checked:
//! - **Pause** (SIGSTOP for [`PAUSE`]): every request that needs the session answers 503
//!   within [`REQUEST_BOUND`] (the apps use sessio-redis' default 500 ms store timeout;
//!   the bound is on an error path, not a speed claim); `/health` keeps answering 200;
//!   the app stays up. After SIGCONT the same clients are still logged in, carts written
//!   before the pause are intact, and every item acknowledged with 200 is in its cart.
//! - **Kill and restart** on the same port, without persistence (so every session is
//!   lost): while Redis is down requests answer 503 quickly; after the restart the app
//!   recovers by itself within [`RECOVERY`]: new logins work, old cookies are simply
//!   unknown (401, not 5xx), and no request fails with 5xx after that.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{redis_answers, CartProcess, HttpClient};

/// How long Redis stays paused.
pub const PAUSE: Duration = Duration::from_secs(4);
/// The longest any request may take while Redis is paused, down or back: the store
/// timeout (500 ms) plus generous room for a loaded machine.
pub const REQUEST_BOUND: Duration = Duration::from_millis(1500);
/// How soon after Redis restarts a new login must work again.
pub const RECOVERY: Duration = Duration::from_secs(5);
/// Client threads of the steady load.
const LOAD_THREADS: usize = 3;
/// Requests around a boundary (pause, resume, kill, restart) may land on either side.
const EDGE: Duration = Duration::from_millis(100);
/// After Redis is back, the backlog is drained and connections re-established.
const SETTLE: Duration = Duration::from_secs(1);

/// Runs the pause and kill/restart scenarios against `binary`. Without `redis-server` on
/// `PATH` it skips loudly, or fails when `SESSIO_REQUIRE_REDIS=1`.
pub fn run_store_fault_suite(binary: &str) {
    if !redis_server_installed() {
        if std::env::var("SESSIO_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
            panic!("store fault suite: `redis-server` is not installed (SESSIO_REQUIRE_REDIS=1)");
        }
        eprintln!(
            "\n!!!!! SKIPPED store fault suite: `redis-server` is not on PATH; install Redis to run it !!!!!\n"
        );
        return;
    }
    let redis = PrivateRedis::start(None);
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let mut app = CartProcess::start(binary, &[("SESSION_STORE", &url)]);

    // Sessions that nobody touches during the faults: their carts must come back intact.
    let idle = idle_sessions(&app);
    let load = Load::start(&app);
    thread::sleep(Duration::from_millis(1500));
    let warm_up_end = Instant::now();

    // (a) Pause.
    let paused_at = Instant::now();
    redis.signal("STOP");
    let health_during_pause = poll_health(&app, PAUSE);
    let resumed_at = Instant::now();
    redis.signal("CONT");
    thread::sleep(SETTLE + Duration::from_secs(2));
    let after_pause = Instant::now();
    assert_app_alive(&mut app, "after the pause");
    for (mut client, cart) in idle.clone() {
        let r = client.send("GET", "/cart", None);
        assert_eq!(
            (r.status, &r.json),
            (200, &json!({ "items": cart })),
            "a cart written before the pause changed"
        );
        assert_eq!(client.send("GET", "/me", None).json, json!({"user": "ada"}));
    }

    // Let every load thread read its cart back before the kill.
    thread::sleep(Duration::from_secs(1));

    // (b) Kill and restart on the same port: no persistence, so every session is lost.
    let killed_at = Instant::now();
    let port = redis.port;
    drop(redis);
    let health_while_down = poll_health(&app, Duration::from_millis(1500));
    let restarted_at = Instant::now();
    let _redis = PrivateRedis::start(Some(port));
    let recovered_at = wait_for_login(&app, restarted_at);
    thread::sleep(SETTLE + Duration::from_secs(1));
    let records = load.stop();
    assert_app_alive(&mut app, "after the restart");
    let (mut client, _) = idle.into_iter().next().expect("idle sessions");
    let r = client.send("GET", "/me", None);
    assert_eq!(r.status, 401, "a session lost with Redis' memory: {r:?}");

    // Every request, whatever happened to Redis, was answered within the bound.
    for r in &records {
        assert!(
            r.elapsed <= REQUEST_BOUND,
            "{} {} took {:?} (status {})",
            r.method,
            r.path,
            r.elapsed,
            r.status
        );
    }
    for (elapsed, status) in health_during_pause.iter().chain(&health_while_down) {
        assert_eq!(*status, 200, "/health needs no store");
        assert!(*elapsed <= REQUEST_BOUND, "/health took {elapsed:?}");
    }
    let during = |from: Instant, to: Instant| {
        records
            .iter()
            .filter(move |r| r.started >= from + EDGE && r.started + r.elapsed + EDGE <= to)
    };
    for r in during(records[0].started, warm_up_end) {
        assert_eq!(r.status, 200, "before any fault: {r:?}");
    }
    let paused: Vec<_> = during(paused_at, resumed_at).collect();
    assert!(
        paused.len() >= LOAD_THREADS,
        "too few requests during the pause"
    );
    for r in &paused {
        assert_eq!(r.status, 503, "while Redis is paused: {r:?}");
    }
    for r in during(resumed_at + SETTLE, killed_at) {
        assert_eq!(r.status, 200, "after the pause: {r:?}");
    }
    for r in during(killed_at, restarted_at) {
        assert_eq!(r.status, 503, "while Redis is down: {r:?}");
    }
    for r in during(recovered_at + SETTLE, Instant::now()) {
        assert!(
            r.status == 200 || r.status == 401,
            "after Redis came back: {r:?}"
        );
    }

    // Nothing acknowledged before the kill was lost: each thread's cart holds every item
    // answered 200 (and only items it asked for: a write sent just before the pause may
    // land once Redis resumes even though its request timed out).
    for (thread, cart) in load_carts_before_kill(&records, after_pause, killed_at) {
        let acknowledged: BTreeSet<&str> = records
            .iter()
            .filter(|r| r.thread == thread && r.status == 200 && r.started < after_pause)
            .filter_map(|r| r.item.as_deref())
            .collect();
        let attempted: BTreeSet<&str> = records
            .iter()
            .filter(|r| r.thread == thread)
            .filter_map(|r| r.item.as_deref())
            .collect();
        let cart: BTreeSet<&str> = cart.iter().map(String::as_str).collect();
        let lost: Vec<_> = acknowledged.difference(&cart).collect();
        assert!(lost.is_empty(), "thread {thread} lost items {lost:?}");
        let foreign: Vec<_> = cart.difference(&attempted).collect();
        assert!(
            foreign.is_empty(),
            "thread {thread} has foreign items {foreign:?}"
        );
    }
    app.stop();
}

fn redis_server_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `redis-server` of this test's own: no snapshot, no append-only file.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts one on `port` (or a free one) and waits until it answers `PING`.
    fn start(port: Option<u16>) -> PrivateRedis {
        let port = port.unwrap_or_else(free_port);
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server: {e}"));
        let redis = PrivateRedis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis_answers(&format!("redis://127.0.0.1:{port}/")) {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer within 10 s"
            );
            thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -{signal}: {e}"));
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // SIGKILL works on a stopped process too; CONT first so nothing lingers stopped.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn assert_app_alive(app: &mut CartProcess, when: &str) {
    let exited = app.child.try_wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(exited.is_none(), "the cart app died {when}: {exited:?}");
}

/// Logged-in clients with carts, written before any fault.
fn idle_sessions(app: &CartProcess) -> Vec<(HttpClient, Vec<String>)> {
    (0..3)
        .map(|i| {
            let mut c = app.client();
            login(&mut c);
            let mut cart = Vec::new();
            for j in 0..3 {
                let item = format!("idle{i}-{j}");
                let r = c.send("POST", "/cart", Some(&json!({ "item": item }).to_string()));
                assert_eq!(r.status, 200, "{r:?}");
                cart.push(item);
            }
            (c, cart)
        })
        .collect()
}

fn login(c: &mut HttpClient) -> u16 {
    c.send(
        "POST",
        "/login",
        Some(r#"{"user":"ada","password":"pw-ada"}"#),
    )
    .status
}

/// `/health` every 100 ms for `span`: (latency, status) of each.
fn poll_health(app: &CartProcess, span: Duration) -> Vec<(Duration, u16)> {
    let mut c = app.client();
    let end = Instant::now() + span;
    let mut seen = Vec::new();
    while Instant::now() < end {
        let started = Instant::now();
        let status = c.send("GET", "/health", None).status;
        seen.push((started.elapsed(), status));
        thread::sleep(Duration::from_millis(100));
    }
    seen
}

/// Waits until a brand-new client can log in and is recognised; returns when it could.
fn wait_for_login(app: &CartProcess, since: Instant) -> Instant {
    loop {
        let mut c = app.client();
        if login(&mut c) == 200 && c.send("GET", "/me", None).json == json!({"user": "ada"}) {
            return Instant::now();
        }
        assert!(
            since.elapsed() < RECOVERY,
            "the app did not recover within {RECOVERY:?} of Redis restarting"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// One request of the steady load.
#[derive(Debug, Clone)]
struct Record {
    thread: usize,
    started: Instant,
    elapsed: Duration,
    method: &'static str,
    path: &'static str,
    status: u16,
    /// For `POST /cart`: the item sent.
    item: Option<String>,
    /// For `GET /cart`: the items answered.
    cart: Option<Vec<String>>,
}

struct Load {
    stop: Arc<AtomicBool>,
    records: Arc<Mutex<Vec<Record>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    /// Each thread logs in, then loops `GET /me`, `POST /cart`, `GET /cart`.
    fn start(app: &CartProcess) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let records = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..LOAD_THREADS)
            .map(|thread| {
                let mut c = app.client();
                assert_eq!(login(&mut c), 200);
                let (stop, records) = (stop.clone(), records.clone());
                thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let item = format!("t{thread}-{n}");
                        let body = json!({ "item": item }).to_string();
                        let steps: [(&'static str, &'static str, Option<&str>); 3] = [
                            ("GET", "/me", None),
                            ("POST", "/cart", Some(&body)),
                            ("GET", "/cart", None),
                        ];
                        for (method, path, body) in steps {
                            let started = Instant::now();
                            let r = c.send(method, path, body);
                            let record = Record {
                                thread,
                                started,
                                elapsed: started.elapsed(),
                                method,
                                path,
                                status: r.status,
                                item: body.map(|_| item.clone()),
                                cart: (method == "GET" && path == "/cart" && r.status == 200)
                                    .then(|| items(&r.json)),
                            };
                            records
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(record);
                        }
                        thread::sleep(Duration::from_millis(20));
                    }
                })
            })
            .collect();
        Load {
            stop,
            records,
            threads,
        }
    }

    fn stop(self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        records.sort_by_key(|r| r.started);
        records
    }
}

fn items(json: &Value) -> Vec<String> {
    json["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Each load thread's cart as last read (200) after the pause and before the kill.
fn load_carts_before_kill(
    records: &[Record],
    after_pause: Instant,
    killed_at: Instant,
) -> Vec<(usize, Vec<String>)> {
    (0..LOAD_THREADS)
        .map(|thread| {
            let cart = records
                .iter()
                .filter(|r| r.thread == thread && r.started >= after_pause)
                .filter(|r| r.started + r.elapsed + EDGE <= killed_at)
                .rev()
                .find_map(|r| r.cart.clone())
                .unwrap_or_else(|| panic!("thread {thread} read no cart between pause and kill"));
            (thread, cart)
        })
        .collect()
}
