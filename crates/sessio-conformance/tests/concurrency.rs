//! Concurrent requests through `SessionManager` and `Session` as an adapter drives them,
//! on a multi-thread runtime, against every store: parallel `update`s of one value lose
//! nothing, parallel sessions never see each other's data, and a destroyed session is not
//! resurrected by a request that saves it afterwards. Redis (and the Redis Cluster of
//! `SESSIO_REDIS_CLUSTER_URLS`) skips loudly when none answers, unless
//! `SESSIO_REQUIRE_REDIS=1`.
#![allow(missing_docs)]

use std::sync::Arc;

use sessio::{LoadStatus, SessionManager};
use sessio_conformance::StoreKind;

/// A manager over a fresh store of `kind` (Redis: under a key prefix of its own).
async fn manager(kind: StoreKind) -> Option<SessionManager> {
    let store = kind.open().await?;
    Some(
        SessionManager::builder_shared(store)
            .build()
            .expect("valid configuration"),
    )
}

/// The `name=value` pair a browser sends back for the `Set-Cookie` of a response.
fn cookie_pair(set_cookie: Option<&str>) -> String {
    let header = set_cookie.expect("the response sets the session cookie");
    header.split(';').next().unwrap_or_default().to_owned()
}

/// A stored session holding `name = value`; returns the cookie pair.
async fn create(manager: &SessionManager, name: &str, value: &serde_json::Value) -> String {
    let session = manager.start(std::iter::empty());
    session.insert(name, value).await.expect("insert");
    let response = session.finish().await.expect("finish");
    cookie_pair(response.set_cookie())
}

async fn fifty_parallel_updates_of_one_key_keep_all_fifty(kind: StoreKind) {
    let Some(manager) = manager(kind).await else {
        return;
    };
    let cookie = Arc::new(create(&manager, "cart", &serde_json::json!([])).await);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (manager, cookie) = (manager.clone(), cookie.clone());
            tokio::spawn(async move {
                let session = manager.start([cookie.as_bytes()]);
                session
                    .update("cart", |cart: Option<Vec<String>>| {
                        let mut cart = cart.unwrap_or_default();
                        cart.push(format!("item{i}"));
                        cart
                    })
                    .await
                    .expect("update");
                session.finish().await.expect("finish");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let session = manager.start([cookie.as_bytes()]);
    let mut cart: Vec<String> = session.get("cart").await.expect("get").expect("cart");
    cart.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("item{i}")).collect();
    expected.sort();
    assert_eq!(cart, expected, "parallel updates were lost or duplicated");
}

async fn a_thousand_parallel_sessions_never_see_each_other(kind: StoreKind) {
    let Some(manager) = manager(kind).await else {
        return;
    };
    let tasks: Vec<_> = (0..1000u32)
        .map(|i| {
            let manager = manager.clone();
            tokio::spawn(async move {
                let marker = serde_json::json!({ "owner": i });
                let cookie = create(&manager, "marker", &marker).await;
                tokio::task::yield_now().await;
                // A second request with that cookie sees exactly its own data …
                let session = manager.start([cookie.as_bytes()]);
                assert_eq!(session.status().await.expect("load"), LoadStatus::Live);
                assert_eq!(session.names().await.expect("names"), ["marker"]);
                let seen: Option<serde_json::Value> = session.get("marker").await.expect("get");
                assert_eq!(
                    seen.as_ref(),
                    Some(&marker),
                    "session {i} saw another's data"
                );
                // … and writes only into its own session.
                session.insert("echo", &i).await.expect("insert");
                session.finish().await.expect("finish");
                let session = manager.start([cookie.as_bytes()]);
                let echo: Option<u32> = session.get("echo").await.expect("get");
                assert_eq!(echo, Some(i));
                cookie
            })
        })
        .collect();
    let mut cookies = std::collections::BTreeSet::new();
    for task in tasks {
        assert!(
            cookies.insert(task.await.expect("task")),
            "an id was issued twice"
        );
    }
    assert_eq!(cookies.len(), 1000);
}

async fn a_destroyed_session_is_not_resurrected_by_a_late_save(kind: StoreKind) {
    let Some(manager) = manager(kind).await else {
        return;
    };
    let cookie = create(&manager, "cart", &serde_json::json!(["apple"])).await;
    let headers = [cookie.as_bytes()];

    // Three requests load the session before a fourth destroys it.
    let inserted_before = manager.start(headers);
    let inserted_after = manager.start(headers);
    let updated_after = manager.start(headers);
    for s in [&inserted_before, &inserted_after, &updated_after] {
        assert_eq!(s.status().await.expect("load"), LoadStatus::Live);
    }
    inserted_before
        .insert("late", &1)
        .await
        .expect("insert before the destroy");

    let logout = manager.start(headers);
    logout.destroy().await.expect("destroy");
    let removal = logout.finish().await.expect("finish");
    assert!(removal
        .set_cookie()
        .is_some_and(|c| c.contains("Max-Age=0")));

    // The late requests finish after the destroy finished.
    inserted_after
        .insert("late", &2)
        .await
        .expect("insert after the destroy");
    for (what, late) in [("before", inserted_before), ("after", inserted_after)] {
        let response = late.finish().await.expect("finish");
        assert_eq!(
            response.set_cookie(),
            None,
            "a late save (insert {what} the destroy) sent a cookie"
        );
    }
    // An atomic update after the destroy does not write into the dead session either: it
    // carries on in a brand-new session with a new id.
    updated_after
        .update("cart", |cart: Option<Vec<String>>| {
            let mut cart = cart.unwrap_or_default();
            cart.push("pear".to_owned());
            cart
        })
        .await
        .expect("update after the destroy");
    let response = updated_after.finish().await.expect("finish");
    if let Some(set_cookie) = response.set_cookie() {
        assert_ne!(
            cookie_pair(Some(set_cookie)),
            cookie,
            "the dead id came back"
        );
    }

    let check = manager.start(headers);
    assert_eq!(
        check.status().await.expect("load"),
        LoadStatus::Unknown,
        "the destroyed session was resurrected"
    );
    assert!(check.names().await.expect("names").is_empty());
}

/// One test per scenario and store.
macro_rules! for_every_store {
    ($($scenario:ident),+) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::StoreKind::Memory).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::StoreKind::Redis).await;
                }
            )+
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::StoreKind::RedisCluster).await;
                }
            )+
        }
    };
}

for_every_store!(
    fifty_parallel_updates_of_one_key_keep_all_fifty,
    a_thousand_parallel_sessions_never_see_each_other,
    a_destroyed_session_is_not_resurrected_by_a_late_save
);
