//! The middleware: starts the request's session before the inner service and finishes it
//! after, moving only headers and the session handle.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::http::header::COOKIE;
use axum::response::{IntoResponse, Response};
use futures_util::future::TryFuture;
use pin_project_lite::pin_project;
use sessio::{FinishAfter, SessionManager};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::default_error_response;

/// Turns a failure of [`sessio::Session::finish`] into the response sent instead of the
/// handler's.
pub type ErrorHandler = fn(&sessio::SessionError) -> Response;

/// A [`Layer`] that gives every request a lazy [`sessio::Session`] (read by the
/// [`Session`](crate::Session) extractor) and adds the session's `Set-Cookie`, `Vary` and
/// `Cache-Control` headers to the response.
///
/// Works with [`Router::layer`](axum::Router::layer) (every route and the fallback),
/// [`Router::route_layer`](axum::Router::route_layer) (matched routes only) and nested
/// routers. The session is loaded only when a handler first uses it, so routes that never
/// touch it cost no store round trip.
///
/// ```
/// use axum::{routing::get, Router};
/// use sessio::{MemoryStore, SessionManager};
/// use sessio_axum::SessionLayer;
///
/// let manager = SessionManager::builder(MemoryStore::default()).build()?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(SessionLayer::new(manager));
/// # Ok::<(), sessio::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    manager: SessionManager,
    on_error: ErrorHandler,
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A layer over `manager`, answering a failed end of session with
    /// [`default_error_response`] (503 JSON when the store is unavailable, else 500).
    pub fn new(manager: SessionManager) -> Self {
        SessionLayer {
            manager,
            on_error: default_error_response,
        }
    }

    /// Replaces the response sent when the session cannot be finished (e.g. the store
    /// fails while writing it). Errors a handler returns itself go through its own
    /// error type, such as [`SessionError`](crate::SessionError).
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use axum::response::{IntoResponse, Response};
    /// use sessio::{MemoryStore, SessionManager};
    /// use sessio_axum::SessionLayer;
    ///
    /// fn plain_text(error: &sessio::SessionError) -> Response {
    ///     (StatusCode::SERVICE_UNAVAILABLE, format!("try again later: {error}")).into_response()
    /// }
    ///
    /// let manager = SessionManager::builder(MemoryStore::default()).build()?;
    /// let layer = SessionLayer::new(manager).with_error_handler(plain_text);
    /// # Ok::<(), sessio::ConfigError>(())
    /// ```
    pub fn with_error_handler(mut self, on_error: ErrorHandler) -> Self {
        self.on_error = on_error;
        self
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
            on_error: self.on_error,
        }
    }
}

/// The [`Service`] that [`SessionLayer`] wraps around the inner service.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
    on_error: ErrorHandler,
}

impl<S: fmt::Debug> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The future of [`SessionService`]: the inner service's response with the session's
    /// headers applied, around a [`sessio::FinishAfter`] (which boxes nothing unless the
    /// session needs a store write).
    pub struct SessionFuture<F>
    where
        F: TryFuture,
    {
        #[pin]
        finish: FinishAfter<F>,
        on_error: ErrorHandler,
    }
}

impl<F: TryFuture> fmt::Debug for SessionFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionFuture").finish_non_exhaustive()
    }
}

impl<F, R, E> Future for SessionFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (answer, finished) = ready!(this.finish.poll(cx))?;
        Poll::Ready(Ok(match finished {
            Ok(finished) => {
                let mut response = answer.into_response();
                finished.apply_to(response.headers_mut());
                response
            }
            Err(error) => (this.on_error)(&error),
        }))
    }
}

impl<S> Service<Request> for SessionService<S>
where
    S: Service<Request> + Clone,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SessionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let cookies = request
            .headers()
            .get_all(COOKIE)
            .iter()
            .map(|value| value.as_bytes());
        let session = self.manager.start(cookies);
        request.extensions_mut().insert(session.clone());
        // The clone is not ready; call the instance `poll_ready` was called on.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        SessionFuture {
            finish: session.finish_after(inner.call(request)),
            on_error: self.on_error,
        }
    }
}
