//! Server-side HTTP sessions for async Rust: the layer every framework adapter shares.
//!
//! - [`SessionManager`]: built once from configuration; adapters call
//!   [`SessionManager::start`] with the request's `Cookie` headers and
//!   [`Session::finish`] after the handler, then apply the [`SessionResponse`]. A
//!   middleware whose response future is a named type wraps
//!   [`Session::finish_after`] (the handler's future, then the finish, unboxed unless
//!   the session writes); an `async` one awaits `finish` itself, which boxes nothing
//!   and settles a read without waiting.
//! - [`Session`]: the per-request handle handlers use (typed `get` / `insert` /
//!   `remove` / `update` / `push` / `take` through serde, `renew`, `destroy`, users and
//!   devices).
//! - [`SessionStore`]: where sessions live; [`MemoryStore`] here, a Redis store in
//!   `sessio-redis`.
//!
//! The session rules themselves (ids, cookies, expiry, what to write) live in the pure
//! core, [`sessio_core`], re-exported here.
//!
//! # Features
//! None: everything here is needed by every adapter.
#![forbid(unsafe_code)]

mod clock;
mod codec;
mod error;
mod finish;
mod manager;
mod memory;
mod response;
mod session;
pub mod sharded;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::SessionError;
pub use finish::{Finish, FinishAfter, Finished};
pub use manager::{ConfigError, FailurePolicy, SessionManager, SessionManagerBuilder};
pub use memory::MemoryStore;
pub use response::{is_plain_header_value, HeaderAccess, SessionHeader, SessionResponse};
pub use sessio_core;
pub use sessio_core::cookie::{CookieConfig, SameSite};
pub use sessio_core::expiry::{ExpiryPolicy, Lifetime};
pub use sessio_core::{LoadStatus, StoreKey, Timestamp};
pub use session::Session;
pub use store::{
    append_to_list, BoxFuture, CasOutcome, Loaded, PushOutcome, SessionStore, StoreError,
    TouchRule, UserSession, WriteOutcome,
};
