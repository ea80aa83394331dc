//! The cart app on rocket: login, a session cart, logout; see `cart-app.md` for the
//! contract every cart app keeps.

use std::collections::HashSet;
use std::process::ExitCode;

use cart_common::{
    bad_request, not_logged_in, wrong_credentials, AddItem, CartConfig, Login, CART,
};
use rocket::config::{LogLevel, Shutdown, Sig};
use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::serde::json::{self, Json, Value};
use rocket::Request;
use sessio_rocket::{Session, SessionErrorResponse, SessionFairing};

/// A status and a JSON body, or a session error (`503` when the store is unavailable).
type Reply = Result<(Status, Json<Value>), SessionErrorResponse>;

/// A JSON request body; every rejection (malformed JSON, a missing field) is answered
/// by the handler with the contract's `400` JSON error rather than rocket's `400`/`422`.
type JsonBody<'r, T> = Result<Json<T>, json::Error<'r>>;

#[rocket::main]
async fn main() -> ExitCode {
    let config = match CartConfig::from_env().await {
        Ok(config) => config,
        Err(error) => {
            eprintln!("rocket-cart: {error}");
            return ExitCode::FAILURE;
        }
    };
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", config.port))
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
            rocket::routes![health, me, login, cart, add_to_cart, logout, logout_all],
        )
        .register("/", rocket::catchers![error])
        .attach(SessionFairing::new(config.manager.clone()))
        // Announce the bound port, which differs from the configured one for PORT=0.
        .attach(AdHoc::on_liftoff("announce", move |rocket| {
            config.announce(rocket.config().port);
            Box::pin(async {})
        }));
    match app.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rocket-cart: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `GET /health`: never touches the session.
#[rocket::get("/health")]
fn health() -> Json<Value> {
    Json(cart_common::ok())
}

/// `GET /me`: who is logged in.
#[rocket::get("/me")]
async fn me(session: Session) -> Reply {
    Ok(match session.user().await? {
        Some(name) => (Status::Ok, Json(cart_common::user(&name))),
        None => json(not_logged_in()),
    })
}

/// `POST /login`: a wrong password changes nothing; a right one renews the session id
/// (against session fixation), keeps the cart and binds the user.
#[rocket::post("/login", data = "<login>")]
async fn login(session: Session, login: JsonBody<'_, Login>) -> Reply {
    let login = match login {
        Ok(Json(login)) => login,
        Err(error) => return Ok(json(bad_request(error))),
    };
    if !login.is_valid() {
        return Ok(json(wrong_credentials()));
    }
    session.renew().await?;
    session.set_user(Some(&login.user)).await?;
    Ok((Status::Ok, Json(cart_common::user(&login.user))))
}

/// `GET /cart`: the items, an empty list without a session.
#[rocket::get("/cart")]
async fn cart(session: Session) -> Reply {
    let items: Vec<String> = session.get(CART).await?.unwrap_or_default();
    Ok((Status::Ok, Json(cart_common::items(&items))))
}

/// `POST /cart`: appends an item atomically, so concurrent adds are all kept.
#[rocket::post("/cart", data = "<add>")]
async fn add_to_cart(session: Session, add: JsonBody<'_, AddItem>) -> Reply {
    let add = match add {
        Ok(Json(add)) => add,
        Err(error) => return Ok(json(bad_request(error))),
    };
    let items: Vec<String> = session.push(CART, &add.item).await?;
    Ok((Status::Ok, Json(cart_common::items(&items))))
}

/// `POST /logout`: deletes the session and clears the cookie.
#[rocket::post("/logout")]
async fn logout(session: Session) -> Reply {
    session.destroy().await?;
    Ok((Status::Ok, Json(cart_common::ok())))
}

/// `POST /logout-all`: deletes every session of the logged-in user, on every device.
#[rocket::post("/logout-all")]
async fn logout_all(session: Session) -> Reply {
    if session.user().await?.is_none() {
        return Ok(json(not_logged_in()));
    }
    let count = session.revoke_user_sessions(false).await?;
    Ok((Status::Ok, Json(cart_common::revoked(count))))
}

/// A status and JSON body from `cart_common` as a response.
fn json((status, body): (u16, Value)) -> (Status, Json<Value>) {
    (Status::new(status), Json(body))
}

/// Every other error rocket answers itself (no such route, ...) as JSON, not HTML.
#[rocket::catch(default)]
fn error(status: Status, _: &Request<'_>) -> Json<Value> {
    Json(rocket::serde::json::json!({ "error": status.reason_lossy() }))
}
