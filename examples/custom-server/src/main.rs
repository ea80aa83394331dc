//! A tiny HTTP/1.1 server on `std::net` that embeds `sessio-core` directly: no framework,
//! no async runtime, one thread. It shows the core's whole contract in one file:
//!
//! 1. find the id in the `Cookie` headers ([`CookieSettings::find_session_id`]);
//! 2. load the record from a store (here the core's bounded [`Table`]) and resume;
//! 3. let the "handler" change the session;
//! 4. carry out the [`Decision`] and send its `Set-Cookie`.
//!
//! Routes: `POST /login?user=NAME` (renews the id), `GET /counter` (counts visits in the
//! session), `POST /logout`. Try it:
//!
//! ```text
//! cargo run -p custom-server
//! curl -i -c jar -b jar -X POST 'http://127.0.0.1:3001/login?user=ada'
//! curl -i -c jar -b jar http://127.0.0.1:3001/counter
//! curl -i -c jar -b jar -X POST http://127.0.0.1:3001/logout
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessio_core::cookie::{CookieConfig, CookieLookup, CookieSettings};
use sessio_core::expiry::ExpiryPolicy;
use sessio_core::record::SessionRecord;
use sessio_core::table::Table;
use sessio_core::{Decision, KeyedSessionId, SessionState, StoreWrite, Timestamp};

/// Requests larger than this are refused: a custom server owns its limits.
const MAX_HEAD: usize = 16 * 1024;

struct Server {
    cookie: CookieSettings,
    policy: ExpiryPolicy,
    store: Table<SessionRecord>,
}

fn now() -> Timestamp {
    Timestamp::from_unix_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

impl Server {
    fn handle(
        &mut self,
        method: &str,
        target: &str,
        cookie_headers: &[&[u8]],
    ) -> (u16, String, Option<String>) {
        let now = now();
        // 1 + 2: cookie → load → resume (the store is consulted only for a well-formed id).
        let mut session = match self.cookie.find_session_id(cookie_headers.iter().copied()) {
            CookieLookup::Found(id) => {
                let id = KeyedSessionId::from(id);
                let record = self.store.get(id.key(), now).cloned();
                SessionState::resume(id, record, false, now, &self.policy)
            }
            CookieLookup::Absent | CookieLookup::Malformed => {
                SessionState::fresh(now, &self.policy)
            }
        };
        // 3: the handler.
        let (status, body) = match (
            method,
            target.split_once('?').map_or((target, ""), |(p, q)| (p, q)),
        ) {
            ("POST", ("/login", query)) => {
                match query.strip_prefix("user=").filter(|u| is_user_name(u)) {
                    Some(user) => {
                        session.renew();
                        session.set_user(Some(user));
                        (200, format!("{{\"user\":\"{user}\"}}"))
                    }
                    None => (
                        400,
                        "{\"error\":\"user=NAME required: 1 to 64 letters, digits, '-', '_' or '.'\"}"
                            .to_owned(),
                    ),
                }
            }
            ("GET", ("/counter", _)) => {
                let count = session
                    .get("count")
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_le_bytes)
                    + 1;
                session.insert("count", count.to_le_bytes().to_vec());
                (
                    200,
                    format!(
                        "{{\"count\":{count},\"user\":\"{}\"}}",
                        session.user().unwrap_or("")
                    ),
                )
            }
            ("POST", ("/logout", _)) => {
                session.destroy();
                (200, "{\"ok\":true}".to_owned())
            }
            _ => (404, "{\"error\":\"not found\"}".to_owned()),
        };
        // 4: the decision, carried out against the table.
        let decision = session.finish(&mut rand::rng());
        let set_cookie = self.carry_out(decision, now);
        (status, body, set_cookie)
    }

    fn carry_out(&mut self, decision: Decision, now: Timestamp) -> Option<String> {
        if let Some(key) = &decision.delete {
            self.store.remove(key);
        }
        let written = match &decision.write {
            None => true,
            Some(StoreWrite::Create { key, record }) => {
                let (expires, user) = (record.meta.expires_at(), record.meta.user.clone());
                // Create-only: a (vanishingly unlikely) id collision leaves the client without
                // a session rather than inside someone else's.
                self.store
                    .insert(*key, record.clone(), expires, user.as_deref(), now)
                    .is_ok()
            }
            Some(StoreWrite::Rotate { from, to, changes }) => {
                self.store.rekey(from, *to, now).is_ok()
                    && self.apply(to, now, |r| changes.apply_to(r))
            }
            Some(StoreWrite::Update { key, changes }) => {
                self.apply(key, now, |r| changes.apply_to(r))
            }
            Some(StoreWrite::Touch { key, last_seen, .. }) => {
                self.apply(key, now, |r| r.meta.last_seen = *last_seen)
            }
        };
        decision
            .cookie
            .filter(|_| written)
            .map(|update| self.cookie.set_cookie(&update, now))
    }

    /// Changes a stored record in place and keeps the table's deadline and user index in step.
    fn apply(
        &mut self,
        key: &sessio_core::StoreKey,
        now: Timestamp,
        change: impl FnOnce(&mut SessionRecord),
    ) -> bool {
        let Some(mut entry) = self.store.get_mut(key, now) else {
            return false;
        };
        change(entry.value_mut());
        let (expires, user) = (
            entry.value().meta.expires_at(),
            entry.value().meta.user.clone(),
        );
        entry.set_expires_at(expires);
        entry.set_user(user.as_deref());
        true
    }
}

/// A user name `POST /login` takes. The answers put it into JSON as it is, so it may hold
/// nothing that JSON would need escaped (nor anything a query string would encode).
fn is_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// How long a connection may take to send its request. One thread serves every
/// connection in turn, so without it one client that connects and stays silent would
/// stop the server.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

fn serve(server: &mut Server, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let read = reader.read_until(b'\n', &mut head)?;
        if read == 0 || head.len() > MAX_HEAD {
            return Ok(());
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(&head), Ok(httparse::Status::Complete(_))) {
        return respond(stream, 400, "{\"error\":\"bad request\"}", None);
    }
    let length = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    std::io::copy(
        &mut reader.by_ref().take(length.min(1 << 20)),
        &mut std::io::sink(),
    )?;
    let cookies: Vec<&[u8]> = request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("cookie"))
        .map(|h| h.value)
        .collect();
    let (method, path) = (request.method.unwrap_or("GET"), request.path.unwrap_or("/"));
    let (status, body, set_cookie) = server.handle(method, path, &cookies);
    respond(stream, status, &body, set_cookie)
}

fn respond(
    mut stream: TcpStream,
    status: u16,
    body: &str,
    set_cookie: Option<String>,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nvary: Cookie\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    if let Some(cookie) = set_cookie {
        out.push_str(&format!(
            "set-cookie: {cookie}\r\ncache-control: private\r\n"
        ));
    }
    out.push_str("\r\n");
    out.push_str(body);
    stream.write_all(out.as_bytes())
}

impl Server {
    /// A server keeping at most `capacity` sessions, with default expiry.
    fn new(secure_cookie: bool, capacity: NonZeroUsize) -> std::io::Result<Server> {
        Ok(Server {
            cookie: CookieConfig::new()
                .secure(secure_cookie)
                .build()
                .map_err(|e| std::io::Error::other(e.to_string()))?,
            policy: ExpiryPolicy::default(),
            store: Table::new(capacity),
        })
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3001);
    let insecure = std::env::var("SESSION_INSECURE_COOKIE").is_ok_and(|v| v == "1");
    let capacity = NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN);
    let mut server = Server::new(!insecure, capacity)?;
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on http://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        if let Err(error) = stream.and_then(|s| serve(&mut server, s)) {
            eprintln!("connection error: {error}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client of `Server::handle` keeping the one cookie it is sent.
    struct Client {
        cookie: Option<String>,
    }

    impl Client {
        fn send(&mut self, server: &mut Server, method: &str, target: &str) -> (u16, String) {
            let header = self.cookie.as_ref().map(|c| format!("sessio={c}"));
            let headers: Vec<&[u8]> = header.iter().map(|h| h.as_bytes()).collect();
            let (status, body, set_cookie) = server.handle(method, target, &headers);
            if let Some(set_cookie) = set_cookie {
                let value = set_cookie
                    .strip_prefix("sessio=")
                    .and_then(|rest| rest.split(';').next())
                    .expect("a sessio cookie");
                let removed = set_cookie.contains("Max-Age=0");
                self.cookie = (!removed).then(|| value.to_owned());
            }
            (status, body)
        }
    }

    fn server() -> Server {
        Server::new(false, NonZeroUsize::new(16).expect("non-zero")).expect("valid cookie")
    }

    #[test]
    fn a_login_renews_the_id_and_the_session_counts_until_logout() {
        let mut server = server();
        let mut client = Client { cookie: None };
        let answer = client.send(&mut server, "GET", "/counter");
        assert_eq!(answer, (200, r#"{"count":1,"user":""}"#.to_owned()));
        let anonymous = client.cookie.clone().expect("the counter made a session");
        let answer = client.send(&mut server, "POST", "/login?user=ada");
        assert_eq!(answer, (200, r#"{"user":"ada"}"#.to_owned()));
        assert_ne!(
            client.cookie.as_ref(),
            Some(&anonymous),
            "login kept the id"
        );
        let answer = client.send(&mut server, "GET", "/counter");
        assert_eq!(answer, (200, r#"{"count":2,"user":"ada"}"#.to_owned()));
        let mut old = Client {
            cookie: Some(anonymous),
        };
        let answer = old.send(&mut server, "GET", "/counter");
        assert_eq!(
            answer.1, r#"{"count":1,"user":""}"#,
            "the old id still works"
        );
        client.send(&mut server, "POST", "/logout");
        assert_eq!(client.cookie, None, "logout did not clear the cookie");
        let answer = client.send(&mut server, "GET", "/counter");
        assert_eq!(answer.1, r#"{"count":1,"user":""}"#);
    }

    #[test]
    fn a_user_name_json_would_escape_is_refused_and_creates_nothing() {
        let mut server = server();
        for target in [
            "/login?user=",
            "/login?user=a%22b",
            "/login?user=a\"b",
            "/login?user=a\\b",
            "/login?user=a b",
            "/login?name=ada",
        ] {
            let mut client = Client { cookie: None };
            let (status, body) = client.send(&mut server, "POST", target);
            assert_eq!(status, 400, "{target}: {body}");
            assert_eq!(client.cookie, None, "{target} created a session");
        }
        let long = format!("/login?user={}", "a".repeat(65));
        assert_eq!(
            Client { cookie: None }.send(&mut server, "POST", &long).0,
            400
        );
        let longest = format!("/login?user={}", "a".repeat(64));
        assert_eq!(
            Client { cookie: None }
                .send(&mut server, "POST", &longest)
                .0,
            200
        );
    }

    #[test]
    fn an_unknown_route_is_a_json_404_without_a_session() {
        let mut server = server();
        let mut client = Client { cookie: None };
        let answer = client.send(&mut server, "GET", "/nowhere");
        assert_eq!(answer, (404, r#"{"error":"not found"}"#.to_owned()));
        assert_eq!(client.cookie, None);
    }
}
