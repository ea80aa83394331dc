//! How a [`RedisStore`](crate::RedisStore) names its keys and how long it waits.

use std::time::Duration;

/// Settings of a [`RedisStore`](crate::RedisStore).
///
/// ```
/// use std::time::Duration;
/// use sessio_redis::RedisConfig;
///
/// let config = RedisConfig::default()
///     .with_key_prefix("myapp:sessions:")
///     .with_timeout(Duration::from_millis(250));
/// assert_eq!(config.key_prefix, "myapp:sessions:");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Put in front of every key this store writes (default `"sessio:"`), so that several
    /// applications, or tests, can share one Redis database. Must not contain `{` or `}`:
    /// Redis Cluster places a key by the first `{...}` in its name, which has to be the
    /// session's shard tag (see the [crate docs](crate#layout)); the store's constructors
    /// refuse such a prefix.
    pub key_prefix: String,
    /// The longest any store call (and [`RedisStore::connect`](crate::RedisStore::connect))
    /// may take, retries and reconnects included; past it the call fails with
    /// `StoreError::TimedOut`. Default 500 ms. Also how long a connection may stay silent
    /// after a call gave up on it (a single Redis), or a hash slot's calls may keep timing
    /// out (a cluster), before the store connects afresh (see the [crate docs](crate)).
    pub timeout: Duration,
    /// The longest pause between two reconnection attempts while Redis is unreachable
    /// (default 1 s): bounds how long the store takes to notice that Redis is back.
    pub reconnect_max_delay: Duration,
    /// How many sessions this process remembers as "no touch due yet" (default 65 536,
    /// about 5 MB at most): their loads are a plain `HGETALL` rather than a script, which
    /// costs Redis a fraction of the CPU. Still one round trip either way; 0 makes every
    /// load a script.
    pub recent_sessions: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: String::from("sessio:"),
            timeout: Duration::from_millis(500),
            reconnect_max_delay: Duration::from_secs(1),
            recent_sessions: 65_536,
        }
    }
}

impl RedisConfig {
    /// Sets [`key_prefix`](Self::key_prefix).
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`recent_sessions`](Self::recent_sessions).
    pub fn with_recent_sessions(mut self, sessions: usize) -> Self {
        self.recent_sessions = sessions;
        self
    }

    /// Sets [`reconnect_max_delay`](Self::reconnect_max_delay).
    pub fn with_reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay;
        self
    }
}
