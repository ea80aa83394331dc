//! Against private `redis-server` processes the tests start, pause and kill: the number
//! of commands per store call, timeouts, recovery without rebuilding the store, and the
//! connections a store makes.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::cluster::PrivateClusterNode;
use common::{create, is_down, later, lifetime, new_key, no_touch, now, record, PrivateRedis};
use redis::aio::MultiplexedConnection;
use sessio::{PushOutcome, SessionStore, StoreError, TouchRule};
use sessio_core::machine::Changes;
use sessio_core::{StoreWrite, Timestamp};
use sessio_redis::{RedisConfig, RedisStore};

/// The `INFO commandstats` lines of script calls.
const SCRIPTS: &[&str] = &["cmdstat_evalsha:", "cmdstat_eval:"];

/// Calls so far of the commands a store sends (`EVALSHA`, `EVAL`, `HGETALL`), from
/// `INFO commandstats`; commands run inside scripts count too, so a script call that
/// reads with `HGETALL` inside counts it as well: the callers compare script calls.
async fn calls(raw: &mut MultiplexedConnection, prefixes: &[&str]) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap_or_else(|e| panic!("INFO: {e}"));
    info.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// A private Redis, a plain connection to it (for `INFO`, `CONFIG`, `SCRIPT` and raw
/// reads and writes) and a store on it with this timeout; `None` where no `redis-server`
/// can be started (the skip is reported by [`PrivateRedis::start`]).
async fn private_redis(
    test: &str,
    timeout: Duration,
) -> Option<(PrivateRedis, MultiplexedConnection, RedisStore)> {
    let server = PrivateRedis::start(test).await?;
    let raw = common::raw(&server.url())
        .await
        .unwrap_or_else(|| panic!("no raw connection"));
    let store = private_store(&server, timeout).await;
    Some((server, raw, store))
}

async fn private_store(server: &PrivateRedis, timeout: Duration) -> RedisStore {
    let config = RedisConfig::default().with_timeout(timeout);
    RedisStore::connect(&server.url(), config)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

#[tokio::test]
async fn every_store_call_is_one_script_call() {
    let Some((_server, mut raw, store)) =
        private_redis("round_trips", Duration::from_secs(2)).await
    else {
        return;
    };
    let now = now();
    let touch_due = TouchRule {
        now: later(now, 120),
        interval: Duration::from_secs(60),
    };
    let update = |key, at: Timestamp| StoreWrite::Update {
        key,
        changes: Changes {
            meta: None,
            last_seen: at,
            cleared: false,
            values: vec![("a".into(), Some(b"2".to_vec()))],
        },
    };

    // Warm-up: the first call of each script loads it (NOSCRIPT, SCRIPT LOAD, EVALSHA).
    let warm = new_key();
    let mut rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    rec.meta.user = Some("ada".into());
    create(&store, warm, rec.clone(), now).await;
    let _ = store.load(&warm, touch_due).await;
    let _ = store
        .compare_and_set(&warm, "a", Some(1), Some(b"x"), now)
        .await;
    let _ = store.user_sessions("ada", now).await;
    let _ = store.revoke_user("nobody", None, now).await;
    let _ = store
        .load_and_push(&warm, no_touch(now), "list", b"1")
        .await;
    // Touched at now + 120 by the load above: a touch is due again at now + 180.
    let push_due = TouchRule {
        now: later(now, 240),
        interval: Duration::from_secs(60),
    };
    let _ = store.load_and_push(&warm, push_due, "list", b"2").await;

    let key = new_key();
    let mut counts = Vec::new();
    macro_rules! count {
        ($what:literal, $call:expr) => {{
            let before = calls(&mut raw, SCRIPTS).await;
            let result = $call.await;
            assert!(result.is_ok(), "{}: {result:?}", $what);
            counts.push(($what, calls(&mut raw, SCRIPTS).await - before));
        }};
    }
    count!(
        "write Create",
        store.write(
            None,
            Some(&StoreWrite::Create {
                key,
                record: rec.clone()
            }),
            now
        )
    );
    // Created just now by this store, which knows when it was last seen: no touch can be
    // due within the interval, so a load is one plain HGETALL and no script.
    let within = TouchRule {
        now: later(now, 30),
        interval: Duration::from_secs(60),
    };
    let (scripts, hgetalls) = (
        calls(&mut raw, SCRIPTS).await,
        calls(&mut raw, &["cmdstat_hgetall:"]).await,
    );
    let plain = store.load(&key, within).await;
    assert!(matches!(plain, Ok(Some(ref l)) if !l.touched), "{plain:?}");
    assert_eq!(
        (
            calls(&mut raw, SCRIPTS).await - scripts,
            calls(&mut raw, &["cmdstat_hgetall:"]).await - hgetalls
        ),
        (0, 1),
        "a load with no touch due is one plain HGETALL"
    );
    count!("load (touching)", store.load(&key, touch_due));
    count!("load (absent)", store.load(&new_key(), no_touch(now)));
    count!(
        "write Update",
        store.write(None, Some(&update(key, later(now, 130))), now)
    );
    count!(
        "write Touch",
        store.write(
            None,
            Some(&StoreWrite::Touch {
                key,
                last_seen: later(now, 140),
                expires_at: later(now, 740)
            }),
            now
        )
    );
    let to = new_key();
    count!(
        "write Rotate",
        store.write(
            None,
            Some(&StoreWrite::Rotate {
                from: key,
                to,
                changes: Changes {
                    meta: None,
                    last_seen: now,
                    cleared: false,
                    values: vec![]
                }
            }),
            now
        )
    );
    count!(
        "write delete + Create",
        store.write(
            Some(&to),
            Some(&StoreWrite::Create {
                key,
                record: rec.clone()
            }),
            now
        )
    );
    count!(
        "compare_and_set",
        store.compare_and_set(&key, "a", Some(1), Some(b"y"), now)
    );
    count!(
        "load_and_push",
        store.load_and_push(&key, touch_due, "list", b"\"x\"")
    );
    // That push touched the session at now + 120: ten seconds on, no touch is due.
    let no_touch_due = TouchRule {
        now: later(now, 130),
        interval: Duration::from_secs(60),
    };
    count!(
        "load_and_push (no touch due)",
        store.load_and_push(&key, no_touch_due, "list", b"\"y\"")
    );
    count!("user_sessions", store.user_sessions("ada", now));
    count!("revoke_user", store.revoke_user("ada", None, now));
    for (what, n) in &counts {
        eprintln!("{what}: {n} script call(s)");
    }
    assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
}

/// A log-in that renews a pre-login session (a cart kept) writes a rotation carrying the
/// new meta: the store then knows when the session was last seen, so its first read is a
/// plain `HGETALL`, as after a log-in that creates the session. A rotation without the
/// meta tells no deadline, and the next read runs the script.
#[tokio::test]
async fn a_renewed_session_is_read_with_a_plain_hgetall() {
    let Some((_server, mut raw, store)) =
        private_redis("renewed_read", Duration::from_secs(2)).await
    else {
        return;
    };
    let now = now();
    let minute = Duration::from_secs(60);
    // Warm-up: the first call of a script loads it (NOSCRIPT, SCRIPT LOAD, EVALSHA).
    let _ = store.load(&new_key(), no_touch(now)).await;
    let anonymous = new_key();
    let before_log_in = record(now, lifetime(Some(600), None), &[("cart", b"[1]")]);
    create(&store, anonymous, before_log_in.clone(), now).await;
    // Long enough for the creation's last-seen time alone to make a touch due.
    let log_in_at = later(now, 100);
    let mut meta = before_log_in.meta;
    meta.user = Some("ada".into());
    meta.started_at = log_in_at;
    meta.id_issued_at = log_in_at;
    let renewed = new_key();
    let rotate = |from, to, meta| StoreWrite::Rotate {
        from,
        to,
        changes: Changes {
            meta,
            last_seen: log_in_at,
            cleared: false,
            values: vec![],
        },
    };
    let written = store
        .write(
            None,
            Some(&rotate(anonymous, renewed, Some(meta))),
            log_in_at,
        )
        .await;
    assert_eq!(written.ok(), Some(sessio::WriteOutcome::Written));

    let read_at = TouchRule {
        now: later(log_in_at, 30),
        interval: minute,
    };
    let (scripts, hgetalls) = (
        calls(&mut raw, SCRIPTS).await,
        calls(&mut raw, &["cmdstat_hgetall:"]).await,
    );
    let loaded = store.load(&renewed, read_at).await;
    let Ok(Some(loaded)) = loaded else {
        panic!("the renewed session: {loaded:?}");
    };
    assert!(!loaded.touched);
    assert_eq!(loaded.record.meta.user.as_deref(), Some("ada"));
    assert_eq!(
        loaded.record.values.get("cart").map(|v| v.bytes.as_slice()),
        Some(&b"[1]"[..])
    );
    assert_eq!(
        (
            calls(&mut raw, SCRIPTS).await - scripts,
            calls(&mut raw, &["cmdstat_hgetall:"]).await - hgetalls
        ),
        (0, 1),
        "the first read after a log-in that renewed the session is one plain HGETALL"
    );

    let again = new_key();
    let written = store
        .write(None, Some(&rotate(renewed, again, None)), log_in_at)
        .await;
    assert_eq!(written.ok(), Some(sessio::WriteOutcome::Written));
    let scripts = calls(&mut raw, SCRIPTS).await;
    let loaded = store.load(&again, read_at).await;
    assert!(matches!(loaded, Ok(Some(_))), "{loaded:?}");
    assert_eq!(
        calls(&mut raw, SCRIPTS).await - scripts,
        1,
        "a rotation without the meta leaves the deadline unknown: the read may touch"
    );
}

/// Which push script a push ran: `push.lua` (no touch) or `load_and_push.lua`.
#[derive(Debug, PartialEq, Eq)]
enum PushScript {
    WithoutTouch,
    MayTouch,
}

/// Pushes once after a `SCRIPT FLUSH`, and tells from the scripts Redis then holds which
/// one the push ran.
async fn push_and_see(
    raw: &mut MultiplexedConnection,
    store: &RedisStore,
    key: &sessio_core::StoreKey,
    touch: TouchRule,
    name: &str,
    element: &[u8],
) -> (Result<PushOutcome, StoreError>, Option<PushScript>) {
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(raw)
        .await
        .unwrap_or_else(|e| panic!("SCRIPT FLUSH: {e}"));
    let outcome = store.load_and_push(key, touch, name, element).await;
    let lean = redis::Script::new(include_str!("../src/lua/push.lua"));
    let touching = redis::Script::new(concat!(
        include_str!("../src/lua/common.lua"),
        include_str!("../src/lua/load_and_push.lua")
    ));
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(lean.get_hash())
        .arg(touching.get_hash())
        .query_async(raw)
        .await
        .unwrap_or_else(|e| panic!("SCRIPT EXISTS: {e}"));
    let ran = match exists[..] {
        [true, false] => Some(PushScript::WithoutTouch),
        [false, true] => Some(PushScript::MayTouch),
        _ => None,
    };
    (outcome, ran)
}

#[tokio::test]
async fn a_push_with_no_touch_due_runs_the_script_without_the_touch() {
    let Some((server, mut raw, store)) =
        private_redis("push_no_touch", Duration::from_secs(2)).await
    else {
        return;
    };
    let now = now();
    let (key, gone) = (new_key(), new_key());
    // Created by another server of the fleet: this one knows nothing of them yet.
    let other_server = private_store(&server, Duration::from_secs(2)).await;
    for k in [key, gone] {
        let rec = record(now, lifetime(Some(600), None), &[("cart", b"[\"a\"]")]);
        create(&other_server, k, rec, now).await;
    }
    let cart = |outcome: &Result<PushOutcome, StoreError>| match outcome {
        Ok(PushOutcome::Pushed(l)) => (l.touched, l.record.meta.last_seen, {
            let value = &l.record.values["cart"];
            (value.bytes.clone(), value.version)
        }),
        other => panic!("{other:?}"),
    };

    // This store has not read the session yet: the script that may touch runs, and
    // from its answer the store knows when a touch is next due.
    let (first, ran) = push_and_see(&mut raw, &store, &key, no_touch(now), "cart", b"\"b\"").await;
    assert_eq!(ran, Some(PushScript::MayTouch));
    assert_eq!(cart(&first), (false, now, (b"[\"a\",\"b\"]".to_vec(), 2)));

    // Within the interval: the script without the touch, which appends the same way.
    let within = no_touch(later(now, 10));
    let (second, ran) = push_and_see(&mut raw, &store, &key, within, "cart", b"\"c\"").await;
    assert_eq!(ran, Some(PushScript::WithoutTouch));
    let stored = b"[\"a\",\"b\",\"c\"]".to_vec();
    assert_eq!(cart(&second), (false, now, (stored, 3)));
    let name = common::session_key("sessio:", &key);
    let () = redis::cmd("HSET")
        .arg(&name)
        .arg("v:word")
        .arg("\"x\"")
        .arg("n:word")
        .arg("1")
        .query_async::<i64>(&mut raw)
        .await
        .map(|_| ())
        .unwrap_or_else(|e| panic!("HSET: {e}"));
    let (word, ran) = push_and_see(&mut raw, &store, &key, within, "word", b"1").await;
    assert_eq!(ran, Some(PushScript::WithoutTouch));
    assert!(
        matches!(word, Ok(PushOutcome::NotAList(ref l)) if l.record.values["word"].bytes == b"\"x\""),
        "{word:?}"
    );

    // Past the deadline by the caller's clock (Redis still holds the hash): absent, and
    // nothing is written.
    let before: Vec<u8> = hget(&mut raw, &name, "v:cart").await;
    let past = no_touch(later(now, 700));
    let (late, ran) = push_and_see(&mut raw, &store, &key, past, "cart", b"\"d\"").await;
    assert_eq!(ran, Some(PushScript::WithoutTouch));
    assert!(matches!(late, Ok(PushOutcome::Absent)), "{late:?}");
    assert_eq!(hget(&mut raw, &name, "v:cart").await, before);

    // Deleted behind the store's back: absent, and no hash is made.
    let _ = store
        .load_and_push(&gone, no_touch(now), "cart", b"1")
        .await;
    let gone_name = common::session_key("sessio:", &gone);
    let () = redis::cmd("DEL")
        .arg(&gone_name)
        .query_async::<i64>(&mut raw)
        .await
        .map(|_| ())
        .unwrap_or_else(|e| panic!("DEL: {e}"));
    let (deleted, ran) = push_and_see(&mut raw, &store, &gone, within, "cart", b"2").await;
    assert_eq!(ran, Some(PushScript::WithoutTouch));
    assert!(matches!(deleted, Ok(PushOutcome::Absent)), "{deleted:?}");
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&gone_name)
        .query_async(&mut raw)
        .await
        .unwrap_or_else(|e| panic!("EXISTS: {e}"));
    assert_eq!(exists, 0);
}

async fn hget(raw: &mut MultiplexedConnection, name: &str, field: &str) -> Vec<u8> {
    redis::cmd("HGET")
        .arg(name)
        .arg(field)
        .query_async(raw)
        .await
        .unwrap_or_else(|e| panic!("HGET: {e}"))
}

#[tokio::test]
async fn a_paused_redis_times_out_and_then_serves_again() {
    let timeout = Duration::from_millis(300);
    let Some((_server, mut raw, store)) = private_redis("paused", timeout).await else {
        return;
    };
    let now = now();
    let key = new_key();
    let rec = record(now, lifetime(Some(600), None), &[("a", b"kept")]);
    create(&store, key, rec.clone(), now).await;

    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query_async(&mut raw)
        .await
        .unwrap_or_else(|e| panic!("CLIENT PAUSE: {e}"));
    let started = Instant::now();
    let result = store.load(&key, no_touch(now)).await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(StoreError::TimedOut(t)) if t == timeout),
        "{result:?}"
    );
    assert!(took < timeout + Duration::from_millis(300), "took {took:?}");

    // Once the pause is over, the same store answers, with the data intact.
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        match store.load(&key, no_touch(now)).await {
            Ok(loaded) => {
                assert_eq!(loaded.map(|l| l.record), Some(rec));
                break;
            }
            Err(err) => assert!(Instant::now() < deadline && is_down(&err), "{err}"),
        }
    }
}

#[tokio::test]
async fn a_restarted_redis_is_reconnected_to_without_rebuilding_the_store() {
    let Some(mut server) = PrivateRedis::start("restart").await else {
        return;
    };
    let timeout = Duration::from_millis(300);
    let store = private_store(&server, timeout).await;
    let now = now();
    create(
        &store,
        new_key(),
        record(now, lifetime(Some(600), None), &[]),
        now,
    )
    .await;

    server.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let result = store.load(&new_key(), no_touch(now)).await;
        let took = started.elapsed();
        assert!(result.as_ref().is_err_and(is_down), "{result:?}");
        assert!(took < timeout + Duration::from_millis(300), "took {took:?}");
    }

    server.restart().await;
    let key = new_key();
    let rec = record(now, lifetime(Some(600), None), &[("a", b"after")]);
    let write = StoreWrite::Create {
        key,
        record: rec.clone(),
    };
    let started = Instant::now();
    loop {
        match store.write(None, Some(&write), now).await {
            Ok(_) => break,
            Err(err) => assert!(
                started.elapsed() < Duration::from_secs(5) && is_down(&err),
                "{err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("recovered {:?} after the restart", started.elapsed());
    let loaded = store
        .load(&key, no_touch(now))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.map(|l| l.record), Some(rec));
}

#[tokio::test]
async fn a_lazy_store_starts_while_redis_is_down() {
    if !common::redis_server_installed() {
        common::skip("lazy_start", "redis-server is not installed");
        return;
    }
    let port = common::free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let timeout = Duration::from_millis(300);
    let store = RedisStore::connect_lazy(&url, RedisConfig::default().with_timeout(timeout))
        .unwrap_or_else(|e| panic!("connect_lazy: {e}"));
    let eager = RedisStore::connect(&url, RedisConfig::default().with_timeout(timeout)).await;
    assert!(eager.as_ref().is_err_and(is_down), "{eager:?}");
    let result = store.load(&new_key(), no_touch(now())).await;
    assert!(result.as_ref().is_err_and(is_down), "{result:?}");

    let _server = PrivateRedis::start_on(port).await;
    let started = Instant::now();
    loop {
        match store.load(&new_key(), no_touch(now())).await {
            Ok(loaded) => {
                assert!(loaded.is_none());
                break;
            }
            Err(err) => assert!(
                started.elapsed() < Duration::from_secs(5) && is_down(&err),
                "{err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "lazy store served {:?} after Redis came up",
        started.elapsed()
    );
}

/// Stands in front of a Redis on a port of its own: while `garbage` is set, a new
/// connection is answered with a line that is not RESP, whatever it sends; otherwise
/// bytes pass both ways. What a client meets when it reconnects to a port that something
/// other than Redis holds for a while (a restart, a failover, a misrouted proxy).
/// [`FrontOfRedis::cut`] makes the connections passed so far silent, their sockets open.
struct FrontOfRedis {
    port: u16,
    garbage: Arc<AtomicBool>,
    /// How many cuts there were; a connection passes bytes while this is what it was
    /// when the connection came.
    cuts: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FrontOfRedis {
    async fn start(redis_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"))
            .port();
        let garbage = Arc::new(AtomicBool::new(true));
        let mode = Arc::clone(&garbage);
        let cuts = Arc::new(AtomicU64::new(0));
        let cut = Arc::clone(&cuts);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let garbage = mode.load(Ordering::SeqCst);
                let cut = Arc::clone(&cut);
                tokio::spawn(async move {
                    if garbage {
                        let mut buf = [0u8; 1024];
                        while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {
                            if client.write_all(b"THIS IS NOT REDIS\r\n").await.is_err() {
                                break;
                            }
                        }
                    } else if let Ok(redis) =
                        tokio::net::TcpStream::connect(("127.0.0.1", redis_port)).await
                    {
                        let passing = cut.load(Ordering::SeqCst);
                        let (client_read, client_write) = client.into_split();
                        let (redis_read, redis_write) = redis.into_split();
                        tokio::join!(
                            pass_until_cut(client_read, redis_write, &cut, passing),
                            pass_until_cut(redis_read, client_write, &cut, passing),
                        );
                    }
                });
            }
        });
        FrontOfRedis {
            port,
            garbage,
            cuts,
            task,
        }
    }

    /// A front that passes bytes from the start.
    async fn passing(redis_port: u16) -> Self {
        let front = Self::start(redis_port).await;
        front.garbage.store(false, Ordering::SeqCst);
        front
    }

    /// From now on, the connections made so far pass nothing either way (a silent
    /// network partition: no reset, no reply), and new ones pass as before.
    fn cut(&self) {
        self.cuts.fetch_add(1, Ordering::SeqCst);
    }

    /// Cuts, and checks that a load of `key` through `store` then times out.
    async fn cut_and_see_silence(&self, store: &RedisStore, key: &sessio_core::StoreKey) {
        self.cut();
        let result = store.load(key, no_touch(now())).await;
        assert!(
            matches!(result, Err(StoreError::TimedOut(_))),
            "the cut connection is silent: {result:?}"
        );
    }
}

/// Copies `from` to `to` until either closes; once `cuts` is past `passing`, what comes
/// in is read and dropped.
async fn pass_until_cut(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cuts: &AtomicU64,
    passing: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if cuts.load(Ordering::SeqCst) == passing && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for FrontOfRedis {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection whose set-up got an answer that is not RESP fails the calls waiting on it
/// with a clear error, and the next calls connect again: the store does not keep failing
/// with that one connection's error once Redis answers properly.
#[tokio::test]
async fn a_connection_that_got_no_resp_is_made_again() {
    let Some(server) = PrivateRedis::start("not_resp").await else {
        return;
    };
    let front = FrontOfRedis::start(server.port).await;
    let store = lazy_store(&format!("redis://127.0.0.1:{}/", front.port));
    fails_until(
        &store,
        |err| matches!(err, StoreError::Protocol(m) if m.contains("redis load")),
    )
    .await;
    front.garbage.store(false, Ordering::SeqCst);
    let (took, failures) = serves_again_within(&store, Duration::from_secs(5)).await;
    eprintln!("served again {took:?} after Redis answered properly ({failures} failure(s) first)");
}

/// A connection through which Redis has gone silent, its socket open (a partition, a
/// Redis that moved while the old path black-holes), is given up once calls find it
/// silent for longer than their time limit: the store serves again through a new
/// connection within a few time limits, instead of failing every call until enough of them
/// have piled up on the dead one.
#[tokio::test]
async fn a_connection_gone_silent_is_given_up_and_made_again() {
    let Some(server) = PrivateRedis::start("silent").await else {
        return;
    };
    let front = FrontOfRedis::passing(server.port).await;
    let store = lazy_store(&format!("redis://127.0.0.1:{}/", front.port));
    serves_again_within(&store, Duration::from_secs(5)).await;

    front.cut_and_see_silence(&store, &new_key()).await;
    let (took, failures) = serves_again_within(&store, Duration::from_secs(3)).await;
    eprintln!("served again {took:?} after the first timed-out call ({failures} failure(s) first)");
}

/// The cluster's counterpart: a lone cluster node announced at the proxy's port, so that
/// every connection the client makes to it passes the proxy. Cut, the node's connection is
/// silent with its socket open; once calls to the session's slot have timed out for a
/// timeout with none answered, the store connects to the cluster afresh and serves again.
#[tokio::test]
async fn a_silent_cluster_node_is_connected_to_afresh() {
    if !common::redis_server_installed() {
        common::skip("cluster_silent", "redis-server is not installed");
        return;
    }
    let node = PrivateClusterNode::start_on(PrivateClusterNode::free_port()).await;
    let front = FrontOfRedis::passing(node.port).await;
    let mut raw = common::raw(&node.url())
        .await
        .unwrap_or_else(|| panic!("no raw connection"));
    common::config_set(&mut raw, "cluster-announce-port", &front.port.to_string()).await;
    let config = RedisConfig::default().with_timeout(Duration::from_millis(300));
    let store =
        RedisStore::connect_cluster_lazy([format!("redis://127.0.0.1:{}/", front.port)], config)
            .unwrap_or_else(|e| panic!("connect_cluster_lazy: {e}"));
    serves_again_within(&store, Duration::from_secs(5)).await;
    let key = new_key();
    let now = now();
    create(
        &store,
        key,
        record(now, lifetime(Some(600), None), &[("a", b"1")]),
        now,
    )
    .await;

    front.cut_and_see_silence(&store, &key).await;
    let (took, failures, loaded) = loads_again_within(&store, &key, Duration::from_secs(3)).await;
    assert!(loaded.is_some_and(|l| l.record.values.get("a").is_some()));
    eprintln!("served again {took:?} after the first timed-out call ({failures} failure(s) first)");
}

/// A store whose connection is made by its first call, with calls bounded by 300 ms.
fn lazy_store(url: &str) -> RedisStore {
    let config = RedisConfig::default().with_timeout(Duration::from_millis(300));
    RedisStore::connect_lazy(url, config).unwrap_or_else(|e| panic!("connect_lazy: {e}"))
}

/// Loads until one fails as `expected` says. The client tries a connection's set-up a few
/// times (each time the call times out) before it settles on the failure.
async fn fails_until(store: &RedisStore, expected: impl Fn(&StoreError) -> bool) {
    let started = Instant::now();
    loop {
        match store.load(&new_key(), no_touch(now())).await {
            Err(err) if expected(&err) => return,
            Err(StoreError::TimedOut(_)) if started.elapsed() < Duration::from_secs(10) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// Loads a session that does not exist every 50 ms until one serves (within `limit`):
/// how long it took and how many failed first.
async fn serves_again_within(store: &RedisStore, limit: Duration) -> (Duration, u32) {
    let (took, failures, loaded) = loads_again_within(store, &new_key(), limit).await;
    assert!(loaded.is_none());
    (took, failures)
}

/// Loads `key` every 50 ms until one serves (within `limit`): how long it took, how many
/// failed first, and what was loaded.
async fn loads_again_within(
    store: &RedisStore,
    key: &sessio_core::StoreKey,
    limit: Duration,
) -> (Duration, u32, Option<sessio::Loaded>) {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match store.load(key, no_touch(now())).await {
            Ok(loaded) => {
                return (started.elapsed(), failures, loaded);
            }
            Err(err) => {
                failures += 1;
                assert!(
                    started.elapsed() < limit,
                    "still failing after {limit:?} and {failures} calls: {err}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A password rotated on Redis after the store's configuration: connecting is refused
/// (`Unavailable`) until Redis takes the store's password, and then the same store serves
/// again without being rebuilt.
#[tokio::test]
async fn a_refused_password_is_tried_again_once_redis_takes_it() {
    let Some(server) = PrivateRedis::start("rotated_password").await else {
        return;
    };
    let mut raw = common::raw(&server.url())
        .await
        .unwrap_or_else(|| panic!("no raw connection"));
    // The raw connection stays authenticated through both changes.
    common::config_set(&mut raw, "requirepass", "old-secret").await;
    let store = lazy_store(&format!("redis://:new-secret@127.0.0.1:{}/", server.port));
    fails_until(
        &store,
        |err| matches!(err, StoreError::Unavailable(m) if m.contains("redis load")),
    )
    .await;
    common::config_set(&mut raw, "requirepass", "new-secret").await;
    serves_again_within(&store, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_full_redis_refuses_writes_and_still_serves_reads() {
    let Some((_server, mut raw, store)) = private_redis("oom", Duration::from_secs(2)).await else {
        return;
    };
    let now = now();
    let key = new_key();
    let rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    create(&store, key, rec.clone(), now).await;

    common::config_set(&mut raw, "maxmemory", "1").await;
    let write = StoreWrite::Create {
        key: new_key(),
        record: rec.clone(),
    };
    let result = store.write(None, Some(&write), now).await;
    assert!(
        matches!(&result, Err(StoreError::Refused(m)) if m.contains("OOM")),
        "{result:?}"
    );
    let loaded = store.load(&key, no_touch(now)).await;
    assert_eq!(loaded.ok().flatten().map(|l| l.record), Some(rec));
}

fn single_threaded_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// `connected_clients` from `INFO clients`, `None` when Redis does not tell.
async fn connected_clients(url: &str) -> Option<u64> {
    let mut raw = common::raw(url).await?;
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(&mut raw)
        .await
        .ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
}

/// As actix-web runs it: a worker per thread, each with a single-threaded runtime of its
/// own. Each worker reaches Redis on a connection of its own (none hands its calls to
/// another thread), and the store keeps serving after the runtime it was made on ended.
#[test]
fn each_runtime_calls_redis_on_its_own_connection() {
    const WORKERS: usize = 2;
    let setup = single_threaded_runtime();
    let Some(server) = setup.block_on(PrivateRedis::start("per_runtime")) else {
        return;
    };
    let key = new_key();
    let store = setup.block_on(async {
        let store = private_store(&server, Duration::from_secs(2)).await;
        let now = now();
        create(
            &store,
            key,
            record(now, lifetime(Some(600), None), &[]),
            now,
        )
        .await;
        store
    });
    // The store's first connection ends with the runtime it was made on.
    drop(setup);

    let loaded = std::sync::Barrier::new(WORKERS + 1);
    let counted = std::sync::Barrier::new(WORKERS + 1);
    let (clients, loads) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (store, loaded, counted) = (store.clone(), &loaded, &counted);
                scope.spawn(move || {
                    let worker = single_threaded_runtime();
                    // Outcomes are checked after the barriers, so that a failed load
                    // fails the test instead of leaving the others waiting.
                    let loads = worker.block_on(async {
                        let mut loads = Vec::new();
                        for _ in 0..20 {
                            let found = store.load(&key, no_touch(now())).await;
                            loads.push(found.map(|found| found.is_some()));
                        }
                        loads
                    });
                    // The worker's runtime (and its connection) lives until counted.
                    loaded.wait();
                    counted.wait();
                    loads
                })
            })
            .collect();
        loaded.wait();
        let clients = single_threaded_runtime().block_on(connected_clients(&server.url()));
        counted.wait();
        let loads: Vec<_> = workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|_| panic!("worker panicked")))
            .collect();
        (clients, loads)
    });
    for load in loads {
        match load {
            Ok(live) => assert!(live, "the session is live"),
            Err(e) => panic!("load: {e}"),
        }
    }
    let clients = clients.unwrap_or_else(|| panic!("INFO clients did not answer"));
    assert_eq!(
        clients,
        WORKERS as u64 + 1,
        "one connection per worker, plus the one counting"
    );
}

/// The URL's ACL user, password and database are what a connection is set up with: the
/// sessions land in that database, and a wrong password for that user is refused.
#[tokio::test]
async fn a_urls_user_password_and_database_are_used() {
    let Some(server) = PrivateRedis::start("acl_user_and_database").await else {
        return;
    };
    let mut raw = common::raw(&server.url())
        .await
        .unwrap_or_else(|| panic!("no raw connection"));
    let setuser = redis::cmd("ACL")
        .arg(&["SETUSER", "sessio", "on", ">pw-sessio", "~*", "+@all"])
        .query_async::<redis::Value>(&mut raw)
        .await;
    assert!(setuser.is_ok(), "ACL SETUSER: {setuser:?}");
    let url = |password: &str| format!("redis://sessio:{password}@127.0.0.1:{}/5", server.port);

    let store = lazy_store(&url("pw-sessio"));
    let now = now();
    let key = new_key();
    let rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    create(&store, key, rec.clone(), now).await;
    let loaded = store.load(&key, no_touch(now)).await;
    assert_eq!(loaded.ok().flatten().map(|l| l.record), Some(rec));
    let keys_in = |db: i64| {
        let url = format!("redis://127.0.0.1:{}/{db}", server.port);
        async move {
            let mut conn = common::raw(&url)
                .await
                .unwrap_or_else(|| panic!("no raw connection to db {db}"));
            redis::cmd("DBSIZE")
                .query_async::<u64>(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("DBSIZE: {e}"))
        }
    };
    assert_eq!((keys_in(0).await, keys_in(5).await), (0, 1));

    let refused = lazy_store(&url("not-the-password"));
    fails_until(
        &refused,
        |err| matches!(err, StoreError::Unavailable(m) if m.contains("refused the password")),
    )
    .await;
}
