//! Reading the session id from `Cookie` request headers, as browsers send them
//! (RFC 6265 section 4.2.1, parsed leniently as in section 5.4 of RFC 6265bis).
//!
//! The input is whatever the client sent: raw bytes, maybe not UTF-8, maybe huge. The scan
//! is one linear pass that never allocates and never panics; it looks at each byte a
//! bounded number of times, so a 1 MB header costs a 1 MB scan and no more.

use super::{signing, CookieLookup, CookieSettings};
use crate::id::SessionId;

impl CookieSettings {
    /// Finds our session id in the request's `Cookie` headers (raw values, without the
    /// `Cookie: ` name; HTTP/2 and HTTP/3 may split cookies over several headers).
    ///
    /// Each header is split at `;`; each pair is trimmed of spaces and tabs and split at its
    /// first `=`; names are compared byte for byte; a value in one pair of double quotes is
    /// unquoted. Pairs without `=` are skipped (they have an empty name, never ours).
    ///
    /// # Several cookies of our name
    /// The first one whose value is a well-formed id wins, across headers in order. A
    /// sibling sub-domain can plant a second cookie of the same name for the parent domain;
    /// if the first value simply won, its garbage would shadow the real cookie and log the
    /// user out. Skipping malformed values keeps the real cookie reachable. Between two
    /// well-formed ids, the first is the better guess: browsers send cookies with longer
    /// (more specific) paths first. With signing on, a planted value also needs a valid tag,
    /// which only the server can make.
    pub fn find_session_id<'h, I>(&self, headers: I) -> CookieLookup
    where
        I: IntoIterator<Item = &'h [u8]>,
    {
        let name = self.name.as_bytes();
        let mut seen = false;
        for header in headers {
            for pair in pairs(header) {
                let Some(value) = value_if_named(pair, name) else {
                    continue;
                };
                seen = true;
                if let Some(id) = self.decode_value(unquote(value)) {
                    return CookieLookup::Found(id);
                }
            }
        }
        if seen {
            CookieLookup::Malformed
        } else {
            CookieLookup::Absent
        }
    }

    fn decode_value(&self, value: &[u8]) -> Option<SessionId> {
        match &self.keys {
            None => SessionId::parse(value).ok(),
            Some(keys) => signing::verify_value(keys, value),
        }
    }
}

/// The `;`-separated pairs of a `Cookie` header, as `split(|&b| b == b';')` gives them,
/// found with `memchr`: a header is mostly other cookies, and a byte-at-a-time scan was
/// the larger part of finding ours.
fn pairs(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(header);
    core::iter::from_fn(move || {
        let bytes = rest?;
        match memchr::memchr(b';', bytes) {
            Some(at) => {
                rest = Some(&bytes[at + 1..]);
                Some(&bytes[..at])
            }
            None => {
                rest = None;
                Some(bytes)
            }
        }
    })
}

/// The value of `pair` (trimmed of spaces and tabs) when the pair's name is `name`.
///
/// Means the same as splitting `pair` at its first `=` and comparing the trimmed name, but
/// a pair of another name is given up on at its first differing byte instead of being
/// scanned for its `=`: most of a `Cookie` header is other sites' cookies. The two agree
/// because a cookie name (a `tchar` token, checked at configuration) holds no `=`, space
/// or tab; a test keeps the split-and-compare reading as the reference.
fn value_if_named<'p>(pair: &'p [u8], name: &[u8]) -> Option<&'p [u8]> {
    let after_name = trim_start(pair).strip_prefix(name)?;
    match trim_start(after_name) {
        [b'=', value @ ..] => Some(trim_end(trim_start(value))),
        _ => None,
    }
}

fn trim_start(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

fn trim_end(mut bytes: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// RFC 6265 allows a cookie value in one pair of double quotes; they are not part of it.
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cookie::{CookieConfig, CookieUpdate, KeyRing};
    use crate::time::Timestamp;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;

    fn settings() -> CookieSettings {
        CookieConfig::new().build().unwrap()
    }

    fn id(seed: u64) -> SessionId {
        SessionId::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
    }

    fn encoded(seed: u64) -> String {
        String::from(id(seed).encode().as_str())
    }

    fn lookup(settings: &CookieSettings, headers: &[&str]) -> CookieLookup {
        settings.find_session_id(headers.iter().map(|h| h.as_bytes()))
    }

    /// The `name=value` part of the Set-Cookie header, as a browser would send it back.
    fn sent_back(settings: &CookieSettings, id: &SessionId) -> String {
        let update = CookieUpdate::Set {
            id: id.clone(),
            max_age: None,
        };
        let header = settings.set_cookie(&update, Timestamp::UNIX_EPOCH);
        String::from(header.split(';').next().unwrap())
    }

    #[test]
    fn absent_when_no_cookie_of_our_name() {
        let s = settings();
        assert_eq!(s.find_session_id(core::iter::empty()), CookieLookup::Absent);
        assert_eq!(lookup(&s, &[""]), CookieLookup::Absent);
        assert_eq!(lookup(&s, &["a=b; c=d", "e=f"]), CookieLookup::Absent);
        // Names that merely start or end like ours are other cookies.
        let value = encoded(1);
        assert_eq!(
            lookup(
                &s,
                &[&format!("sessioX={value}; xsessio={value}; sessi={value}")]
            ),
            CookieLookup::Absent
        );
        // Pairs without `=` have an empty name, never ours.
        assert_eq!(lookup(&s, &["sessio; sessio ;;"]), CookieLookup::Absent);
        assert_eq!(lookup(&s, &[&value]), CookieLookup::Absent);
        // Names are compared byte-exactly.
        assert_eq!(
            lookup(&s, &[&format!("Sessio={value}")]),
            CookieLookup::Absent
        );
    }

    #[test]
    fn found_in_any_position_and_header() {
        let s = settings();
        let value = encoded(2);
        let found = CookieLookup::Found(id(2));
        assert_eq!(lookup(&s, &[&format!("sessio={value}")]), found);
        assert_eq!(lookup(&s, &[&format!("a=1; sessio={value}; b=2")]), found);
        assert_eq!(
            lookup(&s, &["a=1", "b=2", &format!("sessio={value}")]),
            found
        );
        assert_eq!(lookup(&s, &[&format!("a=1;sessio={value};b=2")]), found);
    }

    #[test]
    fn whitespace_and_quotes_are_stripped() {
        let s = settings();
        let value = encoded(3);
        let found = CookieLookup::Found(id(3));
        assert_eq!(
            lookup(&s, &[&format!("  \tsessio \t= {value}\t ; a=b")]),
            found
        );
        assert_eq!(lookup(&s, &[&format!("sessio=\"{value}\"")]), found);
        assert_eq!(lookup(&s, &[&format!("sessio= \"{value}\" ")]), found);
        // Only one pair of quotes, and only a matched pair.
        assert_eq!(
            lookup(&s, &[&format!("sessio=\"\"{value}\"\"")]),
            CookieLookup::Malformed
        );
        assert_eq!(
            lookup(&s, &[&format!("sessio=\"{value}")]),
            CookieLookup::Malformed
        );
        // Whitespace inside the value is part of it.
        let (head, tail) = value.split_at(20);
        assert_eq!(
            lookup(&s, &[&format!("sessio={head} {tail}")]),
            CookieLookup::Malformed
        );
    }

    #[test]
    fn malformed_values() {
        let s = settings();
        let value = encoded(4);
        for header in [
            String::from("sessio="),
            String::from("sessio=\"\""),
            String::from("sessio=\""),
            String::from("sessio=="),
            format!("sessio={}", &value[..42]),
            format!("sessio={value}A"),
            format!("sessio={value}=x"),
            format!("sessio={}+", &value[..42]),
            format!("sessio={value}.{value}"),
        ] {
            assert_eq!(lookup(&s, &[&header]), CookieLookup::Malformed, "{header}");
        }
    }

    #[test]
    fn duplicates_first_well_formed_wins() {
        let s = settings();
        let (a, b) = (encoded(5), encoded(6));
        // Garbage first, then a valid id: the valid one wins, in one header or across two.
        assert_eq!(
            lookup(&s, &[&format!("sessio=planted; sessio={a}")]),
            CookieLookup::Found(id(5))
        );
        assert_eq!(
            lookup(&s, &["sessio=planted", &format!("x=y; sessio={a}")]),
            CookieLookup::Found(id(5))
        );
        // Two valid ids: the first wins.
        assert_eq!(
            lookup(&s, &[&format!("sessio={b}; sessio={a}")]),
            CookieLookup::Found(id(6))
        );
        assert_eq!(
            lookup(&s, &[&format!("sessio={a}"), &format!("sessio={b}")]),
            CookieLookup::Found(id(5))
        );
        assert_eq!(
            lookup(&s, &["sessio=one", "sessio=two"]),
            CookieLookup::Malformed
        );
    }

    #[test]
    fn non_utf8_bytes_are_just_bytes() {
        let s = settings();
        let value = encoded(7);
        let mut header = Vec::from(&b"\xff\xfe=\xc3\x28; a=\x80\x81; "[..]);
        header.extend_from_slice(format!("sessio={value}").as_bytes());
        assert_eq!(s.find_session_id([&header[..]]), CookieLookup::Found(id(7)));
        assert_eq!(
            s.find_session_id([&b"sessio=\xff\xff"[..]]),
            CookieLookup::Malformed
        );
        // A non-UTF-8 name may be configured by no one, so it is never ours.
        assert_eq!(
            s.find_session_id([&b"sessio\xff=x"[..]]),
            CookieLookup::Absent
        );
    }

    #[test]
    fn a_megabyte_header_is_just_scanned() {
        let s = settings();
        let value = encoded(8);
        let mut header = String::with_capacity(1 << 20);
        while header.len() < (1 << 20) {
            header.push_str("filler=0123456789abcdef; ");
        }
        assert_eq!(lookup(&s, &[&header]), CookieLookup::Absent);
        header.push_str(&format!("sessio={value}"));
        assert_eq!(lookup(&s, &[&header]), CookieLookup::Found(id(8)));
        // One giant pair, and a megabyte of separators.
        let giant = format!("sessio={}", "A".repeat(1 << 20));
        assert_eq!(lookup(&s, &[&giant]), CookieLookup::Malformed);
        let separators = ";".repeat(1 << 20);
        assert_eq!(lookup(&s, &[&separators]), CookieLookup::Absent);
        let spaces = format!("sessio={}", " ".repeat(1 << 20));
        assert_eq!(lookup(&s, &[&spaces]), CookieLookup::Malformed);
    }

    #[test]
    fn signing_on_refuses_unsigned_and_foreign_values() {
        let keys = KeyRing::new([1; 32]).with_older_key([2; 32]);
        let signed = CookieConfig::new().signing_keys(keys).build().unwrap();
        let only_old = CookieConfig::new()
            .signing_keys(KeyRing::new([2; 32]))
            .build()
            .unwrap();
        let stranger = CookieConfig::new()
            .signing_keys(KeyRing::new([3; 32]))
            .build()
            .unwrap();
        let unsigned = settings();
        let the_id = id(9);

        let right = sent_back(&signed, &the_id);
        assert_eq!(
            lookup(&signed, &[&right]),
            CookieLookup::Found(the_id.clone())
        );
        let rotated = sent_back(&only_old, &the_id);
        assert_eq!(
            lookup(&signed, &[&rotated]),
            CookieLookup::Found(the_id.clone())
        );
        let foreign = sent_back(&stranger, &the_id);
        assert_eq!(lookup(&signed, &[&foreign]), CookieLookup::Malformed);
        let plain = sent_back(&unsigned, &the_id);
        assert_eq!(lookup(&signed, &[&plain]), CookieLookup::Malformed);
        // A signed value is not an unsigned id either.
        assert_eq!(lookup(&unsigned, &[&right]), CookieLookup::Malformed);

        let mut tampered = right.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            signed.find_session_id([&tampered[..]]),
            CookieLookup::Malformed
        );
        // A forged cookie first does not shadow the real one.
        assert_eq!(
            lookup(&signed, &[&foreign, &plain, &right]),
            CookieLookup::Found(the_id)
        );
    }

    fn cookie_name() -> impl Strategy<Value = String> {
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}"
    }

    /// Other cookies: any name, and a value too short to be an id, so it never competes.
    fn other_pair() -> impl Strategy<Value = String> {
        ("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}", "[ -:<-~]{0,30}")
            .prop_map(|(name, value)| format!("{name}={value}"))
    }

    /// The plain reading of a pair that `value_if_named` must agree with: split at the
    /// first `=`, trim both sides, compare the name.
    fn split_and_compare<'p>(pair: &'p [u8], name: &[u8]) -> Option<&'p [u8]> {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (pair_name, rest) = pair.split_at(eq);
        (trim_end(trim_start(pair_name)) == name).then(|| trim_end(trim_start(&rest[1..])))
    }

    #[test]
    fn pairs_of_our_name_or_not() {
        let name = b"sessio";
        for (pair, expected) in [
            (&b"sessio=v"[..], Some(&b"v"[..])),
            (b" \tsessio \t= v w \t", Some(b"v w")),
            (b"sessio=", Some(b"")),
            (b"sessio==v", Some(b"=v")),
            (b"sessio", None),
            (b"sessio v=w", None),
            (b"sessiox=v", None),
            (b"xsessio=v", None),
            (b"sessi=v", None),
            (b"=sessio", None),
            (b"", None),
        ] {
            assert_eq!(value_if_named(pair, name), expected, "{pair:?}");
            assert_eq!(split_and_compare(pair, name), expected, "{pair:?}");
        }
    }

    /// A piece of a generated pair: our name (whole or without its first byte, so that
    /// matches and near misses are frequent), or other bytes.
    #[derive(Clone, Debug)]
    enum Piece {
        Name,
        NameCut,
        Bytes(Vec<u8>),
    }

    proptest! {
        #[test]
        fn pairs_are_what_splitting_at_semicolons_gives(
            header in proptest::collection::vec(
                prop_oneof![Just(b';'), Just(b' '), Just(b'='), any::<u8>()],
                0..80,
            ),
        ) {
            let ours: Vec<&[u8]> = pairs(&header).collect();
            let split: Vec<&[u8]> = header.split(|&b| b == b';').collect();
            prop_assert_eq!(ours, split);
        }

        #[test]
        fn reading_a_pair_agrees_with_split_and_compare(
            name in cookie_name(),
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just(Piece::Name),
                    Just(Piece::NameCut),
                    prop_oneof![
                        Just(b"=".to_vec()), Just(b" ".to_vec()), Just(b"\t".to_vec()),
                        Just(b"\"".to_vec()), proptest::collection::vec(any::<u8>(), 0..4),
                    ]
                    .prop_map(Piece::Bytes),
                ],
                0..8,
            ),
        ) {
            let mut pair = Vec::new();
            for piece in &pieces {
                match piece {
                    Piece::Name => pair.extend_from_slice(name.as_bytes()),
                    Piece::NameCut => pair.extend_from_slice(&name.as_bytes()[1..]),
                    Piece::Bytes(bytes) => pair.extend_from_slice(bytes),
                }
            }
            prop_assert_eq!(
                value_if_named(&pair, name.as_bytes()),
                split_and_compare(&pair, name.as_bytes())
            );
        }

        #[test]
        fn never_panics_on_bytes(header in proptest::collection::vec(any::<u8>(), 0..512)) {
            let s = settings();
            let _ = s.find_session_id([&header[..]]);
        }

        #[test]
        fn never_panics_on_many_headers(
            headers in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        Just(b';'), Just(b'='), Just(b'"'), Just(b' '), Just(b'\t'), any::<u8>()
                    ],
                    0..128,
                ),
                0..8,
            ),
            signed in any::<bool>(),
        ) {
            let mut config = CookieConfig::new().name("s");
            if signed {
                config = config.signing_keys(KeyRing::new([4; 32]));
            }
            let s = config.build().unwrap();
            let _ = s.find_session_id(headers.iter().map(|h| &h[..]));
        }

        #[test]
        fn set_cookie_round_trips(
            seed in any::<u64>(),
            name in cookie_name(),
            key in proptest::option::of(any::<[u8; 32]>()),
            before in proptest::collection::vec(other_pair(), 0..4),
            after in proptest::collection::vec(other_pair(), 0..4),
        ) {
            let mut config = CookieConfig::new().name(&name);
            if let Some(key) = key {
                config = config.signing_keys(KeyRing::new(key));
            }
            let built = config.build();
            prop_assume!(built.is_ok());
            let s = built.unwrap();
            let the_id = id(seed);
            let ours = sent_back(&s, &the_id);
            prop_assert_eq!(lookup(&s, &[&ours]), CookieLookup::Found(the_id.clone()));

            let mut pairs = before.clone();
            pairs.push(ours.clone());
            pairs.extend(after.iter().cloned());
            let header = pairs.join("; ");
            prop_assert_eq!(lookup(&s, &[&header]), CookieLookup::Found(the_id.clone()));
            // The same cookies split over several headers.
            let split: Vec<&str> = pairs.iter().map(String::as_str).collect();
            prop_assert_eq!(lookup(&s, &split), CookieLookup::Found(the_id));
        }
    }
}
