//! One request's life with a session, as a state machine that decides and never acts.
//!
//! # Order of calls
//! 1. **Input: the cookie.** [`CookieSettings::find_session_id`] gives a
//!    [`CookieLookup`](crate::cookie::CookieLookup). With `Found(id)`, the caller loads the record stored under
//!    `id.store_key()` and calls [`SessionState::resume`]; otherwise
//!    [`SessionState::fresh`]. An unknown or expired id gives a fresh session too: a
//!    client-chosen id is never adopted, because a fresh session always gets a new id.
//! 2. **Input: the handler's changes.** [`insert`](SessionState::insert),
//!    [`remove`](SessionState::remove), [`clear`](SessionState::clear),
//!    [`renew`](SessionState::renew), [`destroy`](SessionState::destroy),
//!    [`set_lifetime`](SessionState::set_lifetime), [`set_user`](SessionState::set_user).
//! 3. **Output: the decision.** [`SessionState::finish`] returns a [`Decision`]: a key to
//!    delete, a [`StoreWrite`], and the `Set-Cookie` to send, which the caller carries out.
//!
//! # Semantics
//! - No session and no cookie until something is written (`saveUninitialized: false`).
//! - Only changed values are written; a request that changes nothing writes nothing, or a
//!   cheap touch at most once per touch interval.
//! - `renew` gives the session a new id at the end of the request: the old id is dead at
//!   once, the data stays. `destroy` deletes it and sends the removal cookie.
//!
//! [`CookieSettings::find_session_id`]: crate::cookie::CookieSettings::find_session_id

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use rand_core::CryptoRng;

use crate::cookie::CookieUpdate;
use crate::expiry::{ExpiryPolicy, Lifetime};
use crate::record::{SessionMeta, SessionRecord, StoredValue, StoredValues};
use crate::{KeyedSessionId, SessionId, ShardTag, StoreKey, Timestamp};

/// What the request's cookie led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStatus {
    /// No usable session cookie (absent or malformed).
    NoCookie,
    /// A well-formed id that the store does not know (never issued, destroyed, or evicted).
    Unknown,
    /// The session existed but its idle or absolute deadline has passed.
    Expired,
    /// A live session.
    Live,
}

#[derive(Clone, Debug)]
enum Origin {
    /// Not in the store: created at the end of the request if something is written.
    New,
    /// Loaded from the store under this id.
    Stored { id: SessionId, key: StoreKey },
}

/// One request's session: the loaded state plus the handler's pending changes.
#[derive(Clone, Debug)]
pub struct SessionState {
    now: Timestamp,
    policy: ExpiryPolicy,
    status: LoadStatus,
    origin: Origin,
    meta: SessionMeta,
    values: StoredValues,
    pending: BTreeMap<String, Option<Vec<u8>>>,
    cleared: bool,
    meta_changed: bool,
    lifetime_changed: bool,
    renew_requested: bool,
    /// `set_user` bound a user other than the one bound before: a login, so a new id.
    user_rebound: bool,
    destroyed: Option<StoreKey>,
    destroy_requested: bool,
    touched_by_store: bool,
}

impl SessionState {
    /// A request without a usable session cookie.
    pub fn fresh(now: Timestamp, policy: &ExpiryPolicy) -> Self {
        Self::empty(now, policy, LoadStatus::NoCookie)
    }

    fn empty(now: Timestamp, policy: &ExpiryPolicy, status: LoadStatus) -> Self {
        SessionState {
            now,
            policy: *policy,
            status,
            origin: Origin::New,
            meta: SessionMeta::new(now, *policy.default_lifetime()),
            values: StoredValues::new(),
            pending: BTreeMap::new(),
            cleared: false,
            meta_changed: false,
            lifetime_changed: false,
            renew_requested: false,
            user_rebound: false,
            destroyed: None,
            destroy_requested: false,
            touched_by_store: false,
        }
    }

    /// A request whose cookie held `id`; `record` is what the store returned for
    /// `id.key()`. `touched_by_store` says the store already slid the idle deadline
    /// while loading (then no separate touch is needed).
    ///
    /// Takes the id with its key, not a bare [`SessionId`]: the caller
    /// needed the key for the lookup already, and the digest is then computed once.
    pub fn resume(
        id: KeyedSessionId,
        record: Option<SessionRecord>,
        touched_by_store: bool,
        now: Timestamp,
        policy: &ExpiryPolicy,
    ) -> Self {
        match record {
            None => Self::empty(now, policy, LoadStatus::Unknown),
            Some(record) if record.meta.is_expired(now) => {
                Self::empty(now, policy, LoadStatus::Expired)
            }
            Some(record) => {
                let key = *id.key();
                let id = id.id().clone();
                let mut state = Self::empty(now, policy, LoadStatus::Live);
                state.origin = Origin::Stored { id, key };
                state.meta = record.meta;
                state.values = record.values;
                state.touched_by_store = touched_by_store;
                state
            }
        }
    }

    /// What the cookie led to.
    pub fn load_status(&self) -> LoadStatus {
        self.status
    }

    /// The instant this request runs at.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The store key of the loaded session, while it is still the one this request will
    /// keep (not after `destroy`).
    pub fn store_key(&self) -> Option<StoreKey> {
        match &self.origin {
            Origin::Stored { key, .. } => Some(*key),
            Origin::New => None,
        }
    }

    /// The session's metadata as it stands (with pending lifetime and user changes).
    pub fn meta(&self) -> &SessionMeta {
        &self.meta
    }

    /// The current bytes of a value, pending changes included.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        match self.pending.get(name) {
            Some(change) => change.as_deref(),
            None if self.cleared => None,
            None => self.values.get(name).map(|v| v.bytes.as_slice()),
        }
    }

    /// The stored version of a value, when the value has no pending change and the
    /// session is stored: what a compare-and-set must name. `Some(None)` means "stored
    /// session, value absent"; `None` means a compare-and-set is not possible now (the
    /// session is new, cleared, or the value has a pending change), so write locally.
    pub fn compare_and_set_base(&self, name: &str) -> Option<Option<u64>> {
        if matches!(self.origin, Origin::New) || self.cleared || self.pending.contains_key(name) {
            return None;
        }
        Some(self.values.get(name).map(|v| v.version))
    }

    /// Records a value that a compare-and-set already wrote to the store, so the end of
    /// the request does not write it again.
    pub fn committed(&mut self, name: &str, value: Option<StoredValue>) {
        match value {
            Some(v) => {
                self.values.insert(String::from(name), v);
            }
            None => {
                self.values.remove(name);
            }
        }
    }

    /// Names of the current values, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let stored = self
            .values
            .keys()
            .filter(|_| !self.cleared)
            .filter(|k| !self.pending.contains_key(k.as_str()));
        let pending = self
            .pending
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k);
        let mut all: Vec<&str> = stored.chain(pending).map(String::as_str).collect();
        all.sort_unstable();
        all.into_iter()
    }

    /// Whether the session holds no values.
    pub fn is_empty(&self) -> bool {
        self.names().next().is_none()
    }

    /// Sets a value.
    pub fn insert(&mut self, name: &str, bytes: Vec<u8>) {
        self.pending.insert(String::from(name), Some(bytes));
    }

    /// Removes a value; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let existed = self.get(name).is_some();
        if existed {
            self.pending.insert(String::from(name), None);
        }
        existed
    }

    /// Removes every value; the session itself, its id and its user stay.
    pub fn clear(&mut self) {
        if !self.is_empty() {
            self.pending.clear();
            self.cleared = true;
        }
    }

    /// Gives the session a new id at the end of the request, keeping its data. Call it
    /// whenever privileges change (login, sudo mode) to defeat session fixation. It also
    /// starts a new absolute lifetime: the login is a new start.
    pub fn renew(&mut self) {
        self.renew_requested = true;
    }

    /// Ends the session: it is deleted from the store and the client gets the removal
    /// cookie. Values written afterwards go into a brand-new session with a new id.
    pub fn destroy(&mut self) {
        if let Origin::Stored { key, .. } = self.origin {
            self.destroyed = Some(key);
        }
        let (now, policy) = (self.now, self.policy);
        let destroyed = self.destroyed;
        *self = Self::empty(now, &policy, self.status);
        self.destroyed = destroyed;
        self.destroy_requested = true;
    }

    /// Gives this session its own lifetime (e.g. "remember me"). The absolute deadline
    /// counts from the session's start.
    pub fn set_lifetime(&mut self, lifetime: Lifetime) {
        if self.meta.lifetime != lifetime {
            self.meta.lifetime = lifetime;
            self.meta_changed = true;
            self.lifetime_changed = true;
        }
    }

    /// Binds the session to a user (or unbinds it), so that the user's sessions can be
    /// listed and revoked together.
    ///
    /// Binding a user other than the one bound so far is a login, and a login is a change
    /// of privilege: the session then gets a new id at the end of the request exactly as
    /// with [`renew`](Self::renew), so forgetting to call `renew` cannot leave a fixation
    /// hole. The new id carries the user's [`ShardTag`], which keeps all
    /// of a user's sessions on one shard of a partitioned store. Unbinding keeps the id.
    pub fn set_user(&mut self, user: Option<&str>) {
        if self.meta.user.as_deref() != user {
            self.meta.user = user.map(String::from);
            self.meta_changed = true;
            self.user_rebound |= user.is_some();
        }
    }

    /// A new id for this session: random, or carrying its user's shard tag when bound.
    fn new_id<R: CryptoRng + ?Sized>(meta: &SessionMeta, rng: &mut R) -> SessionId {
        match meta.user.as_deref() {
            Some(user) => SessionId::generate_in(rng, ShardTag::for_user(user)),
            None => SessionId::generate(rng),
        }
    }

    /// The user the session is bound to.
    pub fn user(&self) -> Option<&str> {
        self.meta.user.as_deref()
    }

    fn is_modified(&self) -> bool {
        self.cleared || self.meta_changed || !self.pending.is_empty()
    }

    fn cookie_for(&self, id: SessionId, meta: &SessionMeta) -> CookieUpdate {
        let max_age = meta
            .lifetime
            .is_persistent_cookie()
            .then(|| meta.expires_at().saturating_duration_since(self.now));
        CookieUpdate::Set { id, max_age }
    }

    /// Decides what to write and which cookie to send. `rng` supplies new ids.
    pub fn finish<R: CryptoRng + ?Sized>(mut self, rng: &mut R) -> Decision {
        let now = self.now;
        let mut decision = Decision {
            delete: self.destroyed,
            write: None,
            cookie: None,
        };
        let modified = self.is_modified();
        // Most requests change nothing; an empty map's `into_iter().collect()` still costs
        // more than the check.
        let pending: Vec<(String, Option<Vec<u8>>)> = if self.pending.is_empty() {
            Vec::new()
        } else {
            core::mem::take(&mut self.pending).into_iter().collect()
        };
        match self.origin.clone() {
            Origin::New => {
                let mut record = SessionRecord {
                    meta: self.meta.clone(),
                    values: if self.cleared {
                        StoredValues::new()
                    } else {
                        core::mem::take(&mut self.values)
                    },
                };
                for (name, change) in pending {
                    match change {
                        Some(bytes) => {
                            record
                                .values
                                .insert(name, StoredValue { version: 1, bytes });
                        }
                        None => {
                            record.values.remove(&name);
                        }
                    }
                }
                if !record.values.is_empty() || record.meta.user.is_some() {
                    let id = Self::new_id(&record.meta, rng);
                    decision.cookie = Some(self.cookie_for(id.clone(), &record.meta));
                    decision.write = Some(StoreWrite::Create {
                        key: id.store_key(),
                        record,
                    });
                } else if self.destroy_requested {
                    decision.cookie = Some(CookieUpdate::Remove);
                }
            }
            Origin::Stored { id, key } => {
                let auto_renew = self.policy.renew_interval().is_some_and(|every| {
                    now.saturating_duration_since(self.meta.id_issued_at) >= every
                });
                let touch_due = !self.touched_by_store
                    && self.meta.lifetime.idle_timeout().is_some()
                    && now.saturating_duration_since(self.meta.last_seen)
                        >= self.policy.touch_interval();
                let refresh_cookie = self.lifetime_changed
                    || (self.meta.lifetime.is_persistent_cookie()
                        && (self.touched_by_store || touch_due));
                let login = self.renew_requested || self.user_rebound;
                if login || auto_renew {
                    let new_id = Self::new_id(&self.meta, rng);
                    self.meta.id_issued_at = now;
                    if login {
                        self.meta.started_at = now;
                    }
                    self.meta.last_seen = now;
                    decision.cookie = Some(self.cookie_for(new_id.clone(), &self.meta));
                    decision.write = Some(StoreWrite::Rotate {
                        from: key,
                        to: new_id.store_key(),
                        changes: Changes {
                            meta: Some(self.meta.clone()),
                            last_seen: now,
                            cleared: self.cleared,
                            values: pending,
                        },
                    });
                } else if modified {
                    self.meta.last_seen = now;
                    if self.lifetime_changed || self.meta.lifetime.is_persistent_cookie() {
                        decision.cookie = Some(self.cookie_for(id, &self.meta));
                    }
                    decision.write = Some(StoreWrite::Update {
                        key,
                        changes: Changes {
                            meta: self.meta_changed.then(|| self.meta.clone()),
                            last_seen: now,
                            cleared: self.cleared,
                            values: pending,
                        },
                    });
                } else if touch_due {
                    self.meta.last_seen = now;
                    if refresh_cookie {
                        decision.cookie = Some(self.cookie_for(id, &self.meta));
                    }
                    decision.write = Some(StoreWrite::Touch {
                        key,
                        last_seen: now,
                        expires_at: self.meta.expires_at(),
                    });
                } else if refresh_cookie {
                    decision.cookie = Some(self.cookie_for(id, &self.meta));
                }
            }
        }
        decision
    }
}

/// The end-of-request decision: carry out `delete`, then `write`, then send `cookie`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// A session to delete (after `destroy`).
    pub delete: Option<StoreKey>,
    /// What to write.
    pub write: Option<StoreWrite>,
    /// The `Set-Cookie` to send, if any.
    pub cookie: Option<CookieUpdate>,
}

impl Decision {
    /// Whether there is nothing to do at all.
    pub fn is_noop(&self) -> bool {
        self.delete.is_none() && self.write.is_none() && self.cookie.is_none()
    }

    /// After a store refused a create-only write because the new key is taken (an id
    /// collision, astronomically unlikely with 256 bits but handled): draw another id.
    pub fn reissue_id<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        let id = match &mut self.write {
            Some(StoreWrite::Create { key, .. }) | Some(StoreWrite::Rotate { to: key, .. }) => {
                // Same shard as the id it replaces: the session's user has not changed.
                let id = SessionId::generate_in(rng, key.shard_tag());
                *key = id.store_key();
                id
            }
            _ => return,
        };
        if let Some(CookieUpdate::Set { id: cookie_id, .. }) = &mut self.cookie {
            *cookie_id = id;
        }
    }
}

/// A write to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreWrite {
    /// Store a new session. Create-only: must fail (not overwrite) if `key` is taken.
    Create {
        /// Where.
        key: StoreKey,
        /// Everything; value versions start at 1.
        record: SessionRecord,
    },
    /// Change an existing session; must not recreate it if it is gone (a concurrent
    /// request destroyed it).
    Update {
        /// Which session.
        key: StoreKey,
        /// Only what changed.
        changes: Changes,
    },
    /// Move a session to a new key (id renewal) and apply changes, atomically where the
    /// store can: the old key must be dead afterwards, `to` must not be overwritten, and
    /// values written concurrently under `from` are kept.
    Rotate {
        /// The old key, deleted.
        from: StoreKey,
        /// The new key, create-only.
        to: StoreKey,
        /// Changes on top of the stored record.
        changes: Changes,
    },
    /// Slide the idle deadline only.
    Touch {
        /// Which session.
        key: StoreKey,
        /// The new last activity.
        last_seen: Timestamp,
        /// The resulting deadline (for a store-side TTL).
        expires_at: Timestamp,
    },
}

impl StoreWrite {
    /// The key, last-seen time and deadline of the session once a store has carried this
    /// write out, when the write says all three: a `Create`, a `Touch`, and an `Update` or
    /// `Rotate` whose changes carry the whole meta (a log-in's do). Otherwise the deadline
    /// follows the stored lifetime, which the write does not carry. The rules are
    /// [`Changes::apply_to`]'s.
    pub fn stored_times(&self) -> Option<(&StoreKey, Timestamp, Timestamp)> {
        match self {
            StoreWrite::Create { key, record } => {
                Some((key, record.meta.last_seen, record.meta.expires_at()))
            }
            StoreWrite::Rotate {
                to: key, changes, ..
            }
            | StoreWrite::Update { key, changes } => {
                let meta = changes.meta.as_ref()?;
                let last_seen = changes.last_seen;
                Some((key, last_seen, meta.expires_at_if_seen(last_seen)))
            }
            StoreWrite::Touch {
                key,
                last_seen,
                expires_at,
            } => Some((key, *last_seen, *expires_at)),
        }
    }
}

/// Changes to apply to a stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// New metadata, when the lifetime or user changed; otherwise keep the stored one.
    pub meta: Option<SessionMeta>,
    /// The new last activity (a write is activity).
    pub last_seen: Timestamp,
    /// Remove all stored values before applying `values`.
    pub cleared: bool,
    /// Values to set (`Some`) or remove (`None`).
    pub values: Vec<(String, Option<Vec<u8>>)>,
}

impl Changes {
    /// Applies the changes to a record, bumping the version of every value written.
    /// Stores that hold [`SessionRecord`]s use this, so the rules live in one place.
    pub fn apply_to(&self, record: &mut SessionRecord) {
        if let Some(meta) = &self.meta {
            record.meta = meta.clone();
        }
        record.meta.last_seen = self.last_seen;
        if self.cleared {
            record.values.clear();
        }
        for (name, change) in &self.values {
            match change {
                Some(bytes) => {
                    let version = record.values.get(name).map_or(0, |v| v.version) + 1;
                    record.values.insert(
                        name.clone(),
                        StoredValue {
                            version,
                            bytes: bytes.clone(),
                        },
                    );
                }
                None => {
                    record.values.remove(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
