//! User indexes against a real Redis: listing, revoking, following rotation and
//! rebinding, and staying bounded by the live sessions.

mod common;

use common::{create, later, lifetime, new_key, no_touch, now, record};
use redis::AsyncCommands;
use sessio::{SessionStore, WriteOutcome};
use sessio_core::machine::Changes;
use sessio_core::{StoreKey, StoreWrite, Timestamp};
use sessio_redis::RedisStore;

async fn bound(store: &RedisStore, user: &str, now: Timestamp, idle: u64) -> StoreKey {
    let key = new_key();
    let mut rec = record(now, lifetime(Some(idle), None), &[("a", b"1")]);
    rec.meta.user = Some(user.into());
    create(store, key, rec, now).await;
    key
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

/// The index key of `user` as the store names it (found by the one `u:` key it holds).
async fn index_name(t: &mut common::TestRedis) -> String {
    let keys = t.keys().await;
    let mut indexes = keys.into_iter().filter(|k| k.contains(":u:"));
    let name = indexes.next().unwrap_or_else(|| panic!("no index"));
    assert!(indexes.next().is_none(), "one user in this test");
    name
}

#[tokio::test]
async fn lists_a_users_live_sessions() {
    let Some(t) = common::redis("user_list").await else {
        return;
    };
    let now = now();
    let mut ada = Vec::new();
    for _ in 0..3 {
        ada.push(bound(&t.store, "ada", now, 600).await);
    }
    let bob = bound(&t.store, "bob", now, 600).await;
    assert_eq!(listed(&t.store, "ada", now).await, sorted(ada.clone()));
    assert_eq!(listed(&t.store, "bob", now).await, vec![bob]);
    assert_eq!(listed(&t.store, "eve", now).await, vec![]);
    let sessions = t
        .store
        .user_sessions("bob", now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sessions[0].created_at, now);
    assert_eq!(sessions[0].last_seen, now);
    assert_eq!(sessions[0].expires_at, later(now, 600));
    t.cleanup().await;
}

#[tokio::test]
async fn revokes_all_or_all_but_one() {
    let Some(t) = common::redis("user_revoke").await else {
        return;
    };
    let now = now();
    let mut ada = Vec::new();
    for _ in 0..4 {
        ada.push(bound(&t.store, "ada", now, 600).await);
    }
    let bob = bound(&t.store, "bob", now, 600).await;

    let keep = ada[0];
    assert_eq!(
        t.store.revoke_user("ada", Some(&keep), now).await.ok(),
        Some(3)
    );
    assert_eq!(listed(&t.store, "ada", now).await, vec![keep]);
    for key in &ada[1..] {
        assert!(t
            .store
            .load(key, no_touch(now))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
    }
    assert!(t
        .store
        .load(&keep, no_touch(now))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_some());

    assert_eq!(t.store.revoke_user("ada", None, now).await.ok(), Some(1));
    assert_eq!(listed(&t.store, "ada", now).await, vec![]);
    assert_eq!(t.store.revoke_user("ada", None, now).await.ok(), Some(0));
    assert_eq!(listed(&t.store, "bob", now).await, vec![bob]);
    t.cleanup().await;
}

#[tokio::test]
async fn membership_follows_rebinding_and_rotation() {
    let Some(t) = common::redis("user_follow").await else {
        return;
    };
    let now = now();
    let key = bound(&t.store, "ada", now, 600).await;
    let loaded = t
        .store
        .load(&key, no_touch(now))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut meta = loaded
        .map(|l| l.record.meta)
        .unwrap_or_else(|| panic!("absent"));
    meta.user = Some("bob".into());
    let rebind = Changes {
        meta: Some(meta.clone()),
        last_seen: now,
        cleared: false,
        values: vec![],
    };
    let outcome = t
        .store
        .write(
            None,
            Some(&StoreWrite::Update {
                key,
                changes: rebind,
            }),
            now,
        )
        .await;
    assert_eq!(outcome.ok(), Some(WriteOutcome::Written));
    assert_eq!(listed(&t.store, "ada", now).await, vec![]);
    assert_eq!(listed(&t.store, "bob", now).await, vec![key]);

    let to = new_key();
    let rotate = StoreWrite::Rotate {
        from: key,
        to,
        changes: Changes {
            meta: None,
            last_seen: now,
            cleared: false,
            values: vec![],
        },
    };
    assert_eq!(
        t.store.write(None, Some(&rotate), now).await.ok(),
        Some(WriteOutcome::Written)
    );
    assert_eq!(listed(&t.store, "bob", now).await, vec![to]);

    meta.user = None;
    let unbind = Changes {
        meta: Some(meta),
        last_seen: now,
        cleared: false,
        values: vec![],
    };
    let outcome = t
        .store
        .write(
            None,
            Some(&StoreWrite::Update {
                key: to,
                changes: unbind,
            }),
            now,
        )
        .await;
    assert_eq!(outcome.ok(), Some(WriteOutcome::Written));
    assert_eq!(listed(&t.store, "bob", now).await, vec![]);
    t.cleanup().await;
}

#[tokio::test]
async fn an_index_never_outgrows_the_live_sessions() {
    let Some(mut t) = common::redis("user_bounded").await else {
        return;
    };
    let now = now();
    // Twenty sessions with a 5 s idle timeout...
    for _ in 0..20 {
        bound(&t.store, "ada", now, 5).await;
    }
    let index = index_name(&mut t).await;
    assert_eq!(t.raw.zcard::<_, i64>(&index).await.ok(), Some(20));
    assert!(
        (t.ttl(&index).await - 5).abs() <= 2,
        "the index expires with its last member"
    );
    // ...are all past their deadline ten seconds later, when one more session is created.
    let then = later(now, 10);
    let live = bound(&t.store, "ada", then, 600).await;
    assert_eq!(t.raw.zcard::<_, i64>(&index).await.ok(), Some(1));
    assert!((t.ttl(&index).await - 610).abs() <= 2);
    assert_eq!(listed(&t.store, "ada", then).await, vec![live]);
    t.cleanup().await;
}
