//! [actix-web](https://actix.rs) adapter for [`sessio`] server-side sessions.
//!
//! - [`SessionMiddleware`]: register it with `App::wrap` (or on a scope); it starts each
//!   request's session from its `Cookie` headers and, after the handler, saves it and
//!   appends the session's `Set-Cookie` (never replacing cookies the handler set).
//! - [`Session`]: the extractor handlers take; it derefs to [`sessio::Session`].
//! - [`Error`]: what handlers return with `?`; 503 JSON when the store is unavailable,
//!   500 JSON otherwise.
//!
//! Sessions are lazy: a route that never uses its session never reaches the store and
//! sends no cookie. All session rules live in `sessio`; this crate only moves headers
//! and the session handle between actix and `sessio`.
//!
//! # Example
//!
//! ```
//! use actix_web::{test, web, App, HttpResponse};
//! use sessio::{MemoryStore, SessionManager};
//! use sessio_actix::{Session, SessionMiddleware};
//!
//! /// Reads a value.
//! async fn cart(session: Session) -> Result<HttpResponse, sessio_actix::Error> {
//!     let cart: Option<Vec<String>> = session.get("cart").await?;
//!     Ok(HttpResponse::Ok().json(cart.unwrap_or_default()))
//! }
//!
//! /// Writes a value: an atomic read-modify-write, so parallel adds all count.
//! async fn add_to_cart(session: Session, item: web::Path<String>) -> Result<HttpResponse, sessio_actix::Error> {
//!     let cart = session
//!         .update("cart", |cart: Option<Vec<String>>| {
//!             let mut cart = cart.unwrap_or_default();
//!             cart.push(item.clone());
//!             cart
//!         })
//!         .await?;
//!     Ok(HttpResponse::Ok().json(cart))
//! }
//!
//! /// Logs in: a new session id (against session fixation), then the user.
//! async fn login(session: Session, user: web::Path<String>) -> Result<HttpResponse, sessio_actix::Error> {
//!     session.renew().await?;
//!     session.set_user(Some(&user)).await?;
//!     Ok(HttpResponse::Ok().finish())
//! }
//!
//! /// Logs out: the session is deleted and the browser told to drop the cookie.
//! async fn logout(session: Session) -> Result<HttpResponse, sessio_actix::Error> {
//!     session.destroy().await?;
//!     Ok(HttpResponse::Ok().finish())
//! }
//!
//! fn routes(config: &mut web::ServiceConfig) {
//!     config
//!         .route("/cart", web::get().to(cart))
//!         .route("/cart/{item}", web::post().to(add_to_cart))
//!         .route("/login/{user}", web::post().to(login))
//!         .route("/logout", web::post().to(logout));
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let manager = SessionManager::builder(MemoryStore::default()).build()?;
//! let app = App::new().wrap(SessionMiddleware::new(manager)).configure(routes);
//! // In a server: `HttpServer::new(move || App::new().wrap(SessionMiddleware::new(manager.clone())).configure(routes))`.
//! let app = test::init_service(app).await;
//!
//! let request = test::TestRequest::post().uri("/cart/apple").to_request();
//! let response = test::call_service(&app, request).await;
//! let set_cookie = response.headers().get("set-cookie").ok_or("no cookie")?.to_str()?;
//! let cookie = set_cookie.split(';').next().ok_or("empty cookie")?.to_owned();
//!
//! let request = test::TestRequest::get().uri("/cart").insert_header(("cookie", cookie)).to_request();
//! let cart: Vec<String> = test::call_and_read_body_json(&app, request).await;
//! assert_eq!(cart, ["apple"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//! None.
#![forbid(unsafe_code)]

mod error;
mod extract;
mod middleware;

pub use error::Error;
pub use extract::Session;
pub use middleware::{SessionFuture, SessionMiddleware, SessionService};
