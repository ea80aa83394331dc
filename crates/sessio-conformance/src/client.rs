//! A browser-like client over a [`Harness`]: keeps the session cookie the way a browser
//! does (replaced by `Set-Cookie`, dropped by `Max-Age=0`).

use std::sync::Mutex;

use serde_json::Value;

use crate::{Harness, Request, Response};

/// A browser with one cookie jar.
pub struct Client<'h, H> {
    harness: &'h H,
    cookie_name: String,
    jar: Mutex<Option<String>>,
}

/// A response, with helpers.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The raw response.
    pub response: Response,
}

impl Reply {
    /// The status.
    pub fn status(&self) -> u16 {
        self.response.status
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.response.body).unwrap_or(Value::Null)
    }

    /// Every value of header `name` (lowercase), as text.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The `Set-Cookie` values for cookie `name`.
    pub fn set_cookies(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}=");
        self.headers("set-cookie")
            .into_iter()
            .filter(|c| c.starts_with(&prefix))
            .collect()
    }
}

impl<'h, H: Harness> Client<'h, H> {
    /// A client with an empty jar, tracking cookie `cookie_name`.
    pub fn new(harness: &'h H, cookie_name: &str) -> Self {
        Client {
            harness,
            cookie_name: cookie_name.to_owned(),
            jar: Mutex::new(None),
        }
    }

    /// The session cookie's value as held now.
    pub fn cookie(&self) -> Option<String> {
        self.jar.lock().ok().and_then(|j| j.clone())
    }

    /// Replaces the jar's cookie value (e.g. to replay an old or forged one).
    pub fn set_cookie(&self, value: Option<String>) {
        if let Ok(mut jar) = self.jar.lock() {
            *jar = value;
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, Vec::new()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body), Vec::new()).await
    }

    /// A request with extra raw headers (and the jar's cookie, if any, as its own header).
    pub async fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
        extra: Vec<(String, Vec<u8>)>,
    ) -> Reply {
        let mut headers = extra;
        if let Some(value) = self.cookie() {
            headers.push((
                "cookie".to_owned(),
                format!("{}={value}", self.cookie_name).into_bytes(),
            ));
        }
        let body = match body {
            Some(v) => {
                headers.push(("content-type".to_owned(), b"application/json".to_vec()));
                v.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let response = self
            .harness
            .send(Request {
                method,
                path: path.to_owned(),
                headers,
                body,
            })
            .await;
        let reply = Reply { response };
        for cookie in reply.set_cookies(&self.cookie_name) {
            let value = cookie[self.cookie_name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned();
            let removed = cookie
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            self.set_cookie(if removed || value.is_empty() {
                None
            } else {
                Some(value)
            });
        }
        reply
    }
}
