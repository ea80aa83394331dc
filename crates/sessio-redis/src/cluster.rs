//! `write` in Redis Cluster, where one script may only touch keys of one hash slot.
//!
//! Every key name carries a shard tag as its hash tag (see `keys`), so keys with one tag
//! share a slot. Of all store calls, only an end-of-request decision can span two tags,
//! and only in two ways; those take more than one call:
//! - a delete and a write under different tags (a logout, then a write that starts a fresh
//!   session): the delete, then the write, one call each;
//! - a `Rotate` between tags (a login moves an anonymous session into its user's slot, or
//!   a session from one user's slot into another's): `RENAME` cannot cross slots, so
//!   [`RedisStore::move_session`] copies the session instead.
//!
//! Everything else is the single call of a single Redis.

use std::fmt;

use sessio::{StoreError, WriteOutcome};
use sessio_core::machine::Changes;
use sessio_core::{ShardTag, StoreKey, StoreWrite, Timestamp};

use crate::argv;
use crate::error::from_reply;
use crate::keys::suffix_tag;
use crate::reply::{self, Found};
use crate::scripts::SCRIPTS;
use crate::RedisStore;

/// How a decision is carried out in a cluster.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan<'a> {
    /// All its keys share a slot: one call, as on a single Redis.
    OneCall,
    /// The delete's slot differs from the write's: the delete, then the write.
    DeleteFirst,
    /// A rotation between two slots, after the delete (if any) on its own.
    Move {
        delete: Option<&'a StoreKey>,
        from: &'a StoreKey,
        to: &'a StoreKey,
        changes: &'a Changes,
    },
}

/// Sorts a decision by the shard tags of its keys. Tags decide, not slots: two tags may
/// share a slot, and then a split is merely unnecessary, never wrong.
pub(crate) fn plan<'a>(delete: Option<&'a StoreKey>, write: Option<&'a StoreWrite>) -> Plan<'a> {
    let tag = match write {
        None => return Plan::OneCall,
        Some(StoreWrite::Rotate { from, to, changes }) if from.shard_tag() != to.shard_tag() => {
            return Plan::Move {
                delete,
                from,
                to,
                changes,
            };
        }
        Some(
            StoreWrite::Create { key, .. }
            | StoreWrite::Update { key, .. }
            | StoreWrite::Touch { key, .. }
            | StoreWrite::Rotate { to: key, .. },
        ) => key.shard_tag(),
    };
    match delete {
        Some(gone) if gone.shard_tag() != tag => Plan::DeleteFirst,
        _ => Plan::OneCall,
    }
}

/// A write that would bind a session to a user under a key without that user's shard tag.
/// The user's index lives in the user's slot, so in a cluster the scripts could not keep
/// it; sessio's core never writes one (a session bound to a user always gets an id of
/// [`ShardTag::for_user`]), so this is a caller that bypassed it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Misplaced {
    key_tag: String,
    user_tag: String,
}

impl fmt::Display for Misplaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a session bound to a user must carry the user's shard tag {} (ShardTag::for_user) \
             in Redis Cluster, so that it shares a hash slot with the user's index; this one \
             has {}",
            self.user_tag, self.key_tag
        )
    }
}

impl Misplaced {
    fn into_error(self) -> StoreError {
        StoreError::Refused(format!("redis write: {self}"))
    }
}

/// Checks the user binding a write sets (the `meta` it carries) against its key.
pub(crate) fn misplaced(write: &StoreWrite) -> Option<Misplaced> {
    let (key, meta) = match write {
        StoreWrite::Create { key, record } => (key, Some(&record.meta)),
        StoreWrite::Update { key, changes }
        | StoreWrite::Rotate {
            to: key, changes, ..
        } => (key, changes.meta.as_ref()),
        StoreWrite::Touch { .. } => return None,
    };
    let user = meta?.user.as_deref()?;
    let (key_tag, user_tag) = (key.shard_tag(), ShardTag::for_user(user));
    (key_tag != user_tag).then(|| Misplaced {
        key_tag: key_tag.to_hex().to_string(),
        user_tag: user_tag.to_hex().to_string(),
    })
}

impl RedisStore {
    /// `write` on a cluster: checks the binding, then carries out the [`plan`].
    pub(crate) async fn write_in_cluster(
        &self,
        delete: Option<&StoreKey>,
        write: Option<&StoreWrite>,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        if let Some(wrong) = write.and_then(misplaced) {
            return Err(wrong.into_error());
        }
        match plan(delete, write) {
            Plan::OneCall => self.write_in_one_call(delete, write, now).await,
            Plan::DeleteFirst => {
                self.write_in_one_call(delete, None, now).await?;
                self.write_in_one_call(None, write, now).await
            }
            Plan::Move {
                delete,
                from,
                to,
                changes,
            } => {
                if delete.is_some() {
                    self.write_in_one_call(delete, None, now).await?;
                }
                self.move_session(from, to, changes, now).await
            }
        }
    }

    /// A rotation between two hash slots, in three calls where a single Redis makes one
    /// atomic `RENAME`:
    /// 1. read `from`, live (else `Gone`, nothing changed);
    /// 2. create `to` from what was read plus `changes`, create-only (`KeyTaken` if `to`
    ///    exists, nothing changed);
    /// 3. delete `from` and its entry in its user's index. If a concurrent request got
    ///    there first (destroyed, rotated or outlived `from`), this rotation lost, as it
    ///    would against `RENAME`: `to` is deleted again and the outcome is `Gone`.
    ///
    /// What this gives up: values that a concurrent request writes to `from` between steps
    /// 1 and 3 are not carried over to `to` (`RENAME` moves the hash as it is at that
    /// moment); they go with `from`.
    ///
    /// Why this order: `from` is untouched until step 3, so a failure before it (a
    /// timeout, a node down) leaves the old id naming the old session, anonymous or bound
    /// to its old user, and never the login the rotation was for. `to` is then a copy no
    /// client has the id of: listed among the new user's sessions until it expires, and
    /// deleted by revoking them.
    pub(crate) async fn move_session(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changes,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let keys = self.keys();
        let read = self
            .eval("write", &SCRIPTS.load, argv::peek(keys, from, now))
            .await?;
        let fields = match reply::load(read).map_err(|e| from_reply("write", e))? {
            Found::Absent => return Ok(WriteOutcome::Gone),
            Found::Hash { fields, .. } => fields,
        };
        let (fields, user) = reply::raw_hash(fields);
        // Without new meta, `to` keeps `from`'s user, whose index is in `from`'s slot.
        if let (None, Some(user)) = (&changes.meta, &user) {
            let key_tag = to.shard_tag().to_hex();
            let user_tag = suffix_tag(user).unwrap_or_default();
            if user_tag != key_tag.as_str() {
                return Err(Misplaced {
                    key_tag: key_tag.to_string(),
                    user_tag: user_tag.to_owned(),
                }
                .into_error());
            }
        }
        let copy = argv::move_in(keys, to, &fields, changes, now);
        let created = self.eval("write", &SCRIPTS.write, copy).await?;
        match reply::write(created).map_err(|e| from_reply("write", e))? {
            WriteOutcome::Written => {}
            refused => return Ok(refused),
        }
        let taken = self.eval("write", &SCRIPTS.write, argv::take_out(keys, from, now));
        match reply::write(taken.await?).map_err(|e| from_reply("write", e))? {
            WriteOutcome::Gone => {
                self.write_in_one_call(Some(to), None, now).await?;
                Ok(WriteOutcome::Gone)
            }
            outcome => Ok(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessio_core::expiry::Lifetime;
    use sessio_core::record::{SessionMeta, SessionRecord};

    fn key(tag: [u8; 2]) -> StoreKey {
        let mut bytes = [0x5a; 32];
        bytes[30..].copy_from_slice(&tag);
        StoreKey::from_bytes(bytes)
    }

    fn user_key(user: &str) -> StoreKey {
        key(*ShardTag::for_user(user).as_bytes())
    }

    fn meta(user: Option<&str>) -> SessionMeta {
        let lifetime = Lifetime::new(Some(std::time::Duration::from_secs(60)), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut meta = SessionMeta::new(Timestamp::from_unix_secs(1000), lifetime);
        meta.user = user.map(str::to_owned);
        meta
    }

    fn changes(meta: Option<SessionMeta>) -> Changes {
        Changes {
            meta,
            last_seen: Timestamp::from_unix_secs(1000),
            cleared: false,
            values: vec![],
        }
    }

    #[test]
    fn only_a_second_tag_splits_a_decision() {
        let (a, b) = (key([1, 1]), key([2, 2]));
        let touch = StoreWrite::Touch {
            key: a,
            last_seen: Timestamp::from_unix_secs(1),
            expires_at: Timestamp::from_unix_secs(2),
        };
        assert_eq!(plan(None, Some(&touch)), Plan::OneCall);
        assert_eq!(plan(Some(&a), None), Plan::OneCall);
        assert_eq!(plan(Some(&a), Some(&touch)), Plan::OneCall);
        assert_eq!(plan(Some(&b), Some(&touch)), Plan::DeleteFirst);

        let c = changes(None);
        let within = StoreWrite::Rotate {
            from: a,
            to: key([1, 1]),
            changes: c.clone(),
        };
        assert_eq!(plan(None, Some(&within)), Plan::OneCall);
        assert_eq!(plan(Some(&b), Some(&within)), Plan::DeleteFirst);
        let across = StoreWrite::Rotate {
            from: a,
            to: b,
            changes: c.clone(),
        };
        assert_eq!(
            plan(Some(&a), Some(&across)),
            Plan::Move {
                delete: Some(&a),
                from: &a,
                to: &b,
                changes: &c
            }
        );
    }

    #[test]
    fn a_binding_must_carry_the_users_tag() {
        let ada = user_key("ada");
        let record = |user| SessionRecord {
            meta: meta(user),
            values: Default::default(),
        };
        let create = |key, user| StoreWrite::Create {
            key,
            record: record(user),
        };
        assert_eq!(misplaced(&create(ada, Some("ada"))), None);
        assert_eq!(misplaced(&create(key([0, 0]), None)), None);
        let wrong = misplaced(&create(key([0, 0]), Some("ada")));
        let expected = ShardTag::for_user("ada").to_hex().to_string();
        assert_eq!(
            wrong
                .as_ref()
                .map(|m| (m.key_tag.as_str(), m.user_tag.as_str())),
            Some(("0000", expected.as_str()))
        );
        assert!(wrong
            .map(|m| m.into_error().to_string())
            .is_some_and(|e| e.contains("ShardTag::for_user")));

        // A login: the rotation's target carries the user's tag; unbinding keeps any key.
        let login = StoreWrite::Rotate {
            from: key([0, 0]),
            to: ada,
            changes: changes(Some(meta(Some("ada")))),
        };
        assert_eq!(misplaced(&login), None);
        let unbind = StoreWrite::Update {
            key: ada,
            changes: changes(Some(meta(None))),
        };
        assert_eq!(misplaced(&unbind), None);
        assert_ne!(ShardTag::for_user("bob"), ada.shard_tag());
        let rebind = StoreWrite::Update {
            key: ada,
            changes: changes(Some(meta(Some("bob")))),
        };
        assert!(misplaced(&rebind).is_some());
    }
}
