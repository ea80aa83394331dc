//! The user index: which entries belong to which user, without scanning the table.
//!
//! Users live in a slab of their own (`name`, list head, count), found through a
//! `HashTable<u32>`. Each entry slot has a parallel [`UserLink`] that threads it into its
//! user's doubly-linked list. A user whose last entry goes away is dropped, so the index
//! never outgrows the entries bound to users.
//!
//! User names may be chosen by clients (sign-up forms), so they are hashed with keyed
//! BLAKE3: without the key nobody can pick names that all land in one bucket.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::mem::size_of;

use hashbrown::HashTable;

use super::lru::NIL;

/// An entry's place in its user's list; `user == NIL` when the entry has no user.
#[derive(Clone, Copy)]
struct UserLink {
    user: u32,
    prev: u32,
    next: u32,
}

const UNBOUND: UserLink = UserLink {
    user: NIL,
    prev: NIL,
    next: NIL,
};

/// One user. A free slot has an empty name and `head` links the free list.
struct UserSlot {
    name: Box<str>,
    hash: u64,
    head: u32,
    len: u32,
}

pub(super) struct UserIndex {
    /// Indexed by entry slot, same length as the entry slab.
    links: Vec<UserLink>,
    users: Vec<UserSlot>,
    by_name: HashTable<u32>,
    free: u32,
    hash_key: [u8; 32],
    name_bytes: usize,
}

impl UserIndex {
    pub(super) fn new(capacity: usize) -> Self {
        UserIndex {
            links: Vec::with_capacity(capacity),
            users: Vec::new(),
            by_name: HashTable::new(),
            free: NIL,
            hash_key: [0; 32],
            name_bytes: 0,
        }
    }

    /// Rehashes every user under a new key.
    pub(super) fn set_hash_key(&mut self, key: [u8; 32]) {
        self.hash_key = key;
        self.by_name.clear();
        for slot in self.users.iter_mut().filter(|s| s.len > 0) {
            slot.hash = name_hash(&key, &slot.name);
        }
        let users = &self.users;
        for (u, slot) in users.iter().enumerate().filter(|(_, s)| s.len > 0) {
            self.by_name
                .insert_unique(slot.hash, u as u32, |&v| hash_of(users, v));
        }
    }

    /// Keeps one link per entry slot; called when the entry slab adds slot `entry`.
    pub(super) fn track_slot(&mut self, entry: u32, slab_capacity: usize) {
        while self.links.len() <= entry as usize {
            if self.links.len() == self.links.capacity() {
                // Follow the slab's growth instead of doubling on our own schedule.
                self.links
                    .reserve_exact(slab_capacity.saturating_sub(self.links.len()).max(1));
            }
            self.links.push(UNBOUND);
        }
    }

    /// The user slot holding `name`.
    fn find(&self, name: &str) -> Option<u32> {
        let hash = name_hash(&self.hash_key, name);
        let users = &self.users;
        self.by_name
            .find(hash, |&u| {
                users.get(u as usize).is_some_and(|s| &*s.name == name)
            })
            .copied()
    }

    /// The entries bound to `name`, from the most recently bound.
    pub(super) fn entries(&self, name: &str) -> UserEntryIter<'_> {
        let head = self
            .find(name)
            .and_then(|u| self.users.get(u as usize))
            .map_or(NIL, |s| s.head);
        UserEntryIter {
            links: &self.links,
            next: head,
        }
    }

    /// Entries bound to `name`.
    pub(super) fn len_of(&self, name: &str) -> usize {
        self.find(name)
            .and_then(|u| self.users.get(u as usize))
            .map_or(0, |s| s.len as usize)
    }

    /// The user `entry` is bound to.
    pub(super) fn user_of(&self, entry: u32) -> Option<&str> {
        let user = self.links.get(entry as usize)?.user;
        self.users.get(user as usize).map(|s| &*s.name)
    }

    /// Binds `entry` (currently unbound) to `name`, creating the user if needed.
    pub(super) fn bind(&mut self, entry: u32, name: &str) {
        let user = match self.find(name) {
            Some(u) => u,
            None => self.add_user(name),
        };
        let Some(slot) = self.users.get_mut(user as usize) else {
            return;
        };
        let old_head = slot.head;
        slot.head = entry;
        slot.len += 1;
        if let Some(h) = self.links.get_mut(old_head as usize) {
            h.prev = entry;
        }
        if let Some(link) = self.links.get_mut(entry as usize) {
            *link = UserLink {
                user,
                prev: NIL,
                next: old_head,
            };
        }
    }

    /// Unbinds `entry` from its user, dropping the user if it was the last entry.
    pub(super) fn unbind(&mut self, entry: u32) {
        let Some(link) = self.links.get_mut(entry as usize) else {
            return;
        };
        let UserLink { user, prev, next } = core::mem::replace(link, UNBOUND);
        let Some(slot) = self.users.get_mut(user as usize) else {
            return;
        };
        match self.links.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => slot.head = next,
        }
        if let Some(n) = self.links.get_mut(next as usize) {
            n.prev = prev;
        }
        slot.len -= 1;
        if slot.len == 0 {
            self.remove_user(user);
        }
    }

    fn add_user(&mut self, name: &str) -> u32 {
        let hash = name_hash(&self.hash_key, name);
        let fresh = UserSlot {
            name: name.into(),
            hash,
            head: NIL,
            len: 0,
        };
        self.name_bytes += name.len();
        let user = match self.users.get_mut(self.free as usize) {
            Some(slot) => {
                let user = self.free;
                self.free = slot.head;
                *slot = fresh;
                user
            }
            None => {
                self.users.push(fresh);
                (self.users.len() - 1) as u32
            }
        };
        let users = &self.users;
        self.by_name
            .insert_unique(hash, user, |&u| hash_of(users, u));
        user
    }

    fn remove_user(&mut self, user: u32) {
        let Some(slot) = self.users.get_mut(user as usize) else {
            return;
        };
        if let Ok(found) = self.by_name.find_entry(slot.hash, |&u| u == user) {
            found.remove();
        }
        self.name_bytes -= slot.name.len();
        *slot = UserSlot {
            name: Box::default(),
            hash: 0,
            head: self.free,
            len: 0,
        };
        self.free = user;
    }

    /// Bytes allocated for the index: links, user slots, the name table and the names.
    pub(super) fn allocated_bytes(&self) -> usize {
        self.links.capacity() * size_of::<UserLink>()
            + self.users.capacity() * size_of::<UserSlot>()
            + self.by_name.allocation_size()
            + self.name_bytes
    }

    /// Users currently indexed (for tests).
    #[cfg(test)]
    pub(super) fn user_count(&self) -> usize {
        self.by_name.len()
    }
}

fn hash_of(users: &[UserSlot], u: u32) -> u64 {
    users.get(u as usize).map_or(0, |s| s.hash)
}

fn name_hash(key: &[u8; 32], name: &str) -> u64 {
    let digest = blake3::keyed_hash(key, name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// Walks one user's list of entry indices.
pub(super) struct UserEntryIter<'a> {
    links: &'a [UserLink],
    next: u32,
}

impl Iterator for UserEntryIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let link = self.links.get(self.next as usize)?;
        let current = self.next;
        self.next = link.next;
        Some(current)
    }
}
