//! The cart routes on bare actix-web, with no session at all: the limit the session
//! layers are measured against. Every route does the same JSON work as `actix-cart`
//! minus the session: `/me` answers for a fixed user, `/cart` keeps nothing.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use actix_web::{web, App, HttpResponse, HttpServer};
use cart_common::{AddItem, Login};
use sessio_bench_peers::BARE_USER;

#[actix_web::main]
async fn main() -> ExitCode {
    let port = match sessio_bench_peers::port() {
        Ok(port) => port,
        Err(error) => {
            eprintln!("bare-actix: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = HttpServer::new(|| {
        App::new()
            .route("/health", web::get().to(health))
            .route("/me", web::get().to(me))
            .route("/login", web::post().to(login))
            .route("/cart", web::get().to(cart))
            .route("/cart", web::post().to(add_to_cart))
            .route("/logout", web::post().to(health))
    })
    // As `actix-cart`, so that the two differ by the session only.
    .workers(2)
    .shutdown_timeout(5);
    let server = match server.bind(sessio_bench_peers::addr(port)) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("bare-actix: cannot listen on port {port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match server.addrs().first() {
        Some(addr) => sessio_bench_peers::announce(addr.port()),
        None => {
            eprintln!("bare-actix: no address bound");
            return ExitCode::FAILURE;
        }
    }
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare-actix: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(cart_common::ok())
}

async fn me() -> HttpResponse {
    HttpResponse::Ok().json(cart_common::user(BARE_USER))
}

async fn login(login: web::Json<Login>) -> HttpResponse {
    if login.is_valid() {
        HttpResponse::Ok().json(cart_common::user(&login.user))
    } else {
        HttpResponse::Unauthorized().json(cart_common::wrong_credentials().1)
    }
}

async fn cart() -> HttpResponse {
    HttpResponse::Ok().json(cart_common::items(Vec::new()))
}

async fn add_to_cart(add: web::Json<AddItem>) -> HttpResponse {
    HttpResponse::Ok().json(cart_common::items(vec![add.into_inner().item]))
}
