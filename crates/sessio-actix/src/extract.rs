//! The `Session` extractor.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::Error;

/// The request's [`sessio::Session`], as a handler argument; derefs to it.
///
/// Requires [`SessionMiddleware`](crate::SessionMiddleware) around the route; without it
/// extraction fails with [`Error::MissingMiddleware`] (500).
///
/// ```
/// use actix_web::HttpResponse;
/// use sessio_actix::Session;
///
/// async fn logout(session: Session) -> Result<HttpResponse, sessio_actix::Error> {
///     session.destroy().await?;
///     Ok(HttpResponse::Ok().finish())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Session(pub sessio::Session);

impl Session {
    /// The handle itself.
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

impl FromRequest for Session {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request.extensions().get::<sessio::Session>().cloned();
        ready(session.map(Session).ok_or(Error::MissingMiddleware))
    }
}
