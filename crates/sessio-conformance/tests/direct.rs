//! The suite run against a plain `http`-crate harness over the manager, with no web
//! framework at all: it tests the suite itself and shows the whole job of an adapter.
#![allow(missing_docs)]

use sessio::{Session, SessionError, SessionManager};
use sessio_conformance::probe::{dispatch, ProbeReply};
use sessio_conformance::{Adapter, Harness, Request, Response};

struct Direct;

struct DirectHarness {
    manager: SessionManager,
}

fn error_reply(error: &SessionError) -> ProbeReply {
    ProbeReply {
        status: error.status_code(),
        body: serde_json::json!({"error": error.to_string()}).to_string(),
        set_cookie: None,
    }
}

impl Harness for DirectHarness {
    async fn send(&self, request: Request) -> Response {
        let cookies = request
            .headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .map(|(_, v)| v.as_slice());
        let session: Session = self.manager.start(cookies);
        let reply = dispatch(request.method, &request.path, &request.body, &session)
            .await
            .unwrap_or_else(|e| error_reply(&e));
        let mut headers = http::HeaderMap::new();
        if let Some(cookie) = reply.set_cookie {
            headers.append("set-cookie", http::HeaderValue::from_static(cookie));
        }
        let (status, body) = match session.finish().await {
            Ok(finished) => {
                finished.apply_to(&mut headers);
                (reply.status, reply.body)
            }
            Err(e) => {
                let r = error_reply(&e);
                (r.status, r.body)
            }
        };
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: body.into_bytes(),
        }
    }
}

impl Adapter for Direct {
    type Harness = DirectHarness;
    const NAME: &'static str = "direct";
    async fn harness(manager: SessionManager) -> DirectHarness {
        DirectHarness { manager }
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

sessio_conformance::conformance_suite!(adapter = Direct, run = run);
