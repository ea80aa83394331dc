//! The conformance suite against an in-process warp app: one catch-all route built with
//! `with_session_and`, whose handler runs the probe routes.
#![allow(missing_docs)]

use sessio::{Session, SessionManager};
use sessio_conformance::probe::dispatch;
use sessio_conformance::{Adapter, Harness, Request, Response};
use sessio_warp::{with_session_and, SessionRejection};
use warp::filters::path::FullPath;
use warp::http::{HeaderValue, Method, StatusCode};
use warp::hyper::body::Bytes;
use warp::{Filter, Rejection, Reply};

struct Warp;

type App = warp::filters::BoxedFilter<(warp::reply::Response,)>;

struct WarpHarness {
    app: App,
}

async fn probe(
    session: Session,
    (method, path, body): (Method, FullPath, Bytes),
) -> Result<warp::reply::Response, SessionRejection> {
    let reply = dispatch(method.as_str(), path.as_str(), &body, &session).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = warp::reply::with_status(reply.body, status).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(cookie) = reply.set_cookie {
        headers.append("set-cookie", HeaderValue::from_static(cookie));
    }
    Ok(response)
}

fn app(manager: SessionManager) -> App {
    let request = warp::method()
        .and(warp::path::full())
        .and(warp::body::bytes())
        .map(|method, path, body| (method, path, body));
    with_session_and(manager, request, probe)
        .recover(sessio_warp::recover)
        .unify()
        .boxed()
}

impl Harness for WarpHarness {
    async fn send(&self, request: Request) -> Response {
        let mut builder = warp::test::request()
            .method(request.method)
            .path(&request.path);
        // The test builder keeps one value per header name; the suite sends at most one
        // `Cookie` header per request, so joining repeated names never changes a scenario.
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for (name, value) in request.headers {
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, joined)) => {
                    joined.extend_from_slice(b"; ");
                    joined.extend_from_slice(&value);
                }
                None => headers.push((name, value)),
            }
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let reply = builder.body(request.body).reply(&self.app).await;
        Response {
            status: reply.status().as_u16(),
            headers: reply
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: reply.body().to_vec(),
        }
    }
}

impl Adapter for Warp {
    type Harness = WarpHarness;
    const NAME: &'static str = "warp";
    async fn harness(manager: SessionManager) -> WarpHarness {
        WarpHarness { app: app(manager) }
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

/// A route that rejects keeps its session unfinished: nothing written, no cookie.
#[test]
fn rejected_handler_writes_nothing() {
    run(async {
        let manager = SessionManager::builder(sessio::MemoryStore::default())
            .build()
            .expect("valid config");
        let app = sessio_warp::with_session(manager, |session: Session| async move {
            session
                .insert("cart", &["apple"])
                .await
                .map_err(SessionRejection::from)?;
            Err::<warp::reply::Response, Rejection>(warp::reject::not_found())
        });
        let reply = warp::test::request().reply(&app).await;
        assert_eq!(reply.status(), 404);
        assert!(reply.headers().get("set-cookie").is_none());
    })
}

sessio_conformance::conformance_suite!(adapter = Warp, run = run);
