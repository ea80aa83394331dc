//! The cart app on rocket: login, a session cart, logout; see `cart-app.md` for the
//! contract every cart app keeps.

use std::collections::HashSet;
use std::process::ExitCode;

use cart_common::{
    bad_request, body_too_large, not_logged_in, wrong_credentials, AddItem, CartConfig, Login,
    BODY_LIMIT, CART,
};
use rocket::config::{LogLevel, Shutdown, Sig};
use rocket::data::{self, Data, FromData, Limits, ToByteUnit};
use rocket::fairing::AdHoc;
use rocket::http::{Header, Method, Status};
use rocket::outcome::Outcome;
use rocket::response::Responder;
use rocket::route::{Handler, Route};
use rocket::serde::json::{Json, Value};
use rocket::serde::DeserializeOwned;
use rocket::Request;
use sessio_rocket::{Session, SessionErrorResponse, SessionFairing};

/// A status and a JSON body, or a session error (`503` when the store is unavailable).
type Reply = Result<(Status, Json<Value>), SessionErrorResponse>;

/// A JSON request body, or the answer to its refusal: not sent as JSON (its
/// `Content-Type`), malformed JSON, a missing field are the contract's `400` JSON error,
/// as in the other cart apps, rather than rocket's own `400`/`422`; a body over
/// [`BODY_LIMIT`] is a `413`. Rocket's `Json` alone would read a body of any type as JSON.
struct JsonBody<T>(Result<T, (u16, Value)>);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonBody<T> {
    type Error = std::convert::Infallible;

    async fn from_data(request: &'r Request<'_>, body: Data<'r>) -> data::Outcome<'r, Self> {
        if !request
            .content_type()
            .is_some_and(|content_type| content_type.is_json())
        {
            let refused = "expected a body with `Content-Type: application/json`";
            return Outcome::Success(JsonBody(Err(bad_request(refused))));
        }
        Outcome::Success(JsonBody(
            match <Json<T> as FromData>::from_data(request, body).await {
                Outcome::Success(Json(value)) => Ok(value),
                Outcome::Error((Status::PayloadTooLarge, _)) => Err(body_too_large()),
                Outcome::Error((_, error)) => Err(bad_request(error)),
                Outcome::Forward((body, status)) => return Outcome::Forward((body, status)),
            },
        ))
    }
}

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
            "limits",
            Limits::default().limit("json", BODY_LIMIT.bytes()),
        ))
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
        .mount("/", method_not_allowed_routes())
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
async fn login(session: Session, login: JsonBody<Login>) -> Reply {
    let login = match login.0 {
        Ok(login) => login,
        Err(refused) => return Ok(json(refused)),
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
    Ok((Status::Ok, Json(cart_common::items(items))))
}

/// `POST /cart`: appends an item atomically, so concurrent adds are all kept.
#[rocket::post("/cart", data = "<add>")]
async fn add_to_cart(session: Session, add: JsonBody<AddItem>) -> Reply {
    let add = match add.0 {
        Ok(add) => add,
        Err(refused) => return Ok(json(refused)),
    };
    let items: Vec<String> = session.push(CART, &add.item).await?;
    Ok((Status::Ok, Json(cart_common::items(items))))
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
    if status == Status::NotFound {
        return Json(cart_common::not_found().1);
    }
    Json(rocket::serde::json::json!({ "error": status.reason_lossy() }))
}

/// Every method rocket can route.
const METHODS: [Method; 9] = [
    Method::Get,
    Method::Put,
    Method::Post,
    Method::Delete,
    Method::Options,
    Method::Head,
    Method::Trace,
    Method::Connect,
    Method::Patch,
];

/// Rocket routes by method, so a served path asked with another one finds no route and
/// is a 404. These routes make it a 405 naming the path's methods: one per path and method
/// the contract does not give it. (`HEAD` on a `GET` path is rocket's own: the `GET` route
/// answers it without the body.)
fn method_not_allowed_routes() -> Vec<Route> {
    let mut routes = Vec::new();
    for (path, allow) in cart_common::ROUTES {
        let allowed: Vec<&str> = allow.split(", ").collect();
        for method in METHODS {
            if !allowed.contains(&method.as_str()) {
                routes.push(Route::new(method, path, MethodNotAllowed { allow }));
            }
        }
    }
    routes
}

/// The 405 for one path, with its `Allow` header.
#[derive(Clone)]
struct MethodNotAllowed {
    allow: &'static str,
}

#[rocket::async_trait]
impl Handler for MethodNotAllowed {
    async fn handle<'r>(
        &self,
        request: &'r Request<'_>,
        _: Data<'r>,
    ) -> rocket::route::Outcome<'r> {
        let answer = NotAllowed {
            body: json(cart_common::method_not_allowed()),
            allow: Header::new("Allow", self.allow),
        };
        rocket::route::Outcome::from(request, answer)
    }
}

/// A 405 answer: the JSON error, then the `Allow` header.
#[derive(Responder)]
struct NotAllowed {
    body: (Status, Json<Value>),
    allow: Header<'static>,
}
