//! The store's semantics against a real Redis: records, create-only, partial updates,
//! gone sessions, rotation, touches and TTLs, compare-and-set, what lands in Redis.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{changes, create, later, lifetime, load, new_key, no_touch, now, record, write};
use redis::AsyncCommands;
use sessio::{CasOutcome, PushOutcome, SessionStore, TouchRule, WriteOutcome};
use sessio_core::machine::Changes;
use sessio_core::record::StoredValue;
use sessio_core::{SessionId, StoreWrite};

#[tokio::test]
async fn create_then_load_round_trips() {
    let Some(t) = common::redis("round_trip").await else {
        return;
    };
    let now = now();
    let mut rec = record(
        now,
        lifetime(Some(600), Some(3600)),
        &[("cart", b"\x00\xff\x01"), ("empty", b""), ("é", b"x")],
    );
    rec.meta.user = Some("ada".into());
    let key = new_key();
    create(&t.store, key, rec.clone(), now).await;
    assert_eq!(load(&t.store, &key, now).await, Some(rec));
    assert_eq!(load(&t.store, &new_key(), now).await, None);
    t.cleanup().await;
}

#[tokio::test]
async fn create_is_create_only() {
    let Some(t) = common::redis("create_only").await else {
        return;
    };
    let now = now();
    let key = new_key();
    let first = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    create(&t.store, key, first.clone(), now).await;
    let second = StoreWrite::Create {
        key,
        record: record(now, lifetime(Some(600), None), &[("a", b"2")]),
    };
    assert_eq!(write(&t.store, second, now).await, WriteOutcome::KeyTaken);
    assert_eq!(load(&t.store, &key, now).await, Some(first));
    t.cleanup().await;
}

#[tokio::test]
async fn updates_write_only_what_changed_like_apply_to() {
    let Some(t) = common::redis("partial_update").await else {
        return;
    };
    let now = now();
    let key = new_key();
    let base = record(
        now,
        lifetime(Some(600), Some(3600)),
        &[("a", b"1"), ("b", b"1"), ("gone", b"x")],
    );
    create(&t.store, key, base.clone(), now).await;
    // Two requests loaded the same state; each changes a different value.
    let first = changes(later(now, 1), &[("a", Some(b"2")), ("gone", None)]);
    let second = changes(later(now, 2), &[("b", Some(b"2")), ("new", Some(b"n"))]);
    let mut expected = base;
    for c in [&first, &second] {
        let update = StoreWrite::Update {
            key,
            changes: c.clone(),
        };
        assert_eq!(write(&t.store, update, now).await, WriteOutcome::Written);
        c.apply_to(&mut expected);
    }
    let loaded = load(&t.store, &key, now).await;
    assert_eq!(loaded, Some(expected.clone()));
    assert_eq!(expected.values["a"].version, 2);
    assert_eq!(expected.values["b"].version, 2);

    // Cleared: everything goes before the new values are applied (versions restart).
    let mut meta = expected.meta.clone();
    meta.user = Some("bob".into());
    meta.lifetime = lifetime(Some(900), Some(7200));
    let clear = Changes {
        meta: Some(meta),
        last_seen: later(now, 3),
        cleared: true,
        values: vec![("a".into(), Some(b"3".to_vec()))],
    };
    assert_eq!(
        write(
            &t.store,
            StoreWrite::Update {
                key,
                changes: clear.clone()
            },
            now
        )
        .await,
        WriteOutcome::Written
    );
    clear.apply_to(&mut expected);
    assert_eq!(load(&t.store, &key, now).await, Some(expected.clone()));
    assert_eq!(expected.values.len(), 1);
    assert_eq!(expected.values["a"].version, 1);
    t.cleanup().await;
}

#[tokio::test]
async fn writes_to_a_gone_session_are_gone_and_recreate_nothing() {
    let Some(mut t) = common::redis("gone").await else {
        return;
    };
    let now = now();
    let (key, to) = (new_key(), new_key());
    let c = changes(now, &[("a", Some(b"1"))]);
    let writes = [
        StoreWrite::Update {
            key,
            changes: c.clone(),
        },
        StoreWrite::Touch {
            key,
            last_seen: now,
            expires_at: later(now, 60),
        },
        StoreWrite::Rotate {
            from: key,
            to,
            changes: c,
        },
    ];
    for w in writes {
        assert_eq!(write(&t.store, w, now).await, WriteOutcome::Gone);
        assert!(!t.exists(&key).await);
        assert!(!t.exists(&to).await);
    }
    let cas = t
        .store
        .compare_and_set(&key, "a", None, Some(b"1"), now)
        .await;
    assert_eq!(cas.ok(), Some(CasOutcome::Gone));
    assert!(!t.exists(&key).await);
    t.cleanup().await;
}

#[tokio::test]
async fn a_destroyed_session_is_not_resurrected() {
    let Some(mut t) = common::redis("destroyed").await else {
        return;
    };
    let now = now();
    let key = new_key();
    let mut rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    rec.meta.user = Some("ada".into());
    create(&t.store, key, rec, now).await;
    // destroy + a value written afterwards: delete the old, create a new one, one call.
    let fresh = new_key();
    let new_session = StoreWrite::Create {
        key: fresh,
        record: record(now, lifetime(Some(600), None), &[("b", b"2")]),
    };
    let outcome = t.store.write(Some(&key), Some(&new_session), now).await;
    assert_eq!(outcome.ok(), Some(WriteOutcome::Written));
    assert!(!t.exists(&key).await);
    assert!(t.exists(&fresh).await);
    // A request that loaded before the destroy finishes later.
    let late = StoreWrite::Update {
        key,
        changes: changes(later(now, 1), &[("a", Some(b"late"))]),
    };
    assert_eq!(write(&t.store, late, now).await, WriteOutcome::Gone);
    assert!(!t.exists(&key).await);
    assert_eq!(t.store.user_sessions("ada", now).await.ok(), Some(vec![]));
    t.cleanup().await;
}

#[tokio::test]
async fn rotate_keeps_values_written_since_the_load() {
    let Some(mut t) = common::redis("rotate").await else {
        return;
    };
    let now = now();
    let (from, to) = (new_key(), new_key());
    create(
        &t.store,
        from,
        record(now, lifetime(Some(600), Some(3600)), &[("a", b"1")]),
        now,
    )
    .await;
    let loaded = load(&t.store, &from, now).await;
    assert!(loaded.is_some());
    // Another request writes "b" after our load...
    let other = StoreWrite::Update {
        key: from,
        changes: changes(later(now, 1), &[("b", Some(b"b"))]),
    };
    assert_eq!(write(&t.store, other, now).await, WriteOutcome::Written);
    let mut expected = load(&t.store, &from, now)
        .await
        .unwrap_or_else(|| panic!("session vanished"));
    // ...then ours renews the id (a login) and sets "c".
    let mut meta = expected.meta.clone();
    meta.started_at = later(now, 2);
    meta.id_issued_at = later(now, 2);
    meta.user = Some("ada".into());
    let c = Changes {
        meta: Some(meta),
        last_seen: later(now, 2),
        cleared: false,
        values: vec![("c".into(), Some(b"c".to_vec()))],
    };
    let rotate = StoreWrite::Rotate {
        from,
        to,
        changes: c.clone(),
    };
    assert_eq!(write(&t.store, rotate, now).await, WriteOutcome::Written);
    c.apply_to(&mut expected);
    assert!(!t.exists(&from).await);
    assert_eq!(load(&t.store, &from, now).await, None);
    assert_eq!(load(&t.store, &to, now).await, Some(expected));
    let listed = t
        .store
        .user_sessions("ada", now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.iter().map(|s| s.key).collect::<Vec<_>>(), vec![to]);

    // Rotating onto a taken key is refused and changes nothing.
    let taken = new_key();
    create(
        &t.store,
        taken,
        record(now, lifetime(Some(600), None), &[]),
        now,
    )
    .await;
    let onto_taken = StoreWrite::Rotate {
        from: to,
        to: taken,
        changes: changes(now, &[]),
    };
    assert_eq!(
        write(&t.store, onto_taken, now).await,
        WriteOutcome::KeyTaken
    );
    assert!(t.exists(&to).await);
    t.cleanup().await;
}

#[tokio::test]
async fn loads_touch_only_when_due_and_redis_ttl_follows() {
    let Some(mut t) = common::redis("touch").await else {
        return;
    };
    let now = now();
    let key = new_key();
    create(
        &t.store,
        key,
        record(now, lifetime(Some(600), Some(700)), &[("a", b"1")]),
        now,
    )
    .await;
    let name = t.session_key(&key);
    assert!(
        (t.ttl(&name).await - 600).abs() <= 2,
        "TTL after create is the remaining life"
    );

    let early = TouchRule {
        now: later(now, 10),
        interval: Duration::from_secs(60),
    };
    let loaded = t
        .store
        .load(&key, early)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("absent"));
    assert!(!loaded.touched);
    assert_eq!(loaded.record.meta.last_seen, now);
    assert!((t.ttl(&name).await - 600).abs() <= 2);

    let due = TouchRule {
        now: later(now, 60),
        interval: Duration::from_secs(60),
    };
    let loaded = t
        .store
        .load(&key, due)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("absent"));
    assert!(loaded.touched);
    assert_eq!(loaded.record.meta.last_seen, later(now, 60));
    assert!(
        (t.ttl(&name).await - 660).abs() <= 2,
        "idle deadline slid to now + 660"
    );
    assert_eq!(
        load(&t.store, &key, now).await.map(|r| r.meta.last_seen),
        Some(later(now, 60))
    );

    // The absolute deadline caps the slide: min(180 + 600, 700) = 700.
    let capped = TouchRule {
        now: later(now, 180),
        interval: Duration::from_secs(60),
    };
    let loaded = t
        .store
        .load(&key, capped)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.map(|l| l.touched), Some(true));
    assert!((t.ttl(&name).await - 700).abs() <= 2);

    // A touch write slides it the same way; past the deadline the session is gone.
    let touch = StoreWrite::Touch {
        key,
        last_seen: later(now, 30),
        expires_at: later(now, 630),
    };
    assert_eq!(
        write(&t.store, touch, later(now, 30)).await,
        WriteOutcome::Written
    );
    assert!((t.ttl(&name).await - 630).abs() <= 2);
    assert_eq!(load(&t.store, &key, later(now, 630)).await, None);
    let too_late = StoreWrite::Touch {
        key,
        last_seen: later(now, 640),
        expires_at: later(now, 700),
    };
    assert_eq!(
        write(&t.store, too_late, later(now, 640)).await,
        WriteOutcome::Gone
    );
    t.cleanup().await;
}

#[tokio::test]
async fn compare_and_set_loses_no_append_under_contention() {
    let Some(t) = common::redis("cas").await else {
        return;
    };
    let now = now();
    let key = new_key();
    create(
        &t.store,
        key,
        record(now, lifetime(Some(600), None), &[("log", b"")]),
        now,
    )
    .await;
    let (log, attempts) = common::append_concurrently(&t.store, key, 50, now).await;
    let mut seen = log.bytes.clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..50).collect::<Vec<u8>>());
    assert_eq!(log.version, 51);
    eprintln!("50 appends took {attempts} compare-and-set calls");

    // Absent means "expect None"; removal is a write too.
    let add = t
        .store
        .compare_and_set(&key, "other", None, Some(b"x"), now)
        .await;
    assert_eq!(
        add.ok(),
        Some(CasOutcome::Written(Some(StoredValue {
            version: 1,
            bytes: b"x".to_vec()
        })))
    );
    let stale = t
        .store
        .compare_and_set(&key, "other", None, Some(b"y"), now)
        .await;
    assert_eq!(
        stale.ok(),
        Some(CasOutcome::Conflict(Some(StoredValue {
            version: 1,
            bytes: b"x".to_vec()
        })))
    );
    let remove = t
        .store
        .compare_and_set(&key, "other", Some(1), None, now)
        .await;
    assert_eq!(remove.ok(), Some(CasOutcome::Written(None)));
    let absent = t
        .store
        .compare_and_set(&key, "other", Some(1), Some(b"z"), now)
        .await;
    assert_eq!(absent.ok(), Some(CasOutcome::Conflict(None)));
    t.cleanup().await;
}

#[tokio::test]
async fn load_and_push_appends_atomically_in_one_call() {
    let Some(mut t) = common::redis("push").await else {
        return;
    };
    let now = now();
    let key = new_key();
    // Bound to a user, so that the hash holds every field a session can have.
    let mut rec = record(now, lifetime(Some(600), None), &[("name", b"\"ada\"")]);
    rec.meta.user = Some("ada".into());
    create(&t.store, key, rec, now).await;
    let store = Arc::new(t.store.clone());
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let element = i.to_string();
                store
                    .load_and_push(&key, no_touch(now), "cart", element.as_bytes())
                    .await
            })
        })
        .collect();
    for task in tasks {
        let outcome = task.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(outcome, Ok(PushOutcome::Pushed(_))), "{outcome:?}");
    }
    let cart = load(&t.store, &key, now)
        .await
        .map(|r| r.values["cart"].clone())
        .unwrap_or_else(|| panic!("absent"));
    let mut items: Vec<u32> = serde_json::from_slice(&cart.bytes)
        .unwrap_or_else(|e| panic!("not a JSON list of numbers: {e}"));
    items.sort_unstable();
    assert_eq!(items, (0..50).collect::<Vec<_>>());
    assert_eq!(cart.version, 50, "one version per append");

    // The returned record is the session after the append, touched when due.
    let touch = TouchRule {
        now: later(now, 120),
        interval: Duration::from_secs(60),
    };
    let pushed = t.store.load_and_push(&key, touch, "cart", b"50").await;
    let Ok(PushOutcome::Pushed(loaded)) = pushed else {
        panic!("{pushed:?}");
    };
    assert!(loaded.touched);
    assert_eq!(loaded.record.meta.last_seen, later(now, 120));
    assert_eq!(loaded.record.values["cart"].version, 51);
    assert!(loaded.record.values["cart"].bytes.ends_with(b",50]"));
    assert_eq!(
        Some(&loaded.record),
        load(&t.store, &key, later(now, 120)).await.as_ref(),
        "the reply holds the whole record, as a load reads it"
    );
    let name = t.session_key(&key);
    let ttl = t.ttl(&name).await;
    assert!((ttl - 720).abs() <= 2, "the TTL slid with the touch: {ttl}");

    // A value that is no list is left alone; an absent session gets nothing.
    let refused = t
        .store
        .load_and_push(&key, no_touch(now), "name", b"1")
        .await;
    assert!(
        matches!(refused, Ok(PushOutcome::NotAList(ref l)) if l.record.values["name"].bytes == b"\"ada\""),
        "{refused:?}"
    );
    let absent = t
        .store
        .load_and_push(&new_key(), no_touch(now), "cart", b"1")
        .await;
    assert!(matches!(absent, Ok(PushOutcome::Absent)), "{absent:?}");
    let none = load(&t.store, &new_key(), now).await;
    assert!(none.is_none());
    t.cleanup().await;
}

#[tokio::test]
async fn redis_holds_neither_the_id_nor_the_user_name_in_key_names() {
    let Some(mut t) = common::redis("no_raw_id").await else {
        return;
    };
    let now = now();
    let id = SessionId::generate(&mut rand::rng());
    let encoded = id.encode();
    let mut rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    // A name none of whose pieces is a hex word: key names are hex digests, in which
    // "ada" turns up now and then.
    rec.meta.user = Some("grace.hopper@example.com".into());
    create(&t.store, id.store_key(), rec, now).await;
    let keys = t.keys().await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for name in &keys {
        assert!(
            !name.contains(encoded.as_str()) && !name.contains("hopper"),
            "{name}"
        );
    }
    let hash: Vec<Vec<u8>> = t
        .raw
        .hgetall::<_, Vec<Vec<u8>>>(t.session_key(&id.store_key()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for item in hash {
        let contains = |needle: &[u8]| item.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(encoded.as_bytes()) && !contains(id.as_bytes()));
    }
    t.cleanup().await;
}

#[tokio::test]
async fn an_unreadable_record_loads_as_absent() {
    let Some(mut t) = common::redis("corrupt").await else {
        return;
    };
    let now = now();
    let corruptions: [(&str, &[u8]); 4] = [
        ("m", b"garbage"),
        ("m", b"\x63\x00"),
        ("t", b"soon"),
        ("v:orphan", b"x"),
    ];
    for (field, bytes) in corruptions {
        let key = new_key();
        create(
            &t.store,
            key,
            record(now, lifetime(Some(600), None), &[("a", b"1")]),
            now,
        )
        .await;
        let _: i64 = t
            .raw
            .hset(t.session_key(&key), field, bytes)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let loaded = t
            .store
            .load(
                &key,
                TouchRule {
                    now: later(now, 100),
                    interval: Duration::from_secs(1),
                },
            )
            .await;
        assert!(matches!(loaded, Ok(None)), "{field}: {loaded:?}");
    }
    t.cleanup().await;
}
