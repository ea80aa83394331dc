//! `CookieConfig` built from arbitrary strings and flags: `build` either refuses, or the
//! settings write `Set-Cookie` values with exactly the configured attributes, in order,
//! and nothing else: no CR, LF or other control byte, no `;` smuggled in through a name,
//! path or domain, and the browser's prefix rules hold.
#![no_main]
#![forbid(unsafe_code)]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessio_core::cookie::{
    write_imf_fixdate, CookieConfig, CookieSettings, CookieUpdate, KeyRing, SameSite,
};
use sessio_core::{SessionId, Timestamp};

mod fixed_rng;
use fixed_rng::FixedRng;

#[derive(Arbitrary, Debug)]
struct Input {
    name: Option<String>,
    path: Option<String>,
    domain: Option<String>,
    secure: Option<bool>,
    http_only: Option<bool>,
    same_site: Option<u8>,
    partitioned: Option<bool>,
    key: Option<[u8; 32]>,
    id: [u8; 32],
    max_age: Option<u64>,
    now: u64,
    remove: bool,
}

fn has_prefix(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fuzz_target!(|input: Input| {
    let mut config = CookieConfig::new();
    if let Some(name) = &input.name {
        config = config.name(name);
    }
    if let Some(path) = &input.path {
        config = config.path(path);
    }
    if let Some(domain) = &input.domain {
        config = config.domain(domain);
    }
    if let Some(on) = input.secure {
        config = config.secure(on);
    }
    if let Some(on) = input.http_only {
        config = config.http_only(on);
    }
    let same_site = input.same_site.map(|b| match b % 3 {
        0 => SameSite::Strict,
        1 => SameSite::Lax,
        _ => SameSite::None,
    });
    if let Some(same_site) = same_site {
        config = config.same_site(same_site);
    }
    if let Some(on) = input.partitioned {
        config = config.partitioned(on);
    }
    if let Some(key) = input.key {
        config = config.signing_keys(KeyRing::new(key));
    }
    let Ok(settings) = config.build() else {
        return;
    };
    check(&settings, &input, same_site.unwrap_or(SameSite::Lax));
});

fn check(settings: &CookieSettings, input: &Input, same_site: SameSite) {
    // What was configured, with the defaults for what was not.
    let name = input.name.as_deref().unwrap_or("sessio");
    let path = input.path.as_deref().unwrap_or("/");
    let domain = input
        .domain
        .as_deref()
        .map(|d| d.strip_prefix('.').unwrap_or(d));
    let secure = input.secure.unwrap_or(true);
    let http_only = input.http_only.unwrap_or(true);
    let partitioned = input.partitioned.unwrap_or(false);

    // Configuration-time rules the browser would otherwise enforce by dropping the cookie.
    if has_prefix(name, "__Secure-") || has_prefix(name, "__Host-") {
        assert!(secure, "prefixed name without Secure");
    }
    if has_prefix(name, "__Host-") {
        assert!(path == "/" && domain.is_none(), "__Host- rules broken");
    }
    if same_site == SameSite::None || partitioned {
        assert!(secure, "SameSite=None/Partitioned without Secure");
    }
    assert!(!name.is_empty());
    assert_eq!(settings.name(), name);
    assert_eq!(settings.path(), path);
    assert_eq!(settings.domain(), domain);

    let id = SessionId::generate(&mut FixedRng::new(input.id));
    let now = Timestamp::from_unix_secs(input.now);
    let max_age = input.max_age.map(Duration::from_secs);
    let update = if input.remove {
        CookieUpdate::Remove
    } else {
        CookieUpdate::Set {
            id: id.clone(),
            max_age,
        }
    };
    let header = settings.set_cookie(&update, now);

    // One line of printable ASCII: no CR, LF, NUL, DEL or any other control byte.
    assert!(
        header.bytes().all(|b| (b' '..=b'~').contains(&b)),
        "control or non-ASCII byte in {header:?}"
    );

    // Exactly the configured attributes, in the documented order, and nothing else.
    let mut expected = Vec::new();
    let value = match &update {
        CookieUpdate::Remove => String::new(),
        CookieUpdate::Set { .. } => {
            let mut value = id.encode().as_str().to_owned();
            if input.key.is_some() {
                // The name may hold dots itself: the tag follows `name=<id>.`.
                let tag = header
                    .split(';')
                    .next()
                    .and_then(|pair| pair.strip_prefix(name))
                    .and_then(|rest| rest.strip_prefix('='))
                    .and_then(|rest| rest.get(44..))
                    .unwrap_or_default()
                    .to_owned();
                assert_eq!(tag.len(), 43, "signed value without a tag: {header:?}");
                assert!(SessionId::parse(tag.as_bytes()).is_ok());
                value.push('.');
                value.push_str(&tag);
            }
            value
        }
    };
    expected.push(format!("{name}={value}"));
    expected.push(format!("Path={path}"));
    if let Some(domain) = domain {
        expected.push(format!("Domain={domain}"));
    }
    match (&update, max_age) {
        (CookieUpdate::Remove, _) => {
            expected.push("Max-Age=0".to_owned());
            expected.push("Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_owned());
        }
        (CookieUpdate::Set { .. }, Some(max_age)) => {
            expected.push(format!("Max-Age={}", max_age.as_secs()));
            let mut date = String::new();
            write_imf_fixdate(now.saturating_add(max_age), &mut date);
            assert_eq!(date.len(), 29, "IMF-fixdate has a fixed width: {date:?}");
            expected.push(format!("Expires={date}"));
        }
        (CookieUpdate::Set { .. }, None) => {}
    }
    if secure {
        expected.push("Secure".to_owned());
    }
    if http_only {
        expected.push("HttpOnly".to_owned());
    }
    expected.push(format!("SameSite={}", same_site.as_str()));
    if partitioned {
        expected.push("Partitioned".to_owned());
    }
    let attributes: Vec<&str> = header.split("; ").collect();
    assert_eq!(attributes, expected, "unexpected attributes in {header:?}");
    // And `;` appears only as the separators: no attribute hides one inside it.
    assert_eq!(
        header.matches(';').count(),
        expected.len() - 1,
        "{header:?}"
    );
}
