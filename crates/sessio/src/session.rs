//! The per-request session handle that handlers use.

use std::fmt;
use std::sync::Arc;

use futures_util::future::TryFuture;
use futures_util::lock::{Mutex, MutexGuard};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sessio_core::expiry::Lifetime;
use sessio_core::{
    Decision, KeyedSessionId, LoadStatus, SessionId, SessionState, StoreKey, Timestamp,
};

use crate::codec;
use crate::finish::{Finish, FinishAfter};
use crate::manager::{FailurePolicy, SessionManager};
use crate::response::SessionResponse;
use crate::store::{
    append_to_list, CasOutcome, PushOutcome, StoreError, TouchRule, UserSession, WriteOutcome,
};
use crate::SessionError;

/// How many times a create-only write is retried with a fresh id before giving up.
const CREATE_ATTEMPTS: u32 = 4;

enum Stage {
    /// Nothing has used the session yet: no store round trip has happened.
    Untouched,
    /// Loaded (or known to be new) and writable.
    Ready(SessionState),
    /// The store failed and the manager fails open: anonymous, nothing is written.
    ReadOnly(SessionState),
    /// Decided by [`Session::finish_at_once`], which left the store write to
    /// [`Session::finish`].
    Decided(Decision),
    /// The response headers were produced.
    Finished,
}

struct Inner {
    manager: SessionManager,
    id: Option<SessionId>,
    now: Timestamp,
    stage: Mutex<Stage>,
}

/// One request's session. Adapters hand it to handlers; clones share the same state.
///
/// Every method loads the session on first use (one store round trip), so a route that
/// never touches the session never reaches the store. Changes are kept in the handle and
/// written at the end of the request by [`Session::finish`], except [`Session::update`],
/// which is atomic in the store at once.
///
/// # What `insert` guarantees, and what `update` adds
/// - [`insert`](Self::insert) / [`remove`](Self::remove) write only the values they name,
///   at the end of the request. Two concurrent requests that write *different* values
///   both keep their writes. Two that write the *same* value: the last to finish wins.
/// - [`update`](Self::update) is a read-modify-write of one value that is never lost: it
///   reads the value, applies the closure, and writes with a compare-and-set on the
///   value's version, re-running the closure on the fresh value when another request
///   wrote first. Fifty parallel "add to cart" requests leave fifty items.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.inner.id)
            .field("now", &self.inner.now)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(manager: SessionManager, id: Option<SessionId>, now: Timestamp) -> Self {
        Session {
            inner: Arc::new(Inner {
                manager,
                id,
                now,
                stage: Mutex::new(Stage::Untouched),
            }),
        }
    }

    /// The manager this session belongs to.
    pub fn manager(&self) -> &SessionManager {
        &self.inner.manager
    }

    /// The request's time, as read once at its start.
    pub fn now(&self) -> Timestamp {
        self.inner.now
    }

    /// Loads the session if that has not happened yet. The stage it returns is never
    /// `Untouched`; the accessors below treat that case like `Finished` rather than panic.
    async fn loaded(&self) -> Result<MutexGuard<'_, Stage>, SessionError> {
        let mut stage = self.inner.stage.lock().await;
        if matches!(*stage, Stage::Untouched) {
            *stage = self.load().await?;
        }
        Ok(stage)
    }

    /// The loaded state for reading (a read-only state too).
    fn readable(stage: &Stage) -> Result<&SessionState, SessionError> {
        match stage {
            Stage::Ready(state) | Stage::ReadOnly(state) => Ok(state),
            Stage::Decided(_) | Stage::Finished | Stage::Untouched => Err(SessionError::Finished),
        }
    }

    /// The loaded state for writing.
    fn writable(stage: &mut Stage) -> Result<&mut SessionState, SessionError> {
        match stage {
            Stage::Ready(state) => Ok(state),
            Stage::ReadOnly(_) => Err(SessionError::ReadOnly),
            Stage::Decided(_) | Stage::Finished | Stage::Untouched => Err(SessionError::Finished),
        }
    }

    async fn load(&self) -> Result<Stage, SessionError> {
        let shared = &self.inner.manager.shared;
        let now = self.inner.now;
        let Some(id) = &self.inner.id else {
            return Ok(Stage::Ready(SessionState::fresh(now, &shared.expiry)));
        };
        let id = KeyedSessionId::from(id.clone());
        let loaded = match shared.store.load_at_once(id.key(), self.touch_rule()) {
            Some(loaded) => loaded,
            None => shared.store.load(id.key(), self.touch_rule()).await,
        };
        match loaded {
            Ok(loaded) => {
                let (record, touched) = match loaded {
                    Some(l) => (Some(l.record), l.touched),
                    None => (None, false),
                };
                let state = SessionState::resume(id.clone(), record, touched, now, &shared.expiry);
                if state.load_status() != LoadStatus::Live {
                    tracing::debug!(session = %id.key().fingerprint(), status = ?state.load_status(), "session cookie did not lead to a live session");
                }
                Ok(Stage::Ready(state))
            }
            Err(error) => self.after_load_error(id.key(), error),
        }
    }

    /// The touch rule for this request's load.
    fn touch_rule(&self) -> TouchRule {
        TouchRule {
            now: self.inner.now,
            interval: self.inner.manager.shared.expiry.touch_interval(),
        }
    }

    /// What a failed load leaves: an error (fail-closed) or a read-only anonymous session
    /// (fail-open).
    fn after_load_error(&self, key: &StoreKey, error: StoreError) -> Result<Stage, SessionError> {
        let shared = &self.inner.manager.shared;
        match shared.failure {
            FailurePolicy::FailClosed => {
                tracing::warn!(session = %key.fingerprint(), %error, "session store failed while loading");
                Err(error.into())
            }
            FailurePolicy::FailOpen => {
                tracing::warn!(session = %key.fingerprint(), %error, "session store failed while loading; continuing as anonymous, read-only");
                Ok(Stage::ReadOnly(SessionState::fresh(
                    self.inner.now,
                    &shared.expiry,
                )))
            }
        }
    }

    async fn read<R>(&self, f: impl FnOnce(&SessionState) -> R) -> Result<R, SessionError> {
        let stage = self.loaded().await?;
        Self::readable(&stage).map(f)
    }

    async fn write<R>(&self, f: impl FnOnce(&mut SessionState) -> R) -> Result<R, SessionError> {
        let mut stage = self.loaded().await?;
        Self::writable(&mut stage).map(f)
    }

    /// What the request's cookie led to (no cookie, unknown, expired, live).
    pub async fn status(&self) -> Result<LoadStatus, SessionError> {
        self.read(SessionState::load_status).await
    }

    /// The value stored under `name`, deserialized as `T`.
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, SessionError> {
        let stage = self.loaded().await?;
        Self::readable(&stage)?
            .get(name)
            .map(|bytes| codec::decode(name, bytes))
            .transpose()
    }

    /// Sets `name` to `value` (written at the end of the request).
    pub async fn insert<T: Serialize + ?Sized>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), SessionError> {
        let bytes = codec::encode(name, value)?;
        self.write(|state| state.insert(name, bytes)).await
    }

    /// Removes `name`; returns whether it was there.
    pub async fn remove(&self, name: &str) -> Result<bool, SessionError> {
        self.write(|state| state.remove(name)).await
    }

    /// Removes `name` and returns what it held, atomically: of several concurrent requests
    /// of one session taking the same value, one gets it and the others `None` (a flash
    /// message is shown once). `None` when there is no such value. A value that does not
    /// deserialize as `T` is an error and stays where it is.
    pub async fn take<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, SessionError> {
        let mut stage = self.loaded().await?;
        let mut taken = None;
        self.compare_and_set_loop(&mut stage, name, |current| {
            // The attempt that wins is the last to run.
            taken = current
                .map(|bytes| codec::decode::<T>(name, bytes))
                .transpose()?;
            Ok(None)
        })
        .await?;
        Ok(taken)
    }

    /// Removes every value; the session, its id and its user stay.
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.write(SessionState::clear).await
    }

    /// The names of the session's values.
    pub async fn names(&self) -> Result<Vec<String>, SessionError> {
        self.read(|state| state.names().map(str::to_owned).collect())
            .await
    }

    /// Atomically replaces the value under `name` with `f(current)` and returns the new
    /// value; see the type's documentation. `f` may run several times (once per lost race),
    /// so it must not have side effects.
    pub async fn update<T, F>(&self, name: &str, mut f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        let mut stage = self.loaded().await?;
        let mut new = None;
        self.update_bytes(&mut stage, name, |current| {
            let current = current.map(|b| codec::decode(name, b)).transpose()?;
            let value = f(current);
            let bytes = codec::encode(name, &value)?;
            new = Some(value);
            Ok(bytes)
        })
        .await?;
        new.ok_or(SessionError::Finished)
    }

    /// Appends `element` to the list stored as `name` (creating the list) and returns the
    /// list as it is afterwards. No concurrent request can lose an element, as with
    /// [`update`](Self::update), and it is cheaper: as the first thing a request does with
    /// a stored session, it loads the session and appends in one store call
    /// ([`SessionStore::load_and_push`](crate::SessionStore::load_and_push)), so "add to
    /// cart" is one round trip to Redis. Once the session is loaded, it is an `update`.
    ///
    /// Fails with `Deserialize`, writing nothing, when the value exists but is not a list;
    /// the elements already in a list are checked against `T` when the list is returned,
    /// after the store appended (an `update` checks before writing).
    ///
    /// The element and the list's items may be different types that share a JSON shape,
    /// such as `&str` and `String`:
    ///
    /// ```no_run
    /// # async fn add(session: &sessio::Session) -> Result<(), sessio::SessionError> {
    /// let cart: Vec<String> = session.push("cart", "apple").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn push<E, T>(&self, name: &str, element: &E) -> Result<Vec<T>, SessionError>
    where
        E: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let element = codec::encode(name, element)?;
        let shared = &self.inner.manager.shared;
        let now = self.inner.now;
        let mut stage = self.inner.stage.lock().await;
        if matches!(*stage, Stage::Untouched) {
            *stage = match &self.inner.id {
                None => Stage::Ready(SessionState::fresh(now, &shared.expiry)),
                Some(id) => {
                    let id = KeyedSessionId::from(id.clone());
                    let touch = self.touch_rule();
                    let pushed =
                        match shared
                            .store
                            .load_and_push_at_once(id.key(), touch, name, &element)
                        {
                            Some(pushed) => pushed,
                            None => {
                                shared
                                    .store
                                    .load_and_push(id.key(), touch, name, &element)
                                    .await
                            }
                        };
                    let appended = matches!(pushed, Ok(PushOutcome::Pushed(_)));
                    match pushed {
                        Ok(PushOutcome::Pushed(loaded) | PushOutcome::NotAList(loaded)) => {
                            let state = SessionState::resume(
                                id,
                                Some(loaded.record),
                                loaded.touched,
                                now,
                                &shared.expiry,
                            );
                            let list = if appended { state.get(name) } else { None };
                            let list = list.map(|bytes| codec::decode(name, bytes));
                            *stage = Stage::Ready(state);
                            return list.unwrap_or_else(|| Err(not_a_list(name)));
                        }
                        Ok(PushOutcome::Absent) => {
                            Stage::Ready(SessionState::resume(id, None, false, now, &shared.expiry))
                        }
                        Err(error) => self.after_load_error(id.key(), error)?,
                    }
                }
            };
        }
        let list = self
            .update_bytes(&mut stage, name, |current| {
                append_to_list(current, &element).ok_or_else(|| not_a_list(name))
            })
            .await?;
        codec::decode(name, &list)
    }

    /// `update` and `push` on the compare-and-set loop: `next` turns the current bytes into
    /// the new ones; returns the bytes written.
    async fn update_bytes(
        &self,
        stage: &mut Stage,
        name: &str,
        mut next: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>, SessionError>,
    ) -> Result<Vec<u8>, SessionError> {
        let written = self
            .compare_and_set_loop(stage, name, |current| next(current).map(Some))
            .await?;
        // `next` never removes, so there are always bytes written.
        Ok(written.unwrap_or_default())
    }

    /// The compare-and-set loop behind `update`, `push` and `take`: `next` turns the
    /// current bytes into the new ones (`None`: remove the value), and runs again after
    /// every lost race. Returns the bytes written.
    async fn compare_and_set_loop(
        &self,
        stage: &mut Stage,
        name: &str,
        mut next: impl FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>, SessionError>,
    ) -> Result<Option<Vec<u8>>, SessionError> {
        let shared = &self.inner.manager.shared;
        for _ in 0..shared.max_update_attempts {
            let state = Self::writable(stage)?;
            let bytes = next(state.get(name))?;
            if bytes.is_none() && state.get(name).is_none() {
                // Removing what is not there (any more, after a lost race): nothing to
                // write, here or in the store; a value written meanwhile comes after.
                return Ok(None);
            }
            let (Some(expected), Some(key)) = (state.compare_and_set_base(name), state.store_key())
            else {
                // Not in the store yet (or cleared in this request): nobody else can see
                // this value, so a local write is already atomic.
                match &bytes {
                    Some(bytes) => state.insert(name, bytes.clone()),
                    None => {
                        state.remove(name);
                    }
                }
                return Ok(bytes);
            };
            match shared
                .store
                .compare_and_set(&key, name, expected, bytes.as_deref(), self.inner.now)
                .await?
            {
                CasOutcome::Written(value) => {
                    state.committed(name, value);
                    return Ok(bytes);
                }
                CasOutcome::Conflict(value) => state.committed(name, value),
                CasOutcome::Gone => {
                    // Destroyed by a concurrent request: carry on as a new session, which
                    // gets a new id; the destroyed one is not resurrected.
                    *state = SessionState::fresh(self.inner.now, &shared.expiry);
                }
            }
        }
        Err(SessionError::Contention {
            name: name.to_owned(),
            attempts: shared.max_update_attempts,
        })
    }

    /// Gives the session a new id at the end of the request, data kept, old id dead at
    /// once. Call it on login and on every privilege change (session fixation).
    pub async fn renew(&self) -> Result<(), SessionError> {
        self.write(SessionState::renew).await
    }

    /// Ends the session: deleted from the store, removal cookie sent.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        self.write(SessionState::destroy).await
    }

    /// Gives this session its own lifetime (e.g. "remember me").
    pub async fn set_lifetime(&self, lifetime: Lifetime) -> Result<(), SessionError> {
        self.write(|state| state.set_lifetime(lifetime)).await
    }

    /// Binds the session to a user (`None` unbinds), for listing and revoking a user's
    /// sessions together.
    ///
    /// Binding a user other than the one bound so far is a login: the session gets a new
    /// id when the request ends, as with [`renew`](Self::renew), whether or not the
    /// handler also calls `renew`. Unbinding keeps the id.
    pub async fn set_user(&self, user: Option<&str>) -> Result<(), SessionError> {
        self.write(|state| state.set_user(user)).await
    }

    /// The user the session is bound to.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        self.read(|state| state.user().map(str::to_owned)).await
    }

    /// The store key of this session (a handle, not a credential), if it is stored.
    pub async fn store_key(&self) -> Result<Option<StoreKey>, SessionError> {
        self.read(SessionState::store_key).await
    }

    /// The live sessions of this session's user ("your devices"); empty when no user is
    /// bound.
    pub async fn user_sessions(&self) -> Result<Vec<UserSession>, SessionError> {
        let Some(user) = self.user().await? else {
            return Ok(Vec::new());
        };
        let store = &self.inner.manager.shared.store;
        Ok(store.user_sessions(&user, self.inner.now).await?)
    }

    /// Logs the user out everywhere: deletes every live session of this session's user,
    /// this one included unless `keep_current`; returns how many sessions were deleted.
    /// Without a bound user, nothing happens and 0 is returned.
    pub async fn revoke_user_sessions(&self, keep_current: bool) -> Result<usize, SessionError> {
        let mut stage = self.loaded().await?;
        let state = Self::writable(&mut stage)?;
        let Some(user) = state.user().map(str::to_owned) else {
            return Ok(0);
        };
        let current = state.store_key();
        let except = if keep_current { current.as_ref() } else { None };
        let store = &self.inner.manager.shared.store;
        let revoked = store.revoke_user(&user, except, self.inner.now).await?;
        if !keep_current {
            state.destroy();
        }
        Ok(revoked)
    }

    /// Revokes one session of this session's user by its store key (from
    /// [`user_sessions`](Self::user_sessions)); returns whether it was one of theirs.
    pub async fn revoke_user_session(&self, key: &StoreKey) -> Result<bool, SessionError> {
        let sessions = self.user_sessions().await?;
        if !sessions.iter().any(|s| &s.key == key) {
            return Ok(false);
        }
        let store = &self.inner.manager.shared.store;
        store.write(Some(key), None, self.inner.now).await?;
        if self.store_key().await? == Some(*key) {
            self.destroy().await?;
        }
        Ok(true)
    }

    /// Ends the request's use of the session: carries out the core's decision in the
    /// store (one round trip at most) and returns the headers to add to the response.
    /// Adapters call this once, after the handler (or [`finish_at_once`](Self::finish_at_once)
    /// first).
    pub async fn finish(&self) -> Result<SessionResponse, SessionError> {
        let mut stage = self.inner.stage.lock().await;
        if let Some(done) = self.settle(&mut stage) {
            return done;
        }
        match std::mem::replace(&mut *stage, Stage::Finished) {
            Stage::Decided(decision) => self.write_decision(decision).await,
            // `settle` leaves nothing else behind when it answers `None`.
            _ => Err(SessionError::Finished),
        }
    }

    /// [`finish`](Self::finish) without waiting, when that needs no store write (the
    /// common case: the session was not used, or only read); `None` when it does, or
    /// when another task holds the session. Then `finish` must still be called, and it
    /// writes what this decided. Spares the adapters a boxed future per request.
    pub fn finish_at_once(&self) -> Option<Result<SessionResponse, SessionError>> {
        let mut stage = self.inner.stage.try_lock()?;
        self.settle(&mut stage)
    }

    /// [`finish`](Self::finish) as an owned future: ready at once when nothing needs
    /// writing (see [`finish_at_once`](Self::finish_at_once)), else `finish`, boxed. What
    /// an adapter keeps in its own response future, which then needs no box of its own.
    pub fn finishing(&self) -> Finish {
        match self.finish_at_once() {
            Some(finished) => Finish::Ready(Some(finished)),
            None => {
                let session = self.clone();
                Finish::Writing(Box::pin(async move { session.finish().await }))
            }
        }
    }

    /// The handler's future `answer`, then [`finishing`](Self::finishing) once it has
    /// answered, as one future: what a middleware's service call returns, wrapped in
    /// whatever turns the answer and the session's headers into the framework's response.
    /// If the handler fails, the session is not finished and nothing it changed is
    /// written.
    pub fn finish_after<F: TryFuture>(self, answer: F) -> FinishAfter<F> {
        FinishAfter::new(self, answer)
    }

    /// Decides the stage: the answer when that needs no store write; otherwise `None`,
    /// with the decision left in the stage as [`Stage::Decided`] for `finish` to write.
    /// Shared by `finish` and `finish_at_once`, so both decide alike.
    fn settle(&self, stage: &mut Stage) -> Option<Result<SessionResponse, SessionError>> {
        let decision = match std::mem::replace(stage, Stage::Finished) {
            Stage::Untouched => return Some(Ok(SessionResponse::untouched())),
            Stage::ReadOnly(_) => return Some(Ok(SessionResponse::used(None))),
            Stage::Finished => return Some(Err(SessionError::Finished)),
            Stage::Decided(decision) => decision,
            Stage::Ready(state) => state.finish(&mut rand::rng()),
        };
        if decision.delete.is_none() && decision.write.is_none() {
            return Some(Ok(self.response_for(decision)));
        }
        *stage = Stage::Decided(decision);
        None
    }

    /// The headers for a decision that has been carried out.
    fn response_for(&self, decision: Decision) -> SessionResponse {
        let shared = &self.inner.manager.shared;
        let set_cookie = decision
            .cookie
            .map(|update| shared.cookie.set_cookie(&update, self.inner.now));
        SessionResponse::used(set_cookie)
    }

    /// Carries out a decision's store write, drawing a new id if a fresh one is taken.
    async fn write_decision(
        &self,
        mut decision: Decision,
    ) -> Result<SessionResponse, SessionError> {
        let shared = &self.inner.manager.shared;
        let now = self.inner.now;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (delete, write) = (decision.delete.as_ref(), decision.write.as_ref());
            let outcome = match shared.store.write_at_once(delete, write, now) {
                Some(outcome) => outcome,
                None => shared.store.write(delete, write, now).await,
            }?;
            match outcome {
                WriteOutcome::Written => break,
                WriteOutcome::KeyTaken if attempts < CREATE_ATTEMPTS => {
                    tracing::warn!("session id collision in the store; drawing a new id");
                    decision.delete = None;
                    decision.reissue_id(&mut rand::rng());
                }
                WriteOutcome::KeyTaken => {
                    return Err(crate::StoreError::Protocol(
                        "the store refused every fresh session id as taken".to_owned(),
                    )
                    .into())
                }
                WriteOutcome::Gone => {
                    // A concurrent request destroyed or renewed the session: drop this
                    // request's changes rather than resurrect it, and send no cookie,
                    // which could overwrite the one the other request sent.
                    tracing::debug!("session gone before its changes were written; dropped");
                    decision.cookie = None;
                    break;
                }
            }
        }
        Ok(self.response_for(decision))
    }
}

/// The error for a value that `push` cannot append to.
fn not_a_list(name: &str) -> SessionError {
    SessionError::Deserialize {
        name: name.to_owned(),
        source: serde::de::Error::custom("the value is not a list"),
    }
}
