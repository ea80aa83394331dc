//! How long sessions live: idle and absolute timeouts, the touch interval and automatic
//! id renewal.
//!
//! Both timeouts can be on at once. The *idle* deadline slides with every request that
//! uses the session, reads included; the *absolute* deadline is fixed when the session is
//! started (or renewed by a login) and no activity moves it. A session is gone at whichever
//! comes first.
//!
//! Sliding the idle deadline is a "touch". A store that needs a write to record it is asked
//! for at most one touch per [`ExpiryPolicy::touch_interval`], not one per request: the
//! idle timeout actually enforced is therefore between `idle - touch_interval` and `idle`.

use core::fmt;
use core::time::Duration;

/// The server-wide expiry rules, validated by [`ExpiryPolicyBuilder::build`].
///
/// ```
/// use core::time::Duration;
/// use sessio_core::expiry::ExpiryPolicy;
///
/// let policy = ExpiryPolicy::builder()
///     .idle_timeout(Some(Duration::from_secs(30 * 60)))
///     .absolute_timeout(Some(Duration::from_secs(24 * 3600)))
///     .renew_interval(Some(Duration::from_secs(15 * 60)))
///     .build()
///     .expect("valid policy");
/// assert_eq!(policy.touch_interval(), Duration::from_secs(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryPolicy {
    lifetime: Lifetime,
    touch_interval: Duration,
    renew_interval: Option<Duration>,
}

impl ExpiryPolicy {
    /// Starts from the defaults: idle 30 minutes, absolute 24 hours, browser-session
    /// cookie, touch interval `min(idle / 4, 60 s)`, no automatic renewal.
    pub fn builder() -> ExpiryPolicyBuilder {
        ExpiryPolicyBuilder {
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            absolute_timeout: Some(Duration::from_secs(24 * 3600)),
            persistent_cookie: false,
            touch_interval: None,
            renew_interval: None,
        }
    }

    /// The lifetime a new session gets unless the handler overrides it.
    pub fn default_lifetime(&self) -> &Lifetime {
        &self.lifetime
    }

    /// The least time between two touches of one session.
    pub fn touch_interval(&self) -> Duration {
        self.touch_interval
    }

    /// After this long with one id, the id is rotated automatically (data kept).
    pub fn renew_interval(&self) -> Option<Duration> {
        self.renew_interval
    }
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        Self {
            lifetime: Lifetime {
                idle_timeout: Some(Duration::from_secs(30 * 60)),
                absolute_timeout: Some(Duration::from_secs(24 * 3600)),
                persistent_cookie: false,
            },
            touch_interval: Duration::from_secs(60),
            renew_interval: None,
        }
    }
}

/// Builder for [`ExpiryPolicy`].
#[derive(Clone, Debug)]
pub struct ExpiryPolicyBuilder {
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    persistent_cookie: bool,
    touch_interval: Option<Duration>,
    renew_interval: Option<Duration>,
}

impl ExpiryPolicyBuilder {
    /// A session unused this long is gone. `None` turns the idle timeout off.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// A session is gone this long after it started (or after its last [`renew`]),
    /// however active. `None` turns the absolute timeout off.
    ///
    /// [`renew`]: crate::machine::SessionState::renew
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Send a persistent cookie (`Max-Age` = the session's remaining life) instead of a
    /// browser-session cookie.
    pub fn persistent_cookie(mut self, on: bool) -> Self {
        self.persistent_cookie = on;
        self
    }

    /// The least time between two touches of one session (see the module doc).
    pub fn touch_interval(mut self, interval: Duration) -> Self {
        self.touch_interval = Some(interval);
        self
    }

    /// Rotate the id automatically after this long with one id (data kept). Limits how
    /// long a stolen cookie stays useful even in an endlessly active session.
    pub fn renew_interval(mut self, interval: Option<Duration>) -> Self {
        self.renew_interval = interval;
        self
    }

    /// Checks the rules: at least one timeout, no zero durations, a touch interval shorter
    /// than the idle timeout.
    pub fn build(self) -> Result<ExpiryPolicy, ExpiryConfigError> {
        let lifetime = Lifetime::new(self.idle_timeout, self.absolute_timeout)?
            .persistent_cookie(self.persistent_cookie);
        let touch_interval = match (self.touch_interval, self.idle_timeout) {
            (Some(t), Some(idle)) if t >= idle => {
                return Err(ExpiryConfigError::TouchIntervalNotBelowIdle)
            }
            (Some(t), _) => t,
            (None, Some(idle)) => (idle / 4).min(Duration::from_secs(60)),
            (None, None) => Duration::from_secs(60),
        };
        if self.renew_interval == Some(Duration::ZERO) {
            return Err(ExpiryConfigError::ZeroDuration);
        }
        Ok(ExpiryPolicy {
            lifetime,
            touch_interval,
            renew_interval: self.renew_interval,
        })
    }
}

/// How long one session may live. The policy supplies the default; a handler can give a
/// session its own (for "remember me") with `set_lifetime`.
///
/// ```
/// use core::time::Duration;
/// use sessio_core::expiry::Lifetime;
///
/// let remember_me = Lifetime::new(Some(Duration::from_secs(7 * 86400)), Some(Duration::from_secs(30 * 86400)))
///     .expect("valid lifetime")
///     .persistent_cookie(true);
/// assert!(remember_me.is_persistent_cookie());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    persistent_cookie: bool,
}

impl Lifetime {
    /// A lifetime with these timeouts and a browser-session cookie. At least one timeout
    /// is required (a session that never expires is a stolen cookie that never expires),
    /// and neither may be zero.
    pub fn new(
        idle_timeout: Option<Duration>,
        absolute_timeout: Option<Duration>,
    ) -> Result<Self, ExpiryConfigError> {
        if idle_timeout.is_none() && absolute_timeout.is_none() {
            return Err(ExpiryConfigError::NoTimeout);
        }
        if idle_timeout.is_some_and(|d| d.as_secs() == 0)
            || absolute_timeout.is_some_and(|d| d.as_secs() == 0)
        {
            return Err(ExpiryConfigError::ZeroDuration);
        }
        Ok(Lifetime {
            idle_timeout,
            absolute_timeout,
            persistent_cookie: false,
        })
    }

    /// Whether the cookie outlives the browser session (`Max-Age`), as "remember me" wants.
    pub fn persistent_cookie(mut self, on: bool) -> Self {
        self.persistent_cookie = on;
        self
    }

    /// The idle timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The absolute timeout, if any.
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute_timeout
    }

    /// Whether the cookie is persistent.
    pub fn is_persistent_cookie(&self) -> bool {
        self.persistent_cookie
    }
}

/// A rejected expiry configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpiryConfigError {
    /// Neither an idle nor an absolute timeout: sessions would never expire.
    NoTimeout,
    /// A timeout or interval of zero (whole) seconds.
    ZeroDuration,
    /// The touch interval is not shorter than the idle timeout, so sessions would expire
    /// between touches.
    TouchIntervalNotBelowIdle,
}

impl fmt::Display for ExpiryConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpiryConfigError::NoTimeout => {
                "a session lifetime needs an idle timeout, an absolute timeout, or both"
            }
            ExpiryConfigError::ZeroDuration => {
                "session timeouts and intervals must be at least one second"
            }
            ExpiryConfigError::TouchIntervalNotBelowIdle => {
                "the touch interval must be shorter than the idle timeout"
            }
        })
    }
}

impl core::error::Error for ExpiryConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules() {
        assert_eq!(
            ExpiryPolicy::builder()
                .idle_timeout(None)
                .absolute_timeout(None)
                .build(),
            Err(ExpiryConfigError::NoTimeout)
        );
        assert_eq!(
            ExpiryPolicy::builder()
                .idle_timeout(Some(Duration::ZERO))
                .build(),
            Err(ExpiryConfigError::ZeroDuration)
        );
        assert_eq!(
            ExpiryPolicy::builder()
                .idle_timeout(Some(Duration::from_secs(10)))
                .touch_interval(Duration::from_secs(10))
                .build(),
            Err(ExpiryConfigError::TouchIntervalNotBelowIdle)
        );
        let short = ExpiryPolicy::builder()
            .idle_timeout(Some(Duration::from_secs(20)))
            .build()
            .expect("valid");
        assert_eq!(short.touch_interval(), Duration::from_secs(5));
        assert_eq!(
            ExpiryPolicy::builder().build().ok(),
            Some(ExpiryPolicy::default())
        );
    }
}
