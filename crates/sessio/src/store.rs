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

/// How often the provided [`SessionStore::load_and_push`] retries its compare-and-set
/// before giving up (as many as `update` by default), so that a value rewritten without
/// pause cannot hang a request.
const PUSH_ATTEMPTS: u32 = 100;

/// What became of [`SessionStore::load_and_push`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The session was live and the element is appended: the record as it is after the
    /// append, with the list's new version.
    Pushed(Loaded),
    /// The session is live but the value is not a list: nothing was written; the record
    /// as loaded.
    NotAList(Loaded),
    /// No live session under the key: nothing was written.
    Absent,
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

    /// Loads a live session like [`load`](Self::load) and, atomically with the load,
    /// appends `element` to the list stored as value `name`, creating `[element]` when the
    /// value is absent; the list's version goes up by one.
    ///
    /// Values are JSON (see the `sessio` codec): a list is a JSON array in compact form,
    /// and `element` the JSON of one item, so appending is splicing `,element` before the
    /// closing `]` (see [`append_to_list`]). A value that is not an array is left alone
    /// ([`PushOutcome::NotAList`]).
    ///
    /// This is what makes "add to cart" one round trip that no concurrent request can
    /// lose. The provided implementation is `load` followed by a `compare_and_set` loop,
    /// correct for any store but at least two round trips; stores that can run both in one
    /// step (a script, a lock) override it.
    fn load_and_push<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
        name: &'a str,
        element: &'a [u8],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>> {
        Box::pin(async move {
            let Some(mut loaded) = self.load(key, touch).await? else {
                return Ok(PushOutcome::Absent);
            };
            for _ in 0..PUSH_ATTEMPTS {
                let current = loaded.record.values.get(name);
                let Some(list) = append_to_list(current.map(|v| v.bytes.as_slice()), element)
                else {
                    return Ok(PushOutcome::NotAList(loaded));
                };
                let expected = current.map(|v| v.version);
                let (value, done) = match self
                    .compare_and_set(key, name, expected, Some(&list), touch.now)
                    .await?
                {
                    CasOutcome::Written(value) => (value, true),
                    CasOutcome::Conflict(value) => (value, false),
                    CasOutcome::Gone => return Ok(PushOutcome::Absent),
                };
                match value {
                    Some(value) => loaded.record.values.insert(name.to_owned(), value),
                    None => loaded.record.values.remove(name),
                };
                if done {
                    return Ok(PushOutcome::Pushed(loaded));
                }
            }
            Err(StoreError::Refused(format!(
                "value {name:?} changed under each of {PUSH_ATTEMPTS} compare-and-set attempts"
            )))
        })
    }

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

    /// [`load`](Self::load), answered at once by a store that never waits (one in this
    /// process's memory), or `None`, the default: await `load`. The request path asks
    /// this first, so that a memory store costs no boxed future per request. A store
    /// that answers `Some` answers exactly what `load` would.
    fn load_at_once(
        &self,
        key: &StoreKey,
        touch: TouchRule,
    ) -> Option<Result<Option<Loaded>, StoreError>> {
        let _ = (key, touch);
        None
    }

    /// [`write`](Self::write), at once or `None`; see [`load_at_once`](Self::load_at_once).
    fn write_at_once(
        &self,
        delete: Option<&StoreKey>,
        write: Option<&StoreWrite>,
        now: Timestamp,
    ) -> Option<Result<WriteOutcome, StoreError>> {
        let _ = (delete, write, now);
        None
    }

    /// [`load_and_push`](Self::load_and_push), at once or `None`; see
    /// [`load_at_once`](Self::load_at_once).
    fn load_and_push_at_once(
        &self,
        key: &StoreKey,
        touch: TouchRule,
        name: &str,
        element: &[u8],
    ) -> Option<Result<PushOutcome, StoreError>> {
        let _ = (key, touch, name, element);
        None
    }

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

/// Appends one JSON `element` to the compact JSON array `list` (`None`: absent, which
/// gives `[element]`); `None` when `list` is not an array. What
/// [`SessionStore::load_and_push`] does to a value, for stores that implement it natively.
///
/// ```
/// use sessio::append_to_list;
///
/// assert_eq!(append_to_list(None, b"1").as_deref(), Some(&b"[1]"[..]));
/// assert_eq!(append_to_list(Some(b"[]"), b"1").as_deref(), Some(&b"[1]"[..]));
/// assert_eq!(append_to_list(Some(b"[1]"), b"\"a\"").as_deref(), Some(&b"[1,\"a\"]"[..]));
/// assert_eq!(append_to_list(Some(b"{}"), b"1"), None);
/// ```
pub fn append_to_list(list: Option<&[u8]>, element: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(list.map_or(2, <[u8]>::len) + element.len() + 1);
    match list {
        None | Some(b"[]") => out.push(b'['),
        Some(list @ [b'[', .., b']']) => {
            out.extend_from_slice(&list[..list.len() - 1]);
            out.push(b',');
        }
        Some(_) => return None,
    }
    out.extend_from_slice(element);
    out.push(b']');
    Some(out)
}
