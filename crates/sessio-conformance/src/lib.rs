//! One framework-neutral suite of session scenarios, run by every sessio adapter against
//! every store.
//!
//! An adapter plugs in with two small pieces:
//! - an app that mounts the *probe routes* (see [`probe`]) with its own middleware and
//!   extractor, where each handler calls [`probe::dispatch`] and turns its error into the
//!   adapter's error response;
//! - an [`Adapter`] impl that builds that app around a [`SessionManager`] and sends a
//!   [`Request`] through it in process.
//!
//! Then [`conformance_suite!`] stamps out one test per scenario and store.
#![forbid(unsafe_code)]

pub mod client;
pub mod probe;
pub mod scenarios;
pub mod stores;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sessio::{ExpiryPolicy, ManualClock, SessionManager};

pub use client::{Client, Reply};
pub use stores::{FlakyStore, StoreKind};

/// An HTTP request as the suite sends it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    /// Header names (lowercase) and raw values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP response as the suite reads it.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and raw values, every value of repeated headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends requests through an adapter's app, in process.
pub trait Harness {
    /// Sends one request and returns the response.
    fn send(&self, request: Request) -> impl Future<Output = Response>;
}

/// An adapter under test.
pub trait Adapter {
    /// Its harness.
    type Harness: Harness;
    /// A short name for reports ("axum", "actix", ...).
    const NAME: &'static str;
    /// Builds the probe app around `manager`.
    fn harness(manager: SessionManager) -> impl Future<Output = Self::Harness>;
}

/// The idle timeout the suite configures.
pub const IDLE: Duration = Duration::from_secs(60);
/// The absolute timeout the suite configures.
pub const ABSOLUTE: Duration = Duration::from_secs(600);

/// One scenario's world: the app, its clock and its store.
pub struct Env<A: Adapter> {
    /// The app.
    pub harness: A::Harness,
    /// The manager's clock; scenarios move it instead of sleeping.
    pub clock: ManualClock,
    /// The store, wrapped so scenarios can make it fail.
    pub store: Arc<FlakyStore>,
    /// The manager the app was built with.
    pub manager: SessionManager,
}

impl<A: Adapter> Env<A> {
    /// Builds the world over a store of `kind`; `None` when that store is not available
    /// here (Redis or a Redis Cluster on a laptop without one; the reason is printed
    /// loudly).
    pub async fn new(kind: StoreKind) -> Option<Self> {
        let inner = kind.open().await?;
        let store = Arc::new(FlakyStore::new(inner));
        let clock = ManualClock::starting_now();
        let expiry = ExpiryPolicy::builder()
            .idle_timeout(Some(IDLE))
            .absolute_timeout(Some(ABSOLUTE))
            .build()
            .ok()?;
        let manager = SessionManager::builder_shared(store.clone())
            .expiry(expiry)
            .clock(clock.clone())
            .build()
            .ok()?;
        let harness = A::harness(manager.clone()).await;
        Some(Env {
            harness,
            clock,
            store,
            manager,
        })
    }

    /// A new browser with an empty cookie jar.
    pub fn client(&self) -> Client<'_, A::Harness> {
        Client::new(&self.harness, self.manager.cookie_settings().name())
    }
}

/// The scenarios, by name, in the order the suite runs them. `xtask conformance` prints
/// its matrix rows in this order.
pub const SCENARIOS: &[&str] = &[
    "anonymous_request_gets_no_cookie",
    "cookie_attributes_are_safe_defaults",
    "values_round_trip",
    "login_renews_id_and_kills_old_one",
    "attacker_chosen_id_is_not_adopted",
    "logout_deletes_and_clears_cookie",
    "revoke_all_sessions_of_user",
    "revoke_other_sessions_keeps_current",
    "idle_timeout_expires_session",
    "activity_slides_idle_timeout",
    "absolute_timeout_expires_active_session",
    "remember_me_gets_persistent_cookie",
    "hostile_cookie_headers_are_anonymous",
    "store_failure_answers_503",
    "concurrent_writes_to_different_keys_are_kept",
    "concurrent_updates_are_all_kept",
    "concurrent_takes_give_a_value_once",
    "handler_cookies_are_kept",
    "vary_cookie_when_session_used",
];

/// Stamps out the suite for an adapter: one `#[test]` per scenario and store, in modules
/// `memory`, `redis` and `redis_cluster`. `$run` drives a future to completion on the
/// framework's runtime.
///
/// ```ignore
/// sessio_conformance::conformance_suite!(adapter = MyAdapter, run = my_runtime_block_on);
/// ```
#[macro_export]
macro_rules! conformance_suite {
    (adapter = $adapter:ty, run = $run:path) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_scenarios!(Memory, $adapter, $run);
        }
        mod redis {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_scenarios!(Redis, $adapter, $run);
        }
        mod redis_cluster {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_scenarios!(RedisCluster, $adapter, $run);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_scenarios {
    ($store:ident, $adapter:ty, $run:path) => {
        $crate::__conformance_scenario!(
            $store,
            $adapter,
            $run,
            anonymous_request_gets_no_cookie,
            cookie_attributes_are_safe_defaults,
            values_round_trip,
            login_renews_id_and_kills_old_one,
            attacker_chosen_id_is_not_adopted,
            logout_deletes_and_clears_cookie,
            revoke_all_sessions_of_user,
            revoke_other_sessions_keeps_current,
            idle_timeout_expires_session,
            activity_slides_idle_timeout,
            absolute_timeout_expires_active_session,
            remember_me_gets_persistent_cookie,
            hostile_cookie_headers_are_anonymous,
            store_failure_answers_503,
            concurrent_writes_to_different_keys_are_kept,
            concurrent_updates_are_all_kept,
            concurrent_takes_give_a_value_once,
            handler_cookies_are_kept,
            vary_cookie_when_session_used
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_scenario {
    ($store:ident, $adapter:ty, $run:path, $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                $run(async {
                    if let Some(env) = $crate::Env::<$adapter>::new($crate::StoreKind::$store).await {
                        $crate::scenarios::$name(&env).await;
                    }
                })
            }
        )+
    };
}
