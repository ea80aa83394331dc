//! Session errors as axum responses.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The default response for a session error: `{"error":"<message>"}` with
/// [`sessio::SessionError::status_code`] (503 when the store is unavailable, else 500).
/// [`SessionLayer`](crate::SessionLayer) sends it when finishing a session fails, unless
/// replaced with [`SessionLayer::with_error_handler`](crate::SessionLayer::with_error_handler).
pub fn default_error_response(error: &sessio::SessionError) -> Response {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(serde_json::json!({"error": error.to_string()})),
    )
        .into_response()
}

/// A [`sessio::SessionError`] that is an axum response, so handlers can use `?` on
/// session calls; it answers with [`default_error_response`].
///
/// ```
/// use sessio_axum::{Session, SessionError};
///
/// async fn theme(session: Session) -> Result<String, SessionError> {
///     Ok(session.get::<String>("theme").await?.unwrap_or_else(|| "light".to_owned()))
/// }
/// let app: axum::Router = axum::Router::new().route("/theme", axum::routing::get(theme));
/// ```
#[derive(Debug)]
pub struct SessionError(pub sessio::SessionError);

impl From<sessio::SessionError> for SessionError {
    fn from(error: sessio::SessionError) -> Self {
        SessionError(error)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // Transparent: the message is the inner error's, so is the cause.
        self.0.source()
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        default_error_response(&self.0)
    }
}
