//! The entry slab: a `Vec` of slots with stable `u32` indices, a free list, and an
//! intrusive doubly-linked list in least-recently-used order.
//!
//! Indices are `u32` rather than `usize` to keep the links at 8 bytes per entry; the table
//! caps its size below [`NIL`] so every index fits.

use alloc::vec::Vec;

use crate::{StoreKey, Timestamp};

/// "No slot": the end of a list.
pub(super) const NIL: u32 = u32::MAX;

/// The most slots a slab can hold: every index must differ from [`NIL`].
pub(super) const MAX_SLOTS: usize = (u32::MAX - 1) as usize;

/// One slot. `value` is `None` while the slot is on the free list; `next` then links the
/// free list instead of the LRU list.
///
/// 48 bytes plus `Option<V>`: 96 with an [`InlineBytes`](super::InlineBytes) payload,
/// whose `Option` needs no tag word. Aligning slots to cache lines (`align(64)`) was
/// measured and gained nothing over the noise, while it would round every other payload
/// type's slot up to a multiple of 64 bytes.
pub(super) struct Slot<V> {
    pub(super) key: StoreKey,
    pub(super) expires_at: Timestamp,
    /// Towards the most recently used end.
    prev: u32,
    /// Towards the least recently used end, or the next free slot.
    next: u32,
    pub(super) value: Option<V>,
}

impl<V> Slot<V> {
    /// Holds a value whose deadline has passed.
    pub(super) fn is_expired(&self, now: Timestamp) -> bool {
        self.value.is_some() && now >= self.expires_at
    }
}

/// Slots plus the two lists threaded through them.
pub(super) struct Slab<V> {
    slots: Vec<Slot<V>>,
    /// Most recently used.
    head: u32,
    /// Least recently used: the next to evict.
    tail: u32,
    free: u32,
    len: usize,
    /// Never grow the `Vec` beyond this many slots.
    limit: usize,
}

impl<V> Slab<V> {
    pub(super) fn new(limit: usize, capacity: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(capacity.min(limit)),
            head: NIL,
            tail: NIL,
            free: NIL,
            len: 0,
            limit,
        }
    }

    /// Occupied slots.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Slots ever created, occupied or free: the range the expiry sweep walks.
    pub(super) fn slots_len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    pub(super) fn slot(&self, i: u32) -> Option<&Slot<V>> {
        self.slots.get(i as usize)
    }

    pub(super) fn slot_mut(&mut self, i: u32) -> Option<&mut Slot<V>> {
        self.slots.get_mut(i as usize)
    }

    /// The least recently used occupied slot.
    pub(super) fn lru(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Stores an entry as the most recently used one and returns its index. Reuses a free
    /// slot if there is one; otherwise grows the `Vec` (doubling, but never past `limit`).
    /// The caller makes room first: with `limit` slots in use this returns `None`.
    pub(super) fn alloc(&mut self, key: StoreKey, value: V, expires_at: Timestamp) -> Option<u32> {
        let i = if self.free != NIL {
            let i = self.free;
            let slot = self.slots.get_mut(i as usize)?;
            self.free = slot.next;
            slot.key = key;
            slot.expires_at = expires_at;
            slot.value = Some(value);
            i
        } else {
            let len = self.slots.len();
            if len >= self.limit {
                return None;
            }
            if len == self.slots.capacity() {
                // Doubling keeps pushes amortised O(1); clamping to the limit means a full
                // table never carries capacity it is not allowed to use.
                let target = (len.max(4) * 2).min(self.limit);
                self.slots.reserve_exact(target - len);
            }
            self.slots.push(Slot {
                key,
                expires_at,
                prev: NIL,
                next: NIL,
                value: Some(value),
            });
            len as u32
        };
        self.len += 1;
        self.push_front(i);
        Some(i)
    }

    /// Empties slot `i` onto the free list and returns what it held.
    pub(super) fn release(&mut self, i: u32) -> Option<(StoreKey, V)> {
        let value = self.slots.get_mut(i as usize)?.value.take()?;
        self.unlink(i);
        let slot = self.slots.get_mut(i as usize)?;
        slot.next = self.free;
        slot.prev = NIL;
        self.free = i;
        self.len -= 1;
        Some((slot.key, value))
    }

    /// Marks slot `i` as the most recently used.
    pub(super) fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    /// Occupied indices from the most to the least recently used (for tests).
    #[cfg(test)]
    pub(super) fn lru_order(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = self.head;
        while let Some(slot) = self.slot(i) {
            out.push(i);
            i = slot.next;
        }
        out
    }

    fn unlink(&mut self, i: u32) {
        let Some(slot) = self.slots.get(i as usize) else {
            return;
        };
        let (prev, next) = (slot.prev, slot.next);
        match self.slots.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.slots.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let old_head = self.head;
        if let Some(slot) = self.slots.get_mut(i as usize) {
            slot.prev = NIL;
            slot.next = old_head;
        }
        match self.slots.get_mut(old_head as usize) {
            Some(h) => h.prev = i,
            None => self.tail = i,
        }
        self.head = i;
    }
}
