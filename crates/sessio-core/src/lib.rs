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
//!
//! # Modules
//! | module | what it decides |
//! |---|---|
//! | [`id`] | 256-bit [`SessionId`]s from the caller's CSPRNG, their strict parsing, and the [`StoreKey`] digest a store keeps instead of the id |
//! | [`cookie`] | finding the id in `Cookie` headers; building `Set-Cookie`; cookie rules checked at configuration time; optional signed ids |
//! | [`expiry`] | idle and absolute timeouts, per-session lifetimes, the touch interval, automatic renewal |
//! | [`record`] | what a store keeps, and its versioned binary encoding |
//! | [`machine`] | one request's life: load status, the handler's changes, the end-of-request [`Decision`] |
//! | [`table`] | a bounded in-memory table with expiry, LRU eviction and a per-user index |
//! | [`time`] | the [`Timestamp`] every time-dependent call takes |
//!
//! # Features
//! None. The crate always builds without `std`; `cargo xtask no-std` links it into a
//! `#![no_std]` binary to keep it that way.
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

pub use id::{EncodedSessionId, IdError, KeyedSessionId, SessionId, ShardTag, StoreKey};
pub use machine::{Decision, LoadStatus, SessionState, StoreWrite};
pub use time::Timestamp;
