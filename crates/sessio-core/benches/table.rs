//! `Table` lookups at growing sizes, to see what cache and TLB misses cost, and inserts
//! into a full table (each one evicts).
//!
//! `cargo bench -p sessio-core --bench table -- --warm-up-time 1 --measurement-time 3`.
//! The 10M table needs about 1.5 GB and takes a while to build; `SESSIO_BENCH_SMALL=1`
//! skips it.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sessio_core::table::Table;
use sessio_core::{StoreKey, Timestamp};

type Payload = [u8; 32];

const NOW: Timestamp = Timestamp::from_unix_secs(1_000);
const NEVER: Timestamp = Timestamp::MAX;

fn random_keys(rng: &mut ChaCha8Rng, n: usize) -> Vec<StoreKey> {
    (0..n)
        .map(|_| {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            StoreKey::from_bytes(bytes)
        })
        .collect()
}

/// A full table of `n` entries, and its keys in an order unrelated to their slots.
fn filled(n: usize) -> (Table<Payload>, Vec<StoreKey>) {
    let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
    let mut keys = random_keys(&mut rng, n);
    let max = NonZeroUsize::new(n).unwrap();
    let mut table = Table::with_capacity(max, n);
    for (i, key) in keys.iter().enumerate() {
        let user = (i % 10 == 0).then(|| format!("user-{}", i / 10 % 1_000));
        table
            .insert(*key, [i as u8; 32], NEVER, user.as_deref(), NOW)
            .unwrap();
    }
    keys.shuffle(&mut rng);
    let usage = table.memory_usage();
    let per_entry = (usage.total() - n * size_of::<Payload>()) as f64 / n as f64;
    eprintln!(
        "table of {n}: {per_entry:.1} bytes/entry beyond the {}-byte payload ({usage:?})",
        size_of::<Payload>()
    );
    (table, keys)
}

fn lookup(c: &mut Criterion) {
    let small = std::env::var_os("SESSIO_BENCH_SMALL").is_some_and(|v| v == "1");
    // `cargo test --all-targets` runs benches once, unoptimised, without `--bench`: a
    // smoke test of the code, not a measurement, so it gets the smallest table only.
    let measuring = std::env::args().any(|a| a == "--bench");
    let mut sizes = vec![("1k", 1_000)];
    if measuring {
        sizes.extend([("100k", 100_000), ("1M", 1_000_000)]);
    }
    if measuring && !small {
        sizes.push(("10M", 10_000_000));
    }
    let mut group = c.benchmark_group("table");
    for (label, n) in sizes {
        let (mut table, keys) = filled(n);
        let mut next = 0;
        // `get` skips the LRU bump: the difference to `lookup` is what recency costs.
        group.bench_function(format!("get/{label}"), |b| {
            b.iter(|| {
                let key = &keys[next];
                next = if next + 1 == keys.len() { 0 } else { next + 1 };
                black_box(table.get(black_box(key), NOW).map(|v| v[0]))
            })
        });
        group.bench_function(format!("lookup/{label}"), |b| {
            b.iter(|| {
                let key = &keys[next];
                next = if next + 1 == keys.len() { 0 } else { next + 1 };
                black_box(table.get_mut(black_box(key), NOW).map(|e| e.value()[0]))
            })
        });
    }
    group.finish();
}

fn insert_evict(c: &mut Criterion) {
    const N: usize = 100_000;
    let (mut table, _) = filled(N);
    // Ten times the capacity, so a key has long been evicted when it comes round again.
    let fresh = random_keys(&mut ChaCha8Rng::seed_from_u64(7), 10 * N);
    let mut next = 0;
    c.benchmark_group("table")
        .bench_function("insert_evict", |b| {
            b.iter(|| {
                let key = fresh[next];
                next = if next + 1 == fresh.len() { 0 } else { next + 1 };
                let inserted = table.insert(key, [0; 32], NEVER, None, NOW).unwrap();
                black_box(inserted.evicted.map(|e| e.value[0]))
            })
        });
}

criterion_group!(benches, lookup, insert_evict);
criterion_main!(benches);
