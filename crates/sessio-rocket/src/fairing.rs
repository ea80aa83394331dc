//! The fairing: manages the manager, finishes each request's session after its route.

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::Status;
use rocket::serde::json::Value;
use rocket::{Build, Request, Response, Rocket};
use sessio::{HeaderAccess, SessionError, SessionHeader, SessionManager};

use crate::error::{default_error_response, error_response};
use crate::guard::StartedSession;

/// How a session error becomes a status and a JSON body.
pub(crate) type RenderError = fn(&SessionError) -> (Status, Value);

/// What the fairing puts in rocket's managed state for the guard and the error responder.
pub(crate) struct Sessions {
    pub(crate) manager: SessionManager,
    pub(crate) render_error: RenderError,
}

/// Adds sessions to a rocket app: attach it once with
/// [`Rocket::attach`](rocket::Rocket::attach).
///
/// On ignite it manages the [`SessionManager`] for the [`Session`](crate::Session) guard.
/// On each response it finishes the session a route started (none: nothing to do, no
/// store round trip) and adds its headers; when finishing fails (the store is down) the
/// response's status and body become the error response.
///
/// ```
/// use sessio::{MemoryStore, SessionManager};
/// use sessio_rocket::SessionFairing;
///
/// let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
/// let app = rocket::build().attach(SessionFairing::new(manager));
/// # drop(app);
/// ```
#[derive(Debug)]
pub struct SessionFairing {
    manager: SessionManager,
    render_error: RenderError,
}

impl SessionFairing {
    /// A fairing over `manager`, answering session errors with
    /// [`default_error_response`].
    pub fn new(manager: SessionManager) -> Self {
        SessionFairing {
            manager,
            render_error: default_error_response,
        }
    }

    /// Replaces how session errors are answered, both by
    /// [`SessionErrorResponse`](crate::SessionErrorResponse) in routes and by the fairing
    /// when finishing a session fails.
    ///
    /// ```
    /// use rocket::http::Status;
    /// use rocket::serde::json::json;
    /// use sessio::{MemoryStore, SessionManager};
    /// use sessio_rocket::SessionFairing;
    ///
    /// let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
    /// let fairing = SessionFairing::new(manager).error_response(|error| {
    ///     let status = Status::new(error.status_code());
    ///     (status, json!({ "message": "please try again later" }))
    /// });
    /// # drop(fairing);
    /// ```
    pub fn error_response(mut self, render: fn(&SessionError) -> (Status, Value)) -> Self {
        self.render_error = render;
        self
    }
}

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "sessio",
            kind: Kind::Ignite | Kind::Response | Kind::Singleton,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        Ok(rocket.manage(Sessions {
            manager: self.manager.clone(),
            render_error: self.render_error,
        }))
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        // Caches `None` when no guard started a session: then there is nothing to finish.
        let StartedSession(Some(session)) = request.local_cache(|| StartedSession(None)) else {
            return;
        };
        match session.finish().await {
            Ok(finished) => finished.apply_to(&mut ResponseHeaders(response)),
            Err(error) => {
                response.merge(error_response(self.render_error, &error, request));
            }
        }
    }
}

/// A rocket response's headers as `sessio` edits them.
struct ResponseHeaders<'a, 'r>(&'a mut Response<'r>);

impl HeaderAccess for ResponseHeaders<'_, '_> {
    fn any_value(&self, name: SessionHeader, matches: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.headers().get(name.as_str()).any(matches)
    }

    fn append(&mut self, name: SessionHeader, value: String) {
        self.0.adjoin_raw_header(name.as_str(), value);
    }

    fn append_static(&mut self, name: SessionHeader, value: &'static str) {
        self.0.adjoin_raw_header(name.as_str(), value);
    }

    fn replace(&mut self, name: SessionHeader, value: String) {
        self.0.set_raw_header(name.as_str(), value);
    }
}
