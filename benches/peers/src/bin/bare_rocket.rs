//! The cart routes on bare rocket, with no session at all: the limit the session layers
//! are measured against. Every route does the same JSON work as `rocket-cart` minus the
//! session: `/me` answers for a fixed user, `/cart` keeps nothing.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::process::ExitCode;

use cart_common::{AddItem, Login};
use rocket::config::{LogLevel, Shutdown, Sig};
use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::serde::json::{Json, Value};
use rocket::Request;
use sessio_bench_peers::BARE_USER;

#[rocket::main]
async fn main() -> ExitCode {
    let port = match sessio_bench_peers::port() {
        Ok(port) => port,
        Err(error) => {
            eprintln!("bare-rocket: {error}");
            return ExitCode::FAILURE;
        }
    };
    // As `rocket-cart`, so that the two differ by the session only.
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        // Rocket's own launch lines would break the one-line announcement; errors are
        // printed below.
        .merge(("log_level", LogLevel::Off))
        .merge((
            "shutdown",
            Shutdown {
                ctrlc: true,
                signals: HashSet::from([Sig::Term]),
                ..Shutdown::default()
            },
        ));
    let app = rocket::custom(figment)
        .mount(
            "/",
            rocket::routes![health, me, login, cart, add_to_cart, logout],
        )
        .register("/", rocket::catchers![error])
        // Announce the bound port, which differs from the configured one for PORT=0.
        .attach(AdHoc::on_liftoff("announce", |rocket| {
            sessio_bench_peers::announce(rocket.config().port);
            Box::pin(async {})
        }));
    match app.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare-rocket: {error}");
            ExitCode::FAILURE
        }
    }
}

#[rocket::get("/health")]
fn health() -> Json<Value> {
    Json(cart_common::ok())
}

#[rocket::get("/me")]
fn me() -> Json<Value> {
    Json(cart_common::user(BARE_USER))
}

#[rocket::post("/login", data = "<login>")]
fn login(login: Json<Login>) -> (Status, Json<Value>) {
    if login.is_valid() {
        (Status::Ok, Json(cart_common::user(&login.user)))
    } else {
        let (status, body) = cart_common::wrong_credentials();
        (Status::new(status), Json(body))
    }
}

#[rocket::get("/cart")]
fn cart() -> Json<Value> {
    Json(cart_common::items(Vec::new()))
}

#[rocket::post("/cart", data = "<add>")]
fn add_to_cart(add: Json<AddItem>) -> Json<Value> {
    Json(cart_common::items(vec![add.into_inner().item]))
}

#[rocket::post("/logout")]
fn logout() -> Json<Value> {
    Json(cart_common::ok())
}

/// Every error rocket answers itself (no such route, a bad body) as JSON, as `rocket-cart`.
#[rocket::catch(default)]
fn error(status: Status, _: &Request<'_>) -> Json<Value> {
    Json(rocket::serde::json::json!({ "error": status.reason_lossy() }))
}
