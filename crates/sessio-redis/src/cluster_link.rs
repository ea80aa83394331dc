//! The connection to a Redis Cluster, made afresh when a slot's calls keep timing out.
//!
//! The `redis` crate's `ClusterConnection` holds a multiplexed connection per node and
//! makes one again when the node closes it or a call on it fails with an I/O error. A
//! node's connection that goes silent with its socket open (a partition that black-holes
//! the path, a node that moved while its old address swallows packets) fails no call that
//! way: every call to that node times out, and the next is sent on the same connection,
//! until the operating system gives up on the socket (TCP retransmits for about 15 minutes
//! by default), while the calls to the other nodes succeed.
//!
//! The link cannot see which node serves a slot, so it watches slots, the unit a node
//! serves: when a call times out, its key's slot is marked silent since then, and any
//! answer for that slot (a reply or a Redis error) clears the mark. A call to a slot
//! silent for at least the limit, made or timing out, has the link make the whole
//! connection afresh from the configured nodes (learning the layout again) and forget
//! every mark. So a user whose session sits behind a silent node is served again from
//! the first request made a limit after their first timed-out one. Calls under way finish
//! on the connection they started on; their timeouts do not count against the new one.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use tokio::runtime::Handle;
use tokio::time::Instant;

/// Which connection a call was made on: each new one gets the next number.
pub(crate) type Generation = u64;

/// The number of hash slots of a Redis Cluster.
const SLOTS: u16 = 16_384;

/// The hash slot of a key, as Redis Cluster computes it: CRC16 (XMODEM, the `crc16`
/// crate the `redis` crate routes with) of the key's hash tag (the text between its first
/// `{` and the next `}`, when not empty), else of the whole key, modulo 16 384.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(hashed) % SLOTS
}

/// The cluster connection in use, and how to make the next one.
pub(crate) struct ClusterLink {
    client: ClusterClient,
    config: ClusterConfig,
    /// Where every connection's tasks run: the runtime the store was made on, not the
    /// one of the call that happens to make a connection afresh (an actix-web worker's,
    /// say, which may stop before the application does).
    runtime: Handle,
    /// The connection every call loads, without a lock.
    current: ArcSwap<Current>,
    /// The marked slots; locked after a timeout, and by calls while a slot is marked.
    silent: Mutex<SilentSlots>,
    /// Whether any slot is marked: while none is (nearly always), a call takes no lock.
    any_silent: AtomicBool,
}

struct Current {
    conn: ClusterConnection,
    generation: Generation,
}

impl fmt::Debug for ClusterLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the client: its connection info may hold a password.
        f.debug_struct("ClusterLink")
            .field("generation", &self.current.load().generation)
            .field("silent_slots", &self.silent().since.len())
            .finish_non_exhaustive()
    }
}

impl ClusterLink {
    /// A link whose first connection is made in the background on `runtime`, as every
    /// later one ([`connect`]). A slot may stay silent for `limit`.
    pub(crate) fn new(
        client: ClusterClient,
        config: ClusterConfig,
        limit: Duration,
        runtime: Handle,
    ) -> Self {
        let conn = connect(&client, &config, &runtime);
        ClusterLink {
            client,
            config,
            runtime,
            current: ArcSwap::from_pointee(Current {
                conn,
                generation: 0,
            }),
            silent: Mutex::new(SilentSlots {
                limit,
                since: HashMap::new(),
            }),
            any_silent: AtomicBool::new(false),
        }
    }

    /// The connection to make a call to `slot` on (`None`: a call to every node), and
    /// its generation for [`Self::timed_out`]. Made afresh first when `slot` has been
    /// silent for the limit.
    pub(crate) fn current(
        &self,
        slot: Option<u16>,
        now: Instant,
    ) -> (ClusterConnection, Generation) {
        if let Some(slot) = slot.filter(|_| self.any_silent.load(Ordering::Relaxed)) {
            let mut silent = self.silent();
            if silent.is_past_limit(slot, now) {
                self.make_afresh(&mut silent);
            }
        }
        let current = self.current.load();
        (current.conn.clone(), current.generation)
    }

    /// A call to `slot` got an answer: the slot's node is not silent.
    pub(crate) fn answered(&self, slot: Option<u16>) {
        if let Some(slot) = slot.filter(|_| self.any_silent.load(Ordering::Relaxed)) {
            let mut silent = self.silent();
            silent.since.remove(&slot);
            self.any_silent
                .store(!silent.since.is_empty(), Ordering::Relaxed);
        }
    }

    /// A call to `slot` made on connection `generation` got no answer within its time
    /// limit, at `at`. Returns whether the connection was made afresh.
    pub(crate) fn timed_out(&self, slot: Option<u16>, generation: Generation, at: Instant) -> bool {
        let Some(slot) = slot else { return false };
        let mut silent = self.silent();
        // Under the lock, so that no new connection comes between this check and the mark.
        if generation != self.current.load().generation {
            return false;
        }
        if silent.is_past_limit(slot, at) {
            self.make_afresh(&mut silent);
            return true;
        }
        silent.since.entry(slot).or_insert(at);
        self.any_silent.store(true, Ordering::Relaxed);
        false
    }

    /// Swaps in a new connection and forgets every mark; called with the marks locked,
    /// so that one spell makes one connection.
    fn make_afresh(&self, silent: &mut SilentSlots) {
        tracing::warn!(
            limit = ?silent.limit,
            "a Redis Cluster slot's calls kept timing out with none answered; connecting to the cluster afresh"
        );
        let conn = connect(&self.client, &self.config, &self.runtime);
        let generation = self.current.load().generation + 1;
        self.current.store(Arc::new(Current { conn, generation }));
        silent.since.clear();
        self.any_silent.store(false, Ordering::Relaxed);
    }

    fn silent(&self) -> MutexGuard<'_, SilentSlots> {
        // Every change leaves the marks whole, so a panic elsewhere cannot break them.
        self.silent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A cluster connection made in the background (see
/// `ClusterClient::get_pending_async_connection_with_config`), its tasks on `runtime`.
fn connect(client: &ClusterClient, config: &ClusterConfig, runtime: &Handle) -> ClusterConnection {
    let _on = runtime.enter();
    client.get_pending_async_connection_with_config(config.clone())
}

/// The slots whose calls time out, each with when the first unanswered one timed out.
struct SilentSlots {
    limit: Duration,
    since: HashMap<u16, Instant>,
}

impl SilentSlots {
    fn is_past_limit(&self, slot: u16, now: Instant) -> bool {
        self.since
            .get(&slot)
            .is_some_and(|since| now.saturating_duration_since(*since) >= self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(300);

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn slots_are_redis_clusters() {
        // Each as `CLUSTER KEYSLOT` gives it (Redis 7.0).
        assert_eq!(
            crc16::State::<crc16::XMODEM>::calculate(b"123456789"),
            0x31C3
        );
        for (key, slot) in [
            (&b"foo"[..], 12_182),
            (b"{user1000}.following", 3_443),
            (b"user1000", 3_443),
            (b"foo{}{bar}", 8_363),
            (b"foo{{bar}}zap", 4_015),
            (b"foo{bar}{zap}", 5_061),
            (b"sessio:s:{a412}cc03", 5_814),
        ] {
            assert_eq!(key_slot(key), slot, "{}", String::from_utf8_lossy(key));
        }
    }

    /// A link whose connections never connect (nothing listens there), and need not.
    fn link() -> ClusterLink {
        let client = ClusterClient::new(vec!["redis://127.0.0.1:1/"])
            .unwrap_or_else(|e| panic!("client: {e}"));
        ClusterLink::new(client, ClusterConfig::new(), LIMIT, Handle::current())
    }

    #[tokio::test]
    async fn a_slot_that_times_out_again_a_limit_later_has_the_connection_made_afresh() {
        let link = link();
        let start = Instant::now();
        let (_, first) = link.current(Some(7), start);
        assert!(!link.timed_out(Some(7), first, at(start, 0)));
        assert!(!link.timed_out(Some(7), first, at(start, 299)));
        // Another slot's answers say nothing of slot 7's node.
        link.answered(Some(8));
        assert!(
            link.timed_out(Some(7), first, at(start, 300)),
            "made afresh"
        );
        let (_, second) = link.current(Some(7), at(start, 300));
        assert_ne!(first, second);
        // Calls that were under way on the old connection time out too: not counted.
        for late in [400, 700, 1_000] {
            assert!(!link.timed_out(Some(7), first, at(start, late)));
        }
        assert_eq!(link.current(Some(7), at(start, 1_000)).1, second);
        // Timeouts of a call to every node (no slot) count for none.
        assert!(!link.timed_out(None, second, at(start, 1_000)));
        assert!(!link.timed_out(None, second, at(start, 2_000)));
        assert_eq!(link.current(None, at(start, 2_000)).1, second);
    }

    #[tokio::test]
    async fn an_answer_clears_the_slot_and_a_call_to_a_silent_slot_is_made_on_a_fresh_one() {
        let link = link();
        let start = Instant::now();
        let (_, first) = link.current(Some(1), start);
        assert!(!link.timed_out(Some(1), first, at(start, 0)));
        link.answered(Some(1));
        assert!(
            !link.timed_out(Some(1), first, at(start, 500)),
            "a new mark"
        );
        assert!(!link.timed_out(Some(2), first, at(start, 600)));
        // The next call to slot 1, a limit after its mark: made on a fresh connection.
        let (_, second) = link.current(Some(1), at(start, 800));
        assert_ne!(first, second);
        // Every mark went with the old connection.
        assert_eq!(link.current(Some(2), at(start, 5_000)).1, second);
        assert!(!link.any_silent.load(Ordering::Relaxed));
    }
}
