//! The session handle over a store that counts its calls: lazy loading, one round trip
//! per path, failure policies and atomic updates.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sessio::sessio_core::{StoreKey, StoreWrite, Timestamp};
use sessio::{
    BoxFuture, CasOutcome, ExpiryPolicy, FailurePolicy, LoadStatus, Loaded, ManualClock,
    MemoryStore, PushOutcome, SessionError, SessionManager, SessionStore, StoreError, TouchRule,
    UserSession, WriteOutcome,
};

#[derive(Default)]
struct Counts {
    loads: AtomicUsize,
    writes: AtomicUsize,
    cas: AtomicUsize,
    pushes: AtomicUsize,
}

/// Counts calls; fails every call while `failing`; reports the first create-only write as
/// an id collision while `collide_once`.
struct CountingStore {
    inner: MemoryStore,
    counts: Arc<Counts>,
    failing: Arc<AtomicBool>,
    collide_once: AtomicBool,
}

impl CountingStore {
    fn fail(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }
}

impl SessionStore for CountingStore {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        self.counts.loads.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            self.fail()?;
            self.inner.load(key, touch).await
        })
    }
    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        if matches!(write, Some(StoreWrite::Create { .. }))
            && self.collide_once.swap(false, Ordering::SeqCst)
        {
            return Box::pin(std::future::ready(Ok(WriteOutcome::KeyTaken)));
        }
        Box::pin(async move {
            self.fail()?;
            self.inner.write(delete, write, now).await
        })
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a StoreKey,
        name: &'a str,
        expected: Option<u64>,
        value: Option<&'a [u8]>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CasOutcome, StoreError>> {
        self.counts.cas.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            self.fail()?;
            self.inner
                .compare_and_set(key, name, expected, value, now)
                .await
        })
    }
    fn load_and_push<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
        name: &'a str,
        element: &'a [u8],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>> {
        self.counts.pushes.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            self.fail()?;
            self.inner.load_and_push(key, touch, name, element).await
        })
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

struct World {
    manager: SessionManager,
    counts: Arc<Counts>,
    failing: Arc<AtomicBool>,
    clock: ManualClock,
}

fn world(failure: FailurePolicy) -> World {
    let counts = Arc::new(Counts::default());
    let failing = Arc::new(AtomicBool::new(false));
    let clock = ManualClock::at(Timestamp::from_unix_secs(1_800_000_000));
    let store = CountingStore {
        inner: MemoryStore::default(),
        counts: counts.clone(),
        failing: failing.clone(),
        collide_once: AtomicBool::new(false),
    };
    let expiry = ExpiryPolicy::builder()
        .idle_timeout(Some(Duration::from_secs(600)))
        .touch_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let manager = SessionManager::builder(store)
        .expiry(expiry)
        .failure_policy(failure)
        .clock(clock.clone())
        .build()
        .unwrap();
    World {
        manager,
        counts,
        failing,
        clock,
    }
}

impl World {
    fn calls(&self) -> (usize, usize, usize) {
        (
            self.counts.loads.load(Ordering::SeqCst),
            self.counts.writes.load(Ordering::SeqCst),
            self.counts.cas.load(Ordering::SeqCst),
        )
    }

    /// Runs one request with the given cookie header and returns its Set-Cookie value.
    async fn login(&self) -> String {
        let s = self.manager.start(std::iter::empty());
        s.insert("user", "ada").await.unwrap();
        let cookie = s.finish().await.unwrap().set_cookie().unwrap().to_owned();
        cookie.split(';').next().unwrap().to_owned()
    }
}

#[tokio::test]
async fn untouched_session_never_reaches_the_store() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let before = w.calls();
    let s = w.manager.start([cookie.as_bytes()]);
    let response = s.finish().await.unwrap();
    assert_eq!(w.calls(), before, "an untouched session made store calls");
    assert!(!response.used_session());
    assert!(response.set_cookie().is_none());
}

#[tokio::test]
async fn read_path_is_one_load_and_write_path_one_write() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let (l0, w0, _) = w.calls();
    let s = w.manager.start([cookie.as_bytes()]);
    assert_eq!(
        s.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    assert_eq!(
        s.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    s.finish().await.unwrap();
    assert_eq!(w.calls().0 - l0, 1, "one load for the read path");
    assert_eq!(
        w.calls().1 - w0,
        0,
        "no write for a read within the touch interval"
    );

    let s = w.manager.start([cookie.as_bytes()]);
    s.insert("a", &1).await.unwrap();
    s.insert("b", &2).await.unwrap();
    s.remove("user").await.unwrap();
    s.finish().await.unwrap();
    assert_eq!(w.calls().1 - w0, 1, "one write for the write path");

    // A read after the touch interval slides the deadline inside the load: still no write.
    w.clock.advance(Duration::from_secs(120));
    let s = w.manager.start([cookie.as_bytes()]);
    assert_eq!(s.get::<i32>("a").await.unwrap(), Some(1));
    s.finish().await.unwrap();
    assert_eq!(
        w.calls().1 - w0,
        1,
        "the memory store touches during the load"
    );
}

#[tokio::test]
async fn fail_closed_surfaces_the_error_and_writes_nothing() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    w.failing.store(true, Ordering::SeqCst);
    let s = w.manager.start([cookie.as_bytes()]);
    let err = s.get::<String>("user").await.unwrap_err();
    assert!(
        matches!(err, SessionError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
    assert_eq!(err.status_code(), 503);
    let response = s.finish().await.unwrap();
    assert!(response.set_cookie().is_none());
    w.failing.store(false, Ordering::SeqCst);
    let s = w.manager.start([cookie.as_bytes()]);
    assert_eq!(
        s.get::<String>("user").await.unwrap().as_deref(),
        Some("ada"),
        "nothing lost"
    );
}

#[tokio::test]
async fn fail_open_runs_anonymous_and_read_only() {
    let w = world(FailurePolicy::FailOpen);
    let cookie = w.login().await;
    w.failing.store(true, Ordering::SeqCst);
    let s = w.manager.start([cookie.as_bytes()]);
    assert_eq!(s.get::<String>("user").await.unwrap(), None);
    assert!(matches!(
        s.insert("x", &1).await,
        Err(SessionError::ReadOnly)
    ));
    let writes = w.calls().1;
    let response = s.finish().await.unwrap();
    assert!(
        response.set_cookie().is_none(),
        "fail-open must not replace the client's cookie"
    );
    assert_eq!(w.calls().1, writes);
    w.failing.store(false, Ordering::SeqCst);
    let s = w.manager.start([cookie.as_bytes()]);
    assert_eq!(s.status().await.unwrap(), LoadStatus::Live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_updates_all_count() {
    let w = Arc::new(world(FailurePolicy::FailClosed));
    let cookie = w.login().await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (w, cookie) = (w.clone(), cookie.clone());
            tokio::spawn(async move {
                let s = w.manager.start([cookie.as_bytes()]);
                // Load first, then yield, so that the requests really overlap.
                s.get::<Vec<u32>>("cart").await.unwrap();
                tokio::task::yield_now().await;
                s.update("cart", |cart: Option<Vec<u32>>| {
                    let mut cart = cart.unwrap_or_default();
                    cart.push(i);
                    cart
                })
                .await
                .unwrap();
                s.finish().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = w.manager.start([cookie.as_bytes()]);
    let mut cart: Vec<u32> = s.get("cart").await.unwrap().unwrap();
    cart.sort_unstable();
    assert_eq!(cart, (0..50).collect::<Vec<_>>());
    assert!(
        w.calls().2 >= 50,
        "every update went through compare-and-set"
    );
}

#[tokio::test]
async fn destroyed_session_is_not_resurrected_by_a_concurrent_save() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let slow = w.manager.start([cookie.as_bytes()]);
    slow.insert("late", &true).await.unwrap();
    let logout = w.manager.start([cookie.as_bytes()]);
    logout.destroy().await.unwrap();
    logout.finish().await.unwrap();
    let response = slow.finish().await.unwrap();
    assert!(response.set_cookie().is_none());
    let after = w.manager.start([cookie.as_bytes()]);
    assert_eq!(
        after.status().await.unwrap(),
        LoadStatus::Unknown,
        "the destroyed session came back"
    );
}

/// `finish_at_once` answers what needs no store write, and leaves a write to `finish`,
/// which then carries out exactly what was decided.
#[tokio::test]
async fn finish_at_once_answers_reads_and_leaves_writes_to_finish() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;

    let untouched = w.manager.start([cookie.as_bytes()]);
    let response = untouched.finish_at_once().unwrap().unwrap();
    assert!(!response.used_session());

    let (l0, w0, _) = w.calls();
    let read = w.manager.start([cookie.as_bytes()]);
    assert_eq!(read.user().await.unwrap(), None);
    assert_eq!(
        read.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    let response = read.finish_at_once().unwrap().unwrap();
    assert!(response.used_session() && response.set_cookie().is_none());
    assert_eq!(w.calls(), (l0 + 1, w0, 0), "one load, no write");
    assert!(matches!(read.finish().await, Err(SessionError::Finished)));
    assert!(matches!(
        read.finish_at_once(),
        Some(Err(SessionError::Finished))
    ));

    let write = w.manager.start([cookie.as_bytes()]);
    write.insert("cart", &["fig"]).await.unwrap();
    assert!(
        write.finish_at_once().is_none(),
        "a write is left to finish"
    );
    assert!(write.finish_at_once().is_none(), "and stays left to it");
    assert!(matches!(
        write.get::<Vec<String>>("cart").await,
        Err(SessionError::Finished)
    ));
    assert_eq!(w.calls().1, w0, "nothing written before finish");
    let response = write.finish().await.unwrap();
    assert!(response.used_session());
    assert_eq!(w.calls().1, w0 + 1, "finish wrote once");
    let again = w.manager.start([cookie.as_bytes()]);
    assert_eq!(
        again.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["fig".to_owned()])
    );

    // `finishing`: the same, as an owned future that is ready at once for a read.
    let write = w.manager.start([cookie.as_bytes()]);
    write.insert("n", &1).await.unwrap();
    let finish = write.finishing();
    assert!(matches!(finish, sessio::Finish::Writing(_)), "{finish:?}");
    assert!(finish.await.unwrap().used_session());
    let read = w.manager.start([cookie.as_bytes()]);
    assert_eq!(read.get::<i32>("n").await.unwrap(), Some(1));
    let finish = read.finishing();
    assert!(matches!(finish, sessio::Finish::Ready(_)), "{finish:?}");
    assert!(finish.await.unwrap().set_cookie().is_none());
    assert!(matches!(
        read.finishing().await,
        Err(SessionError::Finished)
    ));

    // A new session: finish_at_once leaves the create to finish, which sets the cookie.
    let new = w.manager.start(std::iter::empty());
    new.insert("cart", &["pear"]).await.unwrap();
    assert!(new.finish_at_once().is_none());
    assert!(new.finish().await.unwrap().set_cookie().is_some());
}

/// `finish_after`: the handler's answer comes back with the session's headers, after the
/// session's changes are written; a handler that fails leaves its changes unwritten.
#[tokio::test]
async fn finish_after_writes_after_an_answer_and_nothing_after_a_failure() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let (_, w0, _) = w.calls();

    let session = w.manager.start([cookie.as_bytes()]);
    let handler = session.clone();
    let answer = async move {
        handler.insert("cart", &["fig"]).await?;
        Ok::<_, SessionError>("answered")
    };
    let (answer, finished) = session.finish_after(answer).await.unwrap();
    assert_eq!(answer, "answered");
    assert!(finished.unwrap().used_session());
    assert_eq!(w.calls().1, w0 + 1, "the change was written once");

    let session = w.manager.start([cookie.as_bytes()]);
    let handler = session.clone();
    let failing = async move {
        handler.insert("cart", &["pear"]).await?;
        Err::<&str, _>(SessionError::Finished)
    };
    assert!(matches!(
        session.finish_after(failing).await,
        Err(SessionError::Finished)
    ));
    assert_eq!(
        w.calls().1,
        w0 + 1,
        "a failed handler's change is not written"
    );
    let again = w.manager.start([cookie.as_bytes()]);
    assert_eq!(
        again.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["fig".to_owned()])
    );

    // A read: the answer and the headers come back without a store write.
    let session = w.manager.start([cookie.as_bytes()]);
    let handler = session.clone();
    let read = async move { handler.get::<Vec<String>>("cart").await };
    let (cart, finished) = session.finish_after(read).await.unwrap();
    assert_eq!(cart, Some(vec!["fig".to_owned()]));
    assert!(finished.unwrap().set_cookie().is_none());
    assert_eq!(w.calls().1, w0 + 1, "a read writes nothing");
}

/// After the handler's error, `finish_after` is done: polled again it says so, and never
/// polls the handler's future past its end (`Ready` would panic with its own message).
#[test]
#[should_panic(expected = "FinishAfter polled after it completed")]
fn finish_after_is_done_after_the_handlers_error() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let w = world(FailurePolicy::FailClosed);
    let session = w.manager.start(std::iter::empty());
    let failing = std::future::ready(Err::<(), _>(SessionError::Finished));
    let mut finish = std::pin::pin!(session.finish_after(failing));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(
        finish.as_mut().poll(&mut cx),
        Poll::Ready(Err(SessionError::Finished))
    ));
    let _ = finish.as_mut().poll(&mut cx);
}

#[tokio::test]
async fn wrong_type_is_a_clear_error_and_finishing_twice_is_refused() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let s = w.manager.start([cookie.as_bytes()]);
    let err = s.get::<u64>("user").await.unwrap_err();
    assert!(
        matches!(&err, SessionError::Deserialize { name, .. } if name == "user"),
        "{err}"
    );
    assert_eq!(err.status_code(), 500);
    s.finish().await.unwrap();
    assert!(matches!(s.finish().await, Err(SessionError::Finished)));
    assert!(matches!(
        s.get::<String>("user").await,
        Err(SessionError::Finished)
    ));
}

#[tokio::test]
async fn an_id_collision_is_retried_with_a_fresh_id() {
    let store = CountingStore {
        inner: MemoryStore::default(),
        counts: Arc::default(),
        failing: Arc::default(),
        collide_once: AtomicBool::new(true),
    };
    let manager = SessionManager::builder(store).build().unwrap();
    let s = manager.start(std::iter::empty());
    s.insert("cart", &["apple"]).await.unwrap();
    let cookie = s
        .finish()
        .await
        .unwrap()
        .set_cookie()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let again = manager.start([cookie.as_bytes()]);
    assert_eq!(
        again.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["apple".to_owned()]),
        "the cookie sent must name the id that was finally stored"
    );
}

/// A store that takes the provided `load_and_push` (load, then compare-and-set).
struct ProvidedPush(MemoryStore);

impl SessionStore for ProvidedPush {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        self.0.load(key, touch)
    }
    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        self.0.write(delete, write, now)
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a StoreKey,
        name: &'a str,
        expected: Option<u64>,
        value: Option<&'a [u8]>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CasOutcome, StoreError>> {
        // Yield first, so that concurrent pushes really race.
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0
                .compare_and_set(key, name, expected, value, now)
                .await
        })
    }
    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        self.0.user_sessions(user, now)
    }
    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a StoreKey>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.0.revoke_user(user, except, now)
    }
}

/// Fifty requests pushing in parallel on one session; returns the sorted list.
async fn push_fifty(manager: &SessionManager, cookie: &str) -> Vec<u32> {
    let tasks: Vec<_> = (0..50u32)
        .map(|i| {
            let (manager, cookie) = (manager.clone(), cookie.to_owned());
            tokio::spawn(async move {
                let s = manager.start([cookie.as_bytes()]);
                let list: Vec<u32> = s.push("cart", &i).await.unwrap();
                assert!(list.contains(&i), "the returned list holds the new element");
                s.finish().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = manager.start([cookie.as_bytes()]);
    let mut cart: Vec<u32> = s.get("cart").await.unwrap().unwrap();
    cart.sort_unstable();
    cart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_is_one_store_call_and_parallel_pushes_all_count() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let before = (w.calls(), w.counts.pushes.load(Ordering::SeqCst));
    assert_eq!(
        push_fifty(&w.manager, &cookie).await,
        (0..50).collect::<Vec<_>>()
    );
    let ((loads, writes, cas), pushes) = (w.calls(), w.counts.pushes.load(Ordering::SeqCst));
    assert_eq!(pushes - before.1, 50, "one load_and_push per request");
    assert_eq!(
        (loads - before.0 .0, writes - before.0 .1, cas - before.0 .2),
        (1, 0, 0),
        "and nothing else (the one load is the final check)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provided_load_and_push_keeps_parallel_pushes_too() {
    let store = ProvidedPush(MemoryStore::default());
    let manager = SessionManager::builder(store).build().unwrap();
    let s = manager.start(std::iter::empty());
    s.insert("user", "ada").await.unwrap();
    let cookie = s.finish().await.unwrap().set_cookie().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(
        push_fifty(&manager, &cookie).await,
        (0..50).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn push_creates_a_session_and_refuses_a_value_that_is_no_list() {
    let w = world(FailurePolicy::FailClosed);
    // No cookie: a new session holding the one-element list.
    let s = w.manager.start(std::iter::empty());
    let list: Vec<String> = s.push("cart", "apple").await.unwrap();
    assert_eq!(list, ["apple"]);
    let cookie = s.finish().await.unwrap().set_cookie().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();

    let s = w.manager.start([cookie.as_bytes()]);
    s.insert("user", "ada").await.unwrap();
    s.finish().await.unwrap();
    let s = w.manager.start([cookie.as_bytes()]);
    let err = s.push::<_, String>("user", "x").await.unwrap_err();
    assert!(
        matches!(err, SessionError::Deserialize { ref name, .. } if name == "user"),
        "{err}"
    );
    // Nothing written: the value is as it was, and the session still works.
    assert_eq!(
        s.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    let list: Vec<String> = s.push("cart", "pear").await.unwrap();
    assert_eq!(list, ["apple", "pear"]);
    s.finish().await.unwrap();

    // Once loaded, a push is a compare-and-set.
    let cas = w.calls().2;
    let s = w.manager.start([cookie.as_bytes()]);
    s.get::<String>("user").await.unwrap();
    let list: Vec<String> = s.push("cart", "fig").await.unwrap();
    assert_eq!(list, ["apple", "pear", "fig"]);
    assert_eq!(w.calls().2 - cas, 1);
    s.finish().await.unwrap();

    // An unknown cookie: a new session (new id), not the attacker's id.
    let s = w
        .manager
        .start([b"id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".as_slice()]);
    let list: Vec<u8> = s.push("cart", &7u8).await.unwrap();
    assert_eq!(list, [7]);
    let set = s.finish().await.unwrap().set_cookie().unwrap().to_owned();
    assert!(
        !set.contains("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        "{set}"
    );
}

#[tokio::test]
async fn take_is_one_compare_and_set_and_a_wrong_type_leaves_the_value() {
    let w = world(FailurePolicy::FailClosed);
    let cookie = w.login().await;
    let (_, _, cas0) = w.calls();
    let s = w.manager.start([cookie.as_bytes()]);
    let err = s.take::<u64>("user").await.unwrap_err();
    assert!(
        matches!(&err, SessionError::Deserialize { name, .. } if name == "user"),
        "{err}"
    );
    assert_eq!(w.calls().2, cas0, "a value that did not decode was removed");
    assert_eq!(
        s.take::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    assert_eq!(w.calls().2 - cas0, 1, "one compare-and-set for the take");
    assert_eq!(s.take::<String>("user").await.unwrap(), None);
    assert_eq!(w.calls().2 - cas0, 1, "nothing to take needs no store call");
    s.finish().await.unwrap();

    let s = w.manager.start([cookie.as_bytes()]);
    assert_eq!(
        s.get::<String>("user").await.unwrap(),
        None,
        "taken for good"
    );
    // A value of this request only is taken without the store.
    s.insert("flash", "saved").await.unwrap();
    assert_eq!(
        s.take::<String>("flash").await.unwrap().as_deref(),
        Some("saved")
    );
    assert_eq!(s.get::<String>("flash").await.unwrap(), None);
    assert_eq!(w.calls().2 - cas0, 1);
    s.finish().await.unwrap();
}
