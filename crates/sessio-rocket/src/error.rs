//! Session errors as rocket responses.

use rocket::catcher::Catcher;
use rocket::http::Status;
use rocket::response::{self, Responder};
use rocket::serde::json::{json, Json, Value};
use rocket::{Request, Response};
use sessio::SessionError;

use crate::fairing::{RenderError, Sessions};

/// A route's error for a failed session operation: build it with `?` from a
/// [`SessionError`]. It answers what the fairing's
/// [`error_response`](crate::SessionFairing::error_response) says, by default
/// [`default_error_response`]: `503` when the store is unavailable, else `500`, with
/// `{"error":"..."}`.
///
/// ```
/// use sessio_rocket::{Session, SessionErrorResponse};
///
/// #[rocket::post("/remember/<theme>")]
/// async fn remember(session: Session, theme: &str) -> Result<&'static str, SessionErrorResponse> {
///     session.insert("theme", &theme).await?;
///     Ok("saved")
/// }
/// ```
#[derive(Debug)]
pub struct SessionErrorResponse(pub SessionError);

impl From<SessionError> for SessionErrorResponse {
    fn from(error: SessionError) -> Self {
        SessionErrorResponse(error)
    }
}

impl<'r> Responder<'r, 'static> for SessionErrorResponse {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let render = request
            .rocket()
            .state::<Sessions>()
            .map_or(default_error_response as RenderError, |sessions| {
                sessions.render_error
            });
        Ok(error_response(render, &self.0, request))
    }
}

/// The default answer to a session error: its status (`503` when the store is
/// unavailable, else `500`) and `{"error":"<message>"}`.
///
/// ```
/// use rocket::http::Status;
/// use sessio::SessionError;
///
/// let (status, body) = sessio_rocket::default_error_response(&SessionError::ReadOnly);
/// assert_eq!(status, Status::ServiceUnavailable);
/// assert!(body["error"].is_string());
/// ```
pub fn default_error_response(error: &SessionError) -> (Status, Value) {
    (
        Status::new(error.status_code()),
        json!({ "error": error.to_string() }),
    )
}

/// The response for `error` as `render` says.
pub(crate) fn error_response(
    render: RenderError,
    error: &SessionError,
    request: &Request<'_>,
) -> Response<'static> {
    let (status, body) = render(error);
    (status, Json(body))
        .respond_to(request)
        .unwrap_or_else(|status| Response::build().status(status).finalize())
}

/// JSON catchers for `500` and `503` (`{"error":"Internal Server Error"}`, ...), for apps
/// that answer JSON only; rocket's default catchers answer HTML. Register them with
/// [`Rocket::register`](rocket::Rocket::register).
///
/// ```
/// let app = rocket::build().register("/", sessio_rocket::catchers());
/// # drop(app);
/// ```
pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![internal_error, unavailable]
}

#[rocket::catch(500)]
fn internal_error() -> Json<Value> {
    status_error(Status::InternalServerError)
}

#[rocket::catch(503)]
fn unavailable() -> Json<Value> {
    status_error(Status::ServiceUnavailable)
}

fn status_error(status: Status) -> Json<Value> {
    Json(json!({ "error": status.reason_lossy() }))
}
