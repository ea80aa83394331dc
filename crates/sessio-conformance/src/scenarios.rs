//! The scenarios. Each takes a fresh [`Env`] and panics with a message on failure.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::{Adapter, Env, ABSOLUTE, IDLE};

fn attrs(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// Requests that carry no cookie and write nothing get no cookie and create nothing.
pub async fn anonymous_request_gets_no_cookie<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    for path in ["/health", "/get/cart", "/whoami"] {
        let r = c.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers("set-cookie").is_empty(),
            "{path} set a cookie: {:?}",
            r.headers("set-cookie")
        );
    }
    let r = c.post("/remove/cart", json!(null)).await;
    assert!(
        r.headers("set-cookie").is_empty(),
        "a no-op write set a cookie"
    );
    assert!(c.cookie().is_none());
}

/// The session cookie has the safe defaults and an id of the documented shape.
pub async fn cookie_attributes_are_safe_defaults<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    let r = c.post("/set/cart", json!(["apple"])).await;
    assert_eq!(r.status(), 200);
    let cookies = r.set_cookies("sessio");
    assert_eq!(cookies.len(), 1, "exactly one session cookie: {cookies:?}");
    let a = attrs(&cookies[0]);
    for required in ["path=/", "secure", "httponly", "samesite=lax"] {
        assert!(
            a.contains(&required.to_owned()),
            "missing {required} in {}",
            cookies[0]
        );
    }
    assert!(
        !a.iter()
            .any(|x| x.starts_with("max-age") || x.starts_with("expires")),
        "browser-session cookie by default"
    );
    let value = c.cookie().expect("cookie kept");
    assert_eq!(value.len(), 43, "256-bit id, base64url");
    assert!(value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

/// What a handler writes, the next request reads; only changed values are written.
pub async fn values_round_trip<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/a", json!({"n": 1})).await;
    c.post("/set/b", json!("two")).await;
    assert_eq!(c.get("/get/a").await.json(), json!({"n": 1}));
    assert_eq!(c.get("/get/b").await.json(), json!("two"));
    assert_eq!(
        c.post("/remove/a", json!(null)).await.json(),
        json!({"removed": true})
    );
    assert_eq!(c.get("/get/a").await.json(), json!(null));
    let r = c.post("/set/b", json!("bad")).await;
    assert!(
        r.set_cookies("sessio").is_empty(),
        "an update of a live session sends no new cookie"
    );
    let bad = c
        .send(
            "POST",
            "/set/b",
            None,
            vec![("content-type".into(), b"application/json".to_vec())],
        )
        .await;
    assert_eq!(bad.status(), 400, "malformed JSON is a 400");
    assert_eq!(
        c.get("/get/b").await.json(),
        json!("bad"),
        "a 400 loses nothing"
    );
}

/// Login renews the id (session fixation): data kept, the old id dead at once.
pub async fn login_renews_id_and_kills_old_one<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/cart", json!(["apple"])).await;
    let before = c.cookie().expect("anonymous session");
    let r = c.post("/login/ada", json!(null)).await;
    assert_eq!(r.status(), 200);
    let after = c.cookie().expect("logged-in session");
    assert_ne!(before, after, "login must issue a new id");
    assert_eq!(
        c.get("/get/cart").await.json(),
        json!(["apple"]),
        "data survives renewal"
    );
    assert_eq!(c.get("/whoami").await.json(), json!({"user": "ada"}));

    let attacker = env.client();
    attacker.set_cookie(Some(before));
    assert_eq!(
        attacker.get("/whoami").await.json(),
        json!({"user": null}),
        "old id still works"
    );
    assert_eq!(attacker.get("/get/cart").await.json(), json!(null));
}

/// A well-formed id the server never issued is not adopted.
pub async fn attacker_chosen_id_is_not_adopted<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    let planted = "A".repeat(42) + "E";
    c.set_cookie(Some(planted.clone()));
    let r = c.post("/set/cart", json!(["x"])).await;
    assert_eq!(r.status(), 200);
    let issued = c.cookie().expect("a fresh session");
    assert_ne!(issued, planted, "the planted id was adopted");
    let victim = env.client();
    victim.set_cookie(Some(planted));
    assert_eq!(victim.get("/get/cart").await.json(), json!(null));
}

/// Logout deletes the session in the store and clears the cookie; a replay finds nothing.
pub async fn logout_deletes_and_clears_cookie<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/login/bob", json!(null)).await;
    c.post("/set/cart", json!(["pear"])).await;
    let stolen = c.cookie().expect("session");
    let r = c.post("/logout", json!(null)).await;
    assert_eq!(r.status(), 200);
    let cookies = r.set_cookies("sessio");
    assert_eq!(
        cookies.len(),
        1,
        "removal cookie: {:?}",
        r.headers("set-cookie")
    );
    let a = attrs(&cookies[0]);
    assert!(a.contains(&"max-age=0".to_owned()), "{}", cookies[0]);
    assert!(
        a.iter()
            .any(|x| x.starts_with("expires=") && x.contains("1970")),
        "{}",
        cookies[0]
    );
    assert!(c.cookie().is_none());

    let replay = env.client();
    replay.set_cookie(Some(stolen));
    assert_eq!(
        replay.get("/whoami").await.json(),
        json!({"user": null}),
        "replay after logout"
    );
    assert_eq!(replay.get("/get/cart").await.json(), json!(null));
}

/// "Log out everywhere" ends every session of the user.
pub async fn revoke_all_sessions_of_user<A: Adapter>(env: &Env<A>) {
    let user = format!("carol{}", rand::random::<u32>());
    let (laptop, phone, other) = (env.client(), env.client(), env.client());
    laptop.post(&format!("/login/{user}"), json!(null)).await;
    phone.post(&format!("/login/{user}"), json!(null)).await;
    other.post("/login/someone-else", json!(null)).await;
    let r = laptop.post("/revoke-all", json!(null)).await;
    assert_eq!(r.json(), json!({"revoked": 2}));
    assert!(
        r.set_cookies("sessio")
            .iter()
            .any(|c| attrs(c).contains(&"max-age=0".to_owned())),
        "current cookie cleared"
    );
    assert_eq!(
        phone.get("/whoami").await.json(),
        json!({"user": null}),
        "other device still logged in"
    );
    assert_eq!(
        other.get("/whoami").await.json(),
        json!({"user": "someone-else"}),
        "another user was logged out"
    );
    let anon = env.client();
    assert_eq!(
        anon.post("/revoke-all", json!(null)).await.json(),
        json!({"revoked": 0})
    );
}

/// Revoking the other sessions keeps the current one.
pub async fn revoke_other_sessions_keeps_current<A: Adapter>(env: &Env<A>) {
    let user = format!("dave{}", rand::random::<u32>());
    let (laptop, phone) = (env.client(), env.client());
    laptop.post(&format!("/login/{user}"), json!(null)).await;
    phone.post(&format!("/login/{user}"), json!(null)).await;
    assert_eq!(
        laptop.post("/revoke-others", json!(null)).await.json(),
        json!({"revoked": 1})
    );
    assert_eq!(laptop.get("/whoami").await.json(), json!({"user": user}));
    assert_eq!(phone.get("/whoami").await.json(), json!({"user": null}));
}

/// A session unused for the idle timeout is gone.
pub async fn idle_timeout_expires_session<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/cart", json!(["apple"])).await;
    env.clock.advance(IDLE - Duration::from_secs(1));
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(
        c.get("/get/cart").await.json(),
        json!(null),
        "idle session still alive"
    );
}

/// Reads count as activity: a session read within every idle period stays alive.
pub async fn activity_slides_idle_timeout<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/cart", json!(["apple"])).await;
    for _ in 0..4 {
        env.clock.advance(IDLE / 2);
        assert_eq!(
            c.get("/get/cart").await.json(),
            json!(["apple"]),
            "reads did not slide the idle timeout"
        );
    }
}

/// However active, a session ends at the absolute timeout.
pub async fn absolute_timeout_expires_active_session<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/cart", json!(["apple"])).await;
    let step = IDLE / 2;
    let mut elapsed = Duration::ZERO;
    while elapsed + step < ABSOLUTE {
        env.clock.advance(step);
        elapsed += step;
        c.post("/set/tick", json!(elapsed.as_secs())).await;
        assert_eq!(
            c.get("/get/cart").await.json(),
            json!(["apple"]),
            "active session died early at {elapsed:?}"
        );
    }
    env.clock.advance(ABSOLUTE - elapsed);
    assert_eq!(
        c.get("/get/cart").await.json(),
        json!(null),
        "session outlived the absolute timeout"
    );
}

/// "Remember me" gives a persistent cookie and a longer life.
pub async fn remember_me_gets_persistent_cookie<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/login/erin", json!(null)).await;
    let r = c.post("/remember", json!(null)).await;
    let cookies = r.set_cookies("sessio");
    assert_eq!(cookies.len(), 1, "remember-me sends a persistent cookie");
    let a = attrs(&cookies[0]);
    let max_age: u64 = a
        .iter()
        .find_map(|x| x.strip_prefix("max-age=").and_then(|v| v.parse().ok()))
        .expect("Max-Age");
    assert!(
        (7 * 86400 - 5..=7 * 86400).contains(&max_age),
        "Max-Age {max_age}"
    );
    assert!(a.iter().any(|x| x.starts_with("expires=")));
    env.clock.advance(IDLE * 3);
    assert_eq!(
        c.get("/whoami").await.json(),
        json!({"user": "erin"}),
        "remembered session expired at the default idle timeout"
    );
}

/// Garbage, huge, non-UTF-8 and duplicate cookie headers: anonymous, never an error.
pub async fn hostile_cookie_headers_are_anonymous<A: Adapter>(env: &Env<A>) {
    let real = env.client();
    real.post("/set/cart", json!(["mine"])).await;
    let good = real.cookie().expect("session");
    let hostile: Vec<Vec<u8>> = vec![
        b"sessio=".to_vec(),
        b"sessio=not-an-id".to_vec(),
        b"sessio=\"unterminated".to_vec(),
        b";;;;=;=;sessio".to_vec(),
        vec![b's', b'e', b's', b's', b'i', b'o', b'=', 0xff, 0xfe, 0x80],
        format!("sessio={}", "A".repeat(8000)).into_bytes(),
        format!("a=b; sessio=garbage; sessio={good}").into_bytes(),
    ];
    for (i, header) in hostile.iter().enumerate() {
        let c = env.client();
        let r = c
            .send(
                "GET",
                "/get/cart",
                None,
                vec![("cookie".into(), header.clone())],
            )
            .await;
        assert_eq!(r.status(), 200, "hostile header #{i} gave {}", r.status());
        assert!(
            r.set_cookies("sessio").is_empty(),
            "hostile header #{i} got a cookie"
        );
        let expected = if i == hostile.len() - 1 {
            json!(["mine"])
        } else {
            json!(null)
        };
        assert_eq!(r.json(), expected, "hostile header #{i}");
    }
}

/// A failing store answers 503 with a JSON error on session routes; other routes work;
/// the session is intact once the store is back.
pub async fn store_failure_answers_503<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/cart", json!(["apple"])).await;
    env.store.set_failing(true);
    let r = c.get("/get/cart").await;
    assert_eq!(r.status(), 503, "store failure must answer 503");
    assert!(
        r.json().is_object(),
        "503 body is a JSON error: {:?}",
        String::from_utf8_lossy(&r.response.body)
    );
    assert!(
        r.set_cookies("sessio").is_empty(),
        "a failed request must not touch the cookie"
    );
    let w = c.post("/set/cart", json!(["lost?"])).await;
    assert_eq!(w.status(), 503);
    assert_eq!(
        c.get("/health").await.status(),
        200,
        "routes without sessions keep working"
    );
    env.store.set_failing(false);
    assert_eq!(
        c.get("/get/cart").await.json(),
        json!(["apple"]),
        "data survives the outage"
    );
}

/// Concurrent requests writing different values of one session both keep their writes.
pub async fn concurrent_writes_to_different_keys_are_kept<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/seed", json!(0)).await;
    let paths: Vec<String> = (0..8).map(|i| format!("/set/k{i}")).collect();
    let writes = paths.iter().enumerate().map(|(i, p)| c.post(p, json!(i)));
    for r in join_all(writes).await {
        assert_eq!(r.status(), 200);
    }
    for i in 0..8 {
        assert_eq!(
            c.get(&format!("/get/k{i}")).await.json(),
            json!(i),
            "write to k{i} lost"
        );
    }
}

/// Fifty parallel atomic updates of one value all count, through `update` and through
/// `push` (which loads and appends in one store call).
pub async fn concurrent_updates_are_all_kept<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    c.post("/set/seed", json!(0)).await;
    for (route, list) in [("/append/cart", "/get/cart"), ("/push/wish", "/get/wish")] {
        let adds = (0..50).map(|i| c.post(route, json!(i)));
        for r in join_all(adds).await {
            assert_eq!(r.status(), 200, "{route}");
        }
        let values = c.get(list).await.json();
        let mut items: Vec<i64> = values
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|v| v.as_i64())
            .collect();
        items.sort_unstable();
        assert_eq!(
            items,
            (0..50).collect::<Vec<_>>(),
            "{route}: parallel updates lost"
        );
    }
    // A push onto a value that is no list is refused and changes nothing.
    assert_eq!(c.post("/push/seed", json!(1)).await.status(), 500);
    assert_eq!(c.get("/get/seed").await.json(), json!(0));
}

/// A value taken by several concurrent requests of one session goes to exactly one of
/// them (a flash message is shown once), and is gone afterwards.
pub async fn concurrent_takes_give_a_value_once<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    for round in 0..3 {
        c.post("/set/flash", json!(format!("saved {round}"))).await;
        let takes = (0..8).map(|_| c.post("/take/flash", json!(null)));
        let mut taken = Vec::new();
        for r in join_all(takes).await {
            assert_eq!(r.status(), 200);
            let value = r.json()["taken"].clone();
            if !value.is_null() {
                taken.push(value);
            }
        }
        assert_eq!(
            taken,
            vec![json!(format!("saved {round}"))],
            "round {round}"
        );
        assert_eq!(c.get("/get/flash").await.json(), Value::Null);
    }
    // Nothing to take: `null`, and the session stays as it was.
    let r = c.post("/take/flash", json!(null)).await;
    assert_eq!((r.status(), r.json()), (200, json!({"taken": null})));
}

/// The adapter appends its cookie; cookies the handler set stay.
pub async fn handler_cookies_are_kept<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    let r = c.post("/set-with-cookie/cart", json!([1])).await;
    assert_eq!(r.status(), 200);
    let all = r.headers("set-cookie");
    assert!(
        all.iter().any(|v| v.starts_with("theme=dark")),
        "handler cookie lost: {all:?}"
    );
    assert_eq!(
        r.set_cookies("sessio").len(),
        1,
        "session cookie missing: {all:?}"
    );
    let cache = r.headers("cache-control").join(",").to_ascii_lowercase();
    assert!(
        cache.contains("private") || cache.contains("no-store"),
        "a response setting the session cookie must not be shared-cacheable: {cache:?}"
    );
}

/// Responses that used the session vary on `Cookie`; others do not.
pub async fn vary_cookie_when_session_used<A: Adapter>(env: &Env<A>) {
    let c = env.client();
    let vary = |r: &crate::Reply| r.headers("vary").join(",").to_ascii_lowercase();
    let r = c.get("/get/cart").await;
    assert!(
        vary(&r).contains("cookie"),
        "session read without Vary: Cookie"
    );
    let h = c.get("/health").await;
    assert!(
        !vary(&h).contains("cookie"),
        "/health varies on Cookie without using the session"
    );
}
