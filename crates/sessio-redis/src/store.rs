//! [`RedisStore`]: the [`SessionStore`] methods as one script call each.

use std::fmt;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use sessio::{
    BoxFuture, CasOutcome, Loaded, SessionStore, StoreError, TouchRule, UserSession, WriteOutcome,
};
use sessio_core::{StoreKey, StoreWrite, Timestamp};

use crate::argv::{self, Call};
use crate::config::RedisConfig;
use crate::error::{from_redis, from_reply};
use crate::keys::Keys;
use crate::reply::{self, Found};
use crate::scripts::SCRIPTS;

/// A [`SessionStore`] in Redis: one hash per session, one sorted set per user, and
/// exactly one round trip (one `EVALSHA`) per store call. See the [crate docs](crate)
/// for the layout and the failure behaviour.
///
/// Cloning is cheap and clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    config: RedisConfig,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its info may hold a password.
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.config.key_prefix)
            .field("timeout", &self.config.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`) and checks
    /// that it answers `PING`, all within `config.timeout`.
    ///
    /// Fails with `Unavailable` for an unparsable URL or a refused connection, and with
    /// `TimedOut` when Redis does not answer in time. To start while Redis is down, use
    /// [`RedisStore::connect_lazy`].
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(url, config)?;
        let mut conn = store.conn.clone();
        let ping = redis::cmd("PING");
        store
            .bounded("connect", ping.query_async::<Value>(&mut conn))
            .await?;
        Ok(store)
    }

    /// Builds the store without touching the network: the connection is made by the
    /// first call and remade after every failure, so an application can start while
    /// Redis is down (its calls fail with `Unavailable` or `TimedOut` until Redis is back).
    ///
    /// Must be called within a Tokio runtime (the connection's driver runs on it); outside
    /// one it fails with `Unavailable`. Fails with `Unavailable` for an unparsable URL.
    pub fn connect_lazy(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Unavailable(String::from(
                "redis connect: RedisStore must be created within a Tokio runtime",
            )));
        }
        // The URL may hold a password: the error names the problem, never the URL.
        let client = redis::Client::open(url).map_err(|err| {
            StoreError::Unavailable(format!("redis connect: invalid Redis URL: {err}"))
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            // Every call is bounded by `config.timeout` around it, reconnects included.
            .set_response_timeout(None)
            .set_min_delay(std::time::Duration::from_millis(50))
            .set_max_delay(config.reconnect_max_delay);
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|err| from_redis("connect", &err))?;
        Ok(RedisStore {
            conn,
            keys: Keys::new(&config.key_prefix),
            config,
        })
    }

    /// The settings this store was built with.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Bounds `fut` by the configured timeout and sorts its error.
    async fn bounded<T>(
        &self,
        op: &'static str,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.config.timeout, fut).await {
            Err(_) => Err(StoreError::TimedOut(self.config.timeout)),
            Ok(Err(err)) => Err(from_redis(op, &err)),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// One `EVALSHA` (plus, once after Redis lost its script cache, `SCRIPT LOAD` and a
    /// second `EVALSHA`).
    async fn eval(
        &self,
        op: &'static str,
        script: &Script,
        call: Call,
    ) -> Result<Value, StoreError> {
        let mut invocation = script.prepare_invoke();
        for key in &call.keys {
            invocation.key(key.as_str());
        }
        for arg in &call.args {
            invocation.arg(arg.as_slice());
        }
        let mut conn = self.conn.clone();
        self.bounded(op, invocation.invoke_async::<Value>(&mut conn))
            .await
    }
}

impl SessionStore for RedisStore {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        Box::pin(async move {
            let call = argv::load(&self.keys, key, touch);
            let value = self.eval("load", &SCRIPTS.load, call).await?;
            let (touched, fields) = match reply::load(value).map_err(|e| from_reply("load", e))? {
                Found::Absent => return Ok(None),
                Found::Hash { touched, fields } => (touched, fields),
            };
            let record = match reply::record(fields, touched.then_some(touch.now)) {
                Ok(record) => record,
                Err(problem) => {
                    tracing::warn!(
                        key = %key.fingerprint(),
                        %problem,
                        "unreadable session record in Redis; treating the session as absent"
                    );
                    return Ok(None);
                }
            };
            if record.meta.is_expired(touch.now) {
                return Ok(None);
            }
            Ok(Some(Loaded { record, touched }))
        })
    }

    fn write<'a>(
        &'a self,
        delete: Option<&'a StoreKey>,
        write: Option<&'a StoreWrite>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(async move {
            if delete.is_none() && write.is_none() {
                return Ok(WriteOutcome::Written);
            }
            let call = argv::write(&self.keys, delete, write, now);
            let value = self.eval("write", &SCRIPTS.write, call).await?;
            reply::write(value).map_err(|e| from_reply("write", e))
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
            let call = argv::compare_and_set(&self.keys, key, name, expected, value, now);
            let reply = self
                .eval("compare_and_set", &SCRIPTS.compare_and_set, call)
                .await?;
            reply::compare_and_set(reply, value).map_err(|e| from_reply("compare_and_set", e))
        })
    }

    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        Box::pin(async move {
            let call = argv::user_sessions(&self.keys, user, now);
            let value = self
                .eval("user_sessions", &SCRIPTS.user_sessions, call)
                .await?;
            reply::user_sessions(value, now).map_err(|e| from_reply("user_sessions", e))
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a StoreKey>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async move {
            let call = argv::revoke_user(&self.keys, user, except, now);
            let value = self.eval("revoke_user", &SCRIPTS.revoke_user, call).await?;
            reply::count(value, "revoke_user").map_err(|e| from_reply("revoke_user", e))
        })
    }
}
