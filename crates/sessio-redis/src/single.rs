//! [`RuntimeConnections`]: a single Redis reached through one multiplexed connection per
//! Tokio runtime that calls the store.
//!
//! A multiplexed connection is driven by a task on the runtime that made it; a caller on
//! another thread hands its command to that task and waits to be woken with the reply:
//! two cross-thread wake-ups per call. actix-web runs one single-threaded runtime per
//! worker, so with one connection for the whole store every call of every worker paid
//! them (`perf stat` on actix-cart with Redis, 2 CPUs: 0.4–0.8 context switches per
//! `GET /me`; 0.03–0.06 with a connection per runtime, which writes, reads and wakes its
//! own worker's requests). A multi-threaded runtime (axum, warp, rocket) is one runtime:
//! one connection, as before.
//!
//! A store also keeps working after the runtime it was made on has ended (a store built
//! before the server's runtimes start); with one connection, whose driver ended with that
//! runtime, calls timed out until the connection was remade (8 of 40 loads in the test).
//! Both are tested in `tests/resilience.rs`.
//!
//! A [`ConnectionManager`] reconnects by itself after an I/O error only. When making its
//! connection fails otherwise (answers that are not RESP, `AUTH` refused), it keeps that
//! failure and answers every later call with it, without sending anything: one bad
//! moment would fail the store for good. So a call that fails
//! that way hands its connection back through [`RuntimeConnections::failed`], which puts
//! a new one in its place for the next call.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};
use tokio::runtime::{Handle, Id};

/// How many runtimes get a connection of their own; calls from further runtimes share
/// the store's first connection. A server has a runtime per worker at most, so this is
/// reached only by a program that keeps making runtimes (a test suite sharing one store),
/// whose finished runtimes' connections are then kept no longer than the store.
const MAX_RUNTIMES: usize = 64;

/// The connections of one store to one Redis, by runtime. Cloning shares them.
#[derive(Clone)]
pub(crate) struct RuntimeConnections(Arc<Shared>);

/// One connection as a call holds it: compared by address with what its slot holds when
/// the call fails, so that of several calls failing on one connection only the first
/// replaces it.
pub(crate) type Lease = Arc<ConnectionManager>;

struct Shared {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// The runtime the store was made on (none when made outside a runtime, which the
    /// constructors refuse), whose calls use `first`.
    home: Option<Id>,
    /// The connection made with the store. Read by every call of a multi-threaded
    /// server, hence a swap cell rather than a lock.
    first: ArcSwap<ConnectionManager>,
    /// The connections made later, one per runtime that called the store. Read by every
    /// call of every actix-web worker, so read without a lock; changed (a runtime's first
    /// call, a replacement) by swapping in a new list under `changing`.
    others: ArcSwap<Vec<(Id, Lease)>>,
    changing: Mutex<()>,
}

impl RuntimeConnections {
    /// Makes the first connection (lazily: nothing is sent until the first call) on the
    /// current runtime.
    pub(crate) fn new_lazy(
        client: redis::Client,
        config: ConnectionManagerConfig,
    ) -> redis::RedisResult<Self> {
        let home = Handle::try_current().ok().map(|handle| handle.id());
        let first = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?;
        Ok(RuntimeConnections(Arc::new(Shared {
            client,
            config,
            home,
            first: ArcSwap::from_pointee(first),
            others: ArcSwap::from_pointee(Vec::new()),
            changing: Mutex::new(()),
        })))
    }

    /// The connection for the calling runtime, made (lazily) on first use. A connection
    /// that cannot be made here falls back to the first one, whose calls then fail or
    /// succeed as they would have without this type.
    pub(crate) fn current(&self) -> Lease {
        let shared = &*self.0;
        let Ok(handle) = Handle::try_current() else {
            return shared.first.load_full();
        };
        let id = handle.id();
        if shared.home == Some(id) {
            return shared.first.load_full();
        }
        if let Some(conn) = shared.held_by(id) {
            return conn;
        }
        let _changing = shared.changing();
        // Looked up again: another thread of this runtime may have added it meanwhile.
        if let Some(conn) = shared.held_by(id) {
            return conn;
        }
        let others = shared.others.load();
        if others.len() >= MAX_RUNTIMES {
            return shared.first.load_full();
        }
        let Some(conn) = shared.connect() else {
            return shared.first.load_full();
        };
        let mut more = Vec::with_capacity(others.len() + 1);
        more.extend(others.iter().cloned());
        more.push((id, Arc::clone(&conn)));
        shared.others.store(Arc::new(more));
        conn
    }

    /// Told of every failed call on `conn`: when the failure is one its connection keeps
    /// (see the module docs) and `conn` is still in use, a new connection replaces it.
    /// Whether one did is returned for the tests.
    pub(crate) fn failed(&self, conn: &Lease, err: &RedisError) -> bool {
        if !kept_by_the_connection(err) {
            return false;
        }
        let shared = &*self.0;
        let current = shared.first.load();
        if Arc::ptr_eq(&current, conn) {
            let Some(fresh) = shared.connect() else {
                return false;
            };
            let previous = shared.first.compare_and_swap(&current, fresh);
            return Arc::ptr_eq(&previous, conn);
        }
        let _changing = shared.changing();
        let others = shared.others.load();
        let Some(at) = others.iter().position(|(_, held)| Arc::ptr_eq(held, conn)) else {
            return false;
        };
        let Some(fresh) = shared.connect() else {
            return false;
        };
        let mut replaced = Vec::clone(&others);
        replaced[at].1 = fresh;
        shared.others.store(Arc::new(replaced));
        true
    }
}

impl Shared {
    fn connect(&self) -> Option<Lease> {
        ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            .ok()
            .map(Arc::new)
    }

    /// The connection of runtime `id`, if it has one of its own.
    fn held_by(&self, id: Id) -> Option<Lease> {
        let others = self.others.load();
        let (_, conn) = others.iter().find(|(runtime, _)| *runtime == id)?;
        Some(Arc::clone(conn))
    }

    fn changing(&self) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned lock only means a thread panicked while holding it; the list is
        // swapped whole, so it is never left half-changed.
        self.changing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Failures that a [`ConnectionManager`] keeps when they happen while it connects: the
/// answers did not parse (something other than Redis holds the port for a while), or
/// Redis refused the credentials (a password rotated on Redis before the application).
/// After a command, the same failures are harmless to act on: the connection is remade
/// once more than needed.
fn kept_by_the_connection(err: &RedisError) -> bool {
    matches!(
        err.kind(),
        ErrorKind::Parse | ErrorKind::AuthenticationFailed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ServerErrorKind;

    fn connections() -> RuntimeConnections {
        let client = redis::Client::open("redis://127.0.0.1:1/").expect("a valid URL");
        RuntimeConnections::new_lazy(client, ConnectionManagerConfig::new())
            .expect("a lazy connection")
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
    fn each_runtime_gets_its_own_connection_and_keeps_it() {
        let first_runtime = runtime();
        let conns = first_runtime.block_on(async { connections() });
        first_runtime.block_on(async { conns.current() });
        assert!(
            runtimes_with_their_own(&conns).is_empty(),
            "the first runtime reuses the first connection"
        );

        let second = runtime();
        let third = runtime();
        second.block_on(async { conns.current() });
        second.block_on(async { conns.current() });
        third.block_on(async { conns.current() });
        assert_eq!(
            runtimes_with_their_own(&conns),
            [second.handle().id(), third.handle().id()]
        );
    }

    #[test]
    fn past_the_limit_further_runtimes_share_the_first_connection() {
        let first_runtime = runtime();
        let conns = first_runtime.block_on(async { connections() });
        for _ in 0..MAX_RUNTIMES + 3 {
            runtime().block_on(async { conns.current() });
        }
        assert_eq!(runtimes_with_their_own(&conns).len(), MAX_RUNTIMES);
    }

    fn parse_error() -> RedisError {
        RedisError::from(redis::ParsingError::from("not RESP"))
    }

    #[test]
    fn a_kept_failure_replaces_the_connection_once() {
        let rt = runtime();
        let conns = rt.block_on(async { connections() });
        let held = rt.block_on(async { conns.current() });
        assert!(rt.block_on(async { conns.failed(&held, &parse_error()) }));
        let fresh = rt.block_on(async { conns.current() });
        assert!(!Arc::ptr_eq(&held, &fresh), "the next call gets a new one");
        // A second call that failed on the old connection leaves the new one alone.
        assert!(!rt.block_on(async { conns.failed(&held, &parse_error()) }));
        assert!(Arc::ptr_eq(&fresh, &rt.block_on(async { conns.current() })));

        let other = runtime();
        let theirs = other.block_on(async { conns.current() });
        let refused = RedisError::from((ErrorKind::AuthenticationFailed, "WRONGPASS"));
        assert!(other.block_on(async { conns.failed(&theirs, &refused) }));
        let replaced = other.block_on(async { conns.current() });
        assert!(!Arc::ptr_eq(&theirs, &replaced));
        assert!(
            Arc::ptr_eq(&fresh, &rt.block_on(async { conns.current() })),
            "other runtimes' connections are untouched"
        );
    }

    #[test]
    fn failures_the_connection_recovers_from_keep_it() {
        let rt = runtime();
        let conns = rt.block_on(async { connections() });
        let held = rt.block_on(async { conns.current() });
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let script = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "ERR user_script:1: oops",
        ));
        for err in [io, script] {
            assert!(!rt.block_on(async { conns.failed(&held, &err) }), "{err}");
        }
        assert!(Arc::ptr_eq(&held, &rt.block_on(async { conns.current() })));
    }
}
