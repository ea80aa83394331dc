//! Cookie parsing and `Set-Cookie` writing, the two per-request costs of the cookie module.

use core::time::Duration;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sessio_core::cookie::{CookieConfig, CookieSettings, CookieUpdate, KeyRing};
use sessio_core::{SessionId, Timestamp};

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

/// A realistic `Cookie` header: five other cookies, ours in the middle.
fn header(settings: &CookieSettings, id: &SessionId) -> String {
    let ours = settings.set_cookie(
        &CookieUpdate::Set {
            id: id.clone(),
            max_age: None,
        },
        NOW,
    );
    let pair = ours.split(';').next().unwrap_or_default();
    format!(
        "_ga=GA1.2.1234567890.1700000000; theme=dark; {pair}; \
         csrftoken=q8Xz3Lk0pV7mN2rT9wYb4cF6hJ1sD5gA; lang=en-US; \
         _gid=GA1.2.987654321.1700000000"
    )
}

fn cookie(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let id = SessionId::generate(&mut rng);
    let Ok(plain) = CookieConfig::new().build() else {
        panic!("default cookie config must build");
    };
    let Ok(signed) = CookieConfig::new()
        .signing_keys(KeyRing::new([7; 32]).with_older_key([8; 32]))
        .build()
    else {
        panic!("signed cookie config must build");
    };

    let plain_header = header(&plain, &id);
    c.bench_function("cookie/parse", |b| {
        b.iter(|| plain.find_session_id([black_box(plain_header.as_bytes())]))
    });

    let signed_header = header(&signed, &id);
    c.bench_function("cookie/parse_signed", |b| {
        b.iter(|| signed.find_session_id([black_box(signed_header.as_bytes())]))
    });

    let session = CookieUpdate::Set {
        id: id.clone(),
        max_age: None,
    };
    let mut out = String::new();
    c.bench_function("cookie/set_cookie", |b| {
        b.iter(|| {
            out.clear();
            plain.write_set_cookie(black_box(&session), black_box(NOW), &mut out);
            black_box(out.len())
        })
    });

    let persistent = CookieUpdate::Set {
        id,
        max_age: Some(Duration::from_secs(30 * 86_400)),
    };
    c.bench_function("cookie/set_cookie_persistent", |b| {
        b.iter(|| {
            out.clear();
            plain.write_set_cookie(black_box(&persistent), black_box(NOW), &mut out);
            black_box(out.len())
        })
    });
}

criterion_group!(benches, cookie);
criterion_main!(benches);
