//! A bounded in-memory session table: what a memory store keeps behind each shard's lock.
//!
//! - **Bounded.** At most `max_sessions` entries. Inserting into a full table first
//!   reclaims an expired entry if it finds one cheaply, otherwise it evicts the least
//!   recently used entry, and reports what it removed.
//! - **Expiry without scans.** Every entry carries a deadline computed by the caller. An
//!   expired entry is never returned; [`Table::insert`] and [`Table::get_mut`] each also
//!   examine a few slots of a clock-sweep cursor and reclaim expired entries there, and
//!   [`Table::reclaim_expired`] lets a background task sweep on its own budget. No call
//!   scans the whole table.
//! - **O(1) lookups** through a `hashbrown` table of `u32` slot indices, hashed by
//!   [`StoreKey::table_hash`] and compared with [`StoreKey`]'s constant-time equality.
//! - **Per-user index**, so "log out everywhere" touches only that user's entries.
//!
//! Memory: a slot is 48 bytes (key, deadline, LRU links) plus the payload `V`; the hash
//! index and the user links add about 19 bytes per entry in a full table. Overhead beyond
//! the payload, measured with 64-byte payloads (`tests/table_overhead.rs`, from
//! [`Table::memory_usage`]): about 75 bytes per entry in a full table, up to about 116
//! while the slab still has doubling headroom.
//!
//! A memory store keeps encoded records as [`InlineBytes`]: a slot is then 96 bytes and
//! a record of up to 46 bytes lives in it, with no heap block of its own for a lookup to
//! miss on (longer ones get one, as before). A full table costs about 115 bytes per
//! session with such a record, all of it counted by [`Table::memory_usage`]: 78 beyond a
//! 37-byte record (logged in, no values), 98 beyond a 17-byte one (anonymous, empty).

mod entry;
mod lru;
mod outcome;
mod payload;
mod users;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;
use core::mem::size_of;
use core::num::NonZeroUsize;

use hashbrown::HashTable;

pub use entry::{EntryMut, UserEntries};
pub use outcome::{Evicted, EvictionReason, Inserted, MemoryUsage, Occupied, RekeyError};
pub use payload::InlineBytes;

use crate::{StoreKey, Timestamp};
use lru::{Slab, Slot, MAX_SLOTS};
use users::UserIndex;

/// Slots the sweep cursor examines on each insert and `get_mut`: enough to keep pace
/// with expiry under steady load (each operation can reclaim up to this many entries
/// while adding at most one), small enough to stay off the latency budget.
const SWEEP_PER_CALL: usize = 2;

/// Extra slots an insert into a full table examines for an expired entry before it
/// evicts a live one.
const SWEEP_WHEN_FULL: usize = 16;

/// A bounded map from [`StoreKey`] to session payloads `V`, with deadlines, LRU eviction
/// and a per-user index. Single-threaded: the caller puts it behind a lock (one per shard).
///
/// # Calls
/// - Inputs: [`insert`](Table::insert) (create-only), [`get_mut`](Table::get_mut) (marks
///   the entry most recently used), [`remove`](Table::remove), [`rekey`](Table::rekey) (id
///   renewal), [`remove_user`](Table::remove_user), [`reclaim_expired`](Table::reclaim_expired).
/// - Getters: [`get`](Table::get), [`user_entries`](Table::user_entries),
///   [`user_len`](Table::user_len), [`len`](Table::len), [`memory_usage`](Table::memory_usage).
///
/// Every call that depends on time takes `now`; the table never reads a clock. An entry
/// is live while `now < expires_at`.
///
/// ```
/// use core::num::NonZeroUsize;
/// use sessio_core::table::{EvictionReason, Table};
/// use sessio_core::{StoreKey, Timestamp};
///
/// let mut table = Table::new(NonZeroUsize::new(2).unwrap());
/// let (a, b, c) = (StoreKey::from_bytes([1; 32]), StoreKey::from_bytes([2; 32]), StoreKey::from_bytes([3; 32]));
/// let t0 = Timestamp::from_unix_secs(1_000);
/// let deadline = Timestamp::from_unix_secs(1_060);
///
/// table.insert(a, "a", deadline, Some("alice"), t0).unwrap();
/// table.insert(b, "b", deadline, None, t0).unwrap();
/// assert!(table.get_mut(&a, t0).is_some()); // `a` is now the most recently used
///
/// let inserted = table.insert(c, "c", deadline, Some("alice"), t0).unwrap();
/// let evicted = inserted.evicted.unwrap();
/// assert_eq!((evicted.value, evicted.reason), ("b", EvictionReason::CapacityLru));
/// assert_eq!(table.user_len("alice"), 2);
///
/// // Past the deadline nothing is returned.
/// assert!(table.get(&a, deadline).is_none());
/// ```
pub struct Table<V> {
    slab: Slab<V>,
    /// Slot indices, hashed by their key's `table_hash`.
    index: HashTable<u32>,
    users: UserIndex,
    /// Next slot the expiry sweep examines.
    cursor: usize,
    max_sessions: NonZeroUsize,
}

impl<V> Table<V> {
    /// An empty table holding at most `max_sessions` entries. Nothing is allocated up
    /// front; buffers grow with use and never beyond what `max_sessions` needs.
    ///
    /// A `max_sessions` above `u32::MAX - 1` is lowered to it (slots are `u32` indices).
    pub fn new(max_sessions: NonZeroUsize) -> Self {
        Self::with_capacity(max_sessions, 0)
    }

    /// Like [`Table::new`], with room for `capacity` entries allocated up front (capped
    /// at `max_sessions`), for a store that knows its steady-state size.
    pub fn with_capacity(max_sessions: NonZeroUsize, capacity: usize) -> Self {
        let max_sessions =
            NonZeroUsize::new(max_sessions.get().min(MAX_SLOTS)).unwrap_or(NonZeroUsize::MIN);
        let capacity = capacity.min(max_sessions.get());
        Table {
            slab: Slab::new(max_sessions.get(), capacity),
            index: HashTable::with_capacity(capacity),
            users: UserIndex::new(capacity),
            cursor: 0,
            max_sessions,
        }
    }

    /// Keys the hash of user names with `key`, so that clients who choose their own user
    /// names cannot pick ones that collide in the user index. The std layer passes random
    /// bytes; the default key is all zeros. Call it on a new table: existing users are
    /// rehashed, which costs a pass over them.
    pub fn with_user_hash_key(mut self, key: [u8; 32]) -> Self {
        self.users.set_hash_key(key);
        self
    }

    /// Entries held, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Holds no entries at all.
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// The bound on [`Table::len`].
    pub fn max_sessions(&self) -> NonZeroUsize {
        self.max_sessions
    }

    /// Stores a new entry as the most recently used one, bound to `user` if given.
    ///
    /// Create-only: if a live entry has `key`, nothing changes and the value comes back in
    /// [`Occupied`]. An expired entry under `key` is replaced and reported as evicted. In a
    /// full table an expired entry is reclaimed if the sweep finds one within a few slots;
    /// otherwise the least recently used entry is evicted. Either way it is reported in
    /// [`Inserted::evicted`]. Other expired entries the sweep passes are dropped silently.
    pub fn insert(
        &mut self,
        key: StoreKey,
        value: V,
        expires_at: Timestamp,
        user: Option<&str>,
        now: Timestamp,
    ) -> Result<Inserted<V>, Occupied<V>> {
        let mut evicted = None;
        if let Some(i) = self.find(&key) {
            if self.slot(i).is_some_and(|s| !s.is_expired(now)) {
                return Err(Occupied { value });
            }
            evicted = self.evict(i, EvictionReason::Expired);
        }
        self.sweep(now, SWEEP_PER_CALL);
        if self.slab.len() >= self.max_sessions.get() {
            evicted = self.make_room(now);
        }
        let Some(i) = self.slab.alloc(key, value, expires_at) else {
            // Unreachable: room was made above. Losing the value beats panicking.
            return Ok(Inserted { evicted });
        };
        self.users.track_slot(i, self.slab.capacity());
        let slab = &self.slab;
        self.index
            .insert_unique(key.table_hash(), i, |&j| slot_hash(slab, j));
        if let Some(name) = user {
            self.users.bind(i, name);
        }
        Ok(Inserted { evicted })
    }

    /// The live entry under `key`, marked most recently used; `None` if there is none (an
    /// expired entry found here is removed).
    pub fn get_mut(&mut self, key: &StoreKey, now: Timestamp) -> Option<EntryMut<'_, V>> {
        self.sweep(now, SWEEP_PER_CALL);
        let i = self.find(key)?;
        if self.slot(i)?.is_expired(now) {
            self.evict(i, EvictionReason::Expired);
            return None;
        }
        self.slab.touch(i);
        let Slot {
            key,
            expires_at,
            value,
            ..
        } = self.slab.slot_mut(i)?;
        Some(EntryMut {
            key,
            expires_at,
            value: value.as_mut()?,
            users: &mut self.users,
            index: i,
        })
    }

    /// The live value under `key`, for readers holding only `&self`. Does not change the
    /// LRU order (so a table read only this way evicts in insertion order).
    pub fn get(&self, key: &StoreKey, now: Timestamp) -> Option<&V> {
        let slot = self.slot(self.find(key)?)?;
        if now < slot.expires_at {
            slot.value.as_ref()
        } else {
            None
        }
    }

    /// Removes the entry under `key` and returns its value, expired or not (without `now`
    /// the table cannot tell; a caller that cares checks the deadline first).
    pub fn remove(&mut self, key: &StoreKey) -> Option<V> {
        let i = self.find(key)?;
        self.remove_slot(i).map(|(_, value)| value)
    }

    /// Moves the live entry under `from` to `to`, as id renewal after login needs: value,
    /// deadline, user binding and LRU position stay. An expired entry under `to` is
    /// dropped to make way.
    pub fn rekey(
        &mut self,
        from: &StoreKey,
        to: StoreKey,
        now: Timestamp,
    ) -> Result<(), RekeyError> {
        let i = self.find(from).ok_or(RekeyError::NotFound)?;
        if self.slot(i).is_none_or(|s| s.is_expired(now)) {
            self.evict(i, EvictionReason::Expired);
            return Err(RekeyError::NotFound);
        }
        if let Some(j) = self.find(&to) {
            if self.slot(j).is_some_and(|s| !s.is_expired(now)) {
                return Err(RekeyError::Occupied);
            }
            self.evict(j, EvictionReason::Expired);
        }
        if let Ok(found) = self.index.find_entry(from.table_hash(), |&j| j == i) {
            found.remove();
        }
        if let Some(slot) = self.slab.slot_mut(i) {
            slot.key = to;
        }
        let slab = &self.slab;
        self.index
            .insert_unique(to.table_hash(), i, |&j| slot_hash(slab, j));
        Ok(())
    }

    /// The live entries bound to `user`: `(key, value, expires_at)`, most recently bound
    /// first. Walks only that user's entries.
    pub fn user_entries(&self, user: &str, now: Timestamp) -> UserEntries<'_, V> {
        UserEntries {
            slab: &self.slab,
            entries: self.users.entries(user),
            now,
        }
    }

    /// Entries bound to `user`, including expired ones not yet reclaimed.
    pub fn user_len(&self, user: &str) -> usize {
        self.users.len_of(user)
    }

    /// Removes every entry bound to `user` except the one under `except` ("log out my
    /// other devices"), and returns them. Entries past their deadline but not yet
    /// reclaimed are removed and returned too. Walks only that user's entries.
    pub fn remove_user(&mut self, user: &str, except: Option<&StoreKey>) -> Vec<(StoreKey, V)> {
        let doomed: Vec<u32> = self
            .users
            .entries(user)
            .filter(|&i| match (except, self.slab.slot(i)) {
                (Some(keep), Some(slot)) => slot.key != *keep,
                _ => true,
            })
            .collect();
        doomed
            .into_iter()
            .filter_map(|i| self.remove_slot(i))
            .collect()
    }

    /// Examines up to `budget` slots (at most one pass over the table) from where the last
    /// sweep stopped and removes the expired entries among them; returns how many. A
    /// background task calls this periodically so that idle memory is given back even
    /// without traffic; `budget` bounds the time the lock is held.
    pub fn reclaim_expired(&mut self, now: Timestamp, budget: usize) -> usize {
        self.sweep(now, budget)
    }

    /// Bytes allocated by the table's own buffers (not by heap memory inside payloads),
    /// computed from their capacities.
    pub fn memory_usage(&self) -> MemoryUsage {
        MemoryUsage {
            slab_bytes: self.slab.capacity() * size_of::<Slot<V>>(),
            index_bytes: self.index.allocation_size(),
            user_index_bytes: self.users.allocated_bytes(),
        }
    }

    fn find(&self, key: &StoreKey) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(key.table_hash(), |&i| {
                slab.slot(i).is_some_and(|s| s.key == *key)
            })
            .copied()
    }

    fn slot(&self, i: u32) -> Option<&Slot<V>> {
        self.slab.slot(i)
    }

    /// Removes slot `i` from the index, the user index and the slab.
    fn remove_slot(&mut self, i: u32) -> Option<(StoreKey, V)> {
        let hash = self.slot(i)?.key.table_hash();
        if let Ok(found) = self.index.find_entry(hash, |&j| j == i) {
            found.remove();
        }
        self.users.unbind(i);
        self.slab.release(i)
    }

    fn evict(&mut self, i: u32, reason: EvictionReason) -> Option<Evicted<V>> {
        self.remove_slot(i)
            .map(|(key, value)| Evicted { key, value, reason })
    }

    /// Frees one slot in a full table: an expired entry if the LRU end or the next few
    /// sweep slots hold one, else the least recently used entry.
    fn make_room(&mut self, now: Timestamp) -> Option<Evicted<V>> {
        let lru = self.slab.lru()?;
        if self.slot(lru).is_some_and(|s| s.is_expired(now)) {
            return self.evict(lru, EvictionReason::Expired);
        }
        for _ in 0..SWEEP_WHEN_FULL.min(self.slab.slots_len()) {
            let i = self.advance_cursor();
            if self.slot(i).is_some_and(|s| s.is_expired(now)) {
                return self.evict(i, EvictionReason::Expired);
            }
        }
        self.evict(lru, EvictionReason::CapacityLru)
    }

    fn sweep(&mut self, now: Timestamp, budget: usize) -> usize {
        let mut reclaimed = 0;
        for _ in 0..budget.min(self.slab.slots_len()) {
            let i = self.advance_cursor();
            if self.slot(i).is_some_and(|s| s.is_expired(now)) && self.remove_slot(i).is_some() {
                reclaimed += 1;
            }
        }
        reclaimed
    }

    /// Returns the slot under the cursor and moves the cursor on, wrapping around.
    fn advance_cursor(&mut self) -> u32 {
        if self.cursor >= self.slab.slots_len() {
            self.cursor = 0;
        }
        let i = self.cursor;
        self.cursor += 1;
        i as u32
    }
}

fn slot_hash<V>(slab: &Slab<V>, i: u32) -> u64 {
    slab.slot(i).map_or(0, |s| s.key.table_hash())
}

impl<V> fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("len", &self.len())
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}
