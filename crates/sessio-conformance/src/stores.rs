//! The stores the suite runs against, and a wrapper that makes one fail on demand.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sessio::sessio_core::{StoreKey, StoreWrite, Timestamp};
use sessio::{
    BoxFuture, CasOutcome, Loaded, MemoryStore, SessionStore, StoreError, TouchRule, UserSession,
    WriteOutcome,
};

/// Which store a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// [`MemoryStore`].
    Memory,
    /// `sessio_redis::RedisStore` at `SESSIO_REDIS_URL` (default `redis://127.0.0.1:6379/`).
    Redis,
    /// `sessio_redis::RedisStore` on the Redis Cluster whose node URLs
    /// `SESSIO_REDIS_CLUSTER_URLS` lists, comma-separated (no default: `cargo xtask redis`
    /// starts one and prints the variable).
    RedisCluster,
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("SESSIO_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned())
}

/// The Redis Cluster node URLs tests use, if `SESSIO_REDIS_CLUSTER_URLS` names any.
pub fn redis_cluster_urls() -> Option<Vec<String>> {
    let urls = std::env::var("SESSIO_REDIS_CLUSTER_URLS").ok()?;
    let urls: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    (!urls.is_empty()).then_some(urls)
}

/// Whether Redis tests must run (CI) rather than skip.
pub fn redis_required() -> bool {
    std::env::var("SESSIO_REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

impl StoreKind {
    /// Opens a fresh, empty store of this kind (Redis: under a unique key prefix).
    pub async fn open(self) -> Option<Arc<dyn SessionStore>> {
        match self {
            StoreKind::Memory => Some(Arc::new(MemoryStore::new(
                std::num::NonZeroUsize::new(10_000).unwrap_or(std::num::NonZeroUsize::MIN),
            ))),
            StoreKind::Redis => {
                let url = redis_url();
                let connected = sessio_redis::RedisStore::connect(&url, test_config()).await;
                Self::connected(connected, &url, "SESSIO_REDIS_URL")
            }
            StoreKind::RedisCluster => {
                let Some(urls) = redis_cluster_urls() else {
                    assert!(
                        !redis_required(),
                        "Redis required (SESSIO_REQUIRE_REDIS=1) but SESSIO_REDIS_CLUSTER_URLS \
                         is not set; `cargo xtask redis` starts a cluster and prints it"
                    );
                    eprintln!(
                        "\n!!! SKIPPED: SESSIO_REDIS_CLUSTER_URLS is not set; run `cargo xtask redis` and set it !!!\n"
                    );
                    return None;
                };
                let connected =
                    sessio_redis::RedisStore::connect_cluster(&urls, test_config()).await;
                Self::connected(connected, &urls.join(","), "SESSIO_REDIS_CLUSTER_URLS")
            }
        }
    }

    /// The store, or, when it could not connect, a panic if Redis is required and else a
    /// loud skip.
    fn connected(
        connected: Result<sessio_redis::RedisStore, StoreError>,
        url: &str,
        variable: &str,
    ) -> Option<Arc<dyn SessionStore>> {
        match connected {
            Ok(store) => Some(Arc::new(store)),
            Err(error) if redis_required() => {
                panic!("Redis required (SESSIO_REQUIRE_REDIS=1) but {url} failed: {error}")
            }
            Err(error) => {
                eprintln!(
                    "\n!!! SKIPPED: no Redis at {url} ({error}); set {variable} or run `cargo xtask redis` !!!\n"
                );
                None
            }
        }
    }
}

/// A unique key prefix, so tests sharing a Redis never see each other's keys, and a
/// timeout that a loaded CI machine meets.
fn test_config() -> sessio_redis::RedisConfig {
    let prefix = format!("sessio-test:{:016x}:", rand::random::<u64>());
    sessio_redis::RedisConfig::default()
        .with_key_prefix(prefix)
        .with_timeout(Duration::from_secs(2))
}

/// Wraps a store; while [`FlakyStore::set_failing`] is on, every call fails with
/// `StoreError::Unavailable`, as a dead Redis would.
pub struct FlakyStore {
    inner: Arc<dyn SessionStore>,
    failing: AtomicBool,
}

impl FlakyStore {
    /// Wraps `inner`, healthy.
    pub fn new(inner: Arc<dyn SessionStore>) -> Self {
        FlakyStore {
            inner,
            failing: AtomicBool::new(false),
        }
    }

    /// Makes every call fail (or work again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("injected failure".to_owned()))
        } else {
            Ok(())
        }
    }
}

impl SessionStore for FlakyStore {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.load(key, touch).await
        })
    }

    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.write(delete, write, now).await
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a StoreKey,
        name: &'a str,
        expected: Option<u64>,
        value: Option<&'a [u8]>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CasOutcome, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner
                .compare_and_set(key, name, expected, value, now)
                .await
        })
    }

    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.user_sessions(user, now).await
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a StoreKey>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.revoke_user(user, except, now).await
        })
    }
}
