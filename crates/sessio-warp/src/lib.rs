//! [warp] adapter for [sessio]: server-side sessions as filters.
//!
//! A route that uses the session is built with [`with_session`] (handler takes the
//! [`Session`]) or [`with_session_and`] (handler also takes one value another filter
//! extracts, e.g. a JSON body). Either one reads the request's `Cookie` headers, hands the
//! lazy session to the handler, and once the handler has replied, finishes the session and
//! appends its `Set-Cookie` (and `Vary` / `Cache-Control`) to the reply's headers.
//!
//! Starting and finishing the session live in one filter on purpose: a handler cannot get
//! a session without the filter that finishes it, so a route cannot forget to finish and
//! silently drop its writes. A route that never touches the session reaches no store.
//!
//! Session errors (a failing store, from the handler via `?` or from finishing) become a
//! [`SessionRejection`]; add [`recover`] to answer them with a JSON error (503 when the
//! store is unavailable, 500 otherwise), or write your own `recover` handler that
//! [finds](warp::Rejection::find) a [`SessionRejection`] to answer differently.
//!
//! When a handler rejects, the session is not finished: the request's changes are
//! dropped, as a rejected route in warp has no effect (another `or` branch may run).
//!
//! # Example
//!
//! ```
//! use sessio::{MemoryStore, Session, SessionManager};
//! use sessio_warp::{with_session, with_session_and, SessionRejection};
//! use warp::{Filter, Rejection, Reply};
//!
//! #[derive(serde::Deserialize)]
//! struct Login {
//!     user: String,
//! }
//!
//! // Read the session.
//! async fn me(session: Session) -> Result<impl Reply, SessionRejection> {
//!     let user: Option<String> = session.user().await?;
//!     Ok(warp::reply::json(&user))
//! }
//!
//! // Log in: a new session id (session fixation), then bind the user.
//! async fn login(session: Session, login: Login) -> Result<impl Reply, SessionRejection> {
//!     session.renew().await?;
//!     session.set_user(Some(&login.user)).await?;
//!     session.insert("visits", &1).await?;
//!     Ok(warp::reply())
//! }
//!
//! // Log out: deleted from the store, removal cookie sent.
//! async fn logout(session: Session) -> Result<impl Reply, SessionRejection> {
//!     session.destroy().await?;
//!     Ok(warp::reply())
//! }
//!
//! fn routes(manager: SessionManager) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
//!     let me = warp::path!("me").and(warp::get()).and(with_session(manager.clone(), me));
//!     let login = warp::path!("login")
//!         .and(warp::post())
//!         .and(with_session_and(manager.clone(), warp::body::json(), login));
//!     let logout = warp::path!("logout").and(warp::post()).and(with_session(manager, logout));
//!     me.or(login).or(logout).recover(sessio_warp::recover)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
//! let app = routes(manager);
//!
//! let reply = warp::test::request()
//!     .method("POST")
//!     .path("/login")
//!     .json(&serde_json::json!({"user": "ada"}))
//!     .reply(&app)
//!     .await;
//! let cookie = reply.headers()["set-cookie"].to_str().unwrap();
//! let cookie = cookie.split(';').next().unwrap().to_owned();
//!
//! let reply = warp::test::request().path("/me").header("cookie", &cookie).reply(&app).await;
//! assert_eq!(reply.body(), r#""ada""#);
//!
//! let reply = warp::test::request().method("POST").path("/logout").header("cookie", &cookie).reply(&app).await;
//! assert!(reply.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
//! # });
//! // Serve it: warp::serve(app).run(([127, 0, 0, 1], 3000)).await;
//! ```
//!
//! # Features
//! None.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::fmt;
use std::future::Future;

use sessio::{Session, SessionError, SessionManager};
use warp::http::header::COOKIE;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

/// A route that runs `handler` with the request's session and finishes the session after
/// it: the reply gets the session's `Set-Cookie`, or the request is rejected with a
/// [`SessionRejection`] when finishing fails.
///
/// ```
/// use sessio::{MemoryStore, Session, SessionManager};
/// use sessio_warp::{with_session, SessionRejection};
/// use warp::Filter;
///
/// async fn cart(session: Session) -> Result<warp::reply::Json, SessionRejection> {
///     let cart: Option<Vec<String>> = session.get("cart").await?;
///     Ok(warp::reply::json(&cart.unwrap_or_default()))
/// }
///
/// let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
/// let route = warp::path!("cart").and(warp::get()).and(with_session(manager, cart));
/// # let _ = route.recover(sessio_warp::recover);
/// ```
pub fn with_session<H, Fut, R, E>(
    manager: SessionManager,
    handler: H,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    H: Fn(Session) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send,
    R: Reply,
    E: Into<Rejection>,
{
    session(manager).and_then(move |session: Session| {
        let reply = handler(session.clone());
        finish_after(session, reply)
    })
}

/// Like [`with_session`], for a handler that also takes the value `args` extracts (a
/// JSON body, a path parameter, ...). `args` runs first: when it rejects, the handler and
/// the session are never reached.
///
/// ```
/// use sessio::{MemoryStore, Session, SessionManager};
/// use sessio_warp::{with_session_and, SessionRejection};
/// use warp::Filter;
///
/// async fn add(session: Session, item: String) -> Result<warp::reply::Json, SessionRejection> {
///     let cart = session
///         .update("cart", |cart: Option<Vec<String>>| {
///             let mut cart = cart.unwrap_or_default();
///             cart.push(item.clone());
///             cart
///         })
///         .await?;
///     Ok(warp::reply::json(&cart))
/// }
///
/// let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
/// let route = warp::path!("cart")
///     .and(warp::post())
///     .and(with_session_and(manager, warp::body::json(), add));
/// # let _ = route.recover(sessio_warp::recover);
/// ```
pub fn with_session_and<F, T, H, Fut, R, E>(
    manager: SessionManager,
    args: F,
    handler: H,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    F: Filter<Extract = (T,), Error = Rejection> + Clone + Send + Sync + 'static,
    T: Send + 'static,
    H: Fn(Session, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send,
    R: Reply,
    E: Into<Rejection>,
{
    args.and(session(manager))
        .and_then(move |args: T, session: Session| {
            let reply = handler(session.clone(), args);
            finish_after(session, reply)
        })
}

/// Starts the request's session from its `Cookie` headers; nothing reaches the store here.
fn session(
    manager: SessionManager,
) -> impl Filter<Extract = (Session,), Error = Infallible> + Clone {
    warp::header::headers_cloned().map(move |headers: HeaderMap| {
        manager.start(headers.get_all(COOKIE).iter().map(|v| v.as_bytes()))
    })
}

/// Awaits the handler, then finishes the session into the reply's headers.
async fn finish_after<R, E>(
    session: Session,
    reply: impl Future<Output = Result<R, E>>,
) -> Result<Response, Rejection>
where
    R: Reply,
    E: Into<Rejection>,
{
    let mut response = reply.await.map_err(Into::into)?.into_response();
    let finished = session.finish().await.map_err(SessionRejection::from)?;
    finished.apply_to(response.headers_mut());
    Ok(response)
}

/// A session error as a warp rejection. Handlers return it (`?` converts a
/// [`SessionError`]); [`recover`] answers it.
#[derive(Debug)]
pub struct SessionRejection(SessionError);

impl SessionRejection {
    /// The session error.
    pub fn error(&self) -> &SessionError {
        &self.0
    }

    /// The default answer: JSON `{"error":"<message>"}` with
    /// [`SessionError::status_code`] (503 when the store is unavailable, else 500).
    pub fn to_response(&self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({ "error": self.0.to_string() });
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    }
}

impl From<SessionError> for SessionRejection {
    fn from(error: SessionError) -> Self {
        SessionRejection(error)
    }
}

impl warp::reject::Reject for SessionRejection {}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SessionRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A `recover` handler that answers a [`SessionRejection`] with
/// [`SessionRejection::to_response`] and passes every other rejection on.
///
/// ```
/// # use sessio::{MemoryStore, Session, SessionManager};
/// # use sessio_warp::SessionRejection;
/// use warp::Filter;
/// # async fn me(session: Session) -> Result<warp::reply::Json, SessionRejection> {
/// #     Ok(warp::reply::json(&session.user().await?))
/// # }
/// # let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
/// let app = warp::path!("me")
///     .and(sessio_warp::with_session(manager, me))
///     .recover(sessio_warp::recover);
/// ```
pub async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    match rejection.find::<SessionRejection>() {
        Some(session_rejection) => Ok(session_rejection.to_response()),
        None => Err(rejection),
    }
}
