//! The cart routes on actix-web with actix-session 0.11 and its Redis store
//! (`SESSION_STORE=redis://…`, required: actix-session's other store keeps the session in
//! the cookie, which is not a server-side session).
//!
//! Configured as its documentation shows, with `cookie_secure(false)` for plain HTTP and
//! a persistent session with the cart apps' idle timeout, extended on every request so
//! that reads keep the session alive too (see [`IdleExtension`];
//! `PEER_IDLE_EXTENSION=on-change` keeps the default, extension on changes only);
//! everything else is its default.
//! `POST /cart` is a read-modify-write (actix-session has no compare-and-set).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{time::Duration, Key};
use actix_web::{web, App, HttpResponse, HttpServer};
use cart_common::{not_logged_in, wrong_credentials, AddItem, Login, CART};
use sessio_bench_peers::{IdleExtension, IDLE_SECS};

const USER: &str = "user";

#[actix_web::main]
async fn main() -> ExitCode {
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-actix-session: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let port = sessio_bench_peers::port()?;
    let url = sessio_bench_peers::redis_url()?
        .ok_or("SESSION_STORE must be a redis:// URL: actix-session keeps no sessions in memory")?;
    let store = RedisSessionStore::new(url.as_str())
        .await
        .map_err(|e| format!("SESSION_STORE={url}: {e}"))?;
    let key = Key::generate();
    let extension = match IdleExtension::from_env()? {
        IdleExtension::EveryRequest => TtlExtensionPolicy::OnEveryRequest,
        IdleExtension::OnChange => TtlExtensionPolicy::OnStateChanges,
    };
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), key.clone())
            .cookie_secure(false)
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(Duration::seconds(IDLE_SECS))
                    .session_ttl_extension_policy(extension.clone()),
            )
            .build();
        App::new()
            .wrap(sessions)
            .route("/health", web::get().to(health))
            .route("/me", web::get().to(me))
            .route("/login", web::post().to(login))
            .route("/cart", web::get().to(cart))
            .route("/cart", web::post().to(add_to_cart))
            .route("/logout", web::post().to(logout))
    })
    // As `actix-cart`, so that the two differ by the session layer only.
    .workers(2)
    .shutdown_timeout(5);
    let server = server
        .bind(sessio_bench_peers::addr(port))
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    let bound = server
        .addrs()
        .first()
        .map(|a| a.port())
        .ok_or("no address bound")?;
    sessio_bench_peers::announce(bound);
    server.run().await.map_err(|e| e.to_string())
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(cart_common::ok())
}

async fn me(session: Session) -> HttpResponse {
    match session.get::<String>(USER) {
        Ok(Some(name)) => HttpResponse::Ok().json(cart_common::user(&name)),
        Ok(None) => HttpResponse::Unauthorized().json(not_logged_in().1),
        Err(error) => store_error(error),
    }
}

async fn login(session: Session, login: web::Json<Login>) -> HttpResponse {
    if !login.is_valid() {
        return HttpResponse::Unauthorized().json(wrong_credentials().1);
    }
    session.renew();
    if let Err(error) = session.insert(USER, &login.user) {
        return store_error(error);
    }
    HttpResponse::Ok().json(cart_common::user(&login.user))
}

async fn cart(session: Session) -> HttpResponse {
    match session.get::<Vec<String>>(CART) {
        Ok(items) => HttpResponse::Ok().json(cart_common::items(items.unwrap_or_default())),
        Err(error) => store_error(error),
    }
}

async fn add_to_cart(session: Session, add: web::Json<AddItem>) -> HttpResponse {
    let mut items = match session.get::<Vec<String>>(CART) {
        Ok(items) => items.unwrap_or_default(),
        Err(error) => return store_error(error),
    };
    items.push(add.into_inner().item);
    if let Err(error) = session.insert(CART, &items) {
        return store_error(error);
    }
    HttpResponse::Ok().json(cart_common::items(items))
}

async fn logout(session: Session) -> HttpResponse {
    session.purge();
    HttpResponse::Ok().json(cart_common::ok())
}

fn store_error(error: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(serde_json::json!({"error": error.to_string()}))
}
