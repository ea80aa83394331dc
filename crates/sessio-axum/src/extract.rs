//! The extractor handlers take the session with.

use std::fmt;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The request's session, for handlers: a [`sessio::Session`] (all its methods through
/// `Deref`) put in the request by [`SessionLayer`](crate::SessionLayer).
///
/// Extracting it touches nothing: the store is reached only when a method is called.
/// Without the layer in front of the route, extraction fails with
/// [`MissingSessionLayer`], a `500 {"error":"session layer missing"}`.
///
/// ```
/// use sessio_axum::{Session, SessionError};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let count = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
///     Ok(format!("visit number {count}"))
/// }
/// let app: axum::Router = axum::Router::new().route("/visits", axum::routing::get(visits));
/// ```
#[derive(Clone, Debug)]
pub struct Session(pub sessio::Session);

impl Deref for Session {
    type Target = sessio::Session;

    fn deref(&self) -> &sessio::Session {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<sessio::Session>()
            .cloned()
            .map(Session)
            .ok_or(MissingSessionLayer)
    }
}

/// The [`Session`] extractor's rejection: the route is not behind a
/// [`SessionLayer`](crate::SessionLayer), a mistake in building the app. Answers
/// `500 {"error":"session layer missing"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingSessionLayer;

impl fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("session layer missing")
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.to_string()});
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    }
}
