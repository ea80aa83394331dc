//! `CookieSettings::find_session_id` on arbitrary `Cookie` header bytes, unsigned and
//! signed: never panics; `Found` only for an id whose cookie value (with its tag, when
//! signed) is literally in the input; and a genuine cookie appended after the hostile
//! headers is still found (garbage never shadows a real session cookie).
#![no_main]
#![forbid(unsafe_code)]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sessio_core::cookie::{CookieConfig, CookieLookup, CookieSettings, CookieUpdate, KeyRing};
use sessio_core::{SessionId, Timestamp};

mod fixed_rng;
use fixed_rng::FixedRng;

const NAMES: [&str; 4] = ["sessio", "__Host-sid", "a", "id"];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    name: u8,
    signed: bool,
    headers: Vec<&'a [u8]>,
    genuine: [u8; 32],
}

const NEW_KEY: [u8; 32] = [0x42; 32];
const OLD_KEY: [u8; 32] = [0x17; 32];

fn settings(name: &str, signed: bool) -> CookieSettings {
    let mut config = CookieConfig::new().name(name);
    if signed {
        config = config.signing_keys(KeyRing::new(NEW_KEY).with_older_key(OLD_KEY));
    }
    config.build().expect("fixed configuration is valid")
}

/// Settings that sign with exactly one of the keys: what each key's cookies look like.
fn signers(name: &str, signed: bool) -> Vec<CookieSettings> {
    if !signed {
        return vec![settings(name, false)];
    }
    [NEW_KEY, OLD_KEY]
        .into_iter()
        .map(|key| {
            let config = CookieConfig::new()
                .name(name)
                .signing_keys(KeyRing::new(key));
            config.build().expect("fixed configuration is valid")
        })
        .collect()
}

/// `name=value` exactly as a browser sends the cookie back.
fn sent_back(settings: &CookieSettings, id: &SessionId) -> String {
    let update = CookieUpdate::Set {
        id: id.clone(),
        max_age: None,
    };
    let header = settings.set_cookie(&update, Timestamp::UNIX_EPOCH);
    header.split(';').next().unwrap_or_default().to_owned()
}

/// The documented rules, written the slow and obvious way: split at `;`, trim spaces and
/// tabs, split at the first `=`, compare names byte for byte, strip one pair of quotes;
/// the first value that is a valid (signed) id wins.
fn model(name: &str, signed: bool, headers: &[&[u8]]) -> CookieLookup {
    let signers = signers(name, signed);
    let trim = |b: &[u8]| -> Vec<u8> {
        let text: Vec<u8> = b.to_vec();
        let start = text.iter().position(|c| *c != b' ' && *c != b'\t');
        let end = text.iter().rposition(|c| *c != b' ' && *c != b'\t');
        match (start, end) {
            (Some(a), Some(z)) => text[a..=z].to_vec(),
            _ => Vec::new(),
        }
    };
    let mut seen = false;
    for header in headers {
        for pair in header.split(|b| *b == b';') {
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if trim(&pair[..eq]) != name.as_bytes() {
                continue;
            }
            seen = true;
            let mut value = trim(&pair[eq + 1..]);
            if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
                value = value[1..value.len() - 1].to_vec();
            }
            let id_part = if signed {
                value.get(..43).unwrap_or(&[])
            } else {
                &value[..]
            };
            if let Ok(id) = SessionId::parse(id_part) {
                for signer in &signers {
                    let expected = sent_back(signer, &id);
                    if expected.as_bytes()[name.len() + 1..] == value[..] {
                        return CookieLookup::Found(id);
                    }
                }
            }
        }
    }
    if seen {
        CookieLookup::Malformed
    } else {
        CookieLookup::Absent
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    // The whole input as one header, under both configurations: the raw byte path.
    for signed in [false, true] {
        let s = settings("sessio", signed);
        if let CookieLookup::Found(id) = s.find_session_id([data]) {
            let pair = sent_back(&s, &id);
            let value = &pair.as_bytes()["sessio=".len()..];
            assert!(
                contains(data, value),
                "found an id that is not in the header"
            );
        }
    }

    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let name = NAMES[usize::from(input.name) % NAMES.len()];
    let s = settings(name, input.signed);
    let first = s.find_session_id(input.headers.iter().copied());
    if let CookieLookup::Found(id) = &first {
        let pair = sent_back(&s, id);
        let value = &pair.as_bytes()[name.len() + 1..];
        assert!(
            input.headers.iter().any(|h| contains(h, value)),
            "found an id that is not in the headers"
        );
    }
    assert_eq!(
        first,
        model(name, input.signed, &input.headers),
        "differs from the model"
    );

    // A genuine cookie in its own header after the hostile ones is never shadowed.
    let genuine = SessionId::generate(&mut FixedRng::new(input.genuine));
    let pair = sent_back(&s, &genuine);
    let with_genuine = s.find_session_id(
        input
            .headers
            .iter()
            .copied()
            .chain(std::iter::once(pair.as_bytes())),
    );
    match first {
        CookieLookup::Found(id) => assert_eq!(with_genuine, CookieLookup::Found(id)),
        CookieLookup::Absent | CookieLookup::Malformed => {
            assert_eq!(with_genuine, CookieLookup::Found(genuine))
        }
    }
});
