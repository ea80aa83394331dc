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

use std::sync::{Arc, Mutex, PoisonError};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::runtime::{Handle, Id};

/// How many runtimes get a connection of their own; calls from further runtimes share
/// the store's first connection. A server has a runtime per worker at most, so this is
/// reached only by a program that keeps making runtimes (a test suite sharing one store),
/// whose finished runtimes' connections are then kept no longer than the store.
const MAX_RUNTIMES: usize = 64;

/// The connections of one store to one Redis, by runtime. Cloning shares them.
#[derive(Clone)]
pub(crate) struct RuntimeConnections(Arc<Shared>);

struct Shared {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// The connection made with the store, and the runtime it was made on (none when
    /// the store was made outside a runtime, which the constructors refuse).
    first: (Option<Id>, ConnectionManager),
    /// The connections made later, one per runtime that called the store.
    others: Mutex<Vec<(Id, ConnectionManager)>>,
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
            first: (home, first),
            others: Mutex::new(Vec::new()),
        })))
    }

    /// The connection for the calling runtime, made (lazily) on first use. A connection
    /// that cannot be made here falls back to the first one, whose calls then fail or
    /// succeed as they would have without this type.
    pub(crate) fn current(&self) -> ConnectionManager {
        let shared = &*self.0;
        let Ok(handle) = Handle::try_current() else {
            return shared.first.1.clone();
        };
        let id = handle.id();
        if shared.first.0 == Some(id) {
            return shared.first.1.clone();
        }
        // A poisoned lock only means a thread panicked while holding it; the list itself
        // is never left half-changed (a push is the only change).
        let mut others = shared.others.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, conn)) = others.iter().find(|(runtime, _)| *runtime == id) {
            return conn.clone();
        }
        if others.len() >= MAX_RUNTIMES {
            return shared.first.1.clone();
        }
        match ConnectionManager::new_lazy_with_config(shared.client.clone(), shared.config.clone())
        {
            Ok(conn) => {
                others.push((id, conn.clone()));
                conn
            }
            Err(_) => shared.first.1.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let others = conns.0.others.lock().expect("not poisoned");
        others.iter().map(|(id, _)| *id).collect()
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
}
