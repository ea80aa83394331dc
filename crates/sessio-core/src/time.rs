//! Time as the caller passes it in.
//!
//! The core never reads a clock: every call that depends on time takes a [`Timestamp`],
//! so that tests (and simulations) move time by passing a later value instead of sleeping.

use core::time::Duration;

/// A point in time: whole seconds since the Unix epoch, as read by the caller's clock.
///
/// Seconds are fine-grained enough for session lifetimes (cookies speak in seconds too)
/// and keep every stored timestamp to eight bytes.
///
/// ```
/// use core::time::Duration;
/// use sessio_core::Timestamp;
///
/// let login = Timestamp::from_unix_secs(1_700_000_000);
/// let later = login.saturating_add(Duration::from_secs(90));
/// assert_eq!(later.saturating_duration_since(login), Duration::from_secs(90));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);
    /// The latest representable instant; used as "never" by saturating arithmetic.
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// A timestamp `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_secs(self) -> u64 {
        self.0
    }

    /// `self + duration`, rounded down to whole seconds, saturating at [`Timestamp::MAX`].
    pub const fn saturating_add(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration.as_secs()))
    }

    /// How long after `earlier` this instant is; zero if it is not after it.
    pub const fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_secs(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(
            Timestamp::MAX.saturating_add(Duration::from_secs(1)),
            Timestamp::MAX
        );
        assert_eq!(
            Timestamp::UNIX_EPOCH.saturating_duration_since(Timestamp::from_unix_secs(5)),
            Duration::ZERO
        );
    }
}
