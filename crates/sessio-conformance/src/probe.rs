//! The probe routes: one framework-neutral handler body behind every route, so each
//! adapter's test app is a catch-all route plus its own middleware and extractor.
//!
//! | route | does |
//! |---|---|
//! | `GET /health` | never touches the session |
//! | `GET /get/NAME` | the JSON value under NAME, or `null` |
//! | `POST /set/NAME` | stores the JSON body under NAME |
//! | `POST /set-with-cookie/NAME` | the same, and the handler sets its own `theme` cookie |
//! | `POST /append/NAME` | `update`: appends the JSON body to the list under NAME |
//! | `POST /push/NAME` | `push`: appends the JSON body to the list under NAME |
//! | `POST /remove/NAME` | removes NAME |
//! | `POST /take/NAME` | `take`: removes NAME and answers `{"taken": value or null}` |
//! | `POST /login/USER` | renews the id and binds the session to USER |
//! | `POST /remember` | gives the session a 30-day persistent lifetime |
//! | `POST /logout` | destroys the session |
//! | `POST /revoke-all` | revokes every session of the user, this one included |
//! | `POST /revoke-others` | revokes every other session of the user |
//! | `GET /whoami` | the bound user, or `null` |

use std::time::Duration;

use serde_json::{json, Value};
use sessio::{Lifetime, Session, SessionError};

/// The cookie a handler sets itself in `/set-with-cookie/NAME`.
pub const HANDLER_COOKIE: &str = "theme=dark; Path=/";

/// What a probe handler answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    /// The status code.
    pub status: u16,
    /// A JSON body.
    pub body: String,
    /// A `Set-Cookie` the handler adds itself (to check adapters append, not replace).
    pub set_cookie: Option<&'static str>,
}

impl ProbeReply {
    fn json(status: u16, body: Value) -> Self {
        ProbeReply {
            status,
            body: body.to_string(),
            set_cookie: None,
        }
    }
}

/// Runs the probe route for `method` and `path`. Session errors are returned for the
/// adapter to turn into its error response (503 for a failing store).
pub async fn dispatch(
    method: &str,
    path: &str,
    body: &[u8],
    session: &Session,
) -> Result<ProbeReply, SessionError> {
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    let parse_body = || serde_json::from_slice::<Value>(body);
    let ok = || ProbeReply::json(200, json!({"ok": true}));
    Ok(match (method, segments.as_slice()) {
        ("GET", ["health"]) => ok(),
        ("GET", ["get", name]) => {
            let value: Option<Value> = session.get(name).await?;
            ProbeReply::json(200, value.unwrap_or(Value::Null))
        }
        ("POST", ["set", name]) | ("POST", ["set-with-cookie", name]) => {
            let Ok(value) = parse_body() else {
                return Ok(ProbeReply::json(400, json!({"error": "invalid JSON"})));
            };
            session.insert(name, &value).await?;
            let mut reply = ok();
            if segments[0] == "set-with-cookie" {
                reply.set_cookie = Some(HANDLER_COOKIE);
            }
            reply
        }
        ("POST", ["append", name]) => {
            let Ok(item) = parse_body() else {
                return Ok(ProbeReply::json(400, json!({"error": "invalid JSON"})));
            };
            let list = session
                .update(name, |list: Option<Vec<Value>>| {
                    let mut list = list.unwrap_or_default();
                    list.push(item.clone());
                    list
                })
                .await?;
            ProbeReply::json(200, Value::Array(list))
        }
        ("POST", ["push", name]) => {
            let Ok(item) = parse_body() else {
                return Ok(ProbeReply::json(400, json!({"error": "invalid JSON"})));
            };
            let list: Vec<Value> = session.push(name, &item).await?;
            ProbeReply::json(200, Value::Array(list))
        }
        ("POST", ["remove", name]) => {
            ProbeReply::json(200, json!({"removed": session.remove(name).await?}))
        }
        ("POST", ["take", name]) => {
            let taken: Option<Value> = session.take(name).await?;
            ProbeReply::json(200, json!({"taken": taken}))
        }
        ("POST", ["login", user]) => {
            session.renew().await?;
            session.set_user(Some(user)).await?;
            ok()
        }
        ("POST", ["remember"]) => {
            let lifetime = Lifetime::new(
                Some(Duration::from_secs(7 * 86400)),
                Some(Duration::from_secs(30 * 86400)),
            )
            .map(|l| l.persistent_cookie(true));
            match lifetime {
                Ok(lifetime) => session.set_lifetime(lifetime).await?,
                Err(_) => return Ok(ProbeReply::json(500, json!({"error": "bad lifetime"}))),
            }
            ok()
        }
        ("POST", ["logout"]) => {
            session.destroy().await?;
            ok()
        }
        ("POST", ["revoke-all"]) => ProbeReply::json(
            200,
            json!({"revoked": session.revoke_user_sessions(false).await?}),
        ),
        ("POST", ["revoke-others"]) => ProbeReply::json(
            200,
            json!({"revoked": session.revoke_user_sessions(true).await?}),
        ),
        ("GET", ["whoami"]) => ProbeReply::json(200, json!({"user": session.user().await?})),
        _ => ProbeReply::json(404, json!({"error": "no such probe route"})),
    })
}
