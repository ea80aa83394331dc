//! Borrowed views of entries: [`EntryMut`] for one live entry, [`UserEntries`] for a
//! user's live entries.

use crate::{StoreKey, Timestamp};

use super::lru::Slab;
use super::users::{UserEntryIter, UserIndex};

/// A live entry, borrowed mutably from its [`Table`](super::Table) by
/// [`Table::get_mut`](super::Table::get_mut) (which has already marked it most recently
/// used).
///
/// It exposes the payload and the two things the table keys off besides the key: the
/// deadline and the user binding. Changing the key goes through
/// [`Table::rekey`](super::Table::rekey).
///
/// ```
/// # use core::num::NonZeroUsize;
/// # use sessio_core::{table::Table, StoreKey, Timestamp};
/// let mut table = Table::new(NonZeroUsize::new(10).unwrap());
/// let key = StoreKey::from_bytes([7; 32]);
/// let now = Timestamp::from_unix_secs(100);
/// table.insert(key, 0u32, Timestamp::from_unix_secs(160), None, now).unwrap();
///
/// let mut entry = table.get_mut(&key, now).unwrap();
/// *entry.value_mut() += 1;
/// entry.set_expires_at(Timestamp::from_unix_secs(400)); // sliding expiry
/// entry.set_user(Some("alice")); // logged in
/// assert_eq!(table.user_len("alice"), 1);
/// ```
pub struct EntryMut<'a, V> {
    pub(super) key: &'a StoreKey,
    pub(super) expires_at: &'a mut Timestamp,
    pub(super) value: &'a mut V,
    pub(super) users: &'a mut UserIndex,
    pub(super) index: u32,
}

impl<V> EntryMut<'_, V> {
    /// The key the entry is stored under.
    pub fn key(&self) -> &StoreKey {
        self.key
    }

    /// The payload.
    pub fn value(&self) -> &V {
        self.value
    }

    /// The payload, to change in place.
    pub fn value_mut(&mut self) -> &mut V {
        self.value
    }

    /// The instant from which the entry counts as gone.
    pub fn expires_at(&self) -> Timestamp {
        *self.expires_at
    }

    /// Moves the deadline, e.g. to slide an idle timeout forward on each request. A
    /// deadline at or before the current time makes the entry invisible from then on.
    pub fn set_expires_at(&mut self, at: Timestamp) {
        *self.expires_at = at;
    }

    /// The user the entry is bound to, if any.
    pub fn user(&self) -> Option<&str> {
        self.users.user_of(self.index)
    }

    /// Binds the entry to `user` (or to no one), moving it between the users' lists; the
    /// usual calls are on login (`Some`) and logout (`None`).
    pub fn set_user(&mut self, user: Option<&str>) {
        if self.users.user_of(self.index) == user {
            return;
        }
        self.users.unbind(self.index);
        if let Some(name) = user {
            self.users.bind(self.index, name);
        }
    }
}

/// The live entries of one user: `(key, value, expires_at)`, most recently bound first.
/// Returned by [`Table::user_entries`](super::Table::user_entries).
pub struct UserEntries<'a, V> {
    pub(super) slab: &'a Slab<V>,
    pub(super) entries: UserEntryIter<'a>,
    pub(super) now: Timestamp,
}

impl<'a, V> Iterator for UserEntries<'a, V> {
    type Item = (&'a StoreKey, &'a V, Timestamp);

    fn next(&mut self) -> Option<Self::Item> {
        for i in self.entries.by_ref() {
            let Some(slot) = self.slab.slot(i) else {
                continue;
            };
            match &slot.value {
                Some(value) if self.now < slot.expires_at => {
                    return Some((&slot.key, value, slot.expires_at));
                }
                _ => {}
            }
        }
        None
    }
}
