//! Id generation, the store-key digest, and one whole request cycle at 1M live sessions:
//! parse the `Cookie` header, find the id, look the session up in the bounded table,
//! decode it, touch it, decide, and build the `Set-Cookie` header.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sessio_core::cookie::{CookieConfig, CookieLookup};
use sessio_core::expiry::{ExpiryPolicy, Lifetime};
use sessio_core::record::{SessionMeta, SessionRecord, StoredValue};
use sessio_core::table::{InlineBytes, Table};
use sessio_core::{KeyedSessionId, SessionId, SessionState, Timestamp};

fn ids(c: &mut Criterion) {
    let mut chacha = ChaCha20Rng::seed_from_u64(1);
    c.bench_function("id/generate_chacha20", |b| {
        b.iter(|| SessionId::generate(&mut chacha))
    });
    let mut thread = rand::rng();
    c.bench_function("id/generate_thread_rng", |b| {
        b.iter(|| SessionId::generate(&mut thread))
    });
    let id = SessionId::generate(&mut chacha);
    c.bench_function("id/store_key", |b| b.iter(|| black_box(&id).store_key()));
    let encoded = id.encode();
    c.bench_function("id/parse", |b| {
        b.iter(|| SessionId::parse(black_box(encoded.as_bytes())))
    });
}

fn cycle(c: &mut Criterion) {
    // `cargo test --all-targets` runs benches once, unoptimised, without `--bench`: then
    // a small table is enough to check the code runs.
    let measuring = std::env::args().any(|a| a == "--bench");
    let sessions: usize = match (measuring, std::env::var_os("SESSIO_BENCH_SMALL")) {
        (false, _) => 1_000,
        (true, Some(_)) => 100_000,
        (true, None) => 1_000_000,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let cookie = CookieConfig::new().build().unwrap();
    let policy = ExpiryPolicy::builder()
        .idle_timeout(Some(Duration::from_secs(1800)))
        .touch_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let start = Timestamp::from_unix_secs(1_800_000_000);
    let lifetime = Lifetime::new(
        Some(Duration::from_secs(1800)),
        Some(Duration::from_secs(400 * 86400)),
    )
    .unwrap()
    .persistent_cookie(true);
    let mut table: Table<InlineBytes> = Table::new(NonZeroUsize::new(sessions).unwrap());
    let mut headers = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let id = SessionId::generate(&mut rng);
        let mut meta = SessionMeta::new(start, lifetime);
        meta.user = Some("someone@example.com".into());
        let mut record = SessionRecord {
            meta,
            values: Default::default(),
        };
        record.values.insert(
            "cart".into(),
            StoredValue {
                version: 1,
                bytes: br#"["apple","pear"]"#.to_vec(),
            },
        );
        table
            .insert(
                id.store_key(),
                InlineBytes::from(record.encode()),
                Timestamp::MAX,
                Some("u"),
                start,
            )
            .unwrap();
        headers.push(format!(
            "theme=dark; lang=en; sessio={}; _ga=GA1.2.3",
            id.encode().as_str()
        ));
    }
    let mut order: Vec<usize> = (0..sessions).collect();
    // A fixed shuffle so lookups miss the cache as real traffic would.
    for i in (1..order.len()).rev() {
        order.swap(i, (i * 7919 + 13) % (i + 1));
    }

    let mut run = |b: &mut criterion::Bencher<'_>, step: Duration| {
        let mut now = start;
        let mut i = 0;
        let mut out = String::with_capacity(256);
        b.iter_batched(
            || {
                i = (i + 1) % sessions;
                now = now.saturating_add(step);
                // The request's header is copied here, outside the timing: a server parses
                // a header it has just read from the socket, so its bytes are in cache.
                // Reading it from a million strings spread over the heap would add two
                // cache misses that no real request pays. The table stays cold.
                (headers[order[i]].clone(), now)
            },
            |(header, now)| {
                let CookieLookup::Found(id) = cookie.find_session_id([header.as_bytes()]) else {
                    return header;
                };
                // Hashed once, as the std layer does: the lookup and the state machine
                // share the key.
                let id = KeyedSessionId::from(id);
                let Some(mut entry) = table.get_mut(id.key(), now) else {
                    return header;
                };
                let mut record = SessionRecord::decode(entry.value()).unwrap();
                let touched = record.meta.touch_if_due(now, policy.touch_interval());
                if touched {
                    *entry.value_mut() = InlineBytes::from(record.encode());
                }
                let state = SessionState::resume(id, Some(record), touched, now, &policy);
                let decision = state.finish(&mut rng);
                out.clear();
                if let Some(update) = &decision.cookie {
                    cookie.write_set_cookie(update, now, &mut out);
                }
                black_box(&out);
                // Returned, so that criterion frees it after the timing too.
                header
            },
            BatchSize::SmallInput,
        );
    };
    let label = match sessions {
        1_000_000 => "1M",
        100_000 => "100k",
        _ => "1k",
    };
    c.bench_function(&format!("cycle/read_{label}"), |b| run(b, Duration::ZERO));
    c.bench_function(&format!("cycle/read_touch_set_cookie_{label}"), |b| {
        run(b, Duration::from_secs(61))
    });
}

criterion_group!(benches, ids, cycle);
criterion_main!(benches);
