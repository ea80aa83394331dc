//! The conformance suite, run against an axum app: a catch-all probe handler behind
//! `SessionLayer`, taking the session with the `Session` extractor.
#![allow(missing_docs)]

use axum::body::{to_bytes, Body, Bytes};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sessio::SessionManager;
use sessio_axum::{Session, SessionError, SessionLayer};
use sessio_conformance::probe::dispatch;
use sessio_conformance::{Adapter, Harness, Request};
use tower::ServiceExt;

async fn probe(
    session: Session,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, SessionError> {
    let reply = dispatch(method.as_str(), uri.path(), &body, &session).await?;
    let status = StatusCode::from_u16(reply.status).expect("probe status");
    let mut response = (status, [(CONTENT_TYPE, "application/json")], reply.body).into_response();
    if let Some(cookie) = reply.set_cookie {
        response
            .headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static(cookie));
    }
    Ok(response)
}

struct Axum;

struct AxumHarness {
    app: Router,
}

impl Harness for AxumHarness {
    async fn send(&self, request: Request) -> sessio_conformance::Response {
        let mut builder = axum::http::Request::builder()
            .method(request.method)
            .uri(request.path);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Body::from(request.body)).expect("request");
        // Spawned, so that concurrent requests really run on the runtime's workers.
        let response = tokio::spawn(self.app.clone().oneshot(request))
            .await
            .expect("request task")
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.expect("body");
        sessio_conformance::Response {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        }
    }
}

impl Adapter for Axum {
    type Harness = AxumHarness;
    const NAME: &'static str = "axum";
    async fn harness(manager: SessionManager) -> AxumHarness {
        AxumHarness {
            app: Router::new()
                .fallback(probe)
                .layer(SessionLayer::new(manager)),
        }
    }
}

fn run<F: std::future::Future<Output = ()>>(future: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

sessio_conformance::conformance_suite!(adapter = Axum, run = run);
