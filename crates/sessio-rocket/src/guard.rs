//! The request guard that hands a route its session.

use std::fmt;
use std::ops::Deref;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::Request;

use crate::fairing::Sessions;

/// The session a guard started for a request, kept in the request's local cache for the
/// fairing to finish; `None` when no route asked for one.
pub(crate) struct StartedSession(pub(crate) Option<sessio::Session>);

/// The request's session, as a request guard. Derefs to [`sessio::Session`].
///
/// The first guard of a request starts the session from its `Cookie` headers (no store
/// access yet); later guards of the same request get the same session. Fails with `500`
/// and [`MissingSessionFairing`] when [`SessionFairing`](crate::SessionFairing) is not
/// attached.
///
/// ```
/// use rocket::serde::json::{json, Json, Value};
/// use sessio_rocket::{Session, SessionErrorResponse};
///
/// #[rocket::get("/me")]
/// async fn me(session: Session) -> Result<Json<Value>, SessionErrorResponse> {
///     Ok(Json(json!({ "user": session.user().await? })))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Session(sessio::Session);

impl Session {
    /// The `sessio` session handle.
    pub fn into_inner(self) -> sessio::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = sessio::Session;

    fn deref(&self) -> &sessio::Session {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = MissingSessionFairing;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(sessions) = request.rocket().state::<Sessions>() else {
            return Outcome::Error((Status::InternalServerError, MissingSessionFairing));
        };
        let started = request.local_cache(|| {
            let cookies = request.headers().get("cookie").map(str::as_bytes);
            StartedSession(Some(sessions.manager.start(cookies)))
        });
        match &started.0 {
            Some(session) => Outcome::Success(Session(session.clone())),
            // Only the fairing caches `None`, and it runs after every guard.
            None => Outcome::Error((Status::InternalServerError, MissingSessionFairing)),
        }
    }
}

/// Why the [`Session`] guard failed: [`SessionFairing`](crate::SessionFairing) is not
/// attached to the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingSessionFairing;

impl fmt::Display for MissingSessionFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Session guard needs sessio_rocket::SessionFairing attached to the app")
    }
}

impl std::error::Error for MissingSessionFairing {}
