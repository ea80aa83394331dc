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
//! Key names hold digests and shard tags only, never a session id or a user name (a shard
//! tag is two bytes of the id, which leaves the other 240 random bits unknown; see
//! [`sessio_core::ShardTag`]):
//!
//! | Key | Type | Content |
//! |---|---|---|
//! | `{prefix}s:{TTTT}<60 hex>` | hash | one session: its [`StoreKey`](sessio_core::StoreKey) in hex, the last four digits (its [`ShardTag`](sessio_core::ShardTag)) moved to the front in braces |
//! | `{prefix}u:{TTTT}<64 hex>` | sorted set | a user's sessions: `TTTT` is [`ShardTag::for_user`](sessio_core::ShardTag::for_user), then a digest of the user name; members are session names without `{prefix}s:`, scores their deadlines |
//!
//! `{TTTT}` is a Redis Cluster *hash tag*: the cluster places a key by those four digits
//! alone. Sessio gives a session bound to a user an id with that user's tag, so a user's
//! index and all of the user's sessions share one hash slot (see
//! [Redis Cluster](#redis-cluster)). For the same reason a key prefix must not contain `{`
//! or `}`: the constructors refuse one.
//!
//! A session hash has the fields `m` (the versioned binary `SessionMeta`), `t` (what the
//! scripts read of it: `"<last activity> <idle timeout> <absolute deadline> <creation
//! time>"` in decimal unix seconds, then `" <user index name after {prefix}u:>"` when
//! bound), and per value `v:<name>` (its bytes) and `n:<name>` (its version). One field
//! for the scripts' copy keeps the `HGETALL` a read costs short: the client parses every
//! string of the reply. Redis expires the hash itself at the session's deadline (`EXPIREAT`), and a
//! user index at its last member's deadline; each index write also drops members whose
//! deadline passed.
//!
//! # Round trips
//! Each store method is one round trip: one Lua script, run atomically by Redis as one
//! `EVALSHA` (in a cluster, two `write`s take more; see [Redis Cluster](#redis-cluster)),
//! or, for a `load` that this process knows cannot owe a touch, one plain `HGETALL`.
//! A load that may have to slide the idle deadline runs `load.lua`, which reads and
//! touches in the same round trip; afterwards the store remembers when the session was
//! last seen ([`RedisConfig::recent_sessions`]), and until a touch could be due its loads
//! are plain reads: Redis spends about a fifth of a script call's CPU on one. The first
//! call of a script after Redis lost its script cache (restart, `SCRIPT FLUSH`) costs two
//! more round trips (`NOSCRIPT`, `SCRIPT LOAD`). A `write` with nothing to delete or write
//! costs none. A script's reply carries the session's hash as `HGETALL` lists it: packing
//! it into one string would save the client an allocation per field but cost Redis, which
//! hashes every string a script makes, more than the rest of the script.
//!
//! # Failures
//! - Every call, connecting, reconnecting and retrying included, is bounded by
//!   [`RedisConfig::timeout`] and then fails with `StoreError::TimedOut`.
//! - I/O and connection errors, and a cluster without quorum or with a slot on the move,
//!   are `Unavailable`; `OOM`, `READONLY`, `MISCONF` and `NOPERM` are `Refused`;
//!   unexpected replies and script errors are `Protocol`.
//! - The connection to a single Redis is sessio-redis's own pipelined RESP2 connection,
//!   one per Tokio runtime that calls the store (actix-web's workers each run their own,
//!   so each worker sends and reads its own calls instead of handing them to another
//!   thread), made by the first call that needs it and set up with `AUTH` and `SELECT` as
//!   the URL says. Its driver lets the requests already queued on the worker send their
//!   commands before it writes, so that under load one write carries many commands. To a
//!   cluster, a `redis::cluster_async::ClusterConnection` (a multiplexed connection per
//!   node, and the map of which node serves which slot, learnt again when a node says a
//!   slot moved), whose tasks run on the runtime the store was made on.
//! - After Redis drops a connection, or making one fails (refused, the answers do not
//!   parse, `AUTH` is refused), the call fails and a later call connects anew, so the
//!   store works again once Redis is back, without being rebuilt. Failed attempts are
//!   spaced out (50 ms, doubling up to [`RedisConfig::reconnect_max_delay`]); calls in
//!   between fail at once with the last attempt's error. On a single Redis, an attempt
//!   that a call's timeout cuts short (a black-holed address) counts as failed, so the
//!   calls after it fail at once instead of each waiting out its timeout.
//! - A connection that stops answering without being closed (a silent network partition,
//!   a Redis that moved while the old path black-holes): on a single Redis, once a call
//!   has given up on it (its [`RedisConfig::timeout`]) and Redis has then sent nothing for
//!   another timeout while calls waited, the next call fails (`Unavailable`) and the link
//!   makes a new connection, so the store serves again within about two timeouts of the
//!   path's return (a test cuts a proxied connection: 0.4 s with 300 ms timeouts). A
//!   connection also fails calls past 16 384 waiting at once. In a cluster, where the
//!   client cannot tell which node a call went to, the store watches hash slots: once
//!   calls to one slot have kept timing out for a timeout with none answered, the next
//!   call to that slot, or the next of its calls to time out, has the store connect to
//!   the cluster afresh, so a session behind a silent node is served again from its first
//!   request a timeout after its first timed-out one (a test cuts a proxied node's
//!   connection: served again 0.35 s after the first timeout, with 300 ms timeouts).
//! - A record that does not decode (unknown format version, missing fields) loads as absent
//!   and is reported with `tracing::warn!`, naming only the key's fingerprint.
//!
//! # Time
//! The store takes `now` from the caller for every decision (expiry, touch, index
//! trimming), like the rest of sessio. Redis' own expiry, however, follows Redis' clock:
//! application servers and Redis should agree on the time to within a second or so.
//!
//! # Redis Cluster
//! [`RedisStore::connect_cluster`] (or [`connect_cluster_lazy`](RedisStore::connect_cluster_lazy))
//! talks to a Redis Cluster, [`RedisStore::connect`] to a single Redis or to the primary
//! behind Sentinel. The layout, the scripts and the [`SessionStore`](sessio::SessionStore)
//! behaviour are the same; what differs:
//!
//! - **One slot per script.** Each script declares the key it is called for, and every
//!   other key it touches (the user index of a session, the sessions of a user index)
//!   carries the same hash tag, so it lives in the same slot, which Redis allows a script
//!   to reach without declaring it.
//! - **Two writes take more than one call**, each call atomic but not the pair or the
//!   three. Both are end-of-request decisions whose keys carry two tags:
//!   - a delete plus a write under another tag (a logout followed by a fresh session):
//!     two calls, the delete first; a failure between them leaves the old session
//!     deleted and no new one;
//!   - an id renewal that moves a session to another tag (a login: anonymous to the
//!     user's tag, or one user's tag to another's), where `RENAME` cannot cross slots:
//!     three calls: read the old session, create the new one from it plus the changes
//!     (create-only), delete the old one and its index entry. Unlike `RENAME`, this does
//!     not carry over values that a concurrent request writes to the old session between
//!     the first and the last call. The old session is deleted last, so a failure midway
//!     leaves the old id naming the old session, anonymous or bound to its old user, and
//!     never the login; the half-made new session (whose id no client has) stays listed
//!     among the new user's sessions until it expires or they are revoked. If a
//!     concurrent request destroyed or renewed the old session first, the renewal
//!     reports it gone and deletes its copy, as `RENAME` would have found nothing to move.
//!
//!   Everything else, renewals within one tag included, is one call as on a single Redis.
//! - **A bound session must carry its user's tag.** A write binding a session to a user
//!   under a key of another tag fails with `Refused`. Sessio's session manager never makes
//!   one; only a caller building `StoreWrite`s by hand can.
//! - **Retries.** When a node answers that it did not run a call (the slot moved or is
//!   moving, a failover is under way), the call is sent again after a short pause while
//!   the timeout allows; a call that may have run (the connection broke after sending) is
//!   never sent again, as on a single Redis.
//!
//! //! # Features
//! None: Redis Cluster support is always built in.
#![forbid(unsafe_code)]

mod argv;
mod cluster;
mod cluster_link;
mod config;
mod error;
mod keys;
mod pipelined;
mod recent;
mod reply;
mod resp;
mod scripts;
mod single;
mod store;

pub use config::RedisConfig;
pub use store::RedisStore;
