//! A Redis session store for sessio: [`RedisStore`] implements [`sessio::SessionStore`].
//!
//! ```no_run
//! use std::time::Duration;
//! use sessio::{SessionStore, Timestamp, TouchRule};
//! use sessio_core::StoreKey;
//! use sessio_redis::{RedisConfig, RedisStore};
//!
//! # async fn run() -> Result<(), sessio::StoreError> {
//! let config = RedisConfig::default()
//!     .with_key_prefix("myapp:session:")
//!     .with_timeout(Duration::from_millis(300));
//! // `connect` checks that Redis answers; `connect_lazy` starts even while it does not.
//! let store = RedisStore::connect("redis://127.0.0.1:6379/", config).await?;
//! // Usually handed to sessio's session manager; here used directly.
//! let touch = TouchRule { now: Timestamp::from_unix_secs(1_700_000_000), interval: Duration::from_secs(60) };
//! assert!(store.load(&StoreKey::from_bytes([7; 32]), touch).await?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! Key names hold digests only, never a session id or a user name:
//!
//! | Key | Type | Content |
//! |---|---|---|
//! | `{prefix}s:{hex}` | hash | one session; `hex` is the 64-hex [`StoreKey`](sessio_core::StoreKey) |
//! | `{prefix}u:{digest}` | sorted set | a user's sessions: members are session `hex`, scores their deadlines |
//!
//! A session hash has the fields `m` (the versioned binary `SessionMeta`), `ls` (last
//! activity), `idle` (idle timeout), `abs` (absolute deadline), `c` (creation time), all
//! in decimal unix seconds so the scripts can read them, `u` (the user index digest, when
//! bound), and per value `v:<name>` (its bytes) and `n:<name>` (its version). Redis expires
//! the hash itself at the session's deadline (`EXPIREAT`), and a user index at its last
//! member's deadline; each index write also drops members whose deadline passed.
//!
//! # Round trips
//! Each store method is one Lua script, run atomically by Redis as one `EVALSHA`. The first
//! call of a script after Redis lost its script cache (restart, `SCRIPT FLUSH`) costs two
//! more round trips (`NOSCRIPT`, `SCRIPT LOAD`). A `write` with nothing to delete or write
//! costs none.
//!
//! # Failures
//! - Every call, connecting and reconnecting included, is bounded by
//!   [`RedisConfig::timeout`] and then fails with `StoreError::TimedOut`.
//! - I/O and connection errors are `Unavailable`; `OOM`, `READONLY`, `MISCONF` and
//!   `NOPERM` are `Refused`; unexpected replies and script errors are `Protocol`.
//! - The connection is a multiplexed `redis::aio::ConnectionManager`: after Redis drops or
//!   refuses the connection, it reconnects by itself in the background, so the store works
//!   again once Redis is back, without being rebuilt.
//! - A connection that stops answering without being closed (a silent network partition)
//!   is not replaced: calls time out until the operating system gives up on it.
//! - A record that does not decode (unknown format version, missing fields) loads as absent
//!   and is reported with `tracing::warn!`, naming only the key's fingerprint.
//!
//! # Time
//! The store takes `now` from the caller for every decision (expiry, touch, index
//! trimming), like the rest of sessio. Redis' own expiry, however, follows Redis' clock:
//! application servers and Redis should agree on the time to within a second or so.
//!
//! # Redis Cluster
//! Not cluster-ready. The scripts touch several keys: a session, its user's index (whose
//! name the script reads from the session), and for an id renewal the new session key.
//! Cluster requires all of them in one hash slot, which would take a common hash tag
//! (e.g. `{user}`) in all of them; a session's key is derived from its id alone, so the
//! layout would have to change. Standalone Redis, and Redis with replicas behind Sentinel
//! (pointing the URL at the primary), work.
//!
//! # Features
//! None.
#![forbid(unsafe_code)]

mod argv;
mod config;
mod error;
mod keys;
mod reply;
mod scripts;
mod store;

pub use config::RedisConfig;
pub use store::RedisStore;
