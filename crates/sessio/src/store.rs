//! The store trait: where sessions live between requests.
//!
//! The shape allows **one store round trip per request** on each path:
//! - read: [`SessionStore::load`] returns the record and slides the idle deadline in the
//!   same round trip when a touch is due ([`TouchRule`]);
//! - write: [`SessionStore::write`] carries out the whole end-of-request decision (a
//!   delete and/or a write of only the changed values) in one round trip.
//!
//! Stores never see a session id, only its [`StoreKey`] digest.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sessio_core::record::{SessionRecord, StoredValue};
use sessio_core::{StoreKey, StoreWrite, Timestamp};

/// A boxed, sendable future: what store methods return, so that stores can be used as
/// `dyn SessionStore` (chosen at run time, e.g. memory or Redis from configuration).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When a load should also slide the idle deadline: if the stored `last_seen` is at least
/// `interval` before `now`, set it to `now` (see `SessionMeta::touch_if_due`) and extend
/// the store-side expiry to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TouchRule {
    /// The request's time.
    pub now: Timestamp,
    /// The policy's touch interval.
    pub interval: Duration,
}

/// A record as loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The session.
    pub record: SessionRecord,
    /// Whether the load slid the idle deadline (then the record's `last_seen` is `now`).
    pub touched: bool,
}

/// What became of an end-of-request write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Done.
    Written,
    /// A create-only write found its key taken (an id collision): retry with a new id.
    KeyTaken,
    /// The session to update, rotate or touch is gone (destroyed or expired meanwhile);
    /// nothing was written, and nothing was resurrected.
    Gone,
}

/// What became of a compare-and-set on one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// Written; the value's new version.
    Written(Option<StoredValue>),
    /// Someone else wrote first: the value as it is now (`None`: absent), to retry on.
    Conflict(Option<StoredValue>),
    /// The session is gone.
    Gone,
}

/// One live session of a user, as listed for "your devices" pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSession {
    /// The session's store key: a handle to revoke it by, not a credential.
    pub key: StoreKey,
    /// When the session was created.
    pub created_at: Timestamp,
    /// Its last recorded activity.
    pub last_seen: Timestamp,
    /// When it expires unless used.
    pub expires_at: Timestamp,
}

/// Why a store call failed. Every variant is a runtime failure of the store, never a
/// caller mistake; adapters answer 503 for them by default.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached (connection refused, reset, not yet reconnected).
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer within the configured timeout.
    #[error("session store did not answer within {0:?}")]
    TimedOut(Duration),
    /// The store answered something this code cannot understand (not a corrupt record,
    /// which is treated as absent, but e.g. an unexpected reply type).
    #[error("session store protocol error: {0}")]
    Protocol(String),
    /// The store refused the write (e.g. out of memory on the server side).
    #[error("session store refused the write: {0}")]
    Refused(String),
}

/// A session store. Implementations: [`MemoryStore`](crate::MemoryStore) here,
/// `RedisStore` in `sessio-redis`.
///
/// Rules every store follows (the conformance suite checks them):
/// - `load` of an absent, expired or unreadable record is `Ok(None)` (an unreadable one is
///   reported through `tracing`);
/// - `Create` and `Rotate` never overwrite a live session (create-only);
/// - `Update`, `Rotate` and `Touch` never recreate a session that is gone;
/// - only the values named in `Changes` are written, so concurrent requests writing
///   different values of one session both keep their writes;
/// - the store's own expiry (TTL) follows `meta.expires_at()`;
/// - a session bound to a user is findable by [`user_sessions`](Self::user_sessions)
///   without scanning the store.
pub trait SessionStore: Send + Sync + 'static {
    /// Loads a live session, sliding its idle deadline per `touch` in the same round trip.
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>>;

    /// Carries out an end-of-request decision: delete `delete` (if any), then `write` (if
    /// any), in one round trip where the store allows it.
    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;

    /// Atomically sets (or removes, with `None`) one value if its version is still
    /// `expected` (`None`: the value must be absent). The new version is the old plus one.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a StoreKey,
        name: &'a str,
        expected: Option<u64>,
        value: Option<&'a [u8]>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CasOutcome, StoreError>>;

    /// The live sessions bound to `user`.
    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>>;

    /// Deletes the live sessions of `user`, except `except` if given; returns how many.
    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a StoreKey>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, StoreError>>;
}
