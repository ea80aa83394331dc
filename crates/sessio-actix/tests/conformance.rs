//! The sessio conformance suite against an actix app built with this adapter, served in
//! process by `actix_web::test`.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use actix_web::{web, App, HttpRequest, HttpResponse};
use sessio::SessionManager;
use sessio_actix::{Session, SessionMiddleware};
use sessio_conformance::probe::dispatch;
use sessio_conformance::{Adapter, Harness, Request, Response};

struct Actix;

type SendRequest = Box<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response>>>>;

/// The initialized app, behind a closure because its service type cannot be named.
struct ActixHarness {
    send: SendRequest,
}

/// The catch-all route: the probe, with this adapter's extractor and error type.
async fn probe(
    request: HttpRequest,
    session: Session,
    body: web::Bytes,
) -> Result<HttpResponse, sessio_actix::Error> {
    let reply = dispatch(request.method().as_str(), request.path(), &body, &session).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if let Some(cookie) = reply.set_cookie {
        response.append_header(("set-cookie", cookie));
    }
    Ok(response.body(reply.body))
}

impl Harness for ActixHarness {
    async fn send(&self, request: Request) -> Response {
        (self.send)(request).await
    }
}

impl Adapter for Actix {
    type Harness = ActixHarness;
    const NAME: &'static str = "actix";

    async fn harness(manager: SessionManager) -> ActixHarness {
        let app = App::new()
            .wrap(SessionMiddleware::new(manager))
            .default_service(web::to(probe));
        let app = Rc::new(actix_test::init_service(app).await);
        let send: SendRequest = Box::new(move |request: Request| {
            let app = app.clone();
            Box::pin(async move {
                let method = Method::from_bytes(request.method.as_bytes()).expect("method");
                let mut test_request = actix_test::TestRequest::default()
                    .method(method)
                    .uri(&request.path);
                for (name, value) in request.headers {
                    test_request = test_request.append_header((name, value));
                }
                let response = actix_test::call_service(
                    &*app,
                    test_request.set_payload(request.body).to_request(),
                )
                .await;
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect();
                let body = actix_test::read_body(response).await.to_vec();
                Response {
                    status,
                    headers,
                    body,
                }
            })
        });
        ActixHarness { send }
    }
}

fn run<F: Future<Output = ()>>(future: F) {
    actix_rt::System::new().block_on(future)
}

sessio_conformance::conformance_suite!(adapter = Actix, run = run);

/// A route extracting `Session` without the middleware answers a 500 JSON error.
#[actix_rt::test]
async fn missing_middleware_is_a_json_500() {
    let app = actix_test::init_service(App::new().route(
        "/",
        web::get().to(|_: Session| async { HttpResponse::Ok().finish() }),
    ))
    .await;
    let response =
        actix_test::call_service(&app, actix_test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = actix_test::read_body_json(response).await;
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("SessionMiddleware")),
        "{body}"
    );
}

/// When saving the session fails, the builder's error response replaces the handler's.
#[actix_rt::test]
async fn finish_failure_uses_the_error_response() {
    use sessio::MemoryStore;
    use sessio_conformance::FlakyStore;
    use std::sync::Arc;

    let store = Arc::new(FlakyStore::new(Arc::new(MemoryStore::default())));
    let manager = SessionManager::builder_shared(store.clone())
        .build()
        .expect("config");
    let middleware = SessionMiddleware::new(manager)
        .error_response(|_| HttpResponse::ImATeapot().body("custom"));
    let app = actix_test::init_service(App::new().wrap(middleware).route(
        "/",
        web::post().to(|session: Session| async move {
            session.insert("k", &1).await?;
            Ok::<_, sessio_actix::Error>(HttpResponse::Ok().finish())
        }),
    ))
    .await;
    store.set_failing(true);
    let response =
        actix_test::call_service(&app, actix_test::TestRequest::post().uri("/").to_request()).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(actix_test::read_body(response).await, "custom");
}
