//! The error handlers return with `?` and the response it turns into.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use sessio::SessionError;

/// Why a handler could not use its session; answers with a JSON `{"error": ...}` body.
///
/// Handlers return it with `?` on any [`sessio::Session`] call: a failing store answers
/// 503, anything else 500.
///
/// ```
/// use actix_web::HttpResponse;
/// use sessio_actix::Session;
///
/// async fn visits(session: Session) -> Result<HttpResponse, sessio_actix::Error> {
///     let visits = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
///     Ok(HttpResponse::Ok().json(visits))
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The route extracts a [`Session`](crate::Session) but no
    /// [`SessionMiddleware`](crate::SessionMiddleware) wraps it: a setup mistake, 500.
    #[error(
        "no session on this request: wrap the app or scope in sessio_actix::SessionMiddleware"
    )]
    MissingMiddleware,
    /// A session operation failed: 503 when the store is unavailable, else 500.
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::MissingMiddleware => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Session(error) => session_status(error),
        }
    }

    fn error_response(&self) -> HttpResponse {
        json_error(self.status_code(), &self.to_string())
    }
}

/// The response [`SessionMiddleware`](crate::SessionMiddleware) answers with by default
/// when the end of a request fails to save its session: the status of
/// [`SessionError::status_code`] and a JSON `{"error": ...}` body.
pub(crate) fn default_error_response(error: &SessionError) -> HttpResponse {
    json_error(session_status(error), &error.to_string())
}

fn session_status(error: &SessionError) -> StatusCode {
    StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessio::StoreError;

    #[test]
    fn statuses() {
        let unavailable = Error::from(SessionError::from(StoreError::Unavailable("down".into())));
        assert_eq!(unavailable.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            Error::from(SessionError::Finished).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            Error::MissingMiddleware.status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let response = Error::MissingMiddleware.error_response();
        let content_type = response.headers().get("content-type").map(|v| v.as_bytes());
        assert_eq!(content_type, Some(&b"application/json"[..]));
    }
}
