//! The cart app on warp: login, a session cart, logout; see `cart-app.md` for the
//! contract every cart app keeps.

use std::process::ExitCode;

use cart_common::{
    bad_request, not_logged_in, wrong_credentials, AddItem, CartConfig, Login, CART,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sessio::{Session, SessionManager};
use sessio_warp::{with_session, with_session_and, SessionRejection};
use warp::filters::body::BodyDeserializeError;
use warp::http::StatusCode;
use warp::reject::{MissingHeader, UnsupportedMediaType};
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
    let health = warp::path!("health").and(warp::get()).map(health);
    let me = warp::path!("me")
        .and(warp::get())
        .and(with_session(manager.clone(), me));
    let login = warp::path!("login").and(warp::post()).and(with_session_and(
        manager.clone(),
        json_body(),
        login,
    ));
    let cart = warp::path!("cart")
        .and(warp::get())
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
        .recover(recover)
}

/// A JSON body sent as JSON: `warp::body::json` alone reads a body without a
/// `Content-Type` as JSON, which the other cart apps refuse.
fn json_body<T: DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone
{
    warp::header::value("content-type")
        .map(|_| ())
        .untuple_one()
        .and(warp::body::json())
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

/// Turns a bad JSON body (malformed, a missing field, a content type other than JSON)
/// into the contract's `400` JSON error rather than warp's plain-text answer, and session
/// errors into `sessio_warp`'s JSON error (503 when the store is unavailable).
async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    if let Some(error) = rejection.find::<BodyDeserializeError>() {
        return Ok(json(bad_request(error)));
    }
    if let Some(error) = rejection.find::<UnsupportedMediaType>() {
        return Ok(json(bad_request(error)));
    }
    if rejection.find::<MissingHeader>().is_some() {
        return Ok(json(bad_request(
            "expected a body with `Content-Type: application/json`",
        )));
    }
    sessio_warp::recover(rejection).await
}
