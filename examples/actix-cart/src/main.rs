//! The cart app on actix-web: login, a session cart, logout; see `cart-app.md` for the
//! contract every cart app keeps.

use std::process::ExitCode;

use actix_web::error::{InternalError, JsonPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{guard, web, App, HttpRequest, HttpResponse, HttpServer};
use cart_common::{
    bad_request, body_too_large, not_logged_in, wrong_credentials, AddItem, CartConfig, Login,
    BODY_LIMIT, CART,
};
use serde_json::Value;
use sessio_actix::{Error, Session, SessionMiddleware};

#[actix_web::main]
async fn main() -> ExitCode {
    let config = match CartConfig::from_env().await {
        Ok(config) => config,
        Err(error) => {
            eprintln!("actix-cart: {error}");
            return ExitCode::FAILURE;
        }
    };
    let manager = config.manager.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(
                web::JsonConfig::default()
                    .limit(BODY_LIMIT)
                    .error_handler(json_body_error),
            )
            .service(resource("/health").route(get_or_head().to(health)))
            .service(resource("/me").route(get_or_head().to(me)))
            .service(resource("/login").route(web::post().to(login)))
            .service(
                resource("/cart")
                    .route(get_or_head().to(cart))
                    .route(web::post().to(add_to_cart)),
            )
            .service(resource("/logout").route(web::post().to(logout)))
            .service(resource("/logout-all").route(web::post().to(logout_all)))
            .default_service(web::to(not_found))
            .wrap(SessionMiddleware::new(manager.clone()))
    })
    .workers(2)
    // Shutdown is driven by `cart_common::shutdown_signal` below, as in the other cart apps.
    .disable_signals()
    .shutdown_timeout(5);
    let server = match server.bind(config.addr()) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("actix-cart: cannot listen on {}: {error}", config.addr());
            return ExitCode::FAILURE;
        }
    };
    // Announce the bound port, which differs from the configured one for PORT=0.
    match server.addrs().first() {
        Some(addr) => config.announce(addr.port()),
        None => {
            eprintln!("actix-cart: no address bound");
            return ExitCode::FAILURE;
        }
    }
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        cart_common::shutdown_signal().await;
        handle.stop(true).await;
    });
    match server.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("actix-cart: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `GET /health`: never touches the session.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(cart_common::ok())
}

/// `GET /me`: who is logged in.
async fn me(session: Session) -> Result<HttpResponse, Error> {
    Ok(match session.user().await? {
        Some(name) => HttpResponse::Ok().json(cart_common::user(&name)),
        None => json(not_logged_in()),
    })
}

/// `POST /login`: a wrong password changes nothing; a right one renews the session id
/// (against session fixation), keeps the cart and binds the user.
async fn login(session: Session, login: web::Json<Login>) -> Result<HttpResponse, Error> {
    if !login.is_valid() {
        return Ok(json(wrong_credentials()));
    }
    session.renew().await?;
    session.set_user(Some(&login.user)).await?;
    Ok(HttpResponse::Ok().json(cart_common::user(&login.user)))
}

/// `GET /cart`: the items, an empty list without a session.
async fn cart(session: Session) -> Result<HttpResponse, Error> {
    let items: Vec<String> = session.get(CART).await?.unwrap_or_default();
    Ok(HttpResponse::Ok().json(cart_common::items(items)))
}

/// `POST /cart`: appends an item atomically, so concurrent adds are all kept.
async fn add_to_cart(session: Session, add: web::Json<AddItem>) -> Result<HttpResponse, Error> {
    let items: Vec<String> = session.push(CART, &add.item).await?;
    Ok(HttpResponse::Ok().json(cart_common::items(items)))
}

/// `POST /logout`: deletes the session and clears the cookie.
async fn logout(session: Session) -> Result<HttpResponse, Error> {
    session.destroy().await?;
    Ok(HttpResponse::Ok().json(cart_common::ok()))
}

/// `POST /logout-all`: deletes every session of the logged-in user, on every device.
async fn logout_all(session: Session) -> Result<HttpResponse, Error> {
    if session.user().await?.is_none() {
        return Ok(json(not_logged_in()));
    }
    let count = session.revoke_user_sessions(false).await?;
    Ok(HttpResponse::Ok().json(cart_common::revoked(count)))
}

/// A route for `GET` and `HEAD`: actix-web routes `HEAD` apart from `GET`, and sends a
/// `HEAD` answer without its body.
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The resource at `path`: a method none of its routes takes is a 405 naming the ones
/// they do (actix-web's own answer is a bare 404).
fn resource(path: &'static str) -> actix_web::Resource {
    let allow = cart_common::allowed_methods(path).unwrap_or_default();
    web::resource(path).default_service(web::to(move || async move {
        let mut response = json(cart_common::method_not_allowed());
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    }))
}

/// A path no resource serves.
async fn not_found() -> HttpResponse {
    json(cart_common::not_found())
}

/// A status and JSON body from `cart_common` as a response.
fn json((status, body): (u16, Value)) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(body)
}

/// Every JSON body rejection (malformed JSON, a missing field, no
/// `content-type: application/json`) is the contract's `400` JSON error rather than
/// actix's plain-text answer, except a body over [`BODY_LIMIT`], which is a `413`.
fn json_body_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let response = match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            json(body_too_large())
        }
        _ => json(bad_request(&error)),
    };
    InternalError::from_response(error, response).into()
}
