//! Why session values are JSON: size and speed of the candidates on typical values.
//! Prints the encoded sizes, then times encode and decode of each.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct Profile {
    id: u64,
    name: String,
    roles: Vec<String>,
    email_verified: bool,
}

fn samples() -> (String, Vec<String>, Profile) {
    let user = "ada.lovelace@example.com".to_owned();
    let cart = ["apple", "pear", "plum", "fig", "kiwi"]
        .map(String::from)
        .to_vec();
    let profile = Profile {
        id: 4_201_337,
        name: "Ada Lovelace".into(),
        roles: vec!["admin".into(), "billing".into()],
        email_verified: true,
    };
    (user, cart, profile)
}

fn bench<T: Serialize + for<'de> Deserialize<'de>>(c: &mut Criterion, name: &str, value: &T) {
    let json = serde_json::to_vec(value).unwrap();
    let post = postcard::to_allocvec(value).unwrap();
    eprintln!(
        "codec/{name}: json {} bytes, postcard {} bytes",
        json.len(),
        post.len()
    );
    c.bench_function(&format!("codec/{name}/json_encode"), |b| {
        b.iter(|| serde_json::to_vec(black_box(value)).unwrap())
    });
    c.bench_function(&format!("codec/{name}/postcard_encode"), |b| {
        b.iter(|| postcard::to_allocvec(black_box(value)).unwrap())
    });
    c.bench_function(&format!("codec/{name}/json_decode"), |b| {
        b.iter(|| serde_json::from_slice::<T>(black_box(&json)).unwrap())
    });
    c.bench_function(&format!("codec/{name}/postcard_decode"), |b| {
        b.iter(|| postcard::from_bytes::<T>(black_box(&post)).unwrap())
    });
}

fn codecs(c: &mut Criterion) {
    let (user, cart, profile) = samples();
    bench(c, "user", &user);
    bench(c, "cart", &cart);
    bench(c, "profile", &profile);
}

criterion_group!(benches, codecs);
criterion_main!(benches);
