//! [`RedisStore`]: the [`SessionStore`] methods as script calls, one per method (in Redis
//! Cluster, `write`s that span two hash slots take more; see [`crate::cluster`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Script, Value};
use sessio::{
    BoxFuture, CasOutcome, Loaded, PushOutcome, SessionStore, StoreError, TouchRule, UserSession,
    WriteOutcome,
};
use sessio_core::{StoreKey, StoreWrite, Timestamp};
use tokio::time::Instant;

use crate::argv::{self, Call};
use crate::cluster_link::{key_slot, ClusterLink};
use crate::config::RedisConfig;
use crate::error::{did_not_run, from_redis, from_reply};
use crate::keys::Keys;
use crate::pipelined::PipelinedConnection;
use crate::recent::RecentSessions;
use crate::reply::{self, Found};
use crate::scripts::SCRIPTS;
use crate::single::RuntimeConnections;

/// `EVALSHA` of `script` with `call`'s keys and arguments, built straight from the call:
/// `redis::ScriptInvocation` would copy every key and argument into vectors of its own
/// first, an allocation each on every store call.
fn evalsha(script: &Script, call: &Call) -> redis::Cmd {
    const NAME: &str = "EVALSHA";
    let hash = script.get_hash();
    let count = call.keys.len().to_string();
    let bytes = NAME.len()
        + hash.len()
        + count.len()
        + call.keys.iter().map(String::len).sum::<usize>()
        + call.args.iter().map(Vec::len).sum::<usize>();
    let mut cmd = redis::Cmd::with_capacity(3 + call.keys.len() + call.args.len(), bytes);
    cmd.arg(NAME).arg(hash).arg(count);
    for key in &call.keys {
        cmd.arg(key.as_str());
    }
    for arg in &call.args {
        cmd.arg(arg.as_slice());
    }
    cmd
}

/// Sends `evalsha`; when Redis no longer holds the script (restarted, `SCRIPT FLUSH`), loads
/// it and sends the call again, as `redis::ScriptInvocation` does.
async fn run_script(
    conn: &mut impl redis::aio::ConnectionLike,
    script: &Script,
    evalsha: &redis::Cmd,
) -> redis::RedisResult<Value> {
    match evalsha.query_async(conn).await {
        Err(error)
            if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
        {
            script.load_async(conn).await?;
            evalsha.query_async(conn).await
        }
        answer => answer,
    }
}

/// The first pause before a cluster call is sent again after a node answered that it did
/// not run it (a slot moved, the cluster is failing over); doubled up to
/// [`RETRY_PAUSE_MAX`], and never past the call's timeout.
const RETRY_PAUSE: Duration = Duration::from_millis(10);
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(100);

/// A [`SessionStore`] in Redis or Redis Cluster: one hash per session, one sorted set per
/// user, and one round trip (one `EVALSHA`) per store call, except for the two cases of
/// `write` that span two hash slots in a cluster. See the [crate docs](crate) for the
/// layout and the failure behaviour.
///
/// Cloning is cheap and clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    keys: Keys,
    config: RedisConfig,
    recent: RecentSessions,
}

#[derive(Clone)]
enum Connection {
    /// One Redis: a pipelined connection per Tokio runtime that calls the store, each
    /// reconnecting by itself.
    Single(RuntimeConnections),
    /// Redis Cluster: a connection per node, each call routed by its first key's slot,
    /// made afresh when a slot's calls keep timing out.
    Cluster(Arc<ClusterLink>),
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its info may hold a password.
        f.debug_struct("RedisStore")
            .field(
                "mode",
                &match self.conn {
                    Connection::Single(_) => "single",
                    Connection::Cluster(_) => "cluster",
                },
            )
            .field("key_prefix", &self.config.key_prefix)
            .field("timeout", &self.config.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`) and checks
    /// that it answers `PING`, all within `config.timeout`.
    ///
    /// Fails with `Unavailable` for an unparsable URL, a key prefix holding `{` or `}`
    /// (see [`RedisConfig::key_prefix`]) or a refused connection, and with `TimedOut` when
    /// Redis does not answer in time. To start while Redis is down, use
    /// [`RedisStore::connect_lazy`].
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(url, config)?;
        store.ping().await?;
        Ok(store)
    }

    /// Builds the store without touching the network: the connection is made by the
    /// first call and remade after every failure, so an application can start while
    /// Redis is down (its calls fail with `Unavailable` or `TimedOut` until Redis is back).
    ///
    /// Must be called within a Tokio runtime (the connection's driver runs on it); outside
    /// one it fails with `Unavailable`. Fails with `Unavailable` for an unparsable URL or a
    /// key prefix holding `{` or `}`.
    pub fn connect_lazy(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        let (keys, _) = prepare(&config)?;
        // The URL may hold a password: the error names the problem, never the URL.
        let client = redis::Client::open(url).map_err(|err| {
            StoreError::Unavailable(format!("redis connect: invalid Redis URL: {err}"))
        })?;
        let conn = RuntimeConnections::new_lazy(client, config.reconnect_max_delay, config.timeout);
        Ok(RedisStore {
            conn: Connection::Single(conn),
            keys,
            recent: RecentSessions::new(config.recent_sessions),
            config,
        })
    }

    /// Connects to the Redis Cluster that `nodes` belong to (`redis://[:password@]host:port`
    /// each; one reachable node is enough, the others are discovered) and checks that every
    /// primary answers `PING`, all within `config.timeout`.
    ///
    /// Fails like [`RedisStore::connect`]; to start while the cluster is down, use
    /// [`RedisStore::connect_cluster_lazy`]. See the [crate docs](crate#redis-cluster) for
    /// what differs from a single Redis.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessio::StoreError> {
    /// use sessio_redis::{RedisConfig, RedisStore};
    ///
    /// let nodes = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"];
    /// let store = RedisStore::connect_cluster(nodes, RedisConfig::default()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_cluster<I, S>(nodes: I, config: RedisConfig) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let store = Self::connect_cluster_lazy(nodes, config)?;
        store.ping().await?;
        Ok(store)
    }

    /// Builds a cluster store without waiting for the network: the connections are made in
    /// the background, remade after failures, and the cluster's layout (which node serves
    /// which slot) is learnt again whenever a node says it moved. An application can start
    /// while the cluster is down; its calls fail with `Unavailable` or `TimedOut` until
    /// the cluster answers.
    ///
    /// Must be called within a Tokio runtime; outside one it fails with `Unavailable`, as
    /// it does for no node, an unparsable node URL, or a key prefix holding `{` or `}`.
    pub fn connect_cluster_lazy<I, S>(nodes: I, config: RedisConfig) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (keys, runtime) = prepare(&config)?;
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|node| node.as_ref().to_owned())
            .collect();
        // The URLs may hold a password: the error names the problem, never a URL.
        let client = ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(config.timeout)
            // The client would send a call again after any failure, including a connection
            // lost after the script ran; `eval` retries only what certainly did not run.
            .retries(0)
            .build()
            .map_err(|err| {
                StoreError::Unavailable(format!(
                    "redis connect: invalid Redis Cluster node URLs: {err}"
                ))
            })?;
        let cluster_config = ClusterConfig::new().set_connection_timeout(config.timeout);
        let link = ClusterLink::new(client, cluster_config, config.timeout, runtime);
        Ok(RedisStore {
            conn: Connection::Cluster(Arc::new(link)),
            keys,
            recent: RecentSessions::new(config.recent_sessions),
            config,
        })
    }

    /// The settings this store was built with.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Whether this store talks to a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.conn, Connection::Cluster(_))
    }

    /// `PING` (in a cluster: every primary), within the timeout.
    async fn ping(&self) -> Result<(), StoreError> {
        let ping = redis::cmd("PING");
        match &self.conn {
            Connection::Single(conns) => {
                self.on_single("connect", conns, async |mut conn| {
                    ping.query_async::<Value>(&mut conn).await
                })
                .await?;
            }
            Connection::Cluster(link) => {
                // Every primary: no one slot to watch.
                self.in_cluster("connect", link, None, |mut conn| {
                    let ping = &ping;
                    async move { ping.query_async::<Value>(&mut conn).await }
                })
                .await?;
            }
        }
        Ok(())
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

    /// Runs `call` on the calling runtime's connection to the single Redis (made first if
    /// there is none), bounded like every call; a failure that breaks the connection has
    /// it dropped, so that the next call makes a new one (see [`crate::single`]).
    async fn on_single(
        &self,
        op: &'static str,
        conns: &RuntimeConnections,
        call: impl AsyncFnOnce(&PipelinedConnection) -> redis::RedisResult<Value>,
    ) -> Result<Value, StoreError> {
        let link = conns.current();
        let attempt = async {
            let conn = link.connection().await?;
            let result = call(&conn).await;
            if let Err(err) = &result {
                link.failed(&conn, err);
            }
            result
        };
        self.bounded(op, attempt).await
    }

    /// One `EVALSHA` (plus, once after Redis lost its script cache, `SCRIPT LOAD` and a
    /// second `EVALSHA`). In a cluster, sent again while a node answers that it did not
    /// run it (the slot moved or is moving, a failover is under way) and time is left.
    pub(crate) async fn eval(
        &self,
        op: &'static str,
        script: &Script,
        call: Call,
    ) -> Result<Value, StoreError> {
        let evalsha = evalsha(script, &call);
        match &self.conn {
            Connection::Single(conns) => {
                self.on_single(op, conns, async |mut conn| {
                    run_script(&mut conn, script, &evalsha).await
                })
                .await
            }
            Connection::Cluster(link) => {
                let key = call.keys.first().map(String::as_str);
                self.in_cluster(op, link, key, |mut conn| {
                    let evalsha = &evalsha;
                    async move { run_script(&mut conn, script, evalsha).await }
                })
                .await
            }
        }
    }

    /// One plain command on `key` (a read, so safe to send again), bounded like
    /// [`Self::eval`].
    async fn query(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
        key: &str,
    ) -> Result<Value, StoreError> {
        match &self.conn {
            Connection::Single(conns) => {
                self.on_single(op, conns, async |mut conn| {
                    cmd.query_async::<Value>(&mut conn).await
                })
                .await
            }
            Connection::Cluster(link) => {
                self.in_cluster(op, link, Some(key), |mut conn| async move {
                    cmd.query_async::<Value>(&mut conn).await
                })
                .await
            }
        }
    }

    /// Runs `call` on the cluster, again after an error that says it did not run (a slot
    /// on the move, a failover), with growing pauses, all within the timeout. Tells the
    /// link whether the slot of `key` (the call's first key; `None` for a call to every
    /// node) answered or timed out.
    async fn in_cluster<F, Fut>(
        &self,
        op: &'static str,
        link: &ClusterLink,
        key: Option<&str>,
        mut call: F,
    ) -> Result<Value, StoreError>
    where
        F: FnMut(ClusterConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<Value>>,
    {
        let slot = key.map(|key| key_slot(key.as_bytes()));
        let start = Instant::now();
        let (conn, generation) = link.current(slot, start);
        let deadline = start + self.config.timeout;
        let attempts = async {
            let mut pause = RETRY_PAUSE;
            loop {
                match call(conn.clone()).await {
                    Err(err) if did_not_run(&err) && Instant::now() + pause < deadline => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(RETRY_PAUSE_MAX);
                    }
                    result => return result,
                }
            }
        };
        let result = self.bounded(op, attempts).await;
        match &result {
            Ok(_) | Err(StoreError::Refused(_) | StoreError::Protocol(_)) => link.answered(slot),
            Err(StoreError::TimedOut(_)) => {
                link.timed_out(slot, generation, Instant::now());
            }
            // A connection error (`Unavailable`): the client makes that connection again
            // by itself.
            Err(_) => {}
        }
        result
    }

    /// `write.lua` with a delete and a write whose keys share a hash slot (always so on a
    /// single Redis): one call.
    pub(crate) async fn write_in_one_call(
        &self,
        delete: Option<&StoreKey>,
        write: Option<&StoreWrite>,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let call = argv::write(&self.keys, delete, write, now);
        let value = self.eval("write", &SCRIPTS.write, call).await?;
        reply::write(value).map_err(|e| from_reply("write", e))
    }

    /// After a script that could touch read `key`: a live session was last seen at its
    /// record's `last_seen` (the touch's time when it touched), so its loads and pushes
    /// need no script that touches until the interval has passed; a gone one is forgotten.
    fn remember(&self, key: &StoreKey, loaded: Option<&Loaded>, touch: TouchRule) {
        match loaded {
            Some(l) => self
                .recent
                .seen(key, l.record.meta.last_seen, touch.interval, touch.now),
            None => self.recent.forget(key),
        }
    }
}

/// The checks every constructor makes before building a connection: the key names, and
/// the Tokio runtime the store is made on.
fn prepare(config: &RedisConfig) -> Result<(Keys, tokio::runtime::Handle), StoreError> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Err(StoreError::Unavailable(String::from(
            "redis connect: RedisStore must be created within a Tokio runtime",
        )));
    };
    let keys = Keys::new(&config.key_prefix)
        .map_err(|err| StoreError::Unavailable(format!("redis connect: {err}")))?;
    Ok((keys, runtime))
}

impl SessionStore for RedisStore {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
    ) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        Box::pin(async move {
            if self.recent.touch_not_due(key, touch.now, touch.interval) {
                // No touch can be due: a plain read, a fraction of a script's cost.
                let name = self.keys.session(key);
                let mut cmd = redis::cmd("HGETALL");
                cmd.arg(&name);
                let value = self.query("load", &cmd, &name).await?;
                let found = reply::hash(value).map_err(|e| from_reply("load", e))?;
                let loaded = loaded(key, found, touch);
                if loaded.is_none() {
                    self.recent.forget(key);
                }
                return Ok(loaded);
            }
            let call = argv::load(&self.keys, key, touch);
            let value = self.eval("load", &SCRIPTS.load, call).await?;
            let found = reply::load(value).map_err(|e| from_reply("load", e))?;
            let loaded = loaded(key, found, touch);
            self.remember(key, loaded.as_ref(), touch);
            Ok(loaded)
        })
    }

    fn load_and_push<'a>(
        &'a self,
        key: &'a StoreKey,
        touch: TouchRule,
        name: &'a str,
        element: &'a [u8],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>> {
        Box::pin(async move {
            let touch_not_due = self.recent.touch_not_due(key, touch.now, touch.interval);
            let reply = if touch_not_due {
                // No touch can be due: the script without the touch, a third cheaper.
                let call = argv::push(&self.keys, key, touch.now, name, element);
                let value = self.eval("load_and_push", &SCRIPTS.push, call).await?;
                reply::push(value)
            } else {
                let call = argv::load_and_push(&self.keys, key, touch, name, element);
                let value = self
                    .eval("load_and_push", &SCRIPTS.load_and_push, call)
                    .await?;
                reply::load_and_push(value)
            };
            let reply = reply.map_err(|e| from_reply("load_and_push", e))?;
            let pushed = reply.and_then(|(appended, found)| {
                loaded(key, found, touch).map(|loaded| (appended, loaded))
            });
            // The script without the touch left last seen where this process knows it.
            if !touch_not_due || pushed.is_none() {
                self.remember(key, pushed.as_ref().map(|(_, loaded)| loaded), touch);
            }
            Ok(match pushed {
                None => PushOutcome::Absent,
                Some((true, loaded)) => PushOutcome::Pushed(loaded),
                Some((false, loaded)) => PushOutcome::NotAList(loaded),
            })
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
            let outcome = if self.is_cluster() {
                self.write_in_cluster(delete, write, now).await
            } else {
                self.write_in_one_call(delete, write, now).await
            };
            if let (Ok(WriteOutcome::Written), Some(write)) = (&outcome, write) {
                // Stored with its last-seen time: the first loads after a log-in need no
                // script that touches.
                if let Some((key, last_seen, deadline)) = write.stored_times() {
                    self.recent.written(key, last_seen, deadline, now);
                }
            }
            outcome
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

/// The record a load (or a load and push) found, if it is readable and live at
/// `touch.now`; an unreadable one is reported and counts as absent.
fn loaded(key: &StoreKey, found: Found, touch: TouchRule) -> Option<Loaded> {
    let (touched, fields) = match found {
        Found::Absent => return None,
        Found::Hash { touched, fields } => (touched, fields),
    };
    let record = match reply::record(&fields, touched.then_some(touch.now)) {
        Ok(record) => record,
        Err(problem) => {
            tracing::warn!(
                key = %key.fingerprint(),
                %problem,
                "unreadable session record in Redis; treating the session as absent"
            );
            return None;
        }
    };
    (!record.meta.is_expired(touch.now)).then_some(Loaded { record, touched })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evalsha_sends_the_hash_the_key_count_the_keys_then_the_arguments() {
        let script = Script::new("return 1");
        let call = Call {
            keys: vec!["sessio:{a}".to_owned(), "sessio:u:{b}".to_owned()],
            args: vec![b"1700000000".to_vec(), Vec::new(), b"v:cart".to_vec()],
        };
        let mut expected = format!("*8\r\n$7\r\nEVALSHA\r\n$40\r\n{}\r\n", script.get_hash());
        for part in [
            "2",
            "sessio:{a}",
            "sessio:u:{b}",
            "1700000000",
            "",
            "v:cart",
        ] {
            expected.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
        let packed = evalsha(&script, &call).get_packed_command();
        assert_eq!(String::from_utf8_lossy(&packed), expected);
    }
}
