//! `SessionId::parse` on arbitrary bytes: never panics; whatever it accepts is the
//! canonical encoding of the id it returns; and every id survives encode → parse.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use sessio_core::id::{ENCODED_ID_LEN, SESSION_ID_BYTES};
use sessio_core::SessionId;

mod fixed_rng;
use fixed_rng::FixedRng;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = SessionId::parse(data) {
        // Accepted ⇒ exactly the canonical 43 characters, byte for byte.
        assert_eq!(data.len(), ENCODED_ID_LEN);
        assert_eq!(id.encode().as_bytes(), data, "accepted a non-canonical id");
        assert!(data
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'));
        // The id's text form never leaks through Debug/Display.
        let shown = format!("{id:?} {id}");
        assert!(!shown.contains(id.encode().as_str()));
    }

    // The other direction: any 32 bytes make an id that round-trips.
    if let Some(bytes) = data.first_chunk::<SESSION_ID_BYTES>() {
        let id = SessionId::generate(&mut FixedRng::new(*bytes));
        assert_eq!(id.as_bytes(), bytes);
        let encoded = id.encode();
        assert_eq!(encoded.as_bytes().len(), ENCODED_ID_LEN);
        assert_eq!(SessionId::parse(encoded.as_bytes()), Ok(id.clone()));
        assert_eq!(SessionId::parse(encoded.as_str().as_bytes()), Ok(id));
    }
});
