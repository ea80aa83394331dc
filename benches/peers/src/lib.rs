//! What the bench servers share: the port from `PORT` and the line that says they are
//! ready, exactly as the cart apps (`examples/cart-common`) do, so that `cargo xtask bench`
//! starts every server the same way.
#![forbid(unsafe_code)]

/// The port to listen on, on 127.0.0.1, from `PORT` (default 3000; 0 for any free port).
pub fn port() -> Result<u16, String> {
    match std::env::var("PORT") {
        Err(_) => Ok(3000),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a number, not {v:?}")),
    }
}

/// The address to bind.
pub fn addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Prints the line that tells the bench the server is ready.
pub fn announce(port: u16) {
    println!("listening on http://127.0.0.1:{port}");
}

/// `SESSION_STORE`: `None` for the memory store, else the `redis://` URL.
pub fn redis_url() -> Result<Option<String>, String> {
    match std::env::var("SESSION_STORE").as_deref() {
        Err(_) | Ok("memory") => Ok(None),
        Ok(url) if url.starts_with("redis://") => Ok(Some(url.to_owned())),
        Ok(other) => Err(format!(
            "SESSION_STORE must be `memory` or a redis:// URL, not {other:?}"
        )),
    }
}

/// The user the bare servers answer for: with no session there is no one to look up,
/// so `GET /me` always answers for this name (the same JSON the cart apps build).
pub const BARE_USER: &str = "bench";

/// Seconds of inactivity after which a peer's session is gone, as the cart apps'
/// default `SESSION_IDLE_SECS`.
pub const IDLE_SECS: i64 = 1800;

/// When a peer pushes its session's deadline forward, from `PEER_IDLE_EXTENSION`.
///
/// The cart contract's idle timeout says "a session unused this long is gone": a read is
/// a use. Both peers extend the deadline only when the session is written unless told
/// otherwise, so a logged-in user who only reads would be logged out `IDLE_SECS` after
/// login however active. Each documents one switch for a sliding idle timeout
/// (tower-sessions `with_always_save(true)`, actix-session
/// `TtlExtensionPolicy::OnEveryRequest`), which writes on every request; that is the
/// default here, so that the peers do the contract's work. `on-change` keeps the
/// libraries' defaults, to measure what the sliding deadline costs them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IdleExtension {
    /// Every request with a session extends its deadline (the cart contract).
    EveryRequest,
    /// Only a changed session extends its deadline (each library's default).
    OnChange,
}

impl IdleExtension {
    /// Reads `PEER_IDLE_EXTENSION`: `every-request` (the default) or `on-change`.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("PEER_IDLE_EXTENSION").as_deref() {
            Err(_) | Ok("every-request") => Ok(IdleExtension::EveryRequest),
            Ok("on-change") => Ok(IdleExtension::OnChange),
            Ok(other) => Err(format!(
                "PEER_IDLE_EXTENSION must be `every-request` or `on-change`, not {other:?}"
            )),
        }
    }
}
