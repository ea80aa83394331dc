//! The sans-IO core of sessio: everything about a server-side session that can be decided
//! without touching a network, a disk or a clock.
//!
//! # Contract
//! - `#![no_std]` + `alloc`: no I/O, no clock, no random generator of its own.
//! - Every call that depends on time takes `now` (a [`Timestamp`]); every call that needs
//!   randomness takes the caller's [`rand_core::CryptoRng`].
//! - Decisions come out as data (store operations and an optional `Set-Cookie`), which the
//!   caller carries out. The async crate `sessio` is one such caller; a custom server is
//!   another (see `examples/custom-server`).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cookie;
pub mod expiry;
pub mod id;
pub mod machine;
pub mod record;
pub mod table;
pub mod time;

pub use id::{EncodedSessionId, IdError, SessionId, StoreKey};
pub use machine::{Decision, LoadStatus, SessionState, StoreWrite};
pub use time::Timestamp;
