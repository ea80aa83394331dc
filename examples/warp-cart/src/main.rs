//! The cart app on warp: login, a session cart, logout; see `cart-app.md` for the
//! contract every cart app keeps.

use std::process::ExitCode;

use bytes::{Buf, BufMut};
use cart_common::{
    bad_request, body_too_large, not_logged_in, wrong_credentials, AddItem, CartConfig, Login,
    BODY_LIMIT, CART,
};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sessio::{Session, SessionManager};
use sessio_warp::{with_session, with_session_and, SessionRejection};
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::path::FullPath;
use warp::reject::MissingHeader;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match CartConfig::from_env().await {
        Ok(config) => config,
        Err(error) => {
            eprintln!("warp-cart: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = routes(config.manager.clone());
    let listener = match tokio::net::TcpListener::bind(config.addr()).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("warp-cart: cannot listen on {}: {error}", config.addr());
            return ExitCode::FAILURE;
        }
    };
    // Announce the bound port, which differs from the configured one for PORT=0.
    match listener.local_addr() {
        Ok(addr) => config.announce(addr.port()),
        Err(error) => {
            eprintln!("warp-cart: {error}");
            return ExitCode::FAILURE;
        }
    }
    warp::serve(app)
        .incoming(listener)
        .graceful(cart_common::shutdown_signal())
        .run()
        .await;
    ExitCode::SUCCESS
}

/// The routes; each one that uses the session is wrapped by `with_session`, which
/// finishes the session after the handler.
fn routes(
    manager: SessionManager,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let health = warp::path!("health").and(get_or_head()).map(health);
    let me = warp::path!("me")
        .and(get_or_head())
        .and(with_session(manager.clone(), me));
    let login = warp::path!("login").and(warp::post()).and(with_session_and(
        manager.clone(),
        json_body(),
        login,
    ));
    let cart = warp::path!("cart")
        .and(get_or_head())
        .and(with_session(manager.clone(), cart));
    let add_to_cart = warp::path!("cart").and(warp::post()).and(with_session_and(
        manager.clone(),
        json_body(),
        add_to_cart,
    ));
    let logout = warp::path!("logout")
        .and(warp::post())
        .and(with_session(manager.clone(), logout));
    let logout_all = warp::path!("logout-all")
        .and(warp::post())
        .and(with_session(manager, logout_all));
    health
        .or(me)
        .or(login)
        .or(cart)
        .or(add_to_cart)
        .or(logout)
        .or(logout_all)
        .or(other_methods())
        .recover(recover)
}

/// `GET` or `HEAD`: warp's `get()` takes `GET` alone, and hyper sends a `HEAD` answer
/// without its body.
fn get_or_head() -> impl Filter<Extract = (), Error = Rejection> + Copy {
    warp::get().or(warp::head()).unify()
}

/// Last of the routes: a request no route above answered is refused as asked with a
/// method its path does not take (a 405 naming the ones it does) when the contract has the
/// path, else as not found. It only ever refuses, so a route's own refusal (a bad body, a
/// store error) is still there for `recover` to find first.
fn other_methods() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::full().and_then(|path: FullPath| async move {
        Err::<Response, _>(match cart_common::allowed_methods(path.as_str()) {
            Some(allow) => warp::reject::custom(OtherMethod { allow }),
            None => warp::reject::not_found(),
        })
    })
}

/// A contract path asked with a method it does not take.
#[derive(Debug)]
struct OtherMethod {
    /// The methods it takes, as the `Allow` header's value.
    allow: &'static str,
}

impl warp::reject::Reject for OtherMethod {}

/// A request body the app refused: not JSON, or longer than [`BODY_LIMIT`].
#[derive(Debug)]
struct RefusedBody((u16, Value));

impl warp::reject::Reject for RefusedBody {}

/// A JSON body sent as JSON, of at most [`BODY_LIMIT`] bytes. `warp::body::json` reads a
/// body without a `Content-Type` as JSON, which the other cart apps refuse, and reads all
/// of any body it is sent.
fn json_body<T: DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone
{
    warp::header::value("content-type")
        .and(warp::body::stream())
        .and_then(|content_type: HeaderValue, body| async move {
            if !is_json(&content_type) {
                let refused = "expected a body with `Content-Type: application/json`";
                return Err(warp::reject::custom(RefusedBody(bad_request(refused))));
            }
            let body = read_within_limit(body)
                .await
                .map_err(warp::reject::custom)?;
            serde_json::from_slice(&body)
                .map_err(|error| warp::reject::custom(RefusedBody(bad_request(error))))
        })
}

/// Reads a body to its end, refusing it as soon as it passes [`BODY_LIMIT`] bytes.
async fn read_within_limit(
    body: impl Stream<Item = Result<impl Buf, warp::Error>>,
) -> Result<Vec<u8>, RefusedBody> {
    let mut body = std::pin::pin!(body);
    let mut read = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| RefusedBody(bad_request(error)))?;
        if read.len() + chunk.remaining() > BODY_LIMIT {
            return Err(RefusedBody(body_too_large()));
        }
        // All of it: a `Buf` may hold more than its first `chunk()`.
        read.put(chunk);
    }
    Ok(read)
}

/// `application/json` or a `+json` type, as the other frameworks' JSON extractors take.
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || essence.starts_with("application/") && essence.ends_with("+json")
}

/// `GET /health`: never touches the session.
fn health() -> Response {
    json((200, cart_common::ok()))
}

/// `GET /me`: who is logged in.
async fn me(session: Session) -> Result<Response, SessionRejection> {
    Ok(match session.user().await? {
        Some(name) => json((200, cart_common::user(&name))),
        None => json(not_logged_in()),
    })
}

/// `POST /login`: a wrong password changes nothing; a right one renews the session id
/// (against session fixation), keeps the cart and binds the user.
async fn login(session: Session, login: Login) -> Result<Response, SessionRejection> {
    if !login.is_valid() {
        return Ok(json(wrong_credentials()));
    }
    session.renew().await?;
    session.set_user(Some(&login.user)).await?;
    Ok(json((200, cart_common::user(&login.user))))
}

/// `GET /cart`: the items, an empty list without a session.
async fn cart(session: Session) -> Result<Response, SessionRejection> {
    let items: Vec<String> = session.get(CART).await?.unwrap_or_default();
    Ok(json((200, cart_common::items(items))))
}

/// `POST /cart`: appends an item atomically, so concurrent adds are all kept.
async fn add_to_cart(session: Session, add: AddItem) -> Result<Response, SessionRejection> {
    let items: Vec<String> = session.push(CART, &add.item).await?;
    Ok(json((200, cart_common::items(items))))
}

/// `POST /logout`: deletes the session and clears the cookie.
async fn logout(session: Session) -> Result<Response, SessionRejection> {
    session.destroy().await?;
    Ok(json((200, cart_common::ok())))
}

/// `POST /logout-all`: deletes every session of the logged-in user, on every device.
async fn logout_all(session: Session) -> Result<Response, SessionRejection> {
    if session.user().await?.is_none() {
        return Ok(json(not_logged_in()));
    }
    let count = session.revoke_user_sessions(false).await?;
    Ok(json((200, cart_common::revoked(count))))
}

/// A status and JSON body from `cart_common` as a response.
fn json((status, body): (u16, Value)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// Every refusal as a JSON answer rather than warp's plain-text one: a session error as
/// `sessio_warp`'s (503 when the store is unavailable), a refused body as the contract's
/// `400` (or a `413` when too long), then a served path's other methods as a 405 with
/// `Allow`, and anything else as a 404. A request refused by several routes carries all
/// their refusals, hence the order.
async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    let rejection = match sessio_warp::recover(rejection).await {
        Ok(session_error) => return Ok(session_error),
        Err(rejection) => rejection,
    };
    if let Some(RefusedBody(answer)) = rejection.find::<RefusedBody>() {
        return Ok(json(answer.clone()));
    }
    if rejection.find::<MissingHeader>().is_some() {
        return Ok(json(bad_request(
            "expected a body with `Content-Type: application/json`",
        )));
    }
    if let Some(OtherMethod { allow }) = rejection.find::<OtherMethod>() {
        let mut answer = json(cart_common::method_not_allowed());
        answer
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return Ok(answer);
    }
    Ok(json(cart_common::not_found()))
}
