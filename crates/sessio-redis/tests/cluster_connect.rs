//! Connecting to a Redis Cluster: what the constructors refuse, a store that starts before
//! the cluster and serves once it is up, and one that heals after a node restarts (on a
//! private one-node cluster the test starts and kills). Skips loudly without
//! `redis-server` or `SESSIO_REDIS_CLUSTER_URLS` unless `SESSIO_REQUIRE_REDIS=1`.

mod common;

use std::time::{Duration, Instant};

use common::cluster::PrivateClusterNode;
use common::{is_down, lifetime, new_key, no_touch, now, record};
use sessio::{SessionStore, StoreError, WriteOutcome};
use sessio_core::{StoreWrite, Timestamp};
use sessio_redis::{RedisConfig, RedisStore};

#[tokio::test]
async fn a_brace_in_the_key_prefix_is_refused() {
    let config = RedisConfig::default().with_key_prefix("app{1}:");
    let refused = RedisStore::connect_cluster_lazy(["redis://127.0.0.1:1/"], config.clone());
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("hash slot")),
        "{refused:?}"
    );
    let refused = RedisStore::connect_lazy("redis://127.0.0.1:1/", config);
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
}

#[test]
fn a_cluster_store_needs_a_tokio_runtime() {
    let outside =
        RedisStore::connect_cluster_lazy(["redis://127.0.0.1:1/"], RedisConfig::default());
    assert!(
        matches!(&outside, Err(StoreError::Unavailable(m)) if m.contains("Tokio runtime")),
        "{outside:?}"
    );
}

#[tokio::test]
async fn a_cluster_store_fails_cleanly_while_no_node_answers() {
    let config = RedisConfig::default().with_timeout(Duration::from_millis(300));
    let dead = RedisStore::connect_cluster_lazy(["redis://127.0.0.1:1/"], config.clone())
        .unwrap_or_else(|e| panic!("lazy: {e}"));
    let started = Instant::now();
    let failed = dead.load(&new_key(), no_touch(now())).await;
    assert!(matches!(&failed, Err(e) if is_down(e)), "{failed:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let connect = RedisStore::connect_cluster(["redis://127.0.0.1:1/"], config).await;
    assert!(matches!(&connect, Err(e) if is_down(e)), "{connect:?}");

    let Some(urls) = common::cluster::urls() else {
        common::skip("cl_lazy", "SESSIO_REDIS_CLUSTER_URLS is not set");
        return;
    };
    let lazy = RedisStore::connect_cluster_lazy(&urls, RedisConfig::default())
        .unwrap_or_else(|e| panic!("lazy: {e}"));
    assert_eq!(
        lazy.load(&new_key(), no_touch(now())).await.ok(),
        Some(None)
    );
}

#[tokio::test]
async fn a_lazy_cluster_store_serves_once_the_cluster_is_up_and_after_a_node_restart() {
    if !common::redis_server_installed() {
        common::skip("cl_lazy_heal", "redis-server is not installed");
        return;
    }
    let port = PrivateClusterNode::free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let timeout = Duration::from_millis(300);
    let config = RedisConfig::default().with_timeout(timeout);
    let store = RedisStore::connect_cluster_lazy([url.as_str()], config)
        .unwrap_or_else(|e| panic!("connect_cluster_lazy: {e}"));
    let before = store.load(&new_key(), no_touch(now())).await;
    assert!(before.as_ref().is_err_and(is_down), "{before:?}");

    let mut node = PrivateClusterNode::start_on(port).await;
    let now = now();
    let key = new_key();
    let rec = record(now, lifetime(Some(600), None), &[("a", b"1")]);
    let create_it = StoreWrite::Create {
        key,
        record: rec.clone(),
    };
    until_up(&store, &create_it, now).await;
    let loaded = store.load(&key, no_touch(now)).await;
    assert_eq!(loaded.ok().flatten().map(|l| l.record), Some(rec));

    node.kill();
    let started = Instant::now();
    let down = store.load(&key, no_touch(now)).await;
    assert!(down.as_ref().is_err_and(is_down), "{down:?}");
    assert!(
        started.elapsed() < timeout + Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    node.restart().await;
    let again = StoreWrite::Create {
        key: new_key(),
        record: record(now, lifetime(Some(600), None), &[]),
    };
    until_up(&store, &again, now).await;
}

/// Retries `write` until the store serves it again (at most 10 s), failing only as down.
async fn until_up(store: &RedisStore, write: &StoreWrite, now: Timestamp) {
    let started = Instant::now();
    loop {
        match store.write(None, Some(write), now).await {
            Ok(outcome) => {
                assert_eq!(outcome, WriteOutcome::Written);
                eprintln!("served {:?} after the cluster came up", started.elapsed());
                return;
            }
            Err(err) => assert!(
                started.elapsed() < Duration::from_secs(10) && is_down(&err),
                "{err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A password rotated on the cluster after the store's configuration: every call is
/// refused while the node wants another password, and once the node takes the store's
/// password the same store serves again without being rebuilt (the cluster client tries
/// its connections again; `resilience.rs` has the same test for a single Redis).
#[tokio::test]
async fn a_cluster_store_serves_again_once_the_node_takes_its_password() {
    if !common::redis_server_installed() {
        common::skip("cl_password", "redis-server is not installed");
        return;
    }
    let port = PrivateClusterNode::free_port();
    let node = PrivateClusterNode::start_on(port).await;
    let mut raw = common::raw(&node.url())
        .await
        .unwrap_or_else(|| panic!("no raw connection"));
    // The raw connection stays authenticated through both changes.
    common::config_set(&mut raw, "requirepass", "old-secret").await;
    let config = RedisConfig::default().with_timeout(Duration::from_millis(300));
    let url = format!("redis://:new-secret@127.0.0.1:{port}/");
    let store = RedisStore::connect_cluster_lazy([url.as_str()], config)
        .unwrap_or_else(|e| panic!("connect_cluster_lazy: {e}"));
    for _ in 0..3 {
        let refused = store.load(&new_key(), no_touch(now())).await;
        assert!(
            matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("password")),
            "{refused:?}"
        );
    }

    common::config_set(&mut raw, "requirepass", "new-secret").await;
    let now = now();
    let write = StoreWrite::Create {
        key: new_key(),
        record: record(now, lifetime(Some(600), None), &[("a", b"1")]),
    };
    until_up(&store, &write, now).await;
}
