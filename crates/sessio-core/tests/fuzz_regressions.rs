//! Inputs found by the fuzz targets in `crates/sessio-core/fuzz`, kept as plain tests with
//! the exact bytes so they run in every `cargo test`.
//!
//! So far the targets have found no crash in sessio-core. The one input below made the
//! `set_cookie_config` target's own check fail (it split the value at the first `.`,
//! which the cookie name itself may contain); it stays here because it is a good example
//! of a hostile but legal configuration.
#![allow(missing_docs)]

use sessio_core::cookie::{CookieConfig, CookieLookup, CookieUpdate, KeyRing};
use sessio_core::{SessionId, Timestamp};

/// `set_cookie_config`: a token name full of `!`, `%`, `*` and `.`, partitioned, signed.
#[test]
fn signed_cookie_whose_name_holds_dots_round_trips() {
    let name = "%!!!%!********.****";
    let settings = CookieConfig::new()
        .name(name)
        .partitioned(true)
        .signing_keys(KeyRing::new([0x5a; 32]))
        .build()
        .expect("a token name is valid");
    let id = SessionId::parse(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("id");
    let update = CookieUpdate::Set {
        id: id.clone(),
        max_age: None,
    };
    let header = settings.set_cookie(&update, Timestamp::UNIX_EPOCH);
    let pair = header.split(';').next().expect("a pair");
    let value = pair
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('='))
        .expect("name=value");
    assert_eq!(value.len(), 87, "<id>.<tag>: {header:?}");
    assert_eq!(&value[..43], id.encode().as_str());
    assert_eq!(&value[43..44], ".");
    assert!(header.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Partitioned"));
    assert_eq!(
        settings.find_session_id([pair.as_bytes()]),
        CookieLookup::Found(id)
    );
}
