//! The conformance suite through a rocket app: catch-all routes that take the session
//! with the `Session` guard and answer probe errors with `SessionErrorResponse`.
#![allow(missing_docs)]

use std::path::PathBuf;

use rocket::config::LogLevel;
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket::response::{self, Responder};
use rocket::{Request, Response};
use sessio::SessionManager;
use sessio_conformance::probe::{dispatch, ProbeReply};
use sessio_conformance::{Adapter, Harness};
use sessio_rocket::{Session, SessionErrorResponse, SessionFairing};

/// A probe reply as a rocket response, with the handler's own cookie if any.
struct ProbeResponse(ProbeReply);

impl<'r> Responder<'r, 'static> for ProbeResponse {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let ProbeReply {
            status,
            body,
            set_cookie,
        } = self.0;
        let mut response = Response::build_from((ContentType::JSON, body).respond_to(request)?);
        response.status(Status::new(status));
        if let Some(cookie) = set_cookie {
            response.raw_header_adjoin("set-cookie", cookie);
        }
        response.ok()
    }
}

async fn probe(
    request_path: &str,
    method: &str,
    body: &[u8],
    session: &Session,
) -> Result<ProbeResponse, SessionErrorResponse> {
    Ok(ProbeResponse(
        dispatch(method, request_path, body, session).await?,
    ))
}

#[rocket::get("/<path..>")]
async fn probe_get(path: PathBuf, session: Session) -> Result<ProbeResponse, SessionErrorResponse> {
    probe(&format!("/{}", path.display()), "GET", &[], &session).await
}

#[rocket::post("/<path..>", data = "<body>")]
async fn probe_post(
    path: PathBuf,
    body: Vec<u8>,
    session: Session,
) -> Result<ProbeResponse, SessionErrorResponse> {
    probe(&format!("/{}", path.display()), "POST", &body, &session).await
}

/// `/health` without the guard: a route that never asks for the session.
#[rocket::get("/health")]
fn health() -> (ContentType, &'static str) {
    (ContentType::JSON, r#"{"ok":true}"#)
}

struct RocketAdapter;

struct RocketHarness {
    client: Client,
}

impl Harness for RocketHarness {
    async fn send(&self, request: sessio_conformance::Request) -> sessio_conformance::Response {
        let method = if request.method == "POST" {
            Method::Post
        } else {
            Method::Get
        };
        let mut local = self.client.req(method, request.path).body(request.body);
        for (name, value) in request.headers {
            // rocket's headers are text; a non-UTF-8 value arrives with replacement characters.
            local = local.header(Header::new(
                name,
                String::from_utf8_lossy(&value).into_owned(),
            ));
        }
        let response = local.dispatch().await;
        let status = response.status().code;
        let headers = response
            .headers()
            .iter()
            .map(|h| {
                (
                    h.name().as_str().to_ascii_lowercase(),
                    h.value().as_bytes().to_vec(),
                )
            })
            .collect();
        let body = response.into_bytes().await.unwrap_or_default();
        sessio_conformance::Response {
            status,
            headers,
            body,
        }
    }
}

impl Adapter for RocketAdapter {
    type Harness = RocketHarness;
    const NAME: &'static str = "rocket";

    async fn harness(manager: SessionManager) -> RocketHarness {
        let config = rocket::Config {
            log_level: LogLevel::Off,
            ..rocket::Config::debug_default()
        };
        let app = rocket::custom(config)
            .attach(SessionFairing::new(manager))
            .mount("/", rocket::routes![health, probe_get, probe_post])
            .register("/", sessio_rocket::catchers());
        // Untracked: the suite's client keeps the cookie jar itself.
        let client = Client::untracked(app).await.expect("a valid rocket app");
        RocketHarness { client }
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

sessio_conformance::conformance_suite!(adapter = RocketAdapter, run = run);
