//! The store on a real Redis Cluster (`SESSIO_REDIS_CLUSTER_URLS`; `cargo xtask redis`
//! starts three primaries): records, TTLs, compare-and-set, create-only collisions,
//! id renewals across hash slots (a login, a change of user) and the races they can lose,
//! user indexes, and, asked of the cluster itself, which slot and node each key lands on.
//! Connecting is in `cluster_connect.rs`. Skips loudly without a cluster unless
//! `SESSIO_REQUIRE_REDIS=1`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::cluster::cluster;
use common::{changes, create, later, lifetime, load, new_key, now, record, write};
use sessio::{CasOutcome, SessionStore, StoreError, TouchRule, WriteOutcome};
use sessio_core::machine::Changes;
use sessio_core::record::SessionRecord;
use sessio_core::{SessionId, ShardTag, StoreKey, StoreWrite, Timestamp};
use sessio_redis::RedisStore;

/// A fresh key with `user`'s shard tag, as sessio's core gives a session bound to `user`.
fn user_key(user: &str) -> StoreKey {
    SessionId::generate_in(&mut rand::rng(), ShardTag::for_user(user)).store_key()
}

/// A fresh anonymous key whose tag is none of `users`'.
fn anonymous_key(users: &[&str]) -> StoreKey {
    loop {
        let key = new_key();
        if users
            .iter()
            .all(|u| ShardTag::for_user(u) != key.shard_tag())
        {
            return key;
        }
    }
}

fn tag(user: &str) -> String {
    ShardTag::for_user(user).to_hex().to_string()
}

fn bound(now: Timestamp, user: &str, values: &[(&str, &[u8])]) -> SessionRecord {
    let mut rec = record(now, lifetime(Some(600), Some(3600)), values);
    rec.meta.user = Some(user.into());
    rec
}

async fn listed(store: &RedisStore, user: &str, now: Timestamp) -> Vec<StoreKey> {
    let mut keys: Vec<StoreKey> = store
        .user_sessions(user, now)
        .await
        .unwrap_or_else(|e| panic!("user_sessions: {e}"))
        .into_iter()
        .map(|s| s.key)
        .collect();
    keys.sort_by_key(|k| *k.as_bytes());
    keys
}

fn sorted(mut keys: Vec<StoreKey>) -> Vec<StoreKey> {
    keys.sort_by_key(|k| *k.as_bytes());
    keys
}

/// The rotation a login makes: new id `to`, the session bound to `user`.
fn login(
    from: StoreKey,
    to: StoreKey,
    record: &SessionRecord,
    user: &str,
    at: Timestamp,
) -> (StoreWrite, Changes) {
    let mut meta = record.meta.clone();
    meta.user = Some(user.into());
    meta.started_at = at;
    meta.id_issued_at = at;
    let changes = Changes {
        meta: Some(meta),
        last_seen: at,
        cleared: false,
        values: vec![("logged_in".into(), Some(b"yes".to_vec()))],
    };
    let rotate = StoreWrite::Rotate {
        from,
        to,
        changes: changes.clone(),
    };
    (rotate, changes)
}

#[tokio::test]
async fn records_round_trip_and_redis_ttl_follows() {
    let Some(mut t) = cluster("cl_round_trip").await else {
        return;
    };
    let now = now();
    let key = new_key();
    let rec = record(
        now,
        lifetime(Some(600), Some(700)),
        &[("cart", b"\x00\xff\x01"), ("empty", b""), ("é", b"x")],
    );
    create(&t.store, key, rec.clone(), now).await;
    assert_eq!(load(&t.store, &key, now).await, Some(rec.clone()));
    assert_eq!(load(&t.store, &new_key(), now).await, None);
    let name = t.session_key(&key);
    assert!(
        (t.ttl(&name).await - 600).abs() <= 2,
        "TTL = remaining life"
    );

    let update = changes(
        later(now, 5),
        &[("cart", Some(b"\x02")), ("é", None), ("new", Some(b"n"))],
    );
    let outcome = write(
        &t.store,
        StoreWrite::Update {
            key,
            changes: update.clone(),
        },
        now,
    )
    .await;
    assert_eq!(outcome, WriteOutcome::Written);
    let mut expected = rec;
    update.apply_to(&mut expected);
    assert_eq!(load(&t.store, &key, now).await, Some(expected.clone()));
    assert_eq!(expected.values["cart"].version, 2);
    assert!((t.ttl(&name).await - 605).abs() <= 2);

    let due = TouchRule {
        now: later(now, 65),
        interval: Duration::from_secs(60),
    };
    let loaded = t
        .store
        .load(&key, due)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        loaded.map(|l| (l.touched, l.record.meta.last_seen)),
        Some((true, later(now, 65)))
    );
    assert!(
        (t.ttl(&name).await - 665).abs() <= 2,
        "a touching load slides the TTL"
    );

    let touch = StoreWrite::Touch {
        key,
        last_seen: later(now, 90),
        expires_at: later(now, 690),
    };
    assert_eq!(
        write(&t.store, touch, later(now, 90)).await,
        WriteOutcome::Written
    );
    assert!((t.ttl(&name).await - 690).abs() <= 2);
    // The absolute deadline (700) caps the slide.
    let capped = StoreWrite::Touch {
        key,
        last_seen: later(now, 150),
        expires_at: later(now, 700),
    };
    assert_eq!(
        write(&t.store, capped, later(now, 150)).await,
        WriteOutcome::Written
    );
    assert!((t.ttl(&name).await - 700).abs() <= 2);
    assert_eq!(load(&t.store, &key, later(now, 700)).await, None);
    let too_late = StoreWrite::Touch {
        key,
        last_seen: later(now, 701),
        expires_at: later(now, 701),
    };
    assert_eq!(
        write(&t.store, too_late, later(now, 701)).await,
        WriteOutcome::Gone
    );
    t.cleanup().await;
}

#[tokio::test]
async fn compare_and_set_loses_no_append_under_contention() {
    let Some(t) = cluster("cl_cas").await else {
        return;
    };
    let now = now();
    let key = user_key("ada");
    create(&t.store, key, bound(now, "ada", &[("log", b"")]), now).await;
    let (log, _) = common::append_concurrently(&t.store, key, 20, now).await;
    let mut seen = log.bytes.clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<u8>>());
    assert_eq!(log.version, 21);

    let stale = t
        .store
        .compare_and_set(&key, "log", Some(1), None, now)
        .await;
    assert_eq!(stale.ok(), Some(CasOutcome::Conflict(Some(log))));
    let gone = t
        .store
        .compare_and_set(&new_key(), "log", None, Some(b"x"), now)
        .await;
    assert_eq!(gone.ok(), Some(CasOutcome::Gone));
    t.cleanup().await;
}

#[tokio::test]
async fn create_only_writes_find_a_taken_key_and_change_nothing() {
    let Some(mut t) = cluster("cl_taken").await else {
        return;
    };
    let now = now();
    let anon = anonymous_key(&["ada"]);
    let anon_rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    create(&t.store, anon, anon_rec.clone(), now).await;
    let taken = user_key("ada");
    let taken_rec = bound(now, "ada", &[("b", b"2")]);
    create(&t.store, taken, taken_rec.clone(), now).await;

    let again = StoreWrite::Create {
        key: taken,
        record: bound(now, "ada", &[("c", b"3")]),
    };
    assert_eq!(write(&t.store, again, now).await, WriteOutcome::KeyTaken);

    // A login onto a taken id: across slots, step 2 finds `to` taken.
    let (onto_taken, _) = login(anon, taken, &anon_rec, "ada", later(now, 1));
    assert_eq!(
        write(&t.store, onto_taken, now).await,
        WriteOutcome::KeyTaken
    );
    // Within a slot, the single call finds it taken.
    let other = user_key("ada");
    create(&t.store, other, bound(now, "ada", &[]), now).await;
    let within = StoreWrite::Rotate {
        from: other,
        to: taken,
        changes: changes(now, &[]),
    };
    assert_eq!(write(&t.store, within, now).await, WriteOutcome::KeyTaken);

    assert_eq!(load(&t.store, &anon, now).await, Some(anon_rec));
    assert_eq!(load(&t.store, &taken, now).await, Some(taken_rec));
    assert!(t.exists(&other).await);
    assert_eq!(
        listed(&t.store, "ada", now).await,
        sorted(vec![taken, other])
    );
    t.cleanup().await;
}

#[tokio::test]
async fn login_moves_an_anonymous_session_into_the_users_slot() {
    let Some(mut t) = cluster("cl_login").await else {
        return;
    };
    let now = now();
    let anon = anonymous_key(&["ada"]);
    let rec = record(now, lifetime(Some(600), Some(3600)), &[("cart", b"apple")]);
    create(&t.store, anon, rec.clone(), now).await;
    let to = user_key("ada");
    let (rotate, applied) = login(anon, to, &rec, "ada", later(now, 1));
    assert_eq!(write(&t.store, rotate, now).await, WriteOutcome::Written);

    assert!(!t.exists(&anon).await, "the anonymous id is dead");
    let mut expected = rec;
    applied.apply_to(&mut expected);
    assert_eq!(load(&t.store, &to, now).await, Some(expected));
    assert_eq!(listed(&t.store, "ada", now).await, vec![to]);
    let session = t.session_key(&to);
    assert!((t.ttl(&session).await - 601).abs() <= 2);
    let index = t
        .index_name(&tag("ada"))
        .await
        .unwrap_or_else(|| panic!("no index"));
    assert_eq!(t.slot(&index).await, t.slot(&session).await);
    assert_eq!(t.keys().await, sorted_names(vec![session, index]));
    t.cleanup().await;
}

fn sorted_names(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[tokio::test]
async fn a_session_moves_from_one_users_slot_to_anothers() {
    let Some(mut t) = cluster("cl_rebind").await else {
        return;
    };
    let now = now();
    assert_ne!(ShardTag::for_user("ada"), ShardTag::for_user("bob"));
    let from = user_key("ada");
    let rec = bound(now, "ada", &[("theme", b"dark")]);
    create(&t.store, from, rec.clone(), now).await;
    let keep = user_key("ada");
    create(&t.store, keep, bound(now, "ada", &[]), now).await;
    assert_eq!(listed(&t.store, "ada", now).await, sorted(vec![from, keep]));

    let to = user_key("bob");
    let (rotate, applied) = login(from, to, &rec, "bob", later(now, 2));
    assert_eq!(write(&t.store, rotate, now).await, WriteOutcome::Written);
    assert!(!t.exists(&from).await);
    assert_eq!(
        listed(&t.store, "ada", now).await,
        vec![keep],
        "unbound from ada"
    );
    assert_eq!(listed(&t.store, "bob", now).await, vec![to]);
    let mut expected = rec;
    applied.apply_to(&mut expected);
    assert_eq!(load(&t.store, &to, now).await, Some(expected));
    let bob_index = t
        .index_name(&tag("bob"))
        .await
        .unwrap_or_else(|| panic!("no index"));
    let session = t.session_key(&to);
    assert_eq!(t.slot(&bob_index).await, t.slot(&session).await);

    // Logging out of the last session of ada empties and drops her index.
    let logout = t.store.write(Some(&keep), None, now).await;
    assert_eq!(logout.ok(), Some(WriteOutcome::Written));
    assert_eq!(t.index_name(&tag("ada")).await, None);
    t.cleanup().await;
}

#[tokio::test]
async fn concurrent_logins_from_one_session_leave_exactly_one() {
    let Some(mut t) = cluster("cl_race").await else {
        return;
    };
    let now = now();
    let anon = anonymous_key(&["ada"]);
    let rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    create(&t.store, anon, rec.clone(), now).await;
    let store = Arc::new(t.store.clone());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, rec) = (Arc::clone(&store), rec.clone());
            tokio::spawn(async move {
                let to = user_key("ada");
                let (rotate, _) = login(anon, to, &rec, "ada", now);
                let outcome = store.write(None, Some(&rotate), now).await;
                (to, outcome.unwrap_or_else(|e| panic!("write: {e}")))
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.unwrap_or_else(|e| panic!("{e}")) {
            (to, WriteOutcome::Written) => winners.push(to),
            (to, WriteOutcome::Gone) => losers.push(to),
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one renewal wins");
    assert!(!t.exists(&anon).await);
    for to in &losers {
        assert!(!t.exists(to).await, "a losing renewal left its copy behind");
    }
    assert_eq!(listed(&t.store, "ada", now).await, winners);
    t.cleanup().await;
}

#[tokio::test]
async fn revokes_all_or_all_but_the_current_one() {
    let Some(t) = cluster("cl_revoke").await else {
        return;
    };
    let now = now();
    let mut ada = Vec::new();
    for _ in 0..4 {
        let key = user_key("ada");
        create(&t.store, key, bound(now, "ada", &[("a", b"1")]), now).await;
        ada.push(key);
    }
    let bob = user_key("bob");
    create(&t.store, bob, bound(now, "bob", &[]), now).await;
    assert_eq!(listed(&t.store, "ada", now).await, sorted(ada.clone()));
    let sessions = t
        .store
        .user_sessions("bob", now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let times = sessions
        .iter()
        .map(|s| (s.created_at, s.last_seen, s.expires_at));
    assert_eq!(times.collect::<Vec<_>>(), vec![(now, now, later(now, 600))]);

    let keep = ada[0];
    assert_eq!(
        t.store.revoke_user("ada", Some(&keep), now).await.ok(),
        Some(3)
    );
    assert_eq!(listed(&t.store, "ada", now).await, vec![keep]);
    for key in &ada[1..] {
        assert_eq!(load(&t.store, key, now).await, None);
    }
    assert!(load(&t.store, &keep, now).await.is_some());
    assert_eq!(t.store.revoke_user("ada", None, now).await.ok(), Some(1));
    assert_eq!(listed(&t.store, "ada", now).await, vec![]);
    assert_eq!(t.store.revoke_user("ada", None, now).await.ok(), Some(0));
    assert_eq!(listed(&t.store, "bob", now).await, vec![bob]);
    t.cleanup().await;
}

#[tokio::test]
async fn a_users_index_and_sessions_share_one_slot() {
    let Some(mut t) = cluster("cl_user_slot").await else {
        return;
    };
    let now = now();
    for user in ["ada", "bob", "eve"] {
        let mut names = Vec::new();
        for _ in 0..5 {
            let key = user_key(user);
            create(&t.store, key, bound(now, user, &[]), now).await;
            names.push(t.session_key(&key));
        }
        let index = t
            .index_name(&tag(user))
            .await
            .unwrap_or_else(|| panic!("no index"));
        let slot = t.slot(&index).await;
        for name in &names {
            assert_eq!(t.slot(name).await, slot, "{name} is not in {index}'s slot");
        }
        assert_eq!(listed(&t.store, user, now).await.len(), 5);
    }
    // Each user's keys sit together: the three users' 18 keys on at most three primaries,
    // and no primary holds a part of one user.
    let per_primary = t.keys_per_primary().await;
    assert_eq!(per_primary.iter().sum::<usize>(), 18);
    assert!(per_primary.iter().all(|n| n % 6 == 0), "{per_primary:?}");
    t.cleanup().await;
}

#[tokio::test]
async fn anonymous_sessions_spread_over_every_primary() {
    let Some(mut t) = cluster("cl_spread").await else {
        return;
    };
    let now = now();
    let mut slots = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let key = new_key();
        create(
            &t.store,
            key,
            record(now, lifetime(Some(600), None), &[("a", b"1")]),
            now,
        )
        .await;
        let name = t.session_key(&key);
        slots.insert(t.slot(&name).await);
    }
    // 60 random tags all on one of three primaries: (1/3)^59, never.
    let per_primary = t.keys_per_primary().await;
    assert!(
        per_primary.len() >= 3,
        "a cluster of one primary proves nothing: {per_primary:?}"
    );
    assert!(per_primary.iter().all(|&n| n > 0), "{per_primary:?}");
    assert!(slots.len() > 50, "{} distinct slots", slots.len());
    t.cleanup().await;
}

#[tokio::test]
async fn a_logout_and_a_fresh_session_in_another_slot() {
    let Some(mut t) = cluster("cl_delete_write").await else {
        return;
    };
    let now = now();
    let old = user_key("ada");
    create(&t.store, old, bound(now, "ada", &[("a", b"1")]), now).await;
    let fresh = anonymous_key(&["ada"]);
    let fresh_rec = record(now, lifetime(Some(600), None), &[("b", b"2")]);
    let create_fresh = StoreWrite::Create {
        key: fresh,
        record: fresh_rec.clone(),
    };
    let outcome = t.store.write(Some(&old), Some(&create_fresh), now).await;
    assert_eq!(outcome.ok(), Some(WriteOutcome::Written));
    assert!(!t.exists(&old).await);
    assert_eq!(load(&t.store, &fresh, now).await, Some(fresh_rec));
    assert_eq!(listed(&t.store, "ada", now).await, vec![]);
    // A late write to the destroyed session resurrects nothing.
    let late = StoreWrite::Update {
        key: old,
        changes: changes(now, &[("a", Some(b"late"))]),
    };
    assert_eq!(write(&t.store, late, now).await, WriteOutcome::Gone);
    assert_eq!(t.keys().await, vec![t.session_key(&fresh)]);
    t.cleanup().await;
}

#[tokio::test]
async fn a_binding_without_the_users_tag_is_refused() {
    let Some(mut t) = cluster("cl_misplaced").await else {
        return;
    };
    let now = now();
    let wrong = anonymous_key(&["ada"]);
    let create_wrong = StoreWrite::Create {
        key: wrong,
        record: bound(now, "ada", &[]),
    };
    let refused = t.store.write(None, Some(&create_wrong), now).await;
    assert!(
        matches!(&refused, Err(StoreError::Refused(m)) if m.contains("ShardTag::for_user")),
        "{refused:?}"
    );
    assert_eq!(t.keys().await, Vec::<String>::new());

    // A renewal into another slot that keeps the user (no new meta) cannot keep the index.
    let from = user_key("ada");
    let rec = bound(now, "ada", &[("a", b"1")]);
    create(&t.store, from, rec.clone(), now).await;
    let to = anonymous_key(&["ada"]);
    let keep_user = StoreWrite::Rotate {
        from,
        to,
        changes: changes(now, &[]),
    };
    let refused = t.store.write(None, Some(&keep_user), now).await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(load(&t.store, &from, now).await, Some(rec));
    assert!(!t.exists(&to).await);
    t.cleanup().await;
}
