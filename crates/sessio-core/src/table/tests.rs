#![allow(clippy::unwrap_used)]

use alloc::vec::Vec;
use core::num::NonZeroUsize;

use super::*;

fn key(n: u8) -> StoreKey {
    StoreKey::from_bytes([n; 32])
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn table(max: usize) -> Table<u32> {
    Table::new(NonZeroUsize::new(max).unwrap())
}

const T0: Timestamp = Timestamp::from_unix_secs(1_000);
const LATER: Timestamp = Timestamp::from_unix_secs(2_000);

fn user_values(t: &Table<u32>, user: &str, now: Timestamp) -> Vec<u32> {
    let mut values: Vec<u32> = t.user_entries(user, now).map(|(_, v, _)| *v).collect();
    values.sort_unstable();
    values
}

#[test]
fn capacity_bound_evicts_least_recently_used() {
    let mut t = table(3);
    for n in 1..=3 {
        assert!(t
            .insert(key(n), u32::from(n), LATER, None, T0)
            .unwrap()
            .evicted
            .is_none());
    }
    // Order now (most recent first): 3 2 1. Using 1 makes 2 the least recently used.
    assert!(t.get_mut(&key(1), T0).is_some());
    let evicted = t
        .insert(key(4), 4, LATER, None, T0)
        .unwrap()
        .evicted
        .unwrap();
    assert_eq!(
        (evicted.key, evicted.value, evicted.reason),
        (key(2), 2, EvictionReason::CapacityLru)
    );
    // `get` does not bump: 3 is next.
    assert!(t.get(&key(3), T0).is_some());
    let evicted = t
        .insert(key(5), 5, LATER, None, T0)
        .unwrap()
        .evicted
        .unwrap();
    assert_eq!(evicted.key, key(3));
    assert_eq!(t.len(), 3);
    assert_eq!(t.max_sessions().get(), 3);
    for (n, v) in [(1, 1), (4, 4), (5, 5)] {
        assert_eq!(t.get(&key(n), T0), Some(&v));
    }
}

#[test]
fn expired_entries_are_hidden_and_reclaimed() {
    let mut t = table(10);
    t.insert(key(1), 1, at(1_010), Some("u"), T0).unwrap();
    assert_eq!(t.get(&key(1), at(1_009)), Some(&1));
    assert_eq!(t.get(&key(1), at(1_010)), None);
    assert_eq!(t.user_entries("u", at(1_010)).count(), 0);
    assert_eq!(t.len(), 1, "get(&self) cannot reclaim");
    assert!(t.get_mut(&key(1), at(1_010)).is_none());
    assert_eq!(t.len(), 0, "get_mut reclaims what it finds expired");
    assert_eq!(t.user_len("u"), 0);
}

#[test]
fn full_table_reclaims_expired_before_evicting_live() {
    let mut t = table(3);
    t.insert(key(1), 1, LATER, None, T0).unwrap();
    t.insert(key(2), 2, at(1_005), None, T0).unwrap();
    t.insert(key(3), 3, LATER, None, T0).unwrap();
    // Keep the sweep cursor away from slot 1 so that `make_room` has to find it.
    let inserted = t.insert(key(4), 4, LATER, None, at(1_005)).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(
        t.get(&key(1), at(1_005)),
        Some(&1),
        "the live LRU entry stays"
    );
    if let Some(evicted) = inserted.evicted {
        assert_eq!(
            (evicted.key, evicted.reason),
            (key(2), EvictionReason::Expired)
        );
    }
    assert!(t.get(&key(2), at(1_005)).is_none());
}

#[test]
fn insert_is_create_only() {
    let mut t = table(10);
    t.insert(key(1), 1, LATER, None, T0).unwrap();
    let refused = t.insert(key(1), 99, LATER, Some("u"), T0).unwrap_err();
    assert_eq!(refused.value, 99);
    assert_eq!(t.get(&key(1), T0), Some(&1));
    assert_eq!(t.user_len("u"), 0);
    assert_eq!(
        alloc::format!("{refused}"),
        "a live session already has this key"
    );
}

#[test]
fn expired_key_can_be_inserted_again() {
    let mut t = table(10);
    t.insert(key(1), 1, at(1_010), Some("old"), T0).unwrap();
    let inserted = t
        .insert(key(1), 2, at(1_100), Some("new"), at(1_010))
        .unwrap();
    let evicted = inserted.evicted.unwrap();
    assert_eq!(
        (evicted.value, evicted.reason),
        (1, EvictionReason::Expired)
    );
    assert_eq!(t.get(&key(1), at(1_010)), Some(&2));
    assert_eq!(t.len(), 1);
    assert_eq!(t.user_len("old"), 0);
    assert_eq!(t.user_len("new"), 1);
}

#[test]
fn rekey_keeps_value_user_deadline_and_recency() {
    let mut t = table(2);
    t.insert(key(1), 1, at(1_500), Some("alice"), T0).unwrap();
    t.insert(key(2), 2, LATER, None, T0).unwrap();
    t.rekey(&key(1), key(9), T0).unwrap();
    assert_eq!(t.get(&key(1), T0), None);
    assert_eq!(t.get(&key(9), T0), Some(&1));
    let listed: Vec<_> = t
        .user_entries("alice", T0)
        .map(|(k, v, e)| (*k, *v, e))
        .collect();
    assert_eq!(listed, [(key(9), 1, at(1_500))]);
    // Still the least recently used: the next insert evicts it.
    let evicted = t
        .insert(key(3), 3, LATER, None, T0)
        .unwrap()
        .evicted
        .unwrap();
    assert_eq!(evicted.key, key(9));
    assert_eq!(t.user_len("alice"), 0);
}

#[test]
fn rekey_refuses_missing_expired_and_occupied() {
    let mut t = table(10);
    t.insert(key(1), 1, LATER, None, T0).unwrap();
    t.insert(key(2), 2, LATER, None, T0).unwrap();
    t.insert(key(3), 3, at(1_001), None, T0).unwrap();
    assert_eq!(t.rekey(&key(7), key(8), T0), Err(RekeyError::NotFound));
    assert_eq!(t.rekey(&key(1), key(2), T0), Err(RekeyError::Occupied));
    assert_eq!(
        t.rekey(&key(3), key(8), at(1_001)),
        Err(RekeyError::NotFound)
    );
    // An expired entry under the target key makes way.
    t.insert(key(4), 4, at(1_001), None, T0).unwrap();
    assert_eq!(t.rekey(&key(1), key(4), at(1_001)), Ok(()));
    assert_eq!(t.get(&key(4), at(1_001)), Some(&1));
}

#[test]
fn user_index_lists_and_removes_with_except() {
    let mut t = table(10);
    for n in 1..=3 {
        t.insert(key(n), u32::from(n), LATER, Some("alice"), T0)
            .unwrap();
    }
    t.insert(key(4), 4, LATER, Some("bob"), T0).unwrap();
    t.insert(key(5), 5, LATER, None, T0).unwrap();
    assert_eq!(user_values(&t, "alice", T0), [1, 2, 3]);
    assert_eq!(t.user_len("alice"), 3);
    assert_eq!(t.user_len("carol"), 0);

    let mut removed = t.remove_user("alice", Some(&key(2)));
    removed.sort_by_key(|(_, v)| *v);
    assert_eq!(
        removed.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
        [(key(1), 1), (key(3), 3)]
    );
    assert_eq!(user_values(&t, "alice", T0), [2]);
    assert_eq!(t.len(), 3);

    let removed = t.remove_user("alice", None);
    assert_eq!(removed.len(), 1);
    assert_eq!(t.users.user_count(), 1, "alice is gone, bob stays");
    assert_eq!(user_values(&t, "bob", T0), [4]);
}

#[test]
fn set_user_moves_entry_between_users() {
    let mut t = table(10);
    t.insert(key(1), 1, LATER, None, T0).unwrap();
    t.insert(key(2), 2, LATER, Some("alice"), T0).unwrap();
    {
        let mut e = t.get_mut(&key(1), T0).unwrap();
        assert_eq!(e.user(), None);
        e.set_user(Some("alice"));
        assert_eq!(e.user(), Some("alice"));
        *e.value_mut() += 10;
        assert_eq!(*e.value(), 11);
        assert_eq!(*e.key(), key(1));
    }
    assert_eq!(user_values(&t, "alice", T0), [2, 11]);
    t.get_mut(&key(1), T0).unwrap().set_user(Some("bob"));
    assert_eq!(user_values(&t, "alice", T0), [2]);
    assert_eq!(user_values(&t, "bob", T0), [11]);
    t.get_mut(&key(1), T0).unwrap().set_user(None);
    assert_eq!(t.user_len("bob"), 0);
    assert_eq!(t.users.user_count(), 1);
}

#[test]
fn user_leaves_index_when_last_entry_goes() {
    let mut t = table(2);
    // Evicted.
    t.insert(key(1), 1, LATER, Some("evicted"), T0).unwrap();
    t.insert(key(2), 2, LATER, None, T0).unwrap();
    t.insert(key(3), 3, LATER, None, T0).unwrap();
    assert_eq!(t.users.user_count(), 0);
    // Removed.
    t.insert(key(4), 4, LATER, Some("removed"), T0).unwrap();
    assert_eq!(t.users.user_count(), 1);
    t.remove(&key(4)).unwrap();
    assert_eq!(t.users.user_count(), 0);
    // Expired and reclaimed.
    t.insert(key(5), 5, at(1_001), Some("expired"), T0).unwrap();
    assert_eq!(t.reclaim_expired(at(1_001), usize::MAX), 1);
    assert_eq!(t.users.user_count(), 0);
    assert_eq!(t.user_len("expired"), 0);
}

#[test]
fn reclaim_expired_respects_budget() {
    let mut t = table(100);
    for n in 0..10 {
        t.insert(key(n), u32::from(n), at(1_001), None, T0).unwrap();
    }
    t.insert(key(10), 10, LATER, None, T0).unwrap();
    let now = at(1_001);
    assert_eq!(t.reclaim_expired(now, 4), 4);
    assert_eq!(t.len(), 7);
    assert_eq!(t.reclaim_expired(now, 0), 0);
    assert_eq!(t.reclaim_expired(now, usize::MAX), 6);
    assert_eq!(t.len(), 1);
    assert_eq!(t.get(&key(10), now), Some(&10));
}

#[test]
fn free_slots_are_reused() {
    let mut t = table(100);
    for n in 0..8 {
        t.insert(key(n), u32::from(n), LATER, None, T0).unwrap();
    }
    let capacity = t.slab.capacity();
    let slots = t.slab.slots_len();
    for round in 0..50u32 {
        for n in 0..8 {
            let expected = if round == 0 {
                u32::from(n)
            } else {
                round * 100 + u32::from(n)
            };
            assert_eq!(t.remove(&key(n)), Some(expected));
        }
        for n in 0..8 {
            t.insert(key(n), (round + 1) * 100 + u32::from(n), LATER, None, T0)
                .unwrap();
        }
    }
    assert_eq!(t.slab.slots_len(), slots);
    assert_eq!(t.slab.capacity(), capacity);
}

#[test]
fn slab_never_grows_past_max_sessions() {
    let mut t = table(5);
    for n in 0..20 {
        t.insert(key(n), u32::from(n), LATER, None, T0).unwrap();
    }
    assert_eq!(t.slab.capacity(), 5);
    assert_eq!(t.slab.lru_order().len(), 5);
}

#[test]
fn debug_output_hides_values() {
    let mut t = Table::new(NonZeroUsize::MIN);
    t.insert(key(1), "secret", LATER, None, T0).unwrap();
    let evicted = t.insert(key(2), "hidden", LATER, None, T0).unwrap();
    let shown = alloc::format!("{evicted:?} {t:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("hidden"),
        "{shown}"
    );
}

#[test]
#[cfg(target_pointer_width = "64")]
fn slot_sizes() {
    // Key, deadline and links take 48 bytes; the payload's `Option` adds no tag word.
    assert_eq!(size_of::<Slot<InlineBytes>>(), 96);
    assert_eq!(size_of::<Slot<alloc::boxed::Box<[u8]>>>(), 64);
}
