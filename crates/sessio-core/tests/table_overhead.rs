//! Per-entry memory overhead of `Table`, beyond the payload.
//!
//! A counting `#[global_allocator]` would need `unsafe impl GlobalAlloc`, which the
//! workspace's `forbid(unsafe_code)` rules out even in tests, so this measures what the
//! table reports from its buffers' capacities (`Table::memory_usage`): slab slots, hash
//! buckets with their control bytes, user links, user records and names.
//!
//! Two payload types: a 64-byte array (the table's own cost, whatever it stores) and
//! [`InlineBytes`] holding encoded session records short enough to stay inline, as the
//! memory store keeps them. There the slot's unused inline bytes count as overhead, and
//! `memory_usage` sees everything the entry costs.
#![allow(clippy::unwrap_used)]

use core::num::NonZeroUsize;

use rand_chacha::rand_core::SeedableRng;
use sessio_core::table::{InlineBytes, Table};
use sessio_core::{SessionId, Timestamp};

const ENTRIES: usize = 100_000;
const LIMIT: f64 = 128.0;

/// Encoded lengths of `record` format 2 sessions: anonymous with no values, and logged in
/// (user name of 19 bytes, no values); both stay inline.
const ANONYMOUS_RECORD: usize = 17;
const LOGGED_IN_RECORD: usize = 37;

/// Fills a table with `ENTRIES` payloads of `payload_len` bytes made by `payload`, every
/// tenth bound to one of 1 000 users, and returns the overhead in bytes per entry.
fn overhead<V>(
    label: &str,
    max_sessions: usize,
    payload_len: usize,
    payload: impl Fn(usize) -> V,
) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut table: Table<V> = Table::new(NonZeroUsize::new(max_sessions).unwrap());
    let now = Timestamp::from_unix_secs(1_000);
    let deadline = Timestamp::from_unix_secs(10_000);
    for n in 0..ENTRIES {
        let key = SessionId::generate(&mut rng).store_key();
        let user = (n % 10 == 0).then(|| format!("user-{:04}", n / 10 % 1_000));
        let inserted = table
            .insert(key, payload(n), deadline, user.as_deref(), now)
            .unwrap();
        assert!(inserted.evicted.is_none());
    }
    assert_eq!(table.len(), ENTRIES);
    assert_eq!(table.user_len("user-0007"), 10);
    let usage = table.memory_usage();
    let per_entry = (usage.total() - ENTRIES * payload_len) as f64 / ENTRIES as f64;
    eprintln!(
        "{label} of {payload_len} bytes, max_sessions {max_sessions}: {per_entry:.1} \
         bytes/entry beyond the payload (slab {} B, index {} B, users {} B)",
        usage.slab_bytes, usage.index_bytes, usage.user_index_bytes
    );
    per_entry
}

fn array_overhead(max_sessions: usize) -> f64 {
    overhead("[u8; 64]", max_sessions, 64, |n| [n as u8; 64])
}

fn record_overhead(max_sessions: usize, record_len: usize) -> f64 {
    overhead("InlineBytes", max_sessions, record_len, |n| {
        let record = InlineBytes::from(vec![n as u8; record_len]);
        assert!(record.is_inline());
        record
    })
}

#[test]
fn overhead_per_entry_at_the_bound() {
    // Growth is clamped to `max_sessions`, so a full table has no spare slab capacity.
    let per_entry = array_overhead(ENTRIES);
    assert!(per_entry <= LIMIT, "{per_entry:.1} bytes/entry");
}

#[test]
fn overhead_per_entry_with_headroom() {
    // Far from the bound the slab grows by doubling, so up to half of it can be spare.
    let per_entry = array_overhead(10 * ENTRIES);
    assert!(per_entry <= LIMIT, "{per_entry:.1} bytes/entry");
}

#[test]
fn inline_record_overhead_at_the_bound() {
    for record_len in [ANONYMOUS_RECORD, LOGGED_IN_RECORD] {
        let per_entry = record_overhead(ENTRIES, record_len);
        assert!(per_entry <= LIMIT, "{per_entry:.1} bytes/entry");
    }
}
