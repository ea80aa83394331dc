//! [rocket] adapter for [`sessio`] sessions: a fairing, a request guard and an error
//! responder, nothing more. Every session rule lives in `sessio`.
//!
//! - [`SessionFairing`]: attach it once; it manages the [`SessionManager`] and, after
//!   each route, finishes the request's session and adds its headers to the response
//!   (appending `Set-Cookie`, never replacing cookies set by routes or other fairings).
//! - [`Session`]: the request guard routes take; it derefs to [`sessio::Session`]. The
//!   session starts when a route first asks for it and reaches the store only when the
//!   route uses it, so a route without the guard costs nothing.
//! - [`SessionErrorResponse`]: a route's error type, built from [`SessionError`] so `?`
//!   works; answers `503` (store unavailable) or `500` with `{"error":"..."}`, or what
//!   [`SessionFairing::error_response`] says instead.
//! - [`catchers()`]: JSON catchers for `500` and `503` (e.g. a guard used without the
//!   fairing), for apps that answer JSON only.
//!
//! # Example
//!
//! ```
//! use rocket::http::{Header, Status};
//! use rocket::local::blocking::Client;
//! use rocket::serde::json::{json, Json, Value};
//! use sessio::{MemoryStore, SessionManager};
//! use sessio_rocket::{Session, SessionErrorResponse, SessionFairing};
//!
//! #[rocket::get("/cart")]
//! async fn cart(session: Session) -> Result<Json<Value>, SessionErrorResponse> {
//!     let items: Vec<String> = session.get("cart").await?.unwrap_or_default();
//!     Ok(Json(json!({ "items": items })))
//! }
//!
//! #[rocket::post("/cart/<item>")]
//! async fn add(session: Session, item: &str) -> Result<Json<Value>, SessionErrorResponse> {
//!     let items = session
//!         .update("cart", |items: Option<Vec<String>>| {
//!             let mut items = items.unwrap_or_default();
//!             items.push(item.to_owned());
//!             items
//!         })
//!         .await?;
//!     Ok(Json(json!({ "items": items })))
//! }
//!
//! #[rocket::post("/login/<user>")]
//! async fn login(session: Session, user: &str) -> Result<Status, SessionErrorResponse> {
//!     session.renew().await?; // a new id on every privilege change
//!     session.set_user(Some(user)).await?;
//!     Ok(Status::Ok)
//! }
//!
//! #[rocket::post("/logout")]
//! async fn logout(session: Session) -> Result<Status, SessionErrorResponse> {
//!     session.destroy().await?;
//!     Ok(Status::Ok)
//! }
//!
//! let manager = SessionManager::builder(MemoryStore::default()).build().expect("valid config");
//! let app = rocket::build()
//!     .attach(SessionFairing::new(manager))
//!     .mount("/", rocket::routes![cart, add, login, logout])
//!     .register("/", sessio_rocket::catchers());
//!
//! let client = Client::untracked(app).expect("valid app");
//! let added = client.post("/cart/apple").dispatch();
//! let cookie = added.headers().get_one("set-cookie").expect("a new session");
//! let cookie = cookie.split(';').next().expect("name=value").to_owned();
//! let cart = client.get("/cart").header(Header::new("cookie", cookie)).dispatch();
//! assert_eq!(cart.into_json::<Value>(), Some(json!({ "items": ["apple"] })));
//! ```
//!
//! # Features
//! None.
#![forbid(unsafe_code)]

mod error;
mod fairing;
mod guard;

pub use error::{catchers, default_error_response, SessionErrorResponse};
pub use fairing::SessionFairing;
pub use guard::{MissingSessionFairing, Session};
pub use sessio::{SessionError, SessionManager};
