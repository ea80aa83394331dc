//! Random operation sequences against a plain reference model: a `BTreeMap` plus a
//! recency list.
//!
//! The table may reclaim expired entries at any time (sweeps on insert and `get_mut`),
//! so before each step the model drops the expired entries the table no longer holds;
//! it is an error for a live entry to vanish, or for the two to hold different entries.
#![allow(clippy::unwrap_used)]

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::num::NonZeroUsize;

use proptest::prelude::*;

use super::*;

const KEYS: u8 = 10;
const USERS: [&str; 3] = ["ann", "ben", "cy"];

#[derive(Clone, Debug)]
enum Op {
    Insert {
        key: u8,
        ttl: u64,
        user: Option<usize>,
    },
    GetMut {
        key: u8,
    },
    Get {
        key: u8,
    },
    Remove {
        key: u8,
    },
    Rekey {
        from: u8,
        to: u8,
    },
    SetUser {
        key: u8,
        user: Option<usize>,
    },
    SetExpiry {
        key: u8,
        ttl: u64,
    },
    RemoveUser {
        user: usize,
        except: Option<u8>,
    },
    Advance {
        secs: u64,
    },
    Reclaim {
        budget: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    let user = proptest::option::of(0..USERS.len());
    prop_oneof![
        4 => (key.clone(), 1..20u64, user.clone()).prop_map(|(key, ttl, user)| Op::Insert { key, ttl, user }),
        3 => key.clone().prop_map(|key| Op::GetMut { key }),
        1 => key.clone().prop_map(|key| Op::Get { key }),
        1 => key.clone().prop_map(|key| Op::Remove { key }),
        1 => (key.clone(), key.clone()).prop_map(|(from, to)| Op::Rekey { from, to }),
        1 => (key.clone(), user).prop_map(|(key, user)| Op::SetUser { key, user }),
        1 => (key.clone(), 0..20u64).prop_map(|(key, ttl)| Op::SetExpiry { key, ttl }),
        1 => (0..USERS.len(), proptest::option::of(key)).prop_map(|(user, except)| Op::RemoveUser { user, except }),
        2 => (0..8u64).prop_map(|secs| Op::Advance { secs }),
        1 => (0..6usize).prop_map(|budget| Op::Reclaim { budget }),
    ]
}

#[derive(Clone, Debug)]
struct Entry {
    value: u32,
    expires_at: u64,
    user: Option<String>,
}

struct Model {
    entries: BTreeMap<u8, Entry>,
    /// Least recently used first.
    recency: Vec<u8>,
    max: usize,
    now: u64,
}

fn key(n: u8) -> StoreKey {
    let mut bytes = [n; 32];
    // Distinct keys that share a `table_hash`, so equality is what tells them apart.
    bytes[..8].copy_from_slice(&[0; 8]);
    StoreKey::from_bytes(bytes)
}

fn key_id(k: &StoreKey) -> u8 {
    k.as_bytes()[31]
}

impl Model {
    fn live(&self, k: u8) -> Option<&Entry> {
        self.entries.get(&k).filter(|e| self.now < e.expires_at)
    }

    fn drop_key(&mut self, k: u8) -> Option<Entry> {
        self.recency.retain(|&r| r != k);
        self.entries.remove(&k)
    }

    fn bump(&mut self, k: u8) {
        self.recency.retain(|&r| r != k);
        self.recency.push(k);
    }

    /// Forgets expired entries the table has reclaimed; returns how many.
    fn sync(&mut self, t: &Table<u32>) -> usize {
        let gone: Vec<u8> = self
            .entries
            .keys()
            .copied()
            .filter(|&k| t.find(&key(k)).is_none())
            .collect();
        for &k in &gone {
            assert!(self.live(k).is_none(), "live entry {k} vanished");
            self.drop_key(k);
        }
        gone.len()
    }

    fn check(&self, t: &Table<u32>) {
        assert!(t.len() <= self.max);
        assert_eq!(t.len(), self.entries.len());
        let now = Timestamp::from_unix_secs(self.now);
        let order: Vec<u8> = t
            .slab
            .lru_order()
            .iter()
            .rev()
            .map(|&i| key_id(&t.slab.slot(i).unwrap().key))
            .collect();
        assert_eq!(order, self.recency);
        for k in 0..KEYS {
            assert_eq!(t.get(&key(k), now), self.live(k).map(|e| &e.value));
        }
        for name in USERS {
            let listed: BTreeSet<(u8, u32, u64)> = t
                .user_entries(name, now)
                .map(|(k, v, e)| (key_id(k), *v, e.unix_secs()))
                .collect();
            let expected: BTreeSet<(u8, u32, u64)> = self
                .entries
                .iter()
                .filter(|(k, e)| e.user.as_deref() == Some(name) && self.live(**k).is_some())
                .map(|(k, e)| (*k, e.value, e.expires_at))
                .collect();
            assert_eq!(listed, expected, "user {name}");
            let bound = self
                .entries
                .values()
                .filter(|e| e.user.as_deref() == Some(name))
                .count();
            assert_eq!(t.user_len(name), bound);
        }
        let users: BTreeSet<&str> = self
            .entries
            .values()
            .filter_map(|e| e.user.as_deref())
            .collect();
        assert_eq!(t.users.user_count(), users.len());
    }

    fn apply(&mut self, t: &mut Table<u32>, op: Op, next_value: &mut u32) {
        let now = Timestamp::from_unix_secs(self.now);
        match op {
            Op::Insert { key: k, ttl, user } => {
                *next_value += 1;
                let value = *next_value;
                let expires_at = self.now + ttl;
                let user = user.map(|u| USERS[u]);
                let result = t.insert(
                    key(k),
                    value,
                    Timestamp::from_unix_secs(expires_at),
                    user,
                    now,
                );
                if let Some(e) = self.live(k) {
                    assert_eq!(result.unwrap_err().value, value, "existing {e:?}");
                    return;
                }
                let evicted = result.unwrap().evicted;
                if self.entries.contains_key(&k) {
                    let e = evicted.unwrap();
                    assert_eq!((key_id(&e.key), e.reason), (k, EvictionReason::Expired));
                    self.drop_key(k);
                } else if let Some(e) = evicted {
                    let victim = key_id(&e.key);
                    match e.reason {
                        EvictionReason::Expired => assert!(self.live(victim).is_none()),
                        _ => {
                            assert_eq!(e.reason, EvictionReason::CapacityLru);
                            let lru_live = self
                                .recency
                                .iter()
                                .copied()
                                .find(|&r| self.live(r).is_some());
                            assert_eq!(Some(victim), lru_live);
                        }
                    }
                    assert_eq!(self.drop_key(victim).unwrap().value, e.value);
                }
                self.entries.insert(
                    k,
                    Entry {
                        value,
                        expires_at,
                        user: user.map(ToString::to_string),
                    },
                );
                self.recency.push(k);
            }
            Op::GetMut { key: k } => {
                let got = t.get_mut(&key(k), now).map(|e| {
                    (
                        *e.value(),
                        e.expires_at().unix_secs(),
                        e.user().map(ToString::to_string),
                    )
                });
                let expected = self
                    .live(k)
                    .map(|e| (e.value, e.expires_at, e.user.clone()));
                assert_eq!(got, expected);
                if expected.is_some() {
                    self.bump(k);
                }
            }
            Op::Get { key: k } => {
                assert_eq!(t.get(&key(k), now), self.live(k).map(|e| &e.value));
            }
            Op::Remove { key: k } => {
                assert_eq!(t.remove(&key(k)), self.drop_key(k).map(|e| e.value));
            }
            Op::Rekey { from, to } => {
                let result = t.rekey(&key(from), key(to), now);
                if self.live(from).is_none() {
                    assert_eq!(result, Err(RekeyError::NotFound));
                } else if self.live(to).is_some() {
                    assert_eq!(result, Err(RekeyError::Occupied));
                } else {
                    assert_eq!(result, Ok(()));
                    self.drop_key(to);
                    let entry = self.entries.remove(&from).unwrap();
                    self.entries.insert(to, entry);
                    for r in &mut self.recency {
                        if *r == from {
                            *r = to;
                        }
                    }
                }
            }
            Op::SetUser { key: k, user } => {
                let user = user.map(|u| USERS[u]);
                match t.get_mut(&key(k), now) {
                    Some(mut e) => e.set_user(user),
                    None => assert!(self.live(k).is_none()),
                }
                if self.live(k).is_some() {
                    self.entries.get_mut(&k).unwrap().user = user.map(ToString::to_string);
                    self.bump(k);
                }
            }
            Op::SetExpiry { key: k, ttl } => {
                match t.get_mut(&key(k), now) {
                    Some(mut e) => e.set_expires_at(Timestamp::from_unix_secs(self.now + ttl)),
                    None => assert!(self.live(k).is_none()),
                }
                if self.live(k).is_some() {
                    self.entries.get_mut(&k).unwrap().expires_at = self.now + ttl;
                    self.bump(k);
                }
            }
            Op::RemoveUser { user, except } => {
                let name = USERS[user];
                let removed: BTreeSet<(u8, u32)> = t
                    .remove_user(name, except.map(key).as_ref())
                    .into_iter()
                    .map(|(k, v)| (key_id(&k), v))
                    .collect();
                let doomed: Vec<u8> = self
                    .entries
                    .iter()
                    .filter(|(k, e)| e.user.as_deref() == Some(name) && Some(**k) != except)
                    .map(|(k, _)| *k)
                    .collect();
                let expected: BTreeSet<(u8, u32)> = doomed
                    .into_iter()
                    .map(|k| (k, self.drop_key(k).unwrap().value))
                    .collect();
                assert_eq!(removed, expected);
            }
            Op::Advance { secs } => self.now += secs,
            Op::Reclaim { budget } => {
                let reclaimed = t.reclaim_expired(now, budget);
                assert!(reclaimed <= budget);
                assert_eq!(self.sync(t), reclaimed);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn table_matches_model(max in 1..6usize, ops in proptest::collection::vec(op(), 1..120)) {
        let mut t = Table::new(NonZeroUsize::new(max).unwrap());
        let mut model = Model { entries: BTreeMap::new(), recency: Vec::new(), max, now: 100 };
        let mut next_value = 0;
        for op in ops {
            model.apply(&mut t, op, &mut next_value);
            model.sync(&t);
            model.check(&t);
        }
    }
}
