//! The cart app on axum: login, a session cart, logout; see `cart-app.md` for the
//! contract every cart app keeps.

use std::process::ExitCode;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cart_common::{
    bad_request, body_too_large, not_logged_in, wrong_credentials, AddItem, CartConfig, Login,
    BODY_LIMIT, CART,
};
use http_body_util::Limited;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sessio_axum::{Session, SessionError, SessionLayer};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match CartConfig::from_env().await {
        Ok(config) => config,
        Err(error) => {
            eprintln!("axum-cart: {error}");
            return ExitCode::FAILURE;
        }
    };
    // A method a route does not take falls to `method_not_allowed`; axum adds the `Allow`
    // header itself. A path with no route falls to `not_found`.
    let app = Router::new()
        .route("/health", get(health).fallback(method_not_allowed))
        .route("/me", get(me).fallback(method_not_allowed))
        .route("/login", post(login).fallback(method_not_allowed))
        .route(
            "/cart",
            get(cart).post(add_to_cart).fallback(method_not_allowed),
        )
        .route("/logout", post(logout).fallback(method_not_allowed))
        .route("/logout-all", post(logout_all).fallback(method_not_allowed))
        .fallback(not_found)
        .layer(SessionLayer::new(config.manager.clone()));
    let listener = match tokio::net::TcpListener::bind(config.addr()).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("axum-cart: cannot listen on {}: {error}", config.addr());
            return ExitCode::FAILURE;
        }
    };
    // Announce the bound port, which differs from the configured one for PORT=0.
    match listener.local_addr() {
        Ok(addr) => config.announce(addr.port()),
        Err(error) => {
            eprintln!("axum-cart: {error}");
            return ExitCode::FAILURE;
        }
    }
    match axum::serve(listener, app)
        .with_graceful_shutdown(cart_common::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum-cart: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `GET /health`: never touches the session.
async fn health() -> Json<Value> {
    Json(cart_common::ok())
}

/// `GET /me`: who is logged in.
async fn me(session: Session) -> Result<Response, SessionError> {
    Ok(match session.user().await? {
        Some(name) => Json(cart_common::user(&name)).into_response(),
        None => json(not_logged_in()),
    })
}

/// `POST /login`: a wrong password changes nothing; a right one renews the session id
/// (against session fixation), keeps the cart and binds the user.
async fn login(
    session: Session,
    JsonBody(login): JsonBody<Login>,
) -> Result<Response, SessionError> {
    if !login.is_valid() {
        return Ok(json(wrong_credentials()));
    }
    session.renew().await?;
    session.set_user(Some(&login.user)).await?;
    Ok(Json(cart_common::user(&login.user)).into_response())
}

/// `GET /cart`: the items, an empty list without a session.
async fn cart(session: Session) -> Result<Json<Value>, SessionError> {
    let items: Vec<String> = session.get(CART).await?.unwrap_or_default();
    Ok(Json(cart_common::items(items)))
}

/// `POST /cart`: appends an item atomically, so concurrent adds are all kept.
async fn add_to_cart(
    session: Session,
    JsonBody(add): JsonBody<AddItem>,
) -> Result<Json<Value>, SessionError> {
    let items: Vec<String> = session.push(CART, &add.item).await?;
    Ok(Json(cart_common::items(items)))
}

/// `POST /logout`: deletes the session and clears the cookie.
async fn logout(session: Session) -> Result<Json<Value>, SessionError> {
    session.destroy().await?;
    Ok(Json(cart_common::ok()))
}

/// `POST /logout-all`: deletes every session of the logged-in user, on every device.
async fn logout_all(session: Session) -> Result<Response, SessionError> {
    if session.user().await?.is_none() {
        return Ok(json(not_logged_in()));
    }
    let count = session.revoke_user_sessions(false).await?;
    Ok(Json(cart_common::revoked(count)).into_response())
}

/// A path no route serves.
async fn not_found() -> Response {
    json(cart_common::not_found())
}

/// A served path asked with a method its route does not take.
async fn method_not_allowed() -> Response {
    json(cart_common::method_not_allowed())
}

/// A status and JSON body from `cart_common` as a response.
fn json((status, body): (u16, Value)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

/// A JSON request body whose every rejection (malformed JSON, a missing field, no
/// `content-type: application/json`) is the contract's `400` JSON error rather than
/// axum's plain-text answer, except a body over [`BODY_LIMIT`], which is a `413`.
struct JsonBody<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        // The limit wraps the body here rather than by a `DefaultBodyLimit` layer, which
        // would put it in every request's extensions, those without a body too.
        let request = request.map(|body| Body::new(Limited::new(body, BODY_LIMIT)));
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(json(body_too_large()))
            }
            Err(rejection) => Err(json(bad_request(rejection.body_text()))),
        }
    }
}
