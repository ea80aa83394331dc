//! [`RuntimeConnections`]: a single Redis reached through one pipelined connection
//! ([`PipelinedConnection`]) per Tokio runtime that calls the store, each a [`Link`] that
//! makes its connection when a call first needs it and makes it again after it broke.
//!
//! A pipelined connection is driven by a task on the runtime that made it; a caller on
//! another thread hands its command to that task and waits to be woken with the reply:
//! two cross-thread wake-ups per call. actix-web runs one single-threaded runtime per
//! worker, so with one connection for the whole store every call of every worker paid
//! them (`perf stat` on actix-cart with Redis, 2 CPUs: 0.4–0.8 context switches per
//! `GET /me`; 0.03–0.06 with a connection per runtime, which writes, reads and wakes its
//! own worker's requests). A multi-threaded runtime (axum, warp, rocket) is one runtime:
//! one connection.
//!
//! A store also keeps working after the runtime it was made on has ended (a store built
//! before the server's runtimes start): a link's connection is made by a call, on that
//! call's runtime, and a call that finds the driver gone makes a new one. Both are tested
//! in `tests/resilience.rs`.
//!
//! The connection's driver is spawned here, so that it can step back once each time it is
//! woken ([`DriveAfterOthers`]): on a multi-threaded runtime, the task that sends a
//! command wakes the driver into the worker's "next task" slot, so the driver ran after
//! every single request and wrote one command per `write` (Redis read 1.4 commands per
//! read on axum-cart's `GET /me` under the bench's 32 connections, and spent 5.4–7.0 µs of
//! CPU per command). Stepping back puts it behind the requests already queued, which send
//! their commands first: 7–14 commands per read, 2.8–3.3 µs per command, and axum-cart's
//! requests/s up by a third in the same runs.
//!
//! Redis or a connection's set-up may fail in ways a connection cannot recover from (the
//! connection broke, answers that are not RESP, `AUTH` refused): the link then forgets the
//! connection, and the next call makes a new one. Attempts that fail are spaced out, from
//! [`FIRST_RETRY`] doubling up to the configured `reconnect_max_delay`; until the next
//! attempt is due, calls fail at once with the last attempt's error instead of each
//! opening a socket to a Redis that is down. An attempt that a call's time limit cuts
//! short (a black-holed address) counts as failed too.
//!
//! The connection is sessio-redis's own ([`PipelinedConnection`]): the `redis` crate's
//! multiplexed connection, used before, cost axum-cart 52.6k instructions per `GET /me`
//! with Redis against 44.2k with this one (callgrind, whole server, 5 000 requests on one
//! connection), mostly in its parser.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use redis::{ConnectionAddr, ErrorKind, RedisConnectionInfo, RedisError, RedisResult, Value};
use tokio::runtime::{Handle, Id};
use tokio::time::Instant;

use crate::pipelined::{Limits, PipelinedConnection, SetUpStep};

/// How many runtimes get a connection of their own; calls from further runtimes share
/// the store's first link. A server has a runtime per worker at most, so this is reached
/// only by a program that keeps making runtimes (a test suite sharing one store), whose
/// finished runtimes' links are then kept no longer than the store.
const MAX_RUNTIMES: usize = 64;

/// The pause after a failed connection attempt before the next one; doubled after each
/// further failure, up to the configured maximum.
const FIRST_RETRY: Duration = Duration::from_millis(50);

/// The links of one store to one Redis, by runtime. Cloning shares them.
#[derive(Clone)]
pub(crate) struct RuntimeConnections(Arc<Shared>);

/// One link as a call holds it.
pub(crate) type Lease = Arc<Link>;

struct Shared {
    target: Arc<Target>,
    /// The runtime the store was made on (none when made outside a runtime, which the
    /// constructors refuse), whose calls use `first`.
    home: Option<Id>,
    /// The link made with the store.
    first: Lease,
    /// The links made later, one per runtime that called the store. Read by every call of
    /// every actix-web worker, so read without a lock; changed (a runtime's first call) by
    /// swapping in a new list under `changing`.
    others: ArcSwap<Vec<(Id, Lease)>>,
    changing: Mutex<()>,
}

/// Where and how to connect; shared by every link of a store.
struct Target {
    client: redis::Client,
    /// The longest pause between two failed connection attempts.
    max_retry: Duration,
    /// When a connection counts as dead although its socket is open.
    limits: Limits,
}

impl RuntimeConnections {
    /// Prepares the links for calls bounded by `timeout`; nothing is sent until the first
    /// call.
    pub(crate) fn new_lazy(client: redis::Client, max_retry: Duration, timeout: Duration) -> Self {
        let home = Handle::try_current().ok().map(|handle| handle.id());
        let target = Arc::new(Target {
            client,
            max_retry,
            limits: Limits::for_calls_bounded_by(timeout),
        });
        RuntimeConnections(Arc::new(Shared {
            first: Arc::new(Link::new(Arc::clone(&target))),
            target,
            home,
            others: ArcSwap::from_pointee(Vec::new()),
            changing: Mutex::new(()),
        }))
    }

    /// The link for the calling runtime, made on its first call.
    pub(crate) fn current(&self) -> Lease {
        let shared = &*self.0;
        let Ok(handle) = Handle::try_current() else {
            return Arc::clone(&shared.first);
        };
        let id = handle.id();
        if shared.home == Some(id) {
            return Arc::clone(&shared.first);
        }
        if let Some(link) = shared.held_by(id) {
            return link;
        }
        let _changing = shared.changing();
        // Looked up again: another thread of this runtime may have added it meanwhile.
        if let Some(link) = shared.held_by(id) {
            return link;
        }
        let others = shared.others.load();
        if others.len() >= MAX_RUNTIMES {
            return Arc::clone(&shared.first);
        }
        let link = Arc::new(Link::new(Arc::clone(&shared.target)));
        let mut more = Vec::with_capacity(others.len() + 1);
        more.extend(others.iter().cloned());
        more.push((id, Arc::clone(&link)));
        shared.others.store(Arc::new(more));
        link
    }
}

impl Shared {
    /// The link of runtime `id`, if it has one of its own.
    fn held_by(&self, id: Id) -> Option<Lease> {
        let others = self.others.load();
        let (_, link) = others.iter().find(|(runtime, _)| *runtime == id)?;
        Some(Arc::clone(link))
    }

    fn changing(&self) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned lock only means a thread panicked while holding it; the list is
        // swapped whole, so it is never left half-changed.
        self.changing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One pipelined connection, made when a call needs it and none is live.
pub(crate) struct Link {
    target: Arc<Target>,
    /// The connection calls use; `None` before the first call and after it broke. Read by
    /// every call, hence a swap cell rather than a lock.
    live: ArcSwapOption<PipelinedConnection>,
    /// Held while connecting, so that calls arriving meanwhile wait for that attempt
    /// instead of each making their own.
    connecting: tokio::sync::Mutex<Attempts>,
}

/// The failed connection attempts since the last connection was made.
struct Attempts {
    /// The last failure and when the next attempt is due.
    failed: Option<(RedisError, Instant)>,
    /// The pause after the next failure.
    pause: Duration,
}

impl Attempts {
    /// Keeps `err` as the answer to calls until the next attempt is due, and lengthens
    /// the pause after that one.
    fn record_failure(&mut self, err: RedisError, max_retry: Duration) {
        self.failed = Some((err, Instant::now() + self.pause));
        self.pause = (self.pause * 2).min(max_retry);
    }
}

/// A connection attempt under way; one dropped before it ended is recorded as failed.
struct Attempt<'a> {
    attempts: &'a mut Attempts,
    max_retry: Duration,
    ended: bool,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let gave_up = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connecting to Redis did not finish within a call's time limit",
            );
            self.attempts.record_failure(gave_up.into(), self.max_retry);
        }
    }
}

impl Link {
    fn new(target: Arc<Target>) -> Self {
        Link {
            target,
            live: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(Attempts {
                failed: None,
                pause: FIRST_RETRY,
            }),
        }
    }

    /// The live connection, made now (on the calling runtime) if there is none; while a
    /// failed attempt's pause lasts, that attempt's error.
    pub(crate) async fn connection(&self) -> RedisResult<Arc<PipelinedConnection>> {
        if let Some(conn) = self.live.load_full() {
            return Ok(conn);
        }
        let mut attempts = self.connecting.lock().await;
        // Made by the call this one waited for.
        if let Some(conn) = self.live.load_full() {
            return Ok(conn);
        }
        if let Some((err, due)) = &attempts.failed {
            if Instant::now() < *due {
                return Err(err.clone());
            }
        }
        // Counted as failed unless it ends: a call's time limit may drop this future while
        // the attempt hangs (Redis's address black-holed, a connect or `AUTH` that never
        // returns), and the calls after it should then fail at once rather than each wait
        // out its own time limit on a new attempt.
        let mut attempt = Attempt {
            attempts: &mut attempts,
            max_retry: self.target.max_retry,
            ended: false,
        };
        let result = self.target.connect().await;
        attempt.ended = true;
        match result {
            Ok(conn) => {
                let conn = Arc::new(conn);
                self.live.store(Some(Arc::clone(&conn)));
                attempt.attempts.failed = None;
                attempt.attempts.pause = FIRST_RETRY;
                Ok(conn)
            }
            Err(err) => {
                attempt
                    .attempts
                    .record_failure(err.clone(), self.target.max_retry);
                Err(err)
            }
        }
    }

    /// Told of every failed call on `conn`: when the failure means the connection cannot
    /// be used again and `conn` is still the live one, it is dropped, so that the next
    /// call makes a new one (of several calls failing on one connection, only the first
    /// drops anything).
    pub(crate) fn failed(&self, conn: &Arc<PipelinedConnection>, err: &RedisError) {
        if breaks_the_connection(err) {
            self.live.compare_and_swap(conn, None);
        }
    }
}

impl Target {
    /// Opens a socket, sets the connection up (`AUTH`, `SELECT`) and spawns its driver on
    /// the calling runtime.
    async fn connect(&self) -> RedisResult<PipelinedConnection> {
        let info = self.client.get_connection_info();
        // Every call is bounded by the store's timeout around it, connecting included.
        let settings = info.redis_settings();
        let setup = setup_commands(settings);
        let spawn = |driver| {
            // The driver ends when the connection breaks or when its handle is dropped
            // and the replies in flight are in.
            tokio::spawn(DriveAfterOthers::new(driver));
        };
        match info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                // Commands are small and a reply is awaited: no waiting to fill a segment.
                stream.set_nodelay(true)?;
                PipelinedConnection::start(stream, settings.db(), &setup, self.limits, spawn).await
            }
            #[cfg(unix)]
            ConnectionAddr::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                PipelinedConnection::start(stream, settings.db(), &setup, self.limits, spawn).await
            }
            _ => Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "this build of sessio-redis connects over TCP and Unix sockets only",
            ))),
        }
    }
}

/// What a new connection sends before any call: `AUTH` when the URL has a password,
/// `SELECT` when it names a database other than 0. The connection speaks RESP2, whatever
/// protocol the URL asks for: the store's replies read the same in both.
fn setup_commands(settings: &RedisConnectionInfo) -> Vec<SetUpStep> {
    let mut setup: Vec<SetUpStep> = Vec::new();
    if let Some(password) = settings.password() {
        let mut auth = redis::cmd("AUTH");
        if let Some(username) = settings.username() {
            auth.arg(username);
        }
        auth.arg(password);
        setup.push((auth, |reply| {
            refused_as(
                reply,
                ErrorKind::AuthenticationFailed,
                "Redis refused the password",
            )
        }));
    }
    if settings.db() != 0 {
        let mut select = redis::cmd("SELECT");
        select.arg(settings.db());
        setup.push((select, |reply| {
            refused_as(
                reply,
                ErrorKind::InvalidClientConfig,
                "Redis refused to switch to the URL's database",
            )
        }));
    }
    setup
}

/// A set-up command's reply: an error reply becomes an error of `kind`, so that a refused
/// password is an authentication failure (which the store and `breaks_the_connection`
/// know), whatever Redis calls it.
fn refused_as(reply: Value, kind: ErrorKind, refusal: &'static str) -> RedisResult<()> {
    match reply.extract_error() {
        Ok(_) => Ok(()),
        Err(err) => Err(RedisError::from((kind, refusal, err.to_string()))),
    }
}

/// Whether a call's failure leaves its connection unusable: it broke or was closed (any
/// I/O error, which covers the `redis` crate's "connection dropped"), or the `redis` crate
/// would reconnect after it (not RESP, `AUTH` refused).
fn breaks_the_connection(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Io || err.is_unrecoverable_error()
}

/// A connection's driver that, each time it is woken, first lets the tasks already
/// queued on its worker run (by waking itself and returning once), so that the commands
/// they are about to send go out with the one that woke it, in one write (see the module
/// docs for the figures).
struct DriveAfterOthers {
    driver: Driver,
    stepped_back: bool,
}

/// A connection's driver future, for either socket type.
type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

impl DriveAfterOthers {
    fn new(driver: Driver) -> Self {
        DriveAfterOthers {
            driver,
            stepped_back: false,
        }
    }
}

impl Future for DriveAfterOthers {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.stepped_back {
            // A task that wakes itself while running is queued behind the tasks already
            // waiting, on Tokio's multi-threaded and single-threaded runtimes alike.
            self.stepped_back = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.stepped_back = false;
        self.driver.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn connections() -> RuntimeConnections {
        let client = redis::Client::open("redis://127.0.0.1:1/").expect("a valid URL");
        RuntimeConnections::new_lazy(client, Duration::from_secs(1), Duration::from_secs(1))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    fn runtimes_with_their_own(conns: &RuntimeConnections) -> Vec<Id> {
        conns.0.others.load().iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn each_runtime_gets_its_own_link_and_keeps_it() {
        let first_runtime = runtime();
        let conns = first_runtime.block_on(async { connections() });
        first_runtime.block_on(async { conns.current() });
        assert!(
            runtimes_with_their_own(&conns).is_empty(),
            "the first runtime uses the first link"
        );

        let second = runtime();
        let third = runtime();
        let held = second.block_on(async { conns.current() });
        assert!(Arc::ptr_eq(
            &held,
            &second.block_on(async { conns.current() })
        ));
        third.block_on(async { conns.current() });
        assert_eq!(
            runtimes_with_their_own(&conns),
            [second.handle().id(), third.handle().id()]
        );
    }

    #[test]
    fn past_the_limit_further_runtimes_share_the_first_link() {
        let first_runtime = runtime();
        let conns = first_runtime.block_on(async { connections() });
        for _ in 0..MAX_RUNTIMES + 3 {
            runtime().block_on(async { conns.current() });
        }
        assert_eq!(runtimes_with_their_own(&conns).len(), MAX_RUNTIMES);
    }

    #[test]
    fn failed_attempts_are_spaced_out_and_answered_with_their_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let conns = connections();
            let link = conns.current();
            let first = link
                .connection()
                .await
                .expect_err("nothing listens on port 1");
            assert!(first.is_connection_refusal(), "{first}");
            // Within the pause: the same error, without a new attempt.
            let again = link.connection().await.expect_err("still failing");
            assert_eq!(again.kind(), first.kind());
            let attempts = link.connecting.lock().await;
            let (_, due) = attempts.failed.as_ref().expect("a failure is kept");
            assert_eq!(*due - Instant::now(), FIRST_RETRY);
            assert_eq!(attempts.pause, FIRST_RETRY * 2);
            drop(attempts);

            tokio::time::advance(FIRST_RETRY).await;
            link.connection().await.expect_err("refused again");
            assert_eq!(link.connecting.lock().await.pause, FIRST_RETRY * 4);
            for _ in 0..10 {
                tokio::time::advance(Duration::from_secs(1)).await;
                link.connection().await.expect_err("refused again");
            }
            assert_eq!(
                link.connecting.lock().await.pause,
                Duration::from_secs(1),
                "the pause stops growing at the configured maximum"
            );
        });
    }

    /// A port whose listener never accepts and whose accept queue is full: the kernel
    /// drops further SYNs, so a connect to it hangs, as to a black-holed address.
    async fn port_that_hangs_connects() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>, u16)
    {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("bound");
        let listener = socket.listen(1).expect("listening");
        let port = listener.local_addr().expect("its address").port();
        let mut queued = Vec::new();
        loop {
            let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
            match tokio::time::timeout(Duration::from_millis(200), connect).await {
                Ok(stream) => queued.push(stream.expect("queued")),
                Err(_) => break,
            }
            assert!(queued.len() < 64, "the accept queue never filled");
        }
        (listener, queued, port)
    }

    #[tokio::test]
    async fn an_attempt_cut_short_by_a_calls_time_limit_counts_as_failed() {
        let (_listener, _queued, port) = port_that_hangs_connects().await;
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("a URL");
        let conns =
            RuntimeConnections::new_lazy(client, Duration::from_secs(1), Duration::from_secs(1));
        let link = conns.current();
        let first = tokio::time::timeout(Duration::from_millis(300), link.connection()).await;
        assert!(
            first.is_err(),
            "the connect hangs and the call's limit ends it"
        );
        // The next call is answered with that failure instead of waiting out its own limit
        // on a new attempt.
        let next = tokio::time::timeout(Duration::from_millis(300), link.connection())
            .await
            .expect("answered before its limit")
            .expect_err("the failure is kept");
        assert_eq!(next.kind(), ErrorKind::Io);
        assert!(next.to_string().contains("did not finish"), "{next}");
        assert_eq!(link.connecting.lock().await.pause, FIRST_RETRY * 2);
    }

    #[test]
    fn only_failures_that_break_the_connection_drop_it() {
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let not_resp = RedisError::from(redis::ParsingError::from("not RESP"));
        let refused = RedisError::from((ErrorKind::AuthenticationFailed, "WRONGPASS"));
        for err in [io, not_resp, refused] {
            assert!(breaks_the_connection(&err), "{err}");
        }
        let script = RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "ERR user_script:1: oops",
        ));
        let oom = redis::make_extension_error("OOM".to_owned(), None);
        for err in [script, oom] {
            assert!(!breaks_the_connection(&err), "{err}");
        }
    }

    fn recorder(
        order: &Arc<Mutex<Vec<&'static str>>>,
        what: &'static str,
    ) -> impl FnOnce() + Send + 'static {
        let order = Arc::clone(order);
        move || order.lock().expect("the order list").push(what)
    }

    /// On a multi-threaded runtime a task woken by another task of the same worker runs
    /// right after it, before the tasks already queued; the driver steps back behind them.
    #[test]
    fn a_woken_driver_runs_after_the_tasks_queued_before_it() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let order = Arc::new(Mutex::new(Vec::new()));
            let (wake, mut woken) = tokio::sync::mpsc::unbounded_channel::<()>();
            let polls = Arc::new(AtomicUsize::new(0));
            let driver = {
                let (record, polls) = (recorder(&order, "driver"), Arc::clone(&polls));
                async move {
                    polls.fetch_add(1, Ordering::SeqCst);
                    woken.recv().await;
                    record();
                }
            };
            let driver = tokio::spawn(DriveAfterOthers::new(Box::pin(driver)));
            // The driver waits on its queue.
            while polls.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let sender = tokio::spawn({
                let order = Arc::clone(&order);
                async move {
                    for _ in 0..3 {
                        let record = recorder(&order, "request");
                        tokio::spawn(async move { record() });
                    }
                    wake.send(()).expect("the driver listens");
                }
            });
            sender.await.expect("the sender ends");
            driver.await.expect("the driver ends");
            assert_eq!(
                *order.lock().expect("the order list"),
                ["request", "request", "request", "driver"]
            );
        });
    }
}
