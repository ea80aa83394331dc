//! Unit tests of single decisions; `tests/machine_model.rs` checks whole sequences.

use super::*;
use alloc::vec;
use core::time::Duration;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn policy(renew: Option<u64>) -> ExpiryPolicy {
    ExpiryPolicy::builder()
        .idle_timeout(Some(Duration::from_secs(600)))
        .absolute_timeout(Some(Duration::from_secs(3600)))
        .touch_interval(Duration::from_secs(60))
        .renew_interval(renew.map(Duration::from_secs))
        .build()
        .expect("valid policy")
}

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_000_000 + secs)
}

/// A stored session with one value, created at `t(0)`.
fn stored(policy: &ExpiryPolicy) -> (SessionId, SessionRecord) {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut state = SessionState::fresh(t(0), policy);
    state.insert("cart", vec![1]);
    let decision = state.finish(&mut rng);
    let (Some(StoreWrite::Create { record, .. }), Some(CookieUpdate::Set { id, .. })) =
        (decision.write, decision.cookie)
    else {
        panic!("a new session with a value is created");
    };
    (id, record)
}

#[test]
fn reads_write_nothing_until_a_touch_is_due() {
    let p = policy(None);
    let (id, record) = stored(&p);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let early = SessionState::resume(id.clone().into(), Some(record.clone()), false, t(59), &p)
        .finish(&mut rng);
    assert!(early.is_noop(), "{early:?}");
    let due = SessionState::resume(id.clone().into(), Some(record.clone()), false, t(60), &p)
        .finish(&mut rng);
    assert!(
        matches!(due.write, Some(StoreWrite::Touch { last_seen, expires_at, .. }) if last_seen == t(60) && expires_at == t(660)),
        "{due:?}"
    );
    assert_eq!(
        due.cookie, None,
        "a browser-session cookie needs no refresh"
    );
    let slid_by_store =
        SessionState::resume(id.into(), Some(record), true, t(60), &p).finish(&mut rng);
    assert!(
        slid_by_store.is_noop(),
        "the store already touched it: {slid_by_store:?}"
    );
}

#[test]
fn automatic_renewal_rotates_the_id_but_keeps_the_absolute_deadline() {
    let p = policy(Some(300));
    let (id, record) = stored(&p);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let before = SessionState::resume(id.clone().into(), Some(record.clone()), false, t(299), &p)
        .finish(&mut rng);
    assert!(!matches!(before.write, Some(StoreWrite::Rotate { .. })));
    let state = SessionState::resume(id.clone().into(), Some(record), false, t(300), &p);
    let decision = state.finish(&mut rng);
    let Some(StoreWrite::Rotate { from, to, changes }) = decision.write else {
        panic!("rotation after the renewal interval: {decision:?}");
    };
    assert_eq!(from, id.store_key());
    assert_ne!(to, from);
    let meta = changes.meta.expect("meta travels with a rotation");
    assert_eq!(meta.id_issued_at, t(300));
    assert_eq!(
        meta.started_at,
        t(0),
        "automatic renewal must not extend the absolute timeout"
    );
    assert!(
        matches!(decision.cookie, Some(CookieUpdate::Set { id: ref new, .. }) if new.store_key() == to)
    );
}

#[test]
fn explicit_renewal_restarts_the_absolute_lifetime() {
    let p = policy(None);
    let (id, record) = stored(&p);
    let mut state = SessionState::resume(id.into(), Some(record), false, t(100), &p);
    state.renew();
    state.set_user(Some("ada"));
    let decision = state.finish(&mut ChaCha20Rng::seed_from_u64(3));
    let Some(StoreWrite::Rotate { changes, .. }) = decision.write else {
        panic!("{decision:?}");
    };
    let meta = changes.meta.expect("meta");
    assert_eq!(
        (meta.started_at, meta.user.as_deref()),
        (t(100), Some("ada"))
    );
}

#[test]
fn binding_another_user_renews_the_id_into_the_users_shard() {
    let p = policy(None);
    let (id, record) = stored(&p);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut login = SessionState::resume(id.clone().into(), Some(record), false, t(100), &p);
    login.set_user(Some("ada"));
    let decision = login.finish(&mut rng);
    let (Some(StoreWrite::Rotate { from, to, changes }), Some(CookieUpdate::Set { id: new, .. })) =
        (decision.write, decision.cookie)
    else {
        panic!("binding a user renews the id");
    };
    assert_eq!(from, id.store_key());
    assert_eq!(
        (to, new.shard_tag()),
        (new.store_key(), ShardTag::for_user("ada"))
    );
    let meta = changes.meta.expect("meta");
    assert_eq!(
        (meta.started_at, meta.user.as_deref()),
        (t(100), Some("ada"))
    );

    // The same user again changes nothing; unbinding keeps the id.
    let bound = SessionRecord {
        meta,
        values: StoredValues::new(),
    };
    let mut again =
        SessionState::resume(new.clone().into(), Some(bound.clone()), false, t(110), &p);
    again.set_user(Some("ada"));
    assert!(again.finish(&mut rng).is_noop());
    let mut unbind =
        SessionState::resume(new.clone().into(), Some(bound.clone()), false, t(110), &p);
    unbind.set_user(None);
    assert!(
        matches!(unbind.finish(&mut rng).write, Some(StoreWrite::Update { key, .. }) if key == new.store_key())
    );
    // Another user: a new id again, in that user's shard.
    let mut switch = SessionState::resume(new.into(), Some(bound), false, t(120), &p);
    switch.set_user(Some("bob"));
    let decision = switch.finish(&mut rng);
    assert!(
        matches!(decision.write, Some(StoreWrite::Rotate { to, .. }) if to.shard_tag() == ShardTag::for_user("bob"))
    );
    // An id collision is retried in the same shard.
    let mut retried = decision;
    retried.reissue_id(&mut rng);
    assert!(
        matches!(retried.write, Some(StoreWrite::Rotate { to, .. }) if to.shard_tag() == ShardTag::for_user("bob"))
    );
}

#[test]
fn a_new_session_bound_at_once_starts_in_its_users_shard() {
    let p = policy(None);
    let mut state = SessionState::fresh(t(0), &p);
    state.set_user(Some("ada"));
    let decision = state.finish(&mut ChaCha20Rng::seed_from_u64(6));
    assert!(
        matches!(decision.write, Some(StoreWrite::Create { key, .. }) if key.shard_tag() == ShardTag::for_user("ada"))
    );
}

#[test]
fn persistent_lifetime_sends_and_refreshes_a_max_age_cookie() {
    let p = policy(None);
    let (id, record) = stored(&p);
    let remember = Lifetime::new(
        Some(Duration::from_secs(7 * 86400)),
        Some(Duration::from_secs(30 * 86400)),
    )
    .expect("valid")
    .persistent_cookie(true);
    let mut state = SessionState::resume(id.clone().into(), Some(record.clone()), false, t(10), &p);
    state.set_lifetime(remember);
    let decision = state.finish(&mut ChaCha20Rng::seed_from_u64(4));
    assert_eq!(
        decision.cookie,
        Some(CookieUpdate::Set {
            id: id.clone(),
            max_age: Some(Duration::from_secs(7 * 86400))
        })
    );
    let Some(StoreWrite::Update { changes, .. }) = decision.write else {
        panic!("{decision:?}");
    };
    let mut record = record;
    changes.apply_to(&mut record);
    // A later touch refreshes the persistent cookie; a read before the interval does not.
    let quiet = SessionState::resume(id.clone().into(), Some(record.clone()), false, t(30), &p)
        .finish(&mut ChaCha20Rng::seed_from_u64(5));
    assert!(quiet.is_noop());
    let touch = SessionState::resume(id.clone().into(), Some(record), false, t(100), &p)
        .finish(&mut ChaCha20Rng::seed_from_u64(6));
    assert_eq!(
        touch.cookie,
        Some(CookieUpdate::Set {
            id,
            max_age: Some(Duration::from_secs(7 * 86400))
        })
    );
}

#[test]
fn destroy_then_write_deletes_the_old_and_creates_a_new_session() {
    let p = policy(None);
    let (id, record) = stored(&p);
    let mut state = SessionState::resume(id.clone().into(), Some(record), false, t(5), &p);
    state.destroy();
    assert_eq!(state.get("cart"), None, "destroy drops the data");
    assert_eq!(state.store_key(), None);
    state.insert("cart", vec![2]);
    let decision = state.finish(&mut ChaCha20Rng::seed_from_u64(7));
    assert_eq!(decision.delete, Some(id.store_key()));
    assert!(
        matches!(decision.write, Some(StoreWrite::Create { ref key, .. }) if *key != id.store_key())
    );
    assert!(matches!(decision.cookie, Some(CookieUpdate::Set { id: ref new, .. }) if *new != id));
}

#[test]
fn destroy_without_a_session_still_clears_the_cookie() {
    let p = policy(None);
    let mut state = SessionState::fresh(t(0), &p);
    state.destroy();
    let decision = state.finish(&mut ChaCha20Rng::seed_from_u64(8));
    assert_eq!(decision.delete, None);
    assert_eq!(decision.write, None);
    assert_eq!(decision.cookie, Some(CookieUpdate::Remove));
}

#[test]
fn compare_and_set_base_only_for_stored_untouched_values() {
    let p = policy(None);
    let (id, record) = stored(&p);
    let mut state = SessionState::resume(id.into(), Some(record), false, t(1), &p);
    assert_eq!(state.compare_and_set_base("cart"), Some(Some(1)));
    assert_eq!(state.compare_and_set_base("other"), Some(None));
    state.insert("cart", vec![3]);
    assert_eq!(
        state.compare_and_set_base("cart"),
        None,
        "a pending write wins locally"
    );
    state.clear();
    assert_eq!(
        state.compare_and_set_base("other"),
        None,
        "after clear, writes are local"
    );
    let fresh = SessionState::fresh(t(1), &p);
    assert_eq!(fresh.compare_and_set_base("cart"), None);
}

#[test]
fn reissue_id_changes_key_and_cookie_together() {
    let p = policy(None);
    let mut state = SessionState::fresh(t(0), &p);
    state.insert("a", vec![1]);
    let mut decision = state.finish(&mut ChaCha20Rng::seed_from_u64(10));
    let key_before = match &decision.write {
        Some(StoreWrite::Create { key, .. }) => *key,
        other => panic!("{other:?}"),
    };
    decision.reissue_id(&mut ChaCha20Rng::seed_from_u64(11));
    let (Some(StoreWrite::Create { key, .. }), Some(CookieUpdate::Set { id, .. })) =
        (&decision.write, &decision.cookie)
    else {
        panic!("{decision:?}");
    };
    assert_ne!(*key, key_before);
    assert_eq!(id.store_key(), *key);
}

#[test]
fn a_write_tells_the_stored_times_when_it_carries_them() {
    let policy = policy(None);
    let (id, record) = stored(&policy);
    let key = *KeyedSessionId::from(id).key();
    let create = StoreWrite::Create {
        key,
        record: record.clone(),
    };
    assert_eq!(create.stored_times(), Some((&key, t(0), t(600))));
    let changes = |meta| Changes {
        meta,
        last_seen: t(100),
        cleared: false,
        values: Vec::new(),
    };
    // A rotation with the meta: the deadline slides from the rotation's last-seen time,
    // as `apply_to` leaves the record.
    let rotate = StoreWrite::Rotate {
        from: key,
        to: key,
        changes: changes(Some(record.meta.clone())),
    };
    let mut applied = record.clone();
    if let StoreWrite::Rotate { changes, .. } = &rotate {
        changes.apply_to(&mut applied);
    }
    assert_eq!(
        rotate.stored_times(),
        Some((&key, t(100), applied.meta.expires_at()))
    );
    assert_eq!(applied.meta.expires_at(), t(700));
    let update = StoreWrite::Update {
        key,
        changes: changes(None),
    };
    assert_eq!(update.stored_times(), None, "the stored lifetime decides");
    let touch = StoreWrite::Touch {
        key,
        last_seen: t(200),
        expires_at: t(800),
    };
    assert_eq!(touch.stored_times(), Some((&key, t(200), t(800))));
}
