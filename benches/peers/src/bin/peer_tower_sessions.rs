//! The cart routes on axum with tower-sessions, the peer axum users pick today:
//! `SESSION_STORE=memory` (default) runs tower-sessions 0.15 with its `MemoryStore`;
//! `SESSION_STORE=redis://…` runs tower-sessions 0.14 with `tower-sessions-redis-store`
//! 0.16 (that store has no release for tower-sessions 0.15).
//!
//! Configured as its documentation shows: `Expiry::OnInactivity` with the cart apps'
//! idle timeout and `with_always_save(true)` so that reads keep the session alive too
//! (see [`IdleExtension`]; `PEER_IDLE_EXTENSION=on-change` leaves it out),
//! `with_secure(false)` for plain HTTP; everything else is its default.
//! `POST /cart` is a read-modify-write (tower-sessions has no compare-and-set).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use sessio_bench_peers::{IdleExtension, IDLE_SECS};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

/// The routes, written once and stamped out per tower-sessions release (their `Session`
/// types differ, their methods do not).
macro_rules! cart_routes {
    ($tower_sessions:ident) => {
        use axum::routing::{get, post};
        use axum::{Json, Router};
        use cart_common::{not_logged_in, wrong_credentials, AddItem, Login, CART};
        use $tower_sessions::Session;

        use super::{json, store_error, USER};

        pub(crate) fn router() -> Router {
            Router::new()
                .route("/health", get(health))
                .route("/me", get(me))
                .route("/login", post(login))
                .route("/cart", get(cart).post(add_to_cart))
                .route("/logout", post(logout))
        }

        async fn health() -> axum::response::Response {
            json(200, cart_common::ok())
        }

        async fn me(session: Session) -> axum::response::Response {
            match session.get::<String>(USER).await {
                Ok(Some(name)) => json(200, cart_common::user(&name)),
                Ok(None) => {
                    let (status, body) = not_logged_in();
                    json(status, body)
                }
                Err(error) => store_error(error),
            }
        }

        async fn login(session: Session, Json(login): Json<Login>) -> axum::response::Response {
            if !login.is_valid() {
                let (status, body) = wrong_credentials();
                return json(status, body);
            }
            if let Err(error) = session.cycle_id().await {
                return store_error(error);
            }
            if let Err(error) = session.insert(USER, &login.user).await {
                return store_error(error);
            }
            json(200, cart_common::user(&login.user))
        }

        async fn cart(session: Session) -> axum::response::Response {
            match session.get::<Vec<String>>(CART).await {
                Ok(items) => json(200, cart_common::items(items.unwrap_or_default())),
                Err(error) => store_error(error),
            }
        }

        async fn add_to_cart(
            session: Session,
            Json(add): Json<AddItem>,
        ) -> axum::response::Response {
            let mut items = match session.get::<Vec<String>>(CART).await {
                Ok(items) => items.unwrap_or_default(),
                Err(error) => return store_error(error),
            };
            items.push(add.item);
            if let Err(error) = session.insert(CART, &items).await {
                return store_error(error);
            }
            json(200, cart_common::items(items))
        }

        async fn logout(session: Session) -> axum::response::Response {
            match session.flush().await {
                Ok(()) => json(200, cart_common::ok()),
                Err(error) => store_error(error),
            }
        }
    };
}

/// tower-sessions 0.15, for its `MemoryStore`.
mod current {
    cart_routes!(tower_sessions);
}

/// tower-sessions 0.14, for `tower-sessions-redis-store` 0.16.
mod redis_release {
    cart_routes!(tower_sessions_014);
}

const USER: &str = "user";

/// How long one attempt to connect to Redis may take: a loopback connect and handshake
/// take milliseconds, so this only ever ends an attempt that is stuck.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Attempts before giving up; all of them fit well inside the bench's start-up timeout.
const CONNECT_ATTEMPTS: u32 = 3;
const CONNECT_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

#[tokio::main]
async fn main() -> ExitCode {
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-tower-sessions: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let port = sessio_bench_peers::port()?;
    let always_save = IdleExtension::from_env()? == IdleExtension::EveryRequest;
    let app: Router = match sessio_bench_peers::redis_url()? {
        None => {
            use tower_sessions::{
                cookie::time::Duration, Expiry, MemoryStore, SessionManagerLayer,
            };
            let layer = SessionManagerLayer::new(MemoryStore::default())
                .with_secure(false)
                .with_expiry(Expiry::OnInactivity(Duration::seconds(IDLE_SECS)))
                .with_always_save(always_save);
            current::router().layer(layer)
        }
        Some(url) => {
            use tower_sessions_014::{cookie::time::Duration, Expiry, SessionManagerLayer};
            let pool = connect_pool(&url).await?;
            let layer = SessionManagerLayer::new(RedisStore::new(pool))
                .with_secure(false)
                .with_expiry(Expiry::OnInactivity(Duration::seconds(IDLE_SECS)))
                .with_always_save(always_save);
            redis_release::router().layer(layer)
        }
    };
    let listener = tokio::net::TcpListener::bind(sessio_bench_peers::addr(port))
        .await
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    sessio_bench_peers::announce(bound.port());
    axum::serve(listener, app)
        .with_graceful_shutdown(cart_common::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// Connects a pool of two Redis connections, `CONNECT_ATTEMPTS` times at most, each
/// attempt bounded by `CONNECT_TIMEOUT`.
///
/// `Pool::init` rather than the `connect` + `wait_for_connect` pair that
/// tower-sessions-redis-store's documentation shows: in fred 10, `wait_for_connect` reads
/// the client's state and only then subscribes to the connect notification, so a
/// connection that completes in between (possible as soon as the runtime has two worker
/// threads) is announced before anyone listens, and a connection that stays up is never
/// announced again: the server would wait forever and never listen. `init` subscribes
/// before it connects. The timeout and the fresh pool per attempt are for whatever else
/// can still stall or fail a connect (a Redis busy with another client's work); an
/// abandoned attempt's connection task ends or idles on its own. The last attempt's error
/// is the one reported.
async fn connect_pool(url: &str) -> Result<Pool, String> {
    let config = Config::from_url(url).map_err(|e| format!("SESSION_STORE={url}: {e}"))?;
    let mut failure = String::new();
    for attempt in 1..=CONNECT_ATTEMPTS {
        let pool = Pool::new(config.clone(), None, None, None, 2).map_err(|e| e.to_string())?;
        // The connection task runs on its own; its handle is not needed to use the pool.
        match tokio::time::timeout(CONNECT_TIMEOUT, pool.init()).await {
            Ok(Ok(_connection_task)) => return Ok(pool),
            Ok(Err(error)) => failure = error.to_string(),
            Err(_) => failure = format!("no connection within {CONNECT_TIMEOUT:?}"),
        }
        if attempt < CONNECT_ATTEMPTS {
            eprintln!(
                "peer-tower-sessions: connecting to {url} (attempt {attempt}/{CONNECT_ATTEMPTS}): \
                 {failure}; trying again"
            );
            tokio::time::sleep(CONNECT_RETRY_PAUSE).await;
        }
    }
    Err(format!(
        "cannot connect to {url} in {CONNECT_ATTEMPTS} attempts: {failure}"
    ))
}

fn json(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

fn store_error(error: impl std::fmt::Display) -> Response {
    json(503, serde_json::json!({"error": error.to_string()}))
}
