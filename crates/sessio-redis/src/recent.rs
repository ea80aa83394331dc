//! Which sessions this process knows need no touch yet, so that their loads can be a plain
//! `HGETALL` instead of a script.
//!
//! A load that may have to slide the idle deadline runs `load.lua`, which reads and
//! touches in one round trip. Redis spends several times more on a script call than on a
//! plain read (about 10 µs against 2 µs of Redis CPU on the bench machine, most of it in
//! starting the script), and a touch is due at most once per touch interval. So after
//! each script load, and after each write that says when the session was last seen (a
//! log-in, new or renewing a session), this process remembers "last seen at `ls`, so no
//! touch before `ls + interval`"; until then a load of that session is a plain
//! `HGETALL`, still one round trip. `ls` only grows (every write and touch sets it to the
//! writer's now), so the bound stays true whichever server of a fleet writes next;
//! another server's touch only makes this one run a script it could have skipped. Bounded
//! by [`RedisConfig::recent_sessions`](crate::RedisConfig::recent_sessions): the core's
//! table, least recently used out first, sharded like the memory store because every
//! load of every worker thread asks it.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use sessio::sharded::ShardedTable;
use sessio_core::{StoreKey, Timestamp};

/// Sessions whose next touch is not due yet, as far as this process knows.
#[derive(Clone)]
pub(crate) struct RecentSessions(Option<Arc<ShardedTable<Timestamp>>>);

impl RecentSessions {
    /// Remembers up to `capacity` sessions; none at 0.
    pub(crate) fn new(capacity: usize) -> Self {
        RecentSessions(
            NonZeroUsize::new(capacity).map(|capacity| Arc::new(ShardedTable::new(capacity))),
        )
    }

    /// Whether a load of `key` at `now` with this touch `interval` certainly needs no
    /// touch: the session was last seen less than `interval` ago.
    pub(crate) fn touch_not_due(&self, key: &StoreKey, now: Timestamp, interval: Duration) -> bool {
        self.0.as_ref().is_some_and(|table| {
            table
                .shard(key)
                .get(key, now)
                .is_some_and(|last_seen| now.saturating_duration_since(*last_seen) < interval)
        })
    }

    /// After a script load: the session was last seen at `last_seen`. Remembered until
    /// `last_seen + interval`, past which a touch is due anyway.
    pub(crate) fn seen(
        &self,
        key: &StoreKey,
        last_seen: Timestamp,
        interval: Duration,
        now: Timestamp,
    ) {
        self.written(key, last_seen, last_seen.saturating_add(interval), now);
    }

    /// After a write stored the session with `last_seen` (a log-in, a first cart item, a
    /// renewed id): its next loads need no script either. The touch interval is the
    /// loads' to ask, so the entry is kept until the session's `deadline` (or the table
    /// evicts it); nothing is kept when that has passed.
    pub(crate) fn written(
        &self,
        key: &StoreKey,
        last_seen: Timestamp,
        deadline: Timestamp,
        now: Timestamp,
    ) {
        let Some(table) = &self.0 else {
            return;
        };
        if deadline <= now {
            return;
        }
        let mut table = table.shard(key);
        match table.get_mut(key, now) {
            Some(mut entry) => {
                *entry.value_mut() = last_seen;
                entry.set_expires_at(deadline);
            }
            None => {
                // A full table evicts its least recently used entry: forgetting only costs
                // a script call.
                let _ = table.insert(*key, last_seen, deadline, None, now);
            }
        }
    }

    /// The session is gone (or unreadable): forget it.
    pub(crate) fn forget(&self, key: &StoreKey) {
        if let Some(table) = &self.0 {
            table.shard(key).remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_is_not_due_only_within_the_interval_after_the_last_seen_time() {
        let recent = RecentSessions::new(2);
        let key = StoreKey::from_bytes([1; 32]);
        let t = |s: u64| Timestamp::from_unix_secs(1_000 + s);
        let minute = Duration::from_secs(60);
        assert!(
            !recent.touch_not_due(&key, t(0), minute),
            "unknown: may be due"
        );
        recent.seen(&key, t(0), minute, t(0));
        assert!(recent.touch_not_due(&key, t(59), minute));
        assert!(
            !recent.touch_not_due(&key, t(60), minute),
            "due at the interval"
        );
        // A shorter interval asked later is honoured.
        assert!(!recent.touch_not_due(&key, t(30), Duration::from_secs(30)));
        // Seen later: the bound moves on.
        recent.seen(&key, t(50), minute, t(50));
        assert!(recent.touch_not_due(&key, t(109), minute));
        // Already due when seen: nothing to remember.
        let other = StoreKey::from_bytes([2; 32]);
        recent.seen(&other, t(0), minute, t(60));
        assert!(!recent.touch_not_due(&other, t(60), minute));
        recent.forget(&key);
        assert!(!recent.touch_not_due(&key, t(51), minute));
        // Bounded: the least recently used goes.
        for n in 3..10 {
            recent.seen(&StoreKey::from_bytes([n; 32]), t(0), minute, t(0));
        }
        assert!(!recent.touch_not_due(&StoreKey::from_bytes([3; 32]), t(1), minute));
        assert!(recent.touch_not_due(&StoreKey::from_bytes([9; 32]), t(1), minute));
        // Written: known until its deadline, whatever interval the loads ask.
        let written = StoreKey::from_bytes([10; 32]);
        recent.written(&written, t(100), t(1_900), t(100));
        assert!(recent.touch_not_due(&written, t(159), minute));
        assert!(!recent.touch_not_due(&written, t(160), minute));
        assert!(recent.touch_not_due(&written, t(1_000), Duration::from_secs(901)));
        // Written again under a key it knew: what Redis now holds replaces what it knew.
        recent.written(&written, t(0), t(1_900), t(100));
        assert!(!recent.touch_not_due(&written, t(100), minute));
        recent.written(&other, t(100), t(100), t(100));
        assert!(
            !recent.touch_not_due(&other, t(100), minute),
            "already gone"
        );
        // Off at zero.
        let off = RecentSessions::new(0);
        off.seen(&key, t(0), minute, t(0));
        assert!(!off.touch_not_due(&key, t(1), minute));
    }
}
