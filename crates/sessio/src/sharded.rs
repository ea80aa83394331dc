//! [`ShardedTable`]: the core's bounded [`Table`] split over several mutexes, for state
//! that every request touches from many threads (the memory store's sessions, the Redis
//! store's memory of recent loads).

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use sessio_core::table::Table;
use sessio_core::{StoreKey, Timestamp};

/// Tables below this many entries per shard are not worth splitting: a shard's bound
/// would be too coarse a share of the total.
const MIN_ENTRIES_PER_SHARD: usize = 4096;
/// Enough shards that worker threads rarely wait on the same lock.
const MAX_SHARDS: usize = 16;

/// Bounded tables, one per shard, each behind its own mutex; a key always maps to the
/// same shard. The bound is split evenly, so one shard can fill (and evict) while
/// another has room: with random keys the shares stay even.
///
/// ```
/// use std::num::NonZeroUsize;
/// use sessio::sharded::ShardedTable;
/// use sessio::{StoreKey, Timestamp};
///
/// let table: ShardedTable<u32> = ShardedTable::new(NonZeroUsize::new(100_000).expect("non-zero"));
/// let key = StoreKey::from_bytes([7; 32]);
/// let now = Timestamp::from_unix_secs(1_000);
/// let _ = table.shard(&key).insert(key, 1, Timestamp::MAX, None, now);
/// assert_eq!(table.shard(&key).get(&key, now), Some(&1));
/// assert_eq!(table.len(), 1);
/// ```
pub struct ShardedTable<V> {
    shards: Box<[Mutex<Table<V>>]>,
}

impl<V> ShardedTable<V> {
    /// Tables holding at most `max_entries` entries in all.
    pub fn new(max_entries: NonZeroUsize) -> Self {
        let shards = (max_entries.get() / MIN_ENTRIES_PER_SHARD).clamp(1, MAX_SHARDS);
        // A power of two, so that a shard is picked with a mask; the per-shard bounds sum
        // to at most `max_entries`.
        let shards = if shards.is_power_of_two() {
            shards
        } else {
            shards.next_power_of_two() / 2
        };
        let per_shard = NonZeroUsize::new(max_entries.get() / shards).unwrap_or(NonZeroUsize::MIN);
        ShardedTable {
            shards: (0..shards)
                .map(|_| Mutex::new(Table::new(per_shard)))
                .collect(),
        }
    }

    /// How many shards the bound was split over.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The locked table that holds `key`, if anything does.
    pub fn shard(&self, key: &StoreKey) -> MutexGuard<'_, Table<V>> {
        lock(&self.shards[self.index(key)])
    }

    /// The locked tables that hold `a` and `b`: `(a's, None)` when it is one table,
    /// `(a's, Some(b's))` otherwise. Two tables are locked in a fixed order, so that two
    /// calls locking the same pair from either side cannot deadlock.
    #[allow(clippy::type_complexity)]
    pub fn shards_of_both(
        &self,
        a: &StoreKey,
        b: &StoreKey,
    ) -> (MutexGuard<'_, Table<V>>, Option<MutexGuard<'_, Table<V>>>) {
        let (i, j) = (self.index(a), self.index(b));
        if i == j {
            return (lock(&self.shards[i]), None);
        }
        let first = lock(&self.shards[i.min(j)]);
        let second = lock(&self.shards[i.max(j)]);
        if i < j {
            (first, Some(second))
        } else {
            (second, Some(first))
        }
    }

    fn index(&self, key: &StoreKey) -> usize {
        // The low bits of `table_hash` pick the bucket inside a table; use the high ones.
        (key.table_hash() >> 56) as usize & (self.shards.len() - 1)
    }

    /// Every shard in turn, each locked only while `each` runs on it.
    pub fn for_each_shard<R>(&self, mut each: impl FnMut(&mut Table<V>) -> R) -> Vec<R> {
        self.shards.iter().map(|s| each(&mut lock(s))).collect()
    }

    /// Entries held, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether no shard holds an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reclaims expired entries, examining up to `budget` slots per shard; returns how
    /// many went.
    pub fn reclaim_expired(&self, now: Timestamp, budget: usize) -> usize {
        self.shards
            .iter()
            .map(|s| lock(s).reclaim_expired(now, budget))
            .sum()
    }
}

/// A poisoned shard only means a panic elsewhere while it was held; the table is never
/// left half-updated by a table call, so keep serving rather than fail every request.
fn lock<V>(shard: &Mutex<Table<V>>) -> MutexGuard<'_, Table<V>> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
    }

    #[test]
    fn small_tables_stay_whole_and_large_ones_split_in_powers_of_two() {
        assert_eq!(ShardedTable::<()>::new(max(2)).shard_count(), 1);
        assert_eq!(ShardedTable::<()>::new(max(8191)).shard_count(), 1);
        assert_eq!(ShardedTable::<()>::new(max(8192)).shard_count(), 2);
        assert_eq!(ShardedTable::<()>::new(max(3 * 4096)).shard_count(), 2);
        assert_eq!(
            ShardedTable::<()>::new(max(1 << 30)).shard_count(),
            MAX_SHARDS
        );
    }

    #[test]
    fn a_key_always_finds_its_shard_and_the_bound_holds_in_all() {
        let table = ShardedTable::new(max(4 * 4096));
        assert_eq!(table.shard_count(), 4);
        let now = Timestamp::from_unix_secs(1_000);
        let keys: Vec<StoreKey> = (0..20_000u32)
            .map(|n| {
                let mut bytes = [0u8; 32];
                bytes[..4].copy_from_slice(&n.to_le_bytes());
                // Spread over the shard-picking byte as digests are.
                bytes[7] = (n.wrapping_mul(2_654_435_761) >> 24) as u8;
                StoreKey::from_bytes(bytes)
            })
            .collect();
        for (n, key) in keys.iter().enumerate() {
            let _ = table.shard(key).insert(*key, n, Timestamp::MAX, None, now);
        }
        assert!(table.len() <= 4 * 4096, "bound: {}", table.len());
        let last = keys[keys.len() - 1];
        assert_eq!(table.shard(&last).get(&last, now), Some(&(keys.len() - 1)));
        let (a, b) = (
            keys[0],
            keys[1..]
                .iter()
                .find(|k| table.index(k) != table.index(&keys[0])),
        );
        let b = b.copied().unwrap_or(a);
        assert!(
            table.shards_of_both(&a, &a).1.is_none(),
            "one table, locked once"
        );
        assert!(table.shards_of_both(&a, &b).1.is_some());
        assert!(table.shards_of_both(&b, &a).1.is_some(), "either order");
        let expired = Timestamp::from_unix_secs(2_000);
        let fresh = StoreKey::from_bytes([0xAB; 32]);
        let _ = table.shard(&fresh).insert(fresh, 0, expired, None, now);
        assert_eq!(table.reclaim_expired(expired, usize::MAX), 1);
    }
}
