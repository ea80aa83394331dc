//! End-to-end checks of a cart app binary: started as a real process on a free loopback
//! port, driven over real TCP with a minimal HTTP/1.1 client, stopped with SIGTERM.
//!
//! Each cart example has `tests/e2e.rs` calling [`run_memory_suite`] and
//! [`run_redis_suite`] with `env!("CARGO_BIN_EXE_<name>")`, so `cargo test` builds the
//! binary first and tests exactly what users run.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod faults;

/// A running cart app.
pub struct CartProcess {
    child: Child,
    port: u16,
}

impl CartProcess {
    /// Starts `binary` with `PORT=0`, plain-HTTP cookies and `envs`, and waits for its
    /// `listening on http://127.0.0.1:PORT` line.
    pub fn start(binary: &str, envs: &[(&str, &str)]) -> CartProcess {
        let mut command = Command::new(binary);
        command
            .env("PORT", "0")
            .env("SESSION_INSECURE_COOKIE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("listening on http://127.0.0.1:")
                    .and_then(|p| p.trim().parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!("{binary} did not print `listening on http://127.0.0.1:PORT` within 60 s")
            });
        CartProcess { child, port }
    }

    /// Sends SIGTERM and expects a clean exit within 10 s.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        status.success(),
                        "cart app exited with {status} after SIGTERM"
                    );
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = self.child.kill();
                    panic!("cart app did not shut down within 10 s of SIGTERM");
                }
            }
        }
    }

    /// A new client (an empty cookie jar).
    pub fn client(&self) -> HttpClient {
        HttpClient {
            port: self.port,
            cookie: None,
        }
    }
}

impl Drop for CartProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body parsed as JSON (`Null` when not JSON).
    pub json: Value,
    /// Body as sent (after de-chunking).
    pub body: String,
}

impl HttpResponse {
    /// The first value of the header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Set-Cookie` values for the `sessio` cookie.
    pub fn session_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, v)| n == "set-cookie" && v.starts_with("sessio="))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A one-connection-per-request HTTP/1.1 client with a one-cookie jar.
#[derive(Clone)]
pub struct HttpClient {
    port: u16,
    cookie: Option<String>,
}

impl HttpClient {
    /// The session cookie value held.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Replaces the held cookie value.
    pub fn set_cookie(&mut self, value: Option<String>) {
        self.cookie = value;
    }

    /// Sends a request; `body` is sent verbatim as JSON.
    pub fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        let content_type = body.map(|_| "application/json");
        self.send_as(method, path, body, content_type)
    }

    /// Sends a request with `body` under the given `Content-Type` (none when `None`).
    pub fn send_as(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> HttpResponse {
        let response = self.raw(method, path, body, content_type);
        for cookie in response.session_cookies() {
            let value = cookie["sessio=".len()..].split(';').next().unwrap_or("");
            let removed = cookie.to_ascii_lowercase().contains("max-age=0");
            self.cookie = (!removed && !value.is_empty()).then(|| value.to_owned());
        }
        response
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> HttpResponse {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the cart app");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let body = body.unwrap_or("");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.port,
            body.len()
        );
        if let Some(content_type) = content_type {
            request.push_str(&format!("content-type: {content_type}\r\n"));
        }
        if let Some(cookie) = &self.cookie {
            request.push_str(&format!("cookie: sessio={cookie}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        // An app that answers before reading the whole body (a 413) may close with part of
        // the request unread, which resets the connection: while writing the rest, or after
        // its answer arrived. The answer is what is checked (a cut one has no JSON body).
        let sent = stream.write_all(request.as_bytes());
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw);
        match (sent, read) {
            (_, Ok(_)) => {}
            (_, Err(error)) if is_reset(&error) && raw.windows(4).any(|w| w == b"\r\n\r\n") => {}
            (sent, read) => {
                panic!("no whole answer (a hung request?): sent {sent:?}, read {read:?}")
            }
        }
        parse_response(&raw)
    }
}

fn is_reset(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpResponse {
        status,
        headers,
        json: serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The flows of the cart contract against an app using the memory store.
pub fn run_memory_suite(binary: &str) {
    let app = CartProcess::start(binary, &[("SESSION_STORE", "memory")]);
    check_flows(&app);
    app.stop();
}

/// The flows against Redis at `SESSIO_REDIS_URL`, then the store-failure behaviour with a
/// Redis URL where nothing listens. Skips loudly without Redis unless `SESSIO_REQUIRE_REDIS=1`.
pub fn run_redis_suite(binary: &str) {
    let url =
        std::env::var("SESSIO_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    if !redis_answers(&url) {
        if std::env::var("SESSIO_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
            panic!("Redis required (SESSIO_REQUIRE_REDIS=1) but none answers at {url}");
        }
        eprintln!("\n!!! SKIPPED: no Redis at {url}; set SESSIO_REDIS_URL or run `cargo xtask redis` !!!\n");
        return;
    }
    let app = CartProcess::start(binary, &[("SESSION_STORE", &url)]);
    check_flows(&app);
    app.stop();

    let dead = CartProcess::start(binary, &[("SESSION_STORE", "redis://127.0.0.1:1/")]);
    let mut c = dead.client();
    assert_eq!(
        c.send("GET", "/health", None).status,
        200,
        "/health must not need the store"
    );
    c.set_cookie(Some("A".repeat(42) + "E"));
    let started = Instant::now();
    let r = c.send("GET", "/me", None);
    assert_eq!(r.status, 503, "a dead store answers 503: {r:?}");
    assert!(
        r.json.get("error").is_some(),
        "503 with a JSON error: {r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 503 took {:?}",
        started.elapsed()
    );
    let r = c.send("POST", "/cart", Some(r#"{"item":"x"}"#));
    assert_eq!(r.status, 503, "{r:?}");
    dead.stop();
}

fn redis_answers(url: &str) -> bool {
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .rsplit('@')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    let Ok(mut stream) = TcpStream::connect(&hostport) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut buf).is_ok()
        && &buf == b"+PONG\r\n"
}

/// `POST /cart`'s body with an item of 100 KiB: more than any cart app reads (64 KiB),
/// and little enough that the kernel takes it whole, so the request is sent in full
/// whether or not the app reads it before answering.
fn oversized_item() -> String {
    format!(r#"{{"item":"{}"}}"#, "a".repeat(100 * 1024))
}

fn check_flows(app: &CartProcess) {
    let mut c = app.client();
    // Anonymous requests get no cookie.
    for path in ["/health", "/cart", "/me"] {
        let r = c.send("GET", path, None);
        assert!(
            r.session_cookies().is_empty(),
            "GET {path} set a cookie: {r:?}"
        );
    }
    assert_eq!(c.send("GET", "/health", None).json, json!({"ok": true}));
    let r = c.send("GET", "/me", None);
    assert_eq!((r.status, r.json), (401, json!({"error": "not logged in"})));
    assert_eq!(c.send("GET", "/cart", None).json, json!({"items": []}));

    // Bad input: 400 with a JSON error, nothing created.
    for body in ["{not json", r#"{"user":"ada"}"#, r#"{"item":3}"#] {
        let path = if body.contains("item") {
            "/cart"
        } else {
            "/login"
        };
        let r = c.send("POST", path, Some(body));
        assert_eq!(r.status, 400, "POST {path} {body}: {r:?}");
        assert!(
            r.json.get("error").is_some(),
            "400 needs a JSON error: {r:?}"
        );
        assert!(r.session_cookies().is_empty());
    }
    // Bodies are JSON: one sent as something else, or untyped, is refused the same way.
    for content_type in [Some("text/plain"), None] {
        let r = c.send_as("POST", "/cart", Some(r#"{"item":"apple"}"#), content_type);
        assert_eq!(r.status, 400, "POST /cart as {content_type:?}: {r:?}");
        assert!(
            r.json.get("error").is_some(),
            "400 needs a JSON error: {r:?}"
        );
        assert!(r.session_cookies().is_empty(), "{r:?}");
    }
    // Every answer is JSON: a path the app does not serve is a 404; a path it serves,
    // asked with another method, a 405 whose `Allow` names the contract's methods.
    let r = c.send("GET", "/nowhere", None);
    assert_eq!(r.status, 404, "GET /nowhere: {r:?}");
    assert!(
        r.json.get("error").is_some(),
        "404 needs a JSON error: {r:?}"
    );
    for (method, path, allowed) in [
        ("DELETE", "/cart", &["GET", "HEAD", "POST"][..]),
        ("GET", "/login", &["POST"]),
        ("PUT", "/me", &["GET", "HEAD"]),
        ("HEAD", "/logout", &["POST"]),
    ] {
        let r = c.send(method, path, None);
        assert_eq!(r.status, 405, "{method} {path}: {r:?}");
        assert!(
            method == "HEAD" || r.json.get("error").is_some(),
            "405 needs a JSON error: {r:?}"
        );
        let allow = r.header("allow").unwrap_or_default();
        for wanted in allowed {
            assert!(
                allow.split(',').any(|m| m.trim() == *wanted),
                "{method} {path}: `Allow: {allow}` lacks {wanted}"
            );
        }
        assert!(r.session_cookies().is_empty(), "{r:?}");
    }
    // A path that takes GET takes HEAD: the GET answer without its body.
    for path in ["/health", "/me", "/cart"] {
        let (get, head) = (c.send("GET", path, None), c.send("HEAD", path, None));
        assert_eq!(head.status, get.status, "HEAD {path}: {head:?}");
        assert_eq!(head.body, "", "HEAD {path} sent a body: {head:?}");
        assert!(head.session_cookies().is_empty(), "{head:?}");
    }
    // A body longer than any cart app reads: 413 with a JSON error, no session.
    let r = c.send("POST", "/cart", Some(&oversized_item()));
    assert_eq!(r.status, 413, "an oversized POST /cart: {r:?}");
    assert!(
        r.json.get("error").is_some(),
        "413 needs a JSON error: {r:?}"
    );
    assert!(r.session_cookies().is_empty(), "{r:?}");
    // Wrong password: 401, no session.
    let r = c.send(
        "POST",
        "/login",
        Some(r#"{"user":"ada","password":"nope"}"#),
    );
    assert_eq!(r.status, 401);
    assert!(
        r.session_cookies().is_empty(),
        "a failed login created a session"
    );

    // Cart before login, then login keeps the cart and regenerates the id.
    let r = c.send("POST", "/cart", Some(r#"{"item":"apple"}"#));
    assert_eq!((r.status, r.json), (200, json!({"items": ["apple"]})));
    let anonymous = c.cookie().expect("POST /cart creates a session").to_owned();
    let r = c.send(
        "POST",
        "/login",
        Some(r#"{"user":"ada","password":"pw-ada"}"#),
    );
    assert_eq!((r.status, r.json), (200, json!({"user": "ada"})));
    let logged_in = c.cookie().expect("session after login").to_owned();
    assert_ne!(anonymous, logged_in, "login must regenerate the id");
    assert_eq!(c.send("GET", "/me", None).json, json!({"user": "ada"}));
    assert_eq!(
        c.send("GET", "/cart", None).json,
        json!({"items": ["apple"]})
    );
    let mut old = app.client();
    old.set_cookie(Some(anonymous));
    assert_eq!(
        old.send("GET", "/cart", None).json,
        json!({"items": []}),
        "the old id still works"
    );

    // Fifty parallel adds all count.
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let mut c = c.clone();
            std::thread::spawn(move || {
                c.send("POST", "/cart", Some(&format!(r#"{{"item":"i{i}"}}"#)))
                    .status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("request thread"), 200);
    }
    let items = c.send("GET", "/cart", None).json["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(items, 51, "parallel adds were lost");
    // An oversized add on a live session is refused and loses nothing.
    let r = c.send("POST", "/cart", Some(&oversized_item()));
    assert_eq!(r.status, 413, "an oversized POST /cart: {r:?}");
    let items = c.send("GET", "/cart", None).json["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(items, 51, "an oversized add changed the cart");

    // Log out everywhere: a second device is logged out too.
    let mut phone = app.client();
    phone.send(
        "POST",
        "/login",
        Some(r#"{"user":"ada","password":"pw-ada"}"#),
    );
    let r = phone.send("POST", "/logout-all", None);
    assert_eq!((r.status, r.json), (200, json!({"revoked": 2})));
    assert_eq!(
        c.send("GET", "/me", None).status,
        401,
        "logout-all left a device logged in"
    );
    assert_eq!(phone.send("POST", "/logout-all", None).status, 401);

    // Logout: removal cookie, replay refused.
    let mut d = app.client();
    d.send(
        "POST",
        "/login",
        Some(r#"{"user":"bob","password":"pw-bob"}"#),
    );
    let stolen = d.cookie().expect("session").to_owned();
    let r = d.send("POST", "/logout", None);
    assert_eq!((r.status, &r.json), (200, &json!({"ok": true})));
    let removal = r.session_cookies().join(" ").to_ascii_lowercase();
    assert!(
        removal.contains("max-age=0") && removal.contains("1970"),
        "removal cookie: {removal}"
    );
    let mut replay = app.client();
    replay.set_cookie(Some(stolen));
    assert_eq!(
        replay.send("GET", "/me", None).status,
        401,
        "replayed cookie after logout"
    );
}
