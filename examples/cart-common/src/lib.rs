//! What the cart examples (`axum-cart`, `actix-cart`, `rocket-cart`, `warp-cart`) share,
//! so that each of them shows only its framework's way of using sessions.
//!
//! The contract every cart app keeps: environment variables `PORT`, `SESSION_STORE`
//! (`memory` or a `redis://` URL), `SESSION_IDLE_SECS`, `SESSION_ABSOLUTE_SECS`,
//! `SESSION_MAX`, `SESSION_INSECURE_COOKIE`; routes `/health`, `/me`, `/login`, `/cart`,
//! `/logout`, `/logout-all`.
#![forbid(unsafe_code)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use sessio::{CookieConfig, ExpiryPolicy, MemoryStore, SessionError, SessionManager, SessionStore};
use sessio_redis::{RedisConfig, RedisStore};

/// The session value holding the cart's items.
pub const CART: &str = "cart";

/// A cart app's configuration, read from the environment.
pub struct CartConfig {
    /// The port to listen on, on 127.0.0.1.
    pub port: u16,
    /// The session manager over the configured store.
    pub manager: SessionManager,
}

impl CartConfig {
    /// Reads the environment; a bad value is an error naming the variable.
    pub async fn from_env() -> Result<Self, String> {
        let port = env_number("PORT", 3000)?;
        let idle = env_number("SESSION_IDLE_SECS", 1800)?;
        let absolute = env_number("SESSION_ABSOLUTE_SECS", 86400)?;
        let max = env_number("SESSION_MAX", 1_000_000)?;
        let store: Arc<dyn SessionStore> = match std::env::var("SESSION_STORE").as_deref() {
            Err(_) | Ok("memory") => {
                let max = NonZeroUsize::new(max).ok_or("SESSION_MAX must be at least 1")?;
                Arc::new(MemoryStore::new(max))
            }
            Ok(url) if url.starts_with("redis://") || url.starts_with("rediss://") => Arc::new(
                RedisStore::connect_lazy(url, RedisConfig::default())
                    .map_err(|e| format!("SESSION_STORE={url}: {e}"))?,
            ),
            Ok(other) => {
                return Err(format!(
                    "SESSION_STORE must be `memory` or a redis:// URL, not {other:?}"
                ))
            }
        };
        let expiry = ExpiryPolicy::builder()
            .idle_timeout(Some(Duration::from_secs(idle)))
            .absolute_timeout(Some(Duration::from_secs(absolute)))
            .build()
            .map_err(|e| format!("SESSION_IDLE_SECS / SESSION_ABSOLUTE_SECS: {e}"))?;
        let insecure = std::env::var("SESSION_INSECURE_COOKIE").is_ok_and(|v| v == "1");
        let manager = SessionManager::builder_shared(store)
            .expiry(expiry)
            .cookie(CookieConfig::new().secure(!insecure))
            .build()
            .map_err(|e| format!("session configuration: {e}"))?;
        Ok(CartConfig { port, manager })
    }

    /// The address to bind.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Prints the line that tells a person (or a test) the app is ready.
    pub fn announce(&self, port: u16) {
        println!("listening on http://127.0.0.1:{port}");
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a number, not {v:?}")),
    }
}

/// `POST /login`'s body.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// Who.
    pub user: String,
    /// Their password.
    pub password: String,
}

impl Login {
    /// The stand-in for a real credential check: the password is `"pw-" + user`.
    pub fn is_valid(&self) -> bool {
        !self.user.is_empty() && self.password == format!("pw-{}", self.user)
    }
}

/// `POST /cart`'s body.
#[derive(Debug, Deserialize)]
pub struct AddItem {
    /// What to add.
    pub item: String,
}

/// `{"ok":true}`.
pub fn ok() -> Value {
    json!({"ok": true})
}

/// `{"user":NAME}`.
pub fn user(name: &str) -> Value {
    json!({"user": name})
}

/// `{"items":[...]}`. Takes the items by value: each becomes a JSON string without a copy
/// (`json!` would clone every item into the `Value`, an allocation per item on every cart
/// response).
pub fn items(items: Vec<String>) -> Value {
    let items = items.into_iter().map(Value::String).collect();
    let mut body = serde_json::Map::with_capacity(1);
    body.insert("items".to_owned(), Value::Array(items));
    Value::Object(body)
}

/// `{"revoked":N}`.
pub fn revoked(count: usize) -> Value {
    json!({"revoked": count})
}

/// `{"error":"not logged in"}`, with 401.
pub fn not_logged_in() -> (u16, Value) {
    (401, json!({"error": "not logged in"}))
}

/// `{"error":"wrong user or password"}`, with 401.
pub fn wrong_credentials() -> (u16, Value) {
    (401, json!({"error": "wrong user or password"}))
}

/// A 400 for a body that is not the expected JSON.
pub fn bad_request(reason: impl std::fmt::Display) -> (u16, Value) {
    (
        400,
        json!({"error": format!("invalid request body: {reason}")}),
    )
}

/// The most bytes a cart app reads of a request body. Every app sets it, rather than
/// keeping its framework's default (2 MiB in axum and actix-web, 1 MiB for rocket's JSON,
/// none in warp), so that all four refuse the same bodies: a cart item is a few bytes, and
/// a server that buffers whatever it is sent can be made to run out of memory.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A 413 for a body longer than [`BODY_LIMIT`]; nothing of it was read into the session.
pub fn body_too_large() -> (u16, Value) {
    (
        413,
        json!({"error": format!("request body larger than {BODY_LIMIT} bytes")}),
    )
}

/// A 404 for a path the app does not serve: a JSON error like every other answer.
pub fn not_found() -> (u16, Value) {
    (404, json!({"error": "not found"}))
}

/// A 405 for a served path asked with another method; the app sends it with an `Allow`
/// header naming [`allowed_methods`].
pub fn method_not_allowed() -> (u16, Value) {
    (405, json!({"error": "method not allowed"}))
}

/// The contract's paths, each with the methods it takes as an `Allow` header's value.
/// A path that takes `GET` takes `HEAD` too, which every general-purpose HTTP server must
/// (RFC 9110, section 9.1): the `GET` answer without its body.
pub const ROUTES: [(&str, &str); 6] = [
    ("/health", "GET, HEAD"),
    ("/me", "GET, HEAD"),
    ("/login", "POST"),
    ("/cart", "GET, HEAD, POST"),
    ("/logout", "POST"),
    ("/logout-all", "POST"),
];

/// The methods [`ROUTES`] gives `path`; `None` for a path the contract does not have.
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|(route, _)| *route == path)
        .map(|(_, methods)| *methods)
}

/// The status and JSON body for a session error: 503 when the store is unavailable.
pub fn session_error(error: &SessionError) -> (u16, Value) {
    (error.status_code(), json!({"error": error.to_string()}))
}

/// Resolves on Ctrl-C or SIGTERM, for graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_body_is_the_contracts() {
        let body = |list: Vec<String>| serde_json::to_string(&items(list)).ok();
        assert_eq!(body(Vec::new()).as_deref(), Some(r#"{"items":[]}"#));
        assert_eq!(
            body(vec!["apple".into(), "pear \"green\"".into()]).as_deref(),
            Some(r#"{"items":["apple","pear \"green\""]}"#)
        );
    }
}
