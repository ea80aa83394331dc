//! Shared by the Redis tests: finding (or starting) a Redis, per-test key prefixes,
//! records to store, and the real clock (Redis' own expiry follows it).
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

pub mod cluster;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::MultiplexedConnection;
use sessio::{CasOutcome, SessionStore, StoreError, TouchRule, WriteOutcome};
use sessio_core::expiry::Lifetime;
use sessio_core::machine::Changes;
use sessio_core::record::{SessionMeta, SessionRecord, StoredValue, StoredValues};
use sessio_core::{SessionId, StoreKey, StoreWrite, Timestamp};
use sessio_redis::{RedisConfig, RedisStore};

pub fn url() -> String {
    std::env::var("SESSIO_REDIS_URL").unwrap_or_else(|_| String::from("redis://127.0.0.1:6379/"))
}

fn required() -> bool {
    std::env::var("SESSIO_REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

/// Fails the test when Redis is required, else says loudly that it is skipped.
pub fn skip(test: &str, why: &str) {
    assert!(!required(), "{test}: {why} (SESSIO_REQUIRE_REDIS=1)");
    eprintln!(
        "\n!!!!! SKIPPED {test}: {why}; set SESSIO_REDIS_URL and SESSIO_REDIS_CLUSTER_URLS as `cargo xtask redis` prints them !!!!!\n"
    );
}

/// A plain connection (for looking at what the store wrote), if Redis answers `PING`.
pub async fn raw(url: &str) -> Option<MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    let connect = client.get_multiplexed_async_connection();
    let mut conn = tokio::time::timeout(Duration::from_secs(2), connect)
        .await
        .ok()?
        .ok()?;
    let ping = redis::cmd("PING");
    let pong = ping.query_async::<String>(&mut conn);
    tokio::time::timeout(Duration::from_secs(2), pong)
        .await
        .ok()?
        .ok()?;
    Some(conn)
}

/// A store with a key prefix of its own, and a plain connection to the same Redis.
pub struct TestRedis {
    pub store: RedisStore,
    pub raw: MultiplexedConnection,
    pub prefix: String,
}

/// `None` (after a loud note) when no Redis answers and none is required.
pub async fn redis(test: &str) -> Option<TestRedis> {
    let url = url();
    let Some(raw) = raw(&url).await else {
        skip(test, &format!("no Redis at {url}"));
        return None;
    };
    let prefix = format!("sessio-test:{test}:{:016x}:", rand::random::<u64>());
    let config = RedisConfig::default()
        .with_key_prefix(prefix.clone())
        .with_timeout(Duration::from_secs(2));
    let store = RedisStore::connect(&url, config)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    Some(TestRedis { store, raw, prefix })
}

impl TestRedis {
    pub async fn keys(&mut self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("KEYS: {e}"));
        keys.sort();
        keys
    }

    pub fn session_key(&self, key: &StoreKey) -> String {
        session_key(&self.prefix, key)
    }

    pub async fn exists(&mut self, key: &StoreKey) -> bool {
        let name = self.session_key(key);
        redis::cmd("EXISTS")
            .arg(name)
            .query_async::<i64>(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            == 1
    }

    /// Redis' remaining time to live of a key, in seconds.
    pub async fn ttl(&mut self, name: &str) -> i64 {
        redis::cmd("TTL")
            .arg(name)
            .query_async(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("TTL: {e}"))
    }

    /// Deletes what the test wrote (everything has a TTL anyway, should a test fail first).
    pub async fn cleanup(mut self) {
        for key in self.keys().await {
            let _: Result<i64, _> = redis::cmd("DEL").arg(key).query_async(&mut self.raw).await;
        }
    }
}

/// The name the store gives a session: `{prefix}s:{TTTT}<60 hex>`, the key's shard tag as
/// the hash tag, in front of the rest of its hex.
pub fn session_key(prefix: &str, key: &StoreKey) -> String {
    let hex = key.to_hex();
    let (digest, tag) = hex.as_str().split_at(60);
    format!("{prefix}s:{{{tag}}}{digest}")
}

/// The real clock: Redis expires keys by it, so timestamps passed to the store must be
/// near it (or deliberately ahead of it).
pub fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp::from_unix_secs(secs)
}

pub fn later(t: Timestamp, secs: u64) -> Timestamp {
    t.saturating_add(Duration::from_secs(secs))
}

pub fn lifetime(idle: Option<u64>, absolute: Option<u64>) -> Lifetime {
    Lifetime::new(
        idle.map(Duration::from_secs),
        absolute.map(Duration::from_secs),
    )
    .unwrap_or_else(|e| panic!("lifetime: {e}"))
}

pub fn record(now: Timestamp, lifetime: Lifetime, values: &[(&str, &[u8])]) -> SessionRecord {
    let values = values
        .iter()
        .map(|(name, bytes)| {
            (
                name.to_string(),
                StoredValue {
                    version: 1,
                    bytes: bytes.to_vec(),
                },
            )
        })
        .collect::<StoredValues>();
    SessionRecord {
        meta: SessionMeta::new(now, lifetime),
        values,
    }
}

pub fn new_key() -> StoreKey {
    SessionId::generate(&mut rand::rng()).store_key()
}

/// A touch rule that never touches.
pub fn no_touch(now: Timestamp) -> TouchRule {
    TouchRule {
        now,
        interval: Duration::from_secs(1 << 40),
    }
}

pub async fn create(store: &RedisStore, key: StoreKey, record: SessionRecord, now: Timestamp) {
    let write = StoreWrite::Create { key, record };
    let outcome = sessio::SessionStore::write(store, None, Some(&write), now).await;
    assert_eq!(outcome.ok(), Some(WriteOutcome::Written));
}

pub fn is_down(err: &StoreError) -> bool {
    matches!(err, StoreError::Unavailable(_) | StoreError::TimedOut(_))
}

/// `CONFIG SET name value` on `raw`, which must succeed.
pub async fn config_set(raw: &mut MultiplexedConnection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(raw)
        .await
        .unwrap_or_else(|e| panic!("CONFIG SET {name}: {e}"));
}

/// A `redis-server` of the test's own (nothing saved to disk), killed when dropped.
pub struct PrivateRedis {
    pub port: u16,
    child: Child,
}

impl PrivateRedis {
    /// `None` (after a loud note) when `redis-server` is not installed and not required.
    pub async fn start(test: &str) -> Option<Self> {
        let port = free_port();
        match Self::spawn(port) {
            Ok(child) => {
                let server = PrivateRedis { port, child };
                server.wait_ready().await;
                Some(server)
            }
            Err(err) => {
                skip(test, &format!("cannot start redis-server ({err})"));
                None
            }
        }
    }

    fn spawn(port: u16) -> std::io::Result<Child> {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while raw(&self.url()).await.is_none() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (no shutdown handshake, like a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a fresh server on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port).unwrap_or_else(|e| panic!("restart redis-server: {e}"));
        self.wait_ready().await;
    }

    /// A server on a port where nothing listens yet.
    pub async fn start_on(port: u16) -> Self {
        let child = Self::spawn(port).unwrap_or_else(|e| panic!("start redis-server: {e}"));
        let server = PrivateRedis { port, child };
        server.wait_ready().await;
        server
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
}

pub fn redis_server_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
}

/// Loads without touching; panics on a store error.
pub async fn load(store: &RedisStore, key: &StoreKey, now: Timestamp) -> Option<SessionRecord> {
    let loaded = store
        .load(key, no_touch(now))
        .await
        .unwrap_or_else(|e| panic!("load: {e}"));
    loaded.map(|l| l.record)
}

/// One write without a delete; panics on a store error.
pub async fn write(store: &RedisStore, write: StoreWrite, now: Timestamp) -> WriteOutcome {
    store
        .write(None, Some(&write), now)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"))
}

/// Changes that set (`Some`) or remove (`None`) values, last seen `at`.
pub fn changes(at: Timestamp, values: &[(&str, Option<&[u8]>)]) -> Changes {
    Changes {
        meta: None,
        last_seen: at,
        cleared: false,
        values: values
            .iter()
            .map(|(n, v)| (n.to_string(), v.map(<[u8]>::to_vec)))
            .collect(),
    }
}

/// `tasks` concurrent appends of one byte each (0, 1, …) to the value `log` of the
/// session `key` (created holding an empty `log` at version 1), each a compare-and-set
/// retried on conflict. Returns the value afterwards and how many calls all took.
pub async fn append_concurrently(
    store: &RedisStore,
    key: StoreKey,
    tasks: u8,
    now: Timestamp,
) -> (StoredValue, u32) {
    let store = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..tasks)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                let mut current = StoredValue {
                    version: 1,
                    bytes: Vec::new(),
                };
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let mut next = current.bytes.clone();
                    next.push(i);
                    match store
                        .compare_and_set(&key, "log", Some(current.version), Some(&next), now)
                        .await
                    {
                        Ok(CasOutcome::Written(_)) => return attempts,
                        Ok(CasOutcome::Conflict(Some(seen))) => current = seen,
                        other => panic!("task {i}: {other:?}"),
                    }
                }
            })
        })
        .collect();
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let log = load(&store, &key, now)
        .await
        .map(|r| r.values["log"].clone())
        .unwrap_or_else(|| panic!("absent"));
    (log, attempts)
}
