//! Per-entry memory overhead of `Table`, beyond the payload.
//!
//! A counting `#[global_allocator]` would need `unsafe impl GlobalAlloc`, which the
//! workspace's `forbid(unsafe_code)` rules out even in tests, so this measures what the
//! table reports from its buffers' capacities (`Table::memory_usage`): slab slots, hash
//! buckets with their control bytes, user links, user records and names.
#![allow(clippy::unwrap_used)]

use core::num::NonZeroUsize;

use rand_chacha::rand_core::SeedableRng;
use sessio_core::table::Table;
use sessio_core::{SessionId, Timestamp};

const ENTRIES: usize = 100_000;
const PAYLOAD: usize = 64;
const LIMIT: f64 = 128.0;

/// Fills a table with `ENTRIES` payloads of `PAYLOAD` bytes, every tenth bound to one of
/// 1 000 users, and returns the overhead in bytes per entry.
fn overhead(max_sessions: usize) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut table: Table<[u8; PAYLOAD]> = Table::new(NonZeroUsize::new(max_sessions).unwrap());
    let now = Timestamp::from_unix_secs(1_000);
    let deadline = Timestamp::from_unix_secs(10_000);
    for n in 0..ENTRIES {
        let key = SessionId::generate(&mut rng).store_key();
        let user = (n % 10 == 0).then(|| format!("user-{:04}", n / 10 % 1_000));
        let inserted = table
            .insert(key, [n as u8; PAYLOAD], deadline, user.as_deref(), now)
            .unwrap();
        assert!(inserted.evicted.is_none());
    }
    assert_eq!(table.len(), ENTRIES);
    assert_eq!(table.user_len("user-0007"), 10);
    let usage = table.memory_usage();
    let per_entry = (usage.total() - ENTRIES * PAYLOAD) as f64 / ENTRIES as f64;
    eprintln!(
        "max_sessions {max_sessions}: {per_entry:.1} bytes/entry beyond the {PAYLOAD}-byte payload \
         (slab {} B, index {} B, users {} B)",
        usage.slab_bytes, usage.index_bytes, usage.user_index_bytes
    );
    per_entry
}

#[test]
fn overhead_per_entry_at_the_bound() {
    // Growth is clamped to `max_sessions`, so a full table has no spare slab capacity.
    let per_entry = overhead(ENTRIES);
    assert!(per_entry <= LIMIT, "{per_entry:.1} bytes/entry");
}

#[test]
fn overhead_per_entry_with_headroom() {
    // Far from the bound the slab grows by doubling, so up to half of it can be spare.
    let per_entry = overhead(10 * ENTRIES);
    assert!(per_entry <= LIMIT, "{per_entry:.1} bytes/entry");
}
