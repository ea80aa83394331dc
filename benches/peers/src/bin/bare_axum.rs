//! The cart routes on bare axum, with no session at all: the limit the session layers
//! are measured against. Every route does the same JSON work as `axum-cart` minus the
//! session: `/me` answers for a fixed user, `/cart` keeps nothing.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cart_common::{AddItem, Login};
use serde_json::Value;
use sessio_bench_peers::BARE_USER;

#[tokio::main]
async fn main() -> ExitCode {
    let port = match sessio_bench_peers::port() {
        Ok(port) => port,
        Err(error) => {
            eprintln!("bare-axum: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = Router::new()
        .route("/health", get(health))
        .route("/me", get(me))
        .route("/login", post(login))
        .route("/cart", get(cart).post(add_to_cart))
        .route("/logout", post(health));
    let listener = match tokio::net::TcpListener::bind(sessio_bench_peers::addr(port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bare-axum: cannot listen on port {port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => sessio_bench_peers::announce(addr.port()),
        Err(error) => {
            eprintln!("bare-axum: {error}");
            return ExitCode::FAILURE;
        }
    }
    match axum::serve(listener, app)
        .with_graceful_shutdown(cart_common::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare-axum: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn health() -> Json<Value> {
    Json(cart_common::ok())
}

async fn me() -> Json<Value> {
    Json(cart_common::user(BARE_USER))
}

async fn login(Json(login): Json<Login>) -> (StatusCode, Json<Value>) {
    if login.is_valid() {
        (StatusCode::OK, Json(cart_common::user(&login.user)))
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(cart_common::wrong_credentials().1),
        )
    }
}

async fn cart() -> Json<Value> {
    Json(cart_common::items(Vec::new()))
}

async fn add_to_cart(Json(add): Json<AddItem>) -> Json<Value> {
    Json(cart_common::items(vec![add.item]))
}
