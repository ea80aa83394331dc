//! The `SessionManager`: built once from configuration, called by an adapter at the start
//! of every request ([`SessionManager::start`]) and by the session at its end
//! ([`Session::finish`](crate::Session::finish)).

use std::fmt;
use std::sync::Arc;

use sessio_core::cookie::{CookieConfig, CookieConfigError, CookieLookup, CookieSettings};
use sessio_core::expiry::{ExpiryConfigError, ExpiryPolicy};
use sessio_core::Timestamp;

use crate::clock::{Clock, SystemClock};
use crate::session::Session;
use crate::store::SessionStore;

/// What a request does when the store fails while loading its session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// The session operation returns an error and the adapter answers 503. The default:
    /// a request that needs to know who the user is must not silently run as anonymous.
    #[default]
    FailClosed,
    /// The request runs as anonymous with a read-only empty session: reads see nothing,
    /// writes return [`SessionError::ReadOnly`](crate::SessionError::ReadOnly), nothing
    /// is written and no cookie is sent, so the client's real session survives the outage.
    FailOpen,
}

/// Shared, immutable configuration and resources of all sessions.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) cookie: CookieSettings,
    pub(crate) expiry: ExpiryPolicy,
    pub(crate) failure: FailurePolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_update_attempts: u32,
}

/// Starts and finishes sessions. Cheap to clone (an `Arc`); build it once.
///
/// ```
/// use sessio::{MemoryStore, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
///
/// // A request without a cookie: a handler writes, the end of the request decides.
/// let session = manager.start(std::iter::empty());
/// session.insert("cart", &vec!["apple"]).await?;
/// let response = session.finish().await?;
/// assert!(response.set_cookie().expect("new session").starts_with("sessio="));
/// # Ok::<(), sessio::SessionError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionManager {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("cookie", &self.shared.cookie)
            .field("expiry", &self.shared.expiry)
            .field("failure", &self.shared.failure)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Starts configuring a manager over `store`.
    pub fn builder(store: impl SessionStore) -> SessionManagerBuilder {
        Self::builder_shared(Arc::new(store))
    }

    /// Like [`builder`](Self::builder), for a store already behind an `Arc` (e.g. one
    /// chosen at run time).
    pub fn builder_shared(store: Arc<dyn SessionStore>) -> SessionManagerBuilder {
        SessionManagerBuilder {
            store,
            cookie: CookieConfig::new(),
            expiry: ExpiryPolicy::default(),
            failure: FailurePolicy::default(),
            clock: Arc::new(SystemClock),
            max_update_attempts: 100,
        }
    }

    /// Begins a request's session from its `Cookie` header values (raw bytes; several
    /// headers allowed). Reads the clock once; touches the store only when the handler
    /// first uses the session.
    pub fn start<'h, I>(&self, cookie_headers: I) -> Session
    where
        I: IntoIterator<Item = &'h [u8]>,
    {
        let lookup = self.shared.cookie.find_session_id(cookie_headers);
        let id = match lookup {
            CookieLookup::Found(id) => Some(id),
            CookieLookup::Malformed => {
                tracing::debug!("ignoring a malformed session cookie; the request is anonymous");
                None
            }
            CookieLookup::Absent => None,
        };
        Session::new(self.clone(), id, self.shared.clock.now())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.shared.store
    }

    /// The cookie settings.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.shared.cookie
    }

    /// The expiry policy.
    pub fn expiry_policy(&self) -> &ExpiryPolicy {
        &self.shared.expiry
    }

    /// The failure policy.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.shared.failure
    }

    /// The manager's clock reading now.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }
}

/// Configures a [`SessionManager`].
pub struct SessionManagerBuilder {
    store: Arc<dyn SessionStore>,
    cookie: CookieConfig,
    expiry: ExpiryPolicy,
    failure: FailurePolicy,
    clock: Arc<dyn Clock>,
    max_update_attempts: u32,
}

impl fmt::Debug for SessionManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManagerBuilder")
            .finish_non_exhaustive()
    }
}

impl SessionManagerBuilder {
    /// The cookie's name and attributes (default: `sessio`, `Path=/`, `Secure`,
    /// `HttpOnly`, `SameSite=Lax`).
    pub fn cookie(mut self, cookie: CookieConfig) -> Self {
        self.cookie = cookie;
        self
    }

    /// Timeouts, touch interval and automatic renewal.
    pub fn expiry(mut self, expiry: ExpiryPolicy) -> Self {
        self.expiry = expiry;
        self
    }

    /// Fail closed (default) or open when the store fails.
    pub fn failure_policy(mut self, failure: FailurePolicy) -> Self {
        self.failure = failure;
        self
    }

    /// Replaces the system clock, e.g. with a [`ManualClock`](crate::ManualClock) in tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many compare-and-set attempts [`Session::update`] makes before giving up with
    /// [`SessionError::Contention`](crate::SessionError::Contention) (default 100).
    pub fn max_update_attempts(mut self, attempts: u32) -> Self {
        self.max_update_attempts = attempts.max(1);
        self
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<SessionManager, ConfigError> {
        let cookie = self.cookie.build()?;
        Ok(SessionManager {
            shared: Arc::new(Shared {
                store: self.store,
                cookie,
                expiry: self.expiry,
                failure: self.failure,
                clock: self.clock,
                max_update_attempts: self.max_update_attempts,
            }),
        })
    }
}

/// A rejected configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The cookie configuration breaks a rule (e.g. a `__Host-` name without `Secure`).
    #[error(transparent)]
    Cookie(#[from] CookieConfigError),
    /// The expiry configuration breaks a rule (e.g. no timeout at all).
    #[error(transparent)]
    Expiry(#[from] ExpiryConfigError),
}
