//! The middleware: starts each request's session, hands it to handlers through the
//! request's extensions, and adds the session's headers to the response.

use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::future::TryFuture;
use pin_project_lite::pin_project;
use sessio::{
    is_plain_header_value, FinishAfter, HeaderAccess, SessionError, SessionHeader, SessionManager,
};

use crate::error::default_error_response;

type ErrorResponder = Arc<dyn Fn(&SessionError) -> HttpResponse + Send + Sync>;

/// Gives every request of the app (or scope) it wraps a lazy [`sessio::Session`], and
/// adds its `Set-Cookie`, `Vary` and `Cache-Control` headers to the response.
///
/// Register it with [`App::wrap`](actix_web::App::wrap); handlers take a
/// [`Session`](crate::Session). A route that never uses the session costs no store round
/// trip and sends no cookie.
///
/// When saving the session at the end of the request fails, the handler's response is
/// replaced with an error response: by default a JSON `{"error": ...}` with status 503
/// for a failing store and 500 otherwise; [`error_response`](Self::error_response)
/// changes it. An error an inner service propagates (rather than a handler's error
/// response, which is an ordinary response) ends the request with nothing saved.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use sessio::{MemoryStore, SessionManager};
/// use sessio_actix::{Session, SessionMiddleware};
///
/// let manager = SessionManager::builder(MemoryStore::default()).build()?;
/// let app = App::new()
///     .wrap(SessionMiddleware::new(manager))
///     .route("/", web::get().to(|session: Session| async move {
///         let name: Option<String> = session.get("name").await?;
///         Ok::<_, sessio_actix::Error>(HttpResponse::Ok().json(name))
///     }));
/// # drop(app);
/// # Ok::<(), sessio::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionMiddleware {
    manager: SessionManager,
    error_response: ErrorResponder,
}

impl fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl SessionMiddleware {
    /// Sessions from `manager`, with the default error response.
    pub fn new(manager: SessionManager) -> Self {
        SessionMiddleware {
            manager,
            error_response: Arc::new(default_error_response),
        }
    }

    /// Replaces the response sent when saving the session fails at the end of a request.
    ///
    /// ```
    /// use actix_web::HttpResponse;
    /// use sessio::{MemoryStore, SessionManager};
    /// use sessio_actix::SessionMiddleware;
    ///
    /// let manager = SessionManager::builder(MemoryStore::default()).build()?;
    /// let middleware = SessionMiddleware::new(manager).error_response(|error| {
    ///     HttpResponse::ServiceUnavailable().body(format!("try again later ({error})"))
    /// });
    /// # drop(middleware);
    /// # Ok::<(), sessio::ConfigError>(())
    /// ```
    pub fn error_response<F>(mut self, error_response: F) -> Self
    where
        F: Fn(&SessionError) -> HttpResponse + Send + Sync + 'static,
    {
        self.error_response = Arc::new(error_response);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service,
            manager: self.manager.clone(),
            error_response: self.error_response.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the app's; actix builds it.
pub struct SessionService<S> {
    service: S,
    manager: SessionManager,
    error_response: ErrorResponder,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = SessionFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let cookies = request
            .headers()
            .get_all(header::COOKIE)
            .map(HeaderValue::as_bytes);
        let session = self.manager.start(cookies);
        request.extensions_mut().insert(session.clone());
        SessionFuture {
            finish: session.finish_after(self.service.call(request)),
            error_response: self.error_response.clone(),
        }
    }
}

pin_project! {
    /// The future of [`SessionService`]: the app's response with the session's
    /// headers applied, around a [`sessio::FinishAfter`] (which boxes nothing unless the
    /// session needs a store write).
    pub struct SessionFuture<F>
    where
        F: TryFuture,
    {
        #[pin]
        finish: FinishAfter<F>,
        error_response: ErrorResponder,
    }
}

impl<F: TryFuture> fmt::Debug for SessionFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionFuture").finish_non_exhaustive()
    }
}

impl<F, B> Future for SessionFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (mut response, finished) = ready!(this.finish.poll(cx))?;
        Poll::Ready(Ok(match finished {
            Ok(finished) => {
                finished.apply_to(&mut ResponseHeaders(response.headers_mut()));
                response.map_into_left_body()
            }
            Err(error) => response
                .into_response((this.error_response)(&error))
                .map_into_right_body(),
        }))
    }
}

/// actix's header map, as [`sessio::SessionResponse::apply_to`] wants it.
struct ResponseHeaders<'a>(&'a mut HeaderMap);

impl HeaderAccess for ResponseHeaders<'_> {
    fn any_value(&self, name: SessionHeader, matches: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0
            .get_all(actix_name(name))
            .filter_map(|v| v.to_str().ok())
            .any(matches)
    }

    fn append(&mut self, name: SessionHeader, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.append(actix_name(name), value);
        }
    }

    fn append_static(&mut self, name: SessionHeader, value: &'static str) {
        // `from_static` keeps the value without copying it, but panics on a byte a
        // header value cannot hold: such a value is dropped, as `append` drops one.
        if is_plain_header_value(value) {
            self.0
                .append(actix_name(name), HeaderValue::from_static(value));
        }
    }

    fn replace(&mut self, name: SessionHeader, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(actix_name(name), value);
        }
    }
}

/// actix's predefined name for `name`: no parsing on every response.
fn actix_name(name: SessionHeader) -> HeaderName {
    match name {
        SessionHeader::SetCookie => header::SET_COOKIE,
        SessionHeader::CacheControl => header::CACHE_CONTROL,
        SessionHeader::Vary => header::VARY,
        _ => HeaderName::from_static(name.as_str()),
    }
}
