//! [axum] adapter for [sessio]: server-side HTTP sessions.
//!
//! - [`SessionLayer`]: the tower middleware. Before the handler it starts the request's
//!   lazy session from the `Cookie` headers; after it, it finishes the session and
//!   appends the session's `Set-Cookie` (never replacing the handler's cookies).
//! - [`Session`]: the extractor handlers take the session with (a [`sessio::Session`]
//!   through `Deref`). Without the layer it rejects with [`MissingSessionLayer`], a
//!   `500 {"error":"session layer missing"}`.
//! - [`SessionError`]: session errors as responses, so handlers use `?`: `503` JSON when
//!   the store is unavailable, `500` JSON otherwise.
//!
//! Every session rule (ids, cookies, expiry, what to write) lives in `sessio`; this crate
//! only moves headers and the session handle between axum and it.
//!
//! # Example
//! ```
//! use axum::routing::{get, post};
//! use axum::{Json, Router};
//! use serde_json::{json, Value};
//! use sessio::{MemoryStore, SessionManager};
//! use sessio_axum::{Session, SessionError, SessionLayer};
//!
//! // Reads and writes the session.
//! async fn count(session: Session) -> Result<Json<Value>, SessionError> {
//!     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", &visits).await?;
//!     Ok(Json(json!({"visits": visits})))
//! }
//!
//! // Logs in: a new session id (against session fixation), bound to the user.
//! async fn login(session: Session) -> Result<Json<Value>, SessionError> {
//!     session.renew().await?;
//!     session.set_user(Some("alice")).await?;
//!     Ok(Json(json!({"user": "alice"})))
//! }
//!
//! // Logs out: the session is deleted and the cookie cleared.
//! async fn logout(session: Session) -> Result<Json<Value>, SessionError> {
//!     session.destroy().await?;
//!     Ok(Json(json!({"ok": true})))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = SessionManager::builder(MemoryStore::default()).build()?;
//! let app = Router::new()
//!     .route("/count", get(count))
//!     .route("/login", post(login))
//!     .route("/logout", post(logout))
//!     .layer(SessionLayer::new(manager));
//!
//! // Serve it as usual:
//! // axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # use tower::ServiceExt;
//! # let request = axum::http::Request::get("/count").body(axum::body::Body::empty())?;
//! # let response = app.oneshot(request).await?;
//! # assert!(response.headers()["set-cookie"].to_str()?.starts_with("sessio="));
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! None.
#![forbid(unsafe_code)]

mod error;
mod extract;
mod layer;

pub use error::{default_error_response, SessionError};
pub use extract::{MissingSessionLayer, Session};
pub use layer::{ErrorHandler, SessionFuture, SessionLayer, SessionService};
