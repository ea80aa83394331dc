//! No raw session id in Redis (key names, hash fields and values, index members, `DUMP`
//! of every key), in `tracing` output at any level, or in the `Debug` of the store: a
//! session manager over `RedisStore` creates, updates, renews, binds, lists and destroys
//! sessions with a TRACE subscriber writing into a buffer, and a second one runs against a
//! Redis where nothing listens; then everything is searched for every id issued, as its
//! cookie encoding, standard base64, hex and raw bytes (any 12 consecutive bytes of it).
//! Skips loudly without Redis unless `SESSIO_REQUIRE_REDIS=1`.
#![allow(missing_docs)]

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessio::sessio_core::SessionId;
use sessio::{Lifetime, SessionManager};
use sessio_redis::{RedisConfig, RedisStore};

/// Every id the test saw, and what to search for.
#[derive(Default)]
struct Secrets {
    ids: Vec<[u8; 32]>,
}

impl Secrets {
    /// Remembers the id in a `Set-Cookie` value (signed or not); returns the cookie pair.
    fn issued(&mut self, set_cookie: Option<&str>) -> String {
        let header = set_cookie.expect("the response sets the session cookie");
        let pair = header.split(';').next().unwrap_or_default().to_owned();
        let value = pair.split_once('=').map_or("", |(_, v)| v);
        self.sent(value.get(..43).unwrap_or_default().as_bytes());
        pair
    }

    /// Remembers an id a client sends (it may be someone's real id).
    fn sent(&mut self, encoded: &[u8]) {
        let id = SessionId::parse(encoded).expect("a well-formed id");
        self.ids.push(*id.as_bytes());
    }

    /// Panics if `haystack` holds any form of any id, or any 12-byte window of one.
    fn assert_absent(&self, what: &str, haystack: &[u8]) {
        for bytes in &self.ids {
            let id = SessionId::generate(&mut Fixed(*bytes));
            let encoded = id.encode().as_str().to_owned();
            let standard = encoded.replace('-', "+").replace('_', "/");
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let upper = hex.to_uppercase();
            let forms: [(&str, &[u8], usize); 5] = [
                ("cookie encoding", encoded.as_bytes(), 16),
                ("standard base64", standard.as_bytes(), 16),
                ("hex", hex.as_bytes(), 24),
                ("HEX", upper.as_bytes(), 24),
                ("raw bytes", &bytes[..], 12),
            ];
            for (form, needle, window) in forms {
                for part in needle.windows(window) {
                    assert!(
                        !haystack.windows(window).any(|w| w == part),
                        "{what} holds a session id ({form}): {}",
                        String::from_utf8_lossy(haystack)
                    );
                }
            }
        }
    }
}

/// Hands out fixed bytes, to rebuild a `SessionId` from its raw bytes.
struct Fixed([u8; 32]);

impl rand::RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.0[..dst.len()]);
    }
}
impl rand::CryptoRng for Fixed {}

/// A buffer that every event and span of the test is written into.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn capture_everything() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn no_id_in_redis_logs_or_debug_output() {
    let (captured, _guard) = capture_everything();
    let Some(mut redis) = common::redis("no_id_in_redis_logs_or_debug_output").await else {
        return;
    };
    let manager = SessionManager::builder(redis.store.clone())
        .build()
        .expect("valid configuration");
    let mut secrets = Secrets::default();
    let mut debug = vec![format!("{:?} {:#?}", redis.store, manager)];

    let mut live = Vec::new();
    for i in 0..3 {
        // Create, then log in: update, bind a user, renew, remember me.
        let s = manager.start(std::iter::empty());
        s.insert("cart", &[format!("item{i}")])
            .await
            .expect("insert");
        let first = secrets.issued(s.finish().await.expect("finish").set_cookie());
        let s = manager.start([first.as_bytes()]);
        s.update("cart", |c: Option<Vec<String>>| {
            let mut c = c.unwrap_or_default();
            c.push("pear".to_owned());
            c
        })
        .await
        .expect("update");
        s.set_user(Some("ada")).await.expect("user");
        s.renew().await.expect("renew");
        let lifetime = Lifetime::new(Some(Duration::from_secs(600)), None)
            .expect("lifetime")
            .persistent_cookie(true);
        s.set_lifetime(lifetime).await.expect("lifetime");
        debug.push(format!("{s:?}"));
        let renewed = secrets.issued(s.finish().await.expect("finish").set_cookie());
        // The old id is dead, the new one lists the user's devices.
        let s = manager.start([first.as_bytes()]);
        debug.push(format!("{:?}", s.status().await));
        s.finish().await.expect("finish");
        let s = manager.start([renewed.as_bytes()]);
        debug.push(format!(
            "{:?} {:?}",
            s.user_sessions().await,
            s.store_key().await
        ));
        s.finish().await.expect("finish");
        live.push(renewed);
    }
    // Destroy one; malformed and unknown cookies.
    let s = manager.start([live[0].as_bytes()]);
    s.destroy().await.expect("destroy");
    debug.push(format!("{:?}", s.finish().await));
    let real = &live[1]["sessio=".len()..];
    let mut unknown = real.as_bytes().to_vec();
    unknown[0] = if unknown[0] == b'A' { b'B' } else { b'A' };
    secrets.sent(&unknown);
    let unknown = String::from_utf8(unknown).expect("ascii");
    for cookie in [format!("sessio={real}x"), format!("sessio={unknown}")] {
        let s = manager.start([cookie.as_bytes()]);
        debug.push(format!("{:?} {s:?}", s.status().await));
        s.finish().await.expect("finish");
    }

    // A store whose Redis does not answer: load and write fail, and say so in the log.
    let dead_config = RedisConfig::default().with_timeout(Duration::from_millis(200));
    let dead = RedisStore::connect_lazy("redis://127.0.0.1:1/", dead_config).expect("lazy");
    let dead = SessionManager::builder(dead)
        .build()
        .expect("valid configuration");
    let s = dead.start([live[1].as_bytes()]);
    debug.push(format!("{:?} {s:?}", s.get::<Vec<String>>("cart").await));
    let s = dead.start(std::iter::empty());
    s.insert("cart", &["x"]).await.expect("insert");
    debug.push(format!("{:?}", s.finish().await.map(|r| r.used_session())));

    // Everything Redis holds under the test's prefix.
    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
    let keys = redis.keys().await;
    assert!(
        keys.len() >= 3,
        "expected sessions and a user index: {keys:?}"
    );
    for key in keys {
        stored.push((format!("key name {key}"), key.clone().into_bytes()));
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(&key)
            .query_async(&mut redis.raw)
            .await
            .expect("DUMP");
        stored.push((format!("DUMP {key}"), dump));
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut redis.raw)
            .await
            .expect("TYPE");
        let parts: Vec<Vec<u8>> = match kind.as_str() {
            "hash" => {
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut redis.raw)
                    .await
            }
            "zset" => {
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut redis.raw)
                    .await
            }
            other => panic!("unexpected key type {other} for {key}"),
        }
        .expect("read key");
        for part in parts {
            stored.push((format!("{kind} {key}"), part));
        }
    }
    for (what, bytes) in &stored {
        secrets.assert_absent(what, bytes);
    }

    let log = captured.text();
    assert!(
        String::from_utf8_lossy(&log).contains("session store failed while loading"),
        "the subscriber captured nothing: {}",
        String::from_utf8_lossy(&log)
    );
    secrets.assert_absent("the TRACE log", &log);
    for shown in &debug {
        secrets.assert_absent("a Debug output", shown.as_bytes());
    }
    redis.cleanup().await;
}
