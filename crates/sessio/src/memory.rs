//! `MemoryStore`: the embedded default store, bounded and sharded.
//!
//! Sessions live in the core's bounded [`Table`] (expiry without scans, LRU eviction past
//! the configured maximum, a per-user index), one table per shard behind its own mutex
//! ([`ShardedTable`]), so that requests on different sessions rarely wait for each other.
//! A session is kept as its compact binary encoding (`SessionRecord::encode`) in an
//! [`InlineBytes`], which costs a decode per load but keeps a small session (a record of
//! up to 46 bytes, inside the table's own slot) near 115 bytes.

use std::num::NonZeroUsize;

use sessio_core::machine::Changes;
use sessio_core::record::{SessionRecord, StoredValue};
use sessio_core::table::{EntryMut, InlineBytes, Table};
use sessio_core::{StoreKey, StoreWrite, Timestamp};

use crate::sharded::ShardedTable;
use crate::store::{
    append_to_list, BoxFuture, CasOutcome, Loaded, PushOutcome, SessionStore, StoreError,
    TouchRule, UserSession, WriteOutcome,
};

type Shard = Table<InlineBytes>;

/// The in-memory store: bounded by a maximum number of live sessions, expired sessions
/// reclaimed as it goes, least recently used ones evicted past the bound.
///
/// ```
/// use std::num::NonZeroUsize;
/// use sessio::MemoryStore;
///
/// let store = MemoryStore::new(NonZeroUsize::new(10_000).expect("non-zero"));
/// assert_eq!(store.len(), 0);
/// ```
pub struct MemoryStore {
    sessions: ShardedTable<InlineBytes>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.sessions.shard_count())
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryStore {
    /// At most one million live sessions.
    fn default() -> Self {
        Self::new(NonZeroUsize::new(1_000_000).unwrap_or(NonZeroUsize::MIN))
    }
}

impl MemoryStore {
    /// A store holding at most `max_sessions` live sessions.
    pub fn new(max_sessions: NonZeroUsize) -> Self {
        MemoryStore {
            sessions: ShardedTable::new(max_sessions),
        }
    }

    /// Live (or expired but not yet reclaimed) sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Reclaims expired sessions, examining up to `budget` slots per shard. Requests
    /// reclaim as they go; call this from a periodic task to give memory back when idle.
    pub fn reclaim_expired(&self, now: Timestamp, budget: usize) -> usize {
        self.sessions.reclaim_expired(now, budget)
    }

    fn shard(&self, key: &StoreKey) -> std::sync::MutexGuard<'_, Shard> {
        self.sessions.shard(key)
    }

    fn load_now(&self, key: &StoreKey, touch: TouchRule) -> Option<Loaded> {
        self.with_live_record(key, touch, |_| false)
            .map(|(loaded, _)| loaded)
    }

    /// Loads the live record under `key` and lets `change` edit it (`true` when it did);
    /// the record is stored once if it changed or a touch was due. `None` when there is
    /// no live record (an expired or unreadable one is removed on the way).
    fn with_live_record(
        &self,
        key: &StoreKey,
        touch: TouchRule,
        change: impl FnOnce(&mut SessionRecord) -> bool,
    ) -> Option<(Loaded, bool)> {
        let mut shard = self.shard(key);
        let mut entry = shard.get_mut(key, touch.now)?;
        let record = decode(&entry).filter(|r| !r.meta.is_expired(touch.now));
        let Some(mut record) = record else {
            shard.remove(key);
            return None;
        };
        let touched = record.meta.touch_if_due(touch.now, touch.interval);
        let changed = change(&mut record);
        if touched || changed {
            store(&mut entry, &record);
        }
        Some((Loaded { record, touched }, changed))
    }

    fn write_now(
        &self,
        delete: Option<&StoreKey>,
        write: Option<&StoreWrite>,
        now: Timestamp,
    ) -> WriteOutcome {
        if let Some(key) = delete {
            self.shard(key).remove(key);
        }
        match write {
            None => WriteOutcome::Written,
            Some(StoreWrite::Create { key, record }) => {
                let mut shard = self.shard(key);
                let bytes = encode(record);
                let inserted = shard.insert(
                    *key,
                    bytes,
                    record.meta.expires_at(),
                    record.meta.user.as_deref(),
                    now,
                );
                match inserted {
                    Ok(inserted) => {
                        if let Some(evicted) = inserted.evicted {
                            tracing::debug!(session = %evicted.key.fingerprint(), reason = ?evicted.reason, "memory store evicted a session");
                        }
                        WriteOutcome::Written
                    }
                    Err(_) => WriteOutcome::KeyTaken,
                }
            }
            Some(StoreWrite::Update { key, changes }) => {
                let mut shard = self.shard(key);
                match shard.get_mut(key, now) {
                    Some(mut entry) => apply(&mut entry, changes),
                    None => WriteOutcome::Gone,
                }
            }
            Some(StoreWrite::Rotate { from, to, changes }) => self.rotate(from, to, changes, now),
            Some(StoreWrite::Touch { key, last_seen, .. }) => {
                let mut shard = self.shard(key);
                let Some(mut entry) = shard.get_mut(key, now) else {
                    return WriteOutcome::Gone;
                };
                let Some(mut record) = decode(&entry) else {
                    return WriteOutcome::Gone;
                };
                record.meta.last_seen = *last_seen;
                store(&mut entry, &record);
                WriteOutcome::Written
            }
        }
    }

    fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changes,
        now: Timestamp,
    ) -> WriteOutcome {
        let (mut from_shard, to_shard) = self.sessions.shards_of_both(from, to);
        let Some(mut to_shard) = to_shard else {
            // One shard: the table moves the entry under its new key in place.
            return match from_shard.rekey(from, *to, now) {
                Ok(()) => match from_shard.get_mut(to, now) {
                    Some(mut entry) => apply(&mut entry, changes),
                    None => WriteOutcome::Gone,
                },
                Err(sessio_core::table::RekeyError::Occupied) => WriteOutcome::KeyTaken,
                Err(_) => WriteOutcome::Gone,
            };
        };
        if to_shard.get(to, now).is_some() {
            return WriteOutcome::KeyTaken;
        }
        // `get` sees expiry at `now` (an expired session is gone); `remove` does not.
        if from_shard.get(from, now).is_none() {
            return WriteOutcome::Gone;
        }
        let Some(bytes) = from_shard.remove(from) else {
            return WriteOutcome::Gone;
        };
        let Ok(mut record) = SessionRecord::decode(&bytes) else {
            return WriteOutcome::Gone;
        };
        changes.apply_to(&mut record);
        let encoded = encode(&record);
        match to_shard.insert(
            *to,
            encoded,
            record.meta.expires_at(),
            record.meta.user.as_deref(),
            now,
        ) {
            Ok(_) => WriteOutcome::Written,
            Err(_) => WriteOutcome::KeyTaken,
        }
    }

    fn load_and_push_now(
        &self,
        key: &StoreKey,
        touch: TouchRule,
        name: &str,
        element: &[u8],
    ) -> PushOutcome {
        let pushed = self.with_live_record(key, touch, |record| {
            let current = record.values.get(name);
            let Some(list) = append_to_list(current.map(|v| v.bytes.as_slice()), element) else {
                return false;
            };
            let version = current.map_or(0, |v| v.version) + 1;
            let value = StoredValue {
                version,
                bytes: list,
            };
            record.values.insert(name.to_owned(), value);
            true
        });
        match pushed {
            None => PushOutcome::Absent,
            Some((loaded, true)) => PushOutcome::Pushed(loaded),
            Some((loaded, false)) => PushOutcome::NotAList(loaded),
        }
    }

    fn compare_and_set_now(
        &self,
        key: &StoreKey,
        name: &str,
        expected: Option<u64>,
        value: Option<&[u8]>,
        now: Timestamp,
    ) -> CasOutcome {
        let mut shard = self.shard(key);
        let Some(mut entry) = shard.get_mut(key, now) else {
            return CasOutcome::Gone;
        };
        let Some(mut record) = decode(&entry) else {
            return CasOutcome::Gone;
        };
        let current = record.values.get(name);
        if current.map(|v| v.version) != expected {
            return CasOutcome::Conflict(current.cloned());
        }
        let written = value.map(|bytes| StoredValue {
            version: expected.unwrap_or(0) + 1,
            bytes: bytes.to_vec(),
        });
        match &written {
            Some(v) => record.values.insert(name.to_owned(), v.clone()),
            None => record.values.remove(name),
        };
        store(&mut entry, &record);
        CasOutcome::Written(written)
    }

    fn user_sessions_now(&self, user: &str, now: Timestamp) -> Vec<UserSession> {
        let mut out = Vec::new();
        self.sessions.for_each_shard(|shard| {
            for (key, bytes, expires_at) in shard.user_entries(user, now) {
                if let Ok(record) = SessionRecord::decode(bytes) {
                    out.push(UserSession {
                        key: *key,
                        created_at: record.meta.created_at,
                        last_seen: record.meta.last_seen,
                        expires_at,
                    });
                }
            }
        });
        out
    }

    fn revoke_user_now(&self, user: &str, except: Option<&StoreKey>, now: Timestamp) -> usize {
        self.sessions
            .for_each_shard(|shard| {
                shard
                    .remove_user(user, except)
                    .into_iter()
                    .filter(|(_, bytes)| {
                        SessionRecord::decode(bytes).is_ok_and(|r| !r.meta.is_expired(now))
                    })
                    .count()
            })
            .into_iter()
            .sum()
    }
}

fn decode(entry: &EntryMut<'_, InlineBytes>) -> Option<SessionRecord> {
    match SessionRecord::decode(entry.value()) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::warn!(session = %entry.key().fingerprint(), %error, "unreadable session record dropped");
            None
        }
    }
}

/// A record as the table holds it (inline in its slot when short enough).
fn encode(record: &SessionRecord) -> InlineBytes {
    InlineBytes::from(record.encode())
}

fn store(entry: &mut EntryMut<'_, InlineBytes>, record: &SessionRecord) {
    *entry.value_mut() = encode(record);
    entry.set_expires_at(record.meta.expires_at());
    if entry.user() != record.meta.user.as_deref() {
        entry.set_user(record.meta.user.as_deref());
    }
}

fn apply(entry: &mut EntryMut<'_, InlineBytes>, changes: &Changes) -> WriteOutcome {
    let Some(mut record) = decode(entry) else {
        return WriteOutcome::Gone;
    };
    changes.apply_to(&mut record);
    store(entry, &record);
    WriteOutcome::Written
}

impl SessionStore for MemoryStore {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.load_now(key, touch))))
    }

    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(std::future::ready(Ok(self.write_now(delete, write, now))))
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a StoreKey,
        name: &'a str,
        expected: Option<u64>,
        value: Option<&'a [u8]>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CasOutcome, StoreError>> {
        Box::pin(std::future::ready(Ok(
            self.compare_and_set_now(key, name, expected, value, now)
        )))
    }

    fn load_and_push<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
        name: &'a str,
        element: &'a [u8],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>> {
        Box::pin(std::future::ready(Ok(
            self.load_and_push_now(key, touch, name, element)
        )))
    }

    fn load_at_once(
        &self,
        key: &StoreKey,
        touch: TouchRule,
    ) -> Option<Result<Option<Loaded>, StoreError>> {
        Some(Ok(self.load_now(key, touch)))
    }

    fn write_at_once(
        &self,
        delete: Option<&StoreKey>,
        write: Option<&StoreWrite>,
        now: Timestamp,
    ) -> Option<Result<WriteOutcome, StoreError>> {
        Some(Ok(self.write_now(delete, write, now)))
    }

    fn load_and_push_at_once(
        &self,
        key: &StoreKey,
        touch: TouchRule,
        name: &str,
        element: &[u8],
    ) -> Option<Result<PushOutcome, StoreError>> {
        Some(Ok(self.load_and_push_now(key, touch, name, element)))
    }

    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.user_sessions_now(user, now))))
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a StoreKey>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(std::future::ready(Ok(
            self.revoke_user_now(user, except, now)
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use sessio_core::expiry::Lifetime;
    use sessio_core::record::SessionMeta;

    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_000);

    /// A key whose shard-picking byte (the top byte of `table_hash`) is `shard_byte`.
    fn key(n: u8, shard_byte: u8) -> StoreKey {
        let mut bytes = [n; 32];
        bytes[7] = shard_byte;
        StoreKey::from_bytes(bytes)
    }

    fn create(store: &MemoryStore, key: &StoreKey) {
        let lifetime = Lifetime::new(Some(Duration::from_secs(600)), None).unwrap();
        let mut record = SessionRecord {
            meta: SessionMeta::new(NOW, lifetime),
            values: Default::default(),
        };
        record.values.insert(
            "cart".into(),
            StoredValue {
                version: 1,
                bytes: b"[1]".to_vec(),
            },
        );
        let write = StoreWrite::Create { key: *key, record };
        assert_eq!(
            store.write_now(None, Some(&write), NOW),
            WriteOutcome::Written
        );
    }

    fn rotate(store: &MemoryStore, from: &StoreKey, to: &StoreKey) -> WriteOutcome {
        let changes = Changes {
            meta: None,
            last_seen: NOW,
            cleared: false,
            values: vec![("user".into(), Some(b"\"ada\"".to_vec()))],
        };
        store.rotate(from, to, &changes, NOW)
    }

    #[test]
    fn rotation_moves_the_session_within_a_shard_and_across_shards() {
        let store = MemoryStore::new(NonZeroUsize::new(1 << 20).unwrap());
        assert!(store.sessions.shard_count() > 1);
        let touch = TouchRule {
            now: NOW,
            interval: Duration::from_secs(60),
        };
        // Same top byte: one shard. Different top bytes: two shards (the count is a
        // power of two, so 0x00 and 0x01 land apart).
        for (from, to) in [(key(1, 0), key(2, 0)), (key(3, 0), key(4, 1))] {
            create(&store, &from);
            assert_eq!(rotate(&store, &from, &to), WriteOutcome::Written);
            assert!(
                store.load_now(&from, touch).is_none(),
                "the old key is dead"
            );
            let moved = store.load_now(&to, touch).unwrap().record;
            assert_eq!(moved.values["cart"].bytes, b"[1]");
            assert_eq!(moved.values["user"].bytes, b"\"ada\"");
            // The old key is gone, so it cannot be rotated again; a taken key is refused.
            assert_eq!(rotate(&store, &from, &key(9, 1)), WriteOutcome::Gone);
            create(&store, &from);
            assert_eq!(rotate(&store, &from, &to), WriteOutcome::KeyTaken);
        }
    }

    /// The request path takes the at-once answers when a store gives them: they must be
    /// what the futures answer. Two stores get the same calls, one each way.
    #[tokio::test]
    async fn at_once_answers_are_the_futures_answers() {
        let (a, b) = (MemoryStore::default(), MemoryStore::default());
        let (k, gone) = (key(1, 0), key(2, 0));
        create(&a, &k);
        create(&b, &k);
        for now in [
            NOW,
            Timestamp::from_unix_secs(1_100),
            Timestamp::from_unix_secs(2_000),
        ] {
            let touch = TouchRule {
                now,
                interval: Duration::from_secs(60),
            };
            for key in [&k, &gone] {
                assert_eq!(
                    a.load_at_once(key, touch).unwrap().unwrap(),
                    b.load(key, touch).await.unwrap()
                );
                assert_eq!(
                    a.load_and_push_at_once(key, touch, "cart", b"2")
                        .unwrap()
                        .unwrap(),
                    b.load_and_push(key, touch, "cart", b"2").await.unwrap()
                );
            }
        }
        assert_eq!(
            a.write_at_once(Some(&k), None, NOW).unwrap().unwrap(),
            b.write(Some(&k), None, NOW).await.unwrap()
        );
        assert_eq!(
            a.load_now(
                &k,
                TouchRule {
                    now: NOW,
                    interval: Duration::ZERO
                }
            ),
            None
        );
    }
}
