//! The cart routes on bare warp, with no session at all: the limit the session layers
//! are measured against. Every route does the same JSON work as `warp-cart` minus the
//! session: `/me` answers for a fixed user, `/cart` keeps nothing.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use cart_common::{AddItem, Login};
use serde_json::Value;
use sessio_bench_peers::BARE_USER;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

#[tokio::main]
async fn main() -> ExitCode {
    let port = match sessio_bench_peers::port() {
        Ok(port) => port,
        Err(error) => {
            eprintln!("bare-warp: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(sessio_bench_peers::addr(port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bare-warp: cannot listen on port {port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => sessio_bench_peers::announce(addr.port()),
        Err(error) => {
            eprintln!("bare-warp: {error}");
            return ExitCode::FAILURE;
        }
    }
    warp::serve(routes())
        .incoming(listener)
        .graceful(cart_common::shutdown_signal())
        .run()
        .await;
    ExitCode::SUCCESS
}

/// The routes, combined in `warp-cart`'s order, so that a request goes through as many
/// filters there as here.
fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let health = warp::path!("health").and(warp::get()).map(health);
    let me = warp::path!("me").and(warp::get()).map(me);
    let login = warp::path!("login")
        .and(warp::post())
        .and(warp::body::json())
        .map(login);
    let cart = warp::path!("cart").and(warp::get()).map(cart);
    let add_to_cart = warp::path!("cart")
        .and(warp::post())
        .and(warp::body::json())
        .map(add_to_cart);
    let logout = warp::path!("logout").and(warp::post()).map(logout);
    health.or(me).or(login).or(cart).or(add_to_cart).or(logout)
}

fn health() -> Response {
    json(200, cart_common::ok())
}

fn me() -> Response {
    json(200, cart_common::user(BARE_USER))
}

fn login(login: Login) -> Response {
    if login.is_valid() {
        json(200, cart_common::user(&login.user))
    } else {
        let (status, body) = cart_common::wrong_credentials();
        json(status, body)
    }
}

fn cart() -> Response {
    json(200, cart_common::items(Vec::new()))
}

fn add_to_cart(add: AddItem) -> Response {
    json(200, cart_common::items(vec![add.item]))
}

fn logout() -> Response {
    json(200, cart_common::ok())
}

/// A status and JSON body as a response, as `warp-cart` builds them.
fn json(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}
