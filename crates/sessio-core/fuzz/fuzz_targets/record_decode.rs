//! `SessionRecord::decode` and `SessionMeta::decode` on arbitrary bytes: never panic;
//! whatever decodes re-encodes to bytes that decode to the same value (and re-encode to
//! the same bytes). A structured half builds records from the fuzzer's choices and checks
//! that encode → decode is the identity.
#![no_main]
#![forbid(unsafe_code)]

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sessio_core::expiry::Lifetime;
use sessio_core::record::{SessionMeta, SessionRecord, StoredValue, StoredValues};
use sessio_core::Timestamp;

/// A record the library itself could write.
#[derive(Arbitrary, Debug)]
struct BuiltRecord {
    times: [u64; 4],
    idle: Option<u64>,
    absolute: Option<u64>,
    persistent: bool,
    user: Option<String>,
    values: Vec<(String, u64, Vec<u8>)>,
}

fn meta_bytes(meta: &SessionMeta) -> Vec<u8> {
    let mut out = Vec::new();
    meta.encode_into(&mut out);
    out
}

fn check_raw(data: &[u8]) {
    if let Ok(record) = SessionRecord::decode(data) {
        let encoded = record.encode();
        let again = SessionRecord::decode(&encoded).expect("re-encoded record decodes");
        assert_eq!(again, record);
        assert_eq!(again.encode(), encoded, "encoding is not stable");
        // A decoded record never holds more bytes than it was decoded from.
        let held: usize = record.values.values().map(|v| v.bytes.len()).sum();
        assert!(held <= data.len());
    }
    if let Ok(meta) = SessionMeta::decode(data) {
        let encoded = meta_bytes(&meta);
        let again = SessionMeta::decode(&encoded).expect("re-encoded meta decodes");
        assert_eq!(again, meta);
        assert_eq!(meta_bytes(&again), encoded, "encoding is not stable");
        // Derived deadlines saturate instead of overflowing.
        let _ = meta.expires_at();
        let _ = meta.is_expired(Timestamp::MAX);
    }
}

fn check_built(built: BuiltRecord) {
    // Whole, non-zero seconds: what `Lifetime::new` accepts and the format can carry.
    let secs = |v: Option<u64>| v.map(|s| Duration::from_secs(s.max(1)));
    let Ok(lifetime) = Lifetime::new(secs(built.idle), secs(built.absolute)) else {
        return;
    };
    let [created, started, issued, seen] = built.times.map(Timestamp::from_unix_secs);
    let meta = SessionMeta {
        created_at: created,
        started_at: started,
        id_issued_at: issued,
        last_seen: seen,
        lifetime: lifetime.persistent_cookie(built.persistent),
        user: built.user,
    };
    let mut values = StoredValues::new();
    for (name, version, bytes) in built.values {
        values.insert(name, StoredValue { version, bytes });
    }
    let record = SessionRecord { meta, values };
    let encoded = record.encode();
    assert_eq!(SessionRecord::decode(&encoded), Ok(record.clone()));
    assert_eq!(
        SessionMeta::decode(&meta_bytes(&record.meta)),
        Ok(record.meta)
    );
    check_raw(&encoded);
}

fuzz_target!(|data: &[u8]| {
    // The same bytes twice: as a hostile or corrupted store would hand them back, and as
    // the fuzzer's choices for a well-formed record.
    check_raw(data);
    if let Ok(built) = BuiltRecord::arbitrary(&mut Unstructured::new(data)) {
        check_built(built);
    }
});
