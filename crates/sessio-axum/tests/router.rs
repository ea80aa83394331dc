//! The layer and extractor in the ways an axum app mounts them: `Router::layer`,
//! `route_layer`, nested routers, a missing layer, a custom error handler.
#![allow(missing_docs)]

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use sessio::{MemoryStore, SessionManager};
use sessio_axum::{Session, SessionError, SessionLayer};
use sessio_conformance::FlakyStore;
use tower::ServiceExt;

fn manager_over(store: Arc<FlakyStore>) -> SessionManager {
    SessionManager::builder_shared(store)
        .build()
        .expect("config")
}

fn manager() -> SessionManager {
    manager_over(Arc::new(FlakyStore::new(Arc::new(MemoryStore::default()))))
}

async fn write(session: Session) -> Result<&'static str, SessionError> {
    session.insert("n", &1).await?;
    Ok("written")
}

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.get::<u32>("n").await?))
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Vec<String>, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let cookies = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        cookies,
        String::from_utf8(body.to_vec()).expect("utf-8"),
    )
}

fn session_cookie(cookies: &[String]) -> String {
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("sessio="))
        .expect("session cookie");
    cookie.split(';').next().expect("name=value").to_owned()
}

#[tokio::test]
async fn router_layer_round_trips_and_leaves_untouched_routes_alone() {
    let app = Router::new()
        .route("/write", post(write))
        .route("/read", get(read))
        .route("/plain", get(|| async { "plain" }))
        .layer(SessionLayer::new(manager()));
    let (status, cookies, _) = send(&app, "POST", "/write", None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = session_cookie(&cookies);
    assert_eq!(send(&app, "GET", "/read", Some(&cookie)).await.2, "Some(1)");
    let (_, cookies, _) = send(&app, "GET", "/plain", Some(&cookie)).await;
    assert!(cookies.is_empty());
    // The fallback is behind `Router::layer` too.
    let (status, cookies, _) = send(&app, "GET", "/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(cookies.is_empty());
}

#[tokio::test]
async fn route_layer_and_nested_routers_work() {
    let manager = manager();
    let api = Router::new()
        .route("/write", post(write))
        .route("/read", get(read));
    let app = Router::new()
        .nest("/api", api)
        .route_layer(SessionLayer::new(manager.clone()));
    let (_, cookies, _) = send(&app, "POST", "/api/write", None).await;
    let cookie = session_cookie(&cookies);
    assert_eq!(
        send(&app, "GET", "/api/read", Some(&cookie)).await.2,
        "Some(1)"
    );

    // A layer on the nested router only.
    let api = Router::new()
        .route("/read", get(read))
        .layer(SessionLayer::new(manager));
    let app = Router::new().nest("/api", api).route("/outside", get(read));
    assert_eq!(
        send(&app, "GET", "/api/read", Some(&cookie)).await.2,
        "Some(1)"
    );
    let (status, _, body) = send(&app, "GET", "/outside", Some(&cookie)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json"),
        json!({"error": "session layer missing"})
    );
}

#[tokio::test]
async fn handler_cookies_are_kept() {
    async fn with_cookie(session: Session) -> Result<Response, SessionError> {
        session.insert("n", &1).await?;
        let mut response = "ok".into_response();
        response
            .headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        Ok(response)
    }
    let app = Router::new()
        .route("/", post(with_cookie))
        .layer(SessionLayer::new(manager()));
    let (_, cookies, _) = send(&app, "POST", "/", None).await;
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies.iter().any(|c| c == "theme=dark"));
}

#[tokio::test]
async fn store_failures_answer_503_json_and_the_error_response_is_replaceable() {
    let store = Arc::new(FlakyStore::new(Arc::new(MemoryStore::default())));
    let manager = manager_over(store.clone());
    let app = Router::new()
        .route("/write", post(write))
        .route("/read", get(read))
        .layer(SessionLayer::new(manager.clone()));
    let (_, cookies, _) = send(&app, "POST", "/write", None).await;
    let cookie = session_cookie(&cookies);
    store.set_failing(true);

    // From the handler's `?`.
    let (status, cookies, body) = send(&app, "GET", "/read", Some(&cookie)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(cookies.is_empty());
    let body: Value = serde_json::from_str(&body).expect("json");
    assert!(body["error"].is_string(), "{body}");

    // From the layer's `finish`: a new session's write fails.
    let (status, _, body) = send(&app, "POST", "/write", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(serde_json::from_str::<Value>(&body).expect("json")["error"].is_string());

    fn teapot(_: &sessio::SessionError) -> Response {
        (StatusCode::IM_A_TEAPOT, "custom").into_response()
    }
    let app = Router::new()
        .route("/write", post(write))
        .layer(SessionLayer::new(manager).with_error_handler(teapot));
    let (status, _, body) = send(&app, "POST", "/write", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::IM_A_TEAPOT, "custom"));
}

#[test]
fn service_is_clone_and_its_future_is_send() {
    fn assert_clone_send<T: Clone + Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}
    let mut service = tower::Layer::layer(&SessionLayer::new(manager()), Router::new());
    assert_clone_send(&service);
    let request = Request::new(Body::empty());
    assert_send(tower::Service::call(&mut service, request));
}
