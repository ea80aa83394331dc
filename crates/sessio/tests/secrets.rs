//! No raw session id in `tracing` output at any level, nor in any `Debug` output: every
//! path (create, load, update, renew, user binding, destroy, malformed and unknown cookies,
//! store failures fail-closed and fail-open) runs with a TRACE subscriber writing into a
//! buffer, then the buffer and the `Debug` of every value involved are searched for every
//! id issued or sent, as its cookie encoding, standard base64, hex and raw bytes (any 12
//! consecutive bytes of it, so a partial leak is caught too).
#![allow(missing_docs)]

use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sessio::sessio_core::cookie::{CookieLookup, CookieUpdate, KeyRing};
use sessio::sessio_core::{SessionId, SessionState, StoreKey, StoreWrite, Timestamp};
use sessio::{
    BoxFuture, CasOutcome, CookieConfig, FailurePolicy, Loaded, MemoryStore, SessionManager,
    SessionStore, StoreError, TouchRule, UserSession, WriteOutcome,
};

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

    fn id(&mut self, id: &SessionId) {
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

/// A memory store that fails on demand.
#[derive(Clone)]
struct Flaky(Arc<FlakyState>);

struct FlakyState {
    inner: MemoryStore,
    fail_loads: AtomicBool,
    fail_writes: AtomicBool,
}

impl std::ops::Deref for Flaky {
    type Target = FlakyState;
    fn deref(&self) -> &FlakyState {
        &self.0
    }
}

fn down() -> StoreError {
    StoreError::Unavailable("test store is down".to_owned())
}

impl SessionStore for Flaky {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        if self.fail_loads.load(Ordering::SeqCst) {
            return Box::pin(async { Err(down()) });
        }
        self.inner.load(key, touch)
    }

    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Box::pin(async { Err(down()) });
        }
        self.inner.write(delete, write, now)
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a StoreKey,
        name: &'a str,
        expected: Option<u64>,
        value: Option<&'a [u8]>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CasOutcome, StoreError>> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Box::pin(async { Err(down()) });
        }
        self.inner.compare_and_set(key, name, expected, value, now)
    }

    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        self.inner.user_sessions(user, now)
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a StoreKey>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.inner.revoke_user(user, except, now)
    }
}

fn managers(store: &Flaky) -> [SessionManager; 3] {
    let build = |failure, cookie: CookieConfig| {
        SessionManager::builder(store.clone())
            .failure_policy(failure)
            .cookie(cookie)
            .build()
            .expect("valid configuration")
    };
    let signed = CookieConfig::new().signing_keys(KeyRing::new([9; 32]));
    [
        build(FailurePolicy::FailClosed, CookieConfig::new()),
        build(FailurePolicy::FailOpen, CookieConfig::new()),
        build(FailurePolicy::FailClosed, signed),
    ]
}

#[tokio::test]
async fn no_id_in_logs_or_debug_output() {
    let (captured, _guard) = capture_everything();
    let store = Flaky(Arc::new(FlakyState {
        inner: MemoryStore::new(NonZeroUsize::new(1000).expect("non-zero")),
        fail_loads: AtomicBool::new(false),
        fail_writes: AtomicBool::new(false),
    }));
    let mut secrets = Secrets::default();
    let mut debug: Vec<String> = Vec::new();
    let mut show = |v: &dyn std::fmt::Debug| debug.push(format!("{v:?} {v:#?}"));

    for manager in managers(&store) {
        show(&manager);
        // Create.
        let s = manager.start(std::iter::empty());
        show(&s);
        s.insert("cart", &["apple"]).await.expect("insert");
        let first = secrets.issued(s.finish().await.expect("finish").set_cookie());
        show(&s);

        // Load, update, bind a user, renew (login).
        let s = manager.start([first.as_bytes()]);
        show(&s.status().await);
        show(&s.get::<Vec<String>>("cart").await);
        show(&s.store_key().await);
        s.update("cart", |c: Option<Vec<String>>| {
            let mut c = c.unwrap_or_default();
            c.push("pear".to_owned());
            c
        })
        .await
        .expect("update");
        s.set_user(Some("ada")).await.expect("user");
        s.renew().await.expect("renew");
        show(&s);
        let renewed = secrets.issued(s.finish().await.expect("finish").set_cookie());
        show(&s);

        // The old id is dead; the new one is listed among the user's devices.
        let s = manager.start([first.as_bytes()]);
        show(&s.status().await);
        s.finish().await.expect("finish");
        let s = manager.start([renewed.as_bytes()]);
        show(&s.user_sessions().await);
        let lifetime = sessio::Lifetime::new(Some(std::time::Duration::from_secs(600)), None)
            .expect("lifetime")
            .persistent_cookie(true);
        s.set_lifetime(lifetime).await.expect("lifetime");
        if let Some(set_cookie) = s.finish().await.expect("finish").set_cookie() {
            secrets.issued(Some(set_cookie));
        }

        // Malformed cookies built from a real id, and a well-formed id never issued.
        let (name, value) = renewed.split_once('=').expect("pair");
        let real = &value[..43];
        let mut unknown = real.as_bytes().to_vec();
        unknown[0] = if unknown[0] == b'A' { b'B' } else { b'A' };
        secrets.sent(&unknown);
        let unknown = String::from_utf8(unknown).expect("ascii");
        for cookie in [
            format!("{name}={real}x"),
            format!("{name}={}", &real[..42]),
            format!("{name}=\"{real}"),
            format!("{name}={real}.{real}"),
            format!("{name}={real}; {name}=garbage"),
            format!("{name}={unknown}"),
            format!("{name}={unknown}.{real}"),
        ] {
            show(
                &manager
                    .cookie_settings()
                    .find_session_id([cookie.as_bytes()]),
            );
            let s = manager.start([cookie.as_bytes()]);
            show(&s.status().await);
            show(&s);
            show(&s.finish().await);
        }

        // The store fails while loading, then while writing.
        store.fail_loads.store(true, Ordering::SeqCst);
        let s = manager.start([renewed.as_bytes()]);
        show(&s.get::<Vec<String>>("cart").await);
        show(&s.insert("x", &1).await);
        show(&s);
        show(&s.finish().await);
        store.fail_loads.store(false, Ordering::SeqCst);
        store.fail_writes.store(true, Ordering::SeqCst);
        let s = manager.start([renewed.as_bytes()]);
        show(&s.insert("x", &1).await);
        show(&s.update("n", |n: Option<u32>| n.unwrap_or(0) + 1).await);
        show(&s.finish().await);
        store.fail_writes.store(false, Ordering::SeqCst);

        // Log out everywhere, and log out.
        let s = manager.start([renewed.as_bytes()]);
        show(&s.revoke_user_sessions(true).await);
        s.destroy().await.expect("destroy");
        show(&s);
        show(&s.finish().await);
    }

    // The core's values: a resumed state, its decision and store write, records, cookies.
    let manager = &managers(&store)[0];
    let s = manager.start(std::iter::empty());
    s.insert("cart", &["fig"]).await.expect("insert");
    let pair = secrets.issued(s.finish().await.expect("finish").set_cookie());
    let CookieLookup::Found(id) = manager.cookie_settings().find_session_id([pair.as_bytes()])
    else {
        panic!("the cookie just issued is not found");
    };
    show(&id);
    show(&id.store_key());
    let touch = TouchRule {
        now: manager.now(),
        interval: std::time::Duration::from_secs(60),
    };
    let loaded = store
        .inner
        .load(&id.store_key(), touch)
        .await
        .expect("load")
        .expect("stored");
    show(&loaded);
    show(&loaded.record.meta);
    let mut state = SessionState::resume(
        id.clone().into(),
        Some(loaded.record),
        loaded.touched,
        manager.now(),
        manager.expiry_policy(),
    );
    state.insert("late", b"1".to_vec());
    state.renew();
    show(&state);
    let decision = state.finish(&mut rand::rng());
    if let Some(CookieUpdate::Set { id, .. }) = &decision.cookie {
        secrets.id(id);
    }
    show(&decision);
    show(&decision.write);
    show(&CookieUpdate::Set { id, max_age: None });
    show(&store.inner);

    let log = captured.text();
    assert!(
        String::from_utf8_lossy(&log).contains("malformed session cookie"),
        "the subscriber captured nothing: {}",
        String::from_utf8_lossy(&log)
    );
    secrets.assert_absent("the TRACE log", &log);
    for shown in &debug {
        secrets.assert_absent("a Debug output", shown.as_bytes());
    }
}

/// `SessionResponse` carries the `Set-Cookie` value to send, so its `Debug` must not
/// print it: a `tracing::debug!(?response)` in an adapter would log the id.
#[tokio::test]
async fn session_response_debug_hides_the_id() {
    let manager = SessionManager::builder(MemoryStore::default())
        .build()
        .expect("valid configuration");
    let s = manager.start(std::iter::empty());
    s.insert("cart", &["apple"]).await.expect("insert");
    let response = s.finish().await.expect("finish");
    let mut secrets = Secrets::default();
    secrets.issued(response.set_cookie());
    secrets.assert_absent(
        "Debug of SessionResponse",
        format!("{response:?}").as_bytes(),
    );
}
