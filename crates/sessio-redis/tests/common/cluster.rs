//! The Redis Cluster the cluster tests run on: the nodes `SESSIO_REDIS_CLUSTER_URLS` lists
//! (comma-separated; `cargo xtask redis` starts three and prints the variable).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use sessio_core::StoreKey;
use sessio_redis::{RedisConfig, RedisStore};

use super::skip;

pub fn urls() -> Option<Vec<String>> {
    let urls = std::env::var("SESSIO_REDIS_CLUSTER_URLS").ok()?;
    let urls: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    (!urls.is_empty()).then_some(urls)
}

/// A store with a key prefix of its own, a cluster connection to look at what it wrote,
/// and a plain connection to every primary, to see which node holds what.
pub struct TestCluster {
    pub store: RedisStore,
    pub raw: ClusterConnection,
    pub primaries: Vec<MultiplexedConnection>,
    pub prefix: String,
}

/// `None` (after a loud note) when no cluster is configured and none is required.
pub async fn cluster(test: &str) -> Option<TestCluster> {
    let Some(urls) = urls() else {
        skip(test, "SESSIO_REDIS_CLUSTER_URLS is not set");
        return None;
    };
    let raw = ClusterClient::new(urls.iter().map(String::as_str))
        .unwrap_or_else(|e| panic!("cluster client: {e}"));
    let connect = raw.get_async_connection();
    let mut raw = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => {
            skip(test, &format!("no Redis Cluster at {urls:?}: {e}"));
            return None;
        }
        Err(_) => {
            skip(
                test,
                &format!("the Redis Cluster at {urls:?} does not answer"),
            );
            return None;
        }
    };
    let primaries = primaries(&mut raw).await;
    let prefix = format!("sessio-test:{test}:{:016x}:", rand::random::<u64>());
    let config = RedisConfig::default()
        .with_key_prefix(prefix.clone())
        .with_timeout(Duration::from_secs(2));
    let store = RedisStore::connect_cluster(&urls, config)
        .await
        .unwrap_or_else(|e| panic!("connect_cluster: {e}"));
    Some(TestCluster {
        store,
        raw,
        primaries,
        prefix,
    })
}

/// A plain connection to each primary, as `CLUSTER SLOTS` lists them.
async fn primaries(raw: &mut ClusterConnection) -> Vec<MultiplexedConnection> {
    let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(raw)
        .await
        .unwrap_or_else(|e| panic!("CLUSTER SLOTS: {e}"));
    let mut addresses = Vec::new();
    for range in slots {
        // [start, end, [host, port, id, ...], replicas...]
        let redis::Value::Array(range) = range else {
            panic!("CLUSTER SLOTS: a range is not an array")
        };
        let Some(redis::Value::Array(primary)) = range.get(2) else {
            panic!("CLUSTER SLOTS: a range has no primary")
        };
        let host: String = redis::from_redis_value_ref(&primary[0])
            .unwrap_or_else(|e| panic!("CLUSTER SLOTS host: {e}"));
        let port: u16 = redis::from_redis_value_ref(&primary[1])
            .unwrap_or_else(|e| panic!("CLUSTER SLOTS port: {e}"));
        let address = format!("redis://{host}:{port}/");
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    let mut connections = Vec::new();
    for address in addresses {
        let client = redis::Client::open(address.as_str()).unwrap_or_else(|e| panic!("{e}"));
        connections.push(
            client
                .get_multiplexed_async_connection()
                .await
                .unwrap_or_else(|e| panic!("{address}: {e}")),
        );
    }
    connections
}

impl TestCluster {
    /// Every key of this test, on every node.
    pub async fn keys(&mut self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("KEYS: {e}"));
        keys.sort();
        keys
    }

    /// How many of this test's keys each primary holds.
    pub async fn keys_per_primary(&mut self) -> Vec<usize> {
        let mut counts = Vec::new();
        for node in &mut self.primaries {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query_async(node)
                .await
                .unwrap_or_else(|e| panic!("KEYS: {e}"));
            counts.push(keys.len());
        }
        counts
    }

    pub fn session_key(&self, key: &StoreKey) -> String {
        super::session_key(&self.prefix, key)
    }

    /// The name of the one user index whose shard tag is `tag` (four hex digits).
    pub async fn index_name(&mut self, tag: &str) -> Option<String> {
        let marker = format!("{}u:{{{tag}}}", self.prefix);
        let mut found = self
            .keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with(&marker));
        let name = found.next();
        assert!(found.next().is_none(), "one user per tag in these tests");
        name
    }

    pub async fn exists(&mut self, key: &StoreKey) -> bool {
        let name = self.session_key(key);
        redis::cmd("EXISTS")
            .arg(name)
            .query_async::<i64>(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("EXISTS: {e}"))
            == 1
    }

    /// Redis' remaining time to live of a key, in seconds.
    pub async fn ttl(&mut self, name: &str) -> i64 {
        redis::cmd("TTL")
            .arg(name)
            .query_async(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("TTL: {e}"))
    }

    /// The hash slot Redis Cluster puts `name` in, as the cluster itself computes it.
    pub async fn slot(&mut self, name: &str) -> i64 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(name)
            .query_async(&mut self.raw)
            .await
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT: {e}"))
    }

    /// Deletes what the test wrote (everything has a TTL anyway, should a test fail first).
    pub async fn cleanup(mut self) {
        for key in self.keys().await {
            let _: Result<i64, _> = redis::cmd("DEL").arg(key).query_async(&mut self.raw).await;
        }
        assert_eq!(self.keys().await, Vec::<String>::new());
    }
}

/// A one-node Redis Cluster of the test's own, serving every slot, its state under a
/// temporary directory; killed (and the directory removed) when dropped.
pub struct PrivateClusterNode {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl PrivateClusterNode {
    /// A port that is free, and whose cluster bus port (+10000) is free too.
    pub fn free_port() -> u16 {
        loop {
            let port = super::free_port();
            let bus = port.checked_add(10_000);
            if bus.is_some_and(|bus| TcpListener::bind(("127.0.0.1", bus)).is_ok()) {
                return port;
            }
        }
    }

    /// Starts the node on `port` and gives it all 16384 slots.
    pub async fn start_on(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sessio-cluster-{port}-{:08x}",
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let child = Self::spawn(port, &dir);
        let node = PrivateClusterNode { port, dir, child };
        let mut conn = node.wait_answering().await;
        let slots: Vec<u16> = (0..16384).collect();
        let _: () = redis::cmd("CLUSTER")
            .arg("ADDSLOTS")
            .arg(&slots)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CLUSTER ADDSLOTS: {e}"));
        node.wait_ok(&mut conn).await;
        node
    }

    fn spawn(port: u16, dir: &Path) -> Child {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start redis-server: {e}"))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn wait_answering(&self) -> MultiplexedConnection {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(conn) = super::raw(&self.url()).await {
                return conn;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not start",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_ok(&self, conn: &mut MultiplexedConnection) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(conn)
                .await
                .unwrap_or_else(|e| panic!("CLUSTER INFO: {e}"));
            if info.lines().any(|l| l.trim() == "cluster_state:ok") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {} is not ok: {info}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the node at once (no shutdown handshake, like a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the node again from its saved cluster state: same id, same slots.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port, &self.dir);
        let mut conn = self.wait_answering().await;
        self.wait_ok(&mut conn).await;
    }
}

impl Drop for PrivateClusterNode {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
