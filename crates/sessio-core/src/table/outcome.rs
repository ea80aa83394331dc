//! What table operations report back: evictions, refusals and memory use.
//!
//! None of these print a session's value in `Debug`: payloads may hold secrets (CSRF
//! tokens, user data), and an error that ends up in a log should not carry them.

use core::fmt;

use crate::StoreKey;

/// A successful [`Table::insert`](super::Table::insert).
///
/// ```
/// # use core::num::NonZeroUsize;
/// # use sessio_core::{table::Table, StoreKey, Timestamp};
/// let mut table = Table::new(NonZeroUsize::MIN);
/// let now = Timestamp::from_unix_secs(0);
/// let later = Timestamp::from_unix_secs(60);
/// let first = table.insert(StoreKey::from_bytes([1; 32]), "a", later, None, now).unwrap();
/// assert!(first.evicted.is_none());
/// let second = table.insert(StoreKey::from_bytes([2; 32]), "b", later, None, now).unwrap();
/// assert_eq!(second.evicted.map(|e| e.value), Some("a"));
/// ```
pub struct Inserted<V> {
    /// The entry removed to make room (or an expired entry the new one replaced under the
    /// same key), so the caller can count it or tell its owner. At most one per insert.
    pub evicted: Option<Evicted<V>>,
}

/// An entry the table removed on its own, handed back with the reason.
pub struct Evicted<V> {
    /// The key it was stored under.
    pub key: StoreKey,
    /// Its payload.
    pub value: V,
    /// Why it was removed.
    pub reason: EvictionReason,
}

/// Why the table removed an entry without being asked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvictionReason {
    /// Its deadline had passed.
    Expired,
    /// The table was full and it was the least recently used live entry.
    CapacityLru,
}

/// [`Table::insert`](super::Table::insert) refused: a live entry already has the key.
///
/// Insert is create-only so that a (vanishingly unlikely) id collision can never hand one
/// client another client's session; the caller generates a new id and tries again.
pub struct Occupied<V> {
    /// The value that was not inserted, handed back.
    pub value: V,
}

/// Why [`Table::rekey`](super::Table::rekey) did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RekeyError {
    /// No live entry has the old key.
    NotFound,
    /// A live entry already has the new key.
    Occupied,
}

/// Bytes a [`Table`](super::Table) has allocated, computed from the capacities of its
/// buffers: what it holds on to, not just what it uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// The entry slab: keys, deadlines, LRU links and payloads (payloads counted inline;
    /// heap memory a payload owns is not seen).
    pub slab_bytes: usize,
    /// The key → slot hash table.
    pub index_bytes: usize,
    /// Per-entry user links, user records, the name table and the names.
    pub user_index_bytes: usize,
}

impl MemoryUsage {
    /// All of it.
    pub fn total(&self) -> usize {
        self.slab_bytes + self.index_bytes + self.user_index_bytes
    }
}

impl<V> fmt::Debug for Inserted<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inserted")
            .field("evicted", &self.evicted)
            .finish()
    }
}

impl<V> fmt::Debug for Evicted<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evicted")
            .field("key", &self.key)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl<V> fmt::Debug for Occupied<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Occupied").finish_non_exhaustive()
    }
}

impl<V> fmt::Display for Occupied<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a live session already has this key")
    }
}

impl<V> core::error::Error for Occupied<V> {}

impl fmt::Display for EvictionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EvictionReason::Expired => "expired",
            EvictionReason::CapacityLru => "evicted as least recently used at capacity",
        })
    }
}

impl fmt::Display for RekeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RekeyError::NotFound => "no live session has the old key",
            RekeyError::Occupied => "a live session already has the new key",
        })
    }
}

impl core::error::Error for RekeyError {}
