//! What a store keeps under a [`StoreKey`](crate::StoreKey): the session's metadata and
//! its named values, and a compact, versioned binary encoding for stores that keep bytes.
//!
//! Values are opaque bytes here; the `sessio` crate serializes typed values into them.
//! Each value carries a version that the store bumps on every write, so that an atomic
//! read-modify-write (compare-and-set on one value) is possible without locking the
//! whole session.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::expiry::Lifetime;
use crate::Timestamp;

mod values;

pub use values::{StoredValues, StoredValuesIter};

/// First byte of every encoded record and meta block; bumped when the layout changes, so
/// an old or foreign record is recognised as unreadable instead of misread.
///
/// Version 2 writes the start, id-issue and last-seen times as differences from the
/// creation time (zigzag varints: one or two bytes instead of five each), which keeps a
/// typical record under 48 bytes, one allocator size class below version 1. Version 1
/// records (absolute times) are still read.
pub const FORMAT_VERSION: u8 = 2;
/// The first format, still decoded.
const FORMAT_V1: u8 = 1;

/// Everything about a session except its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionMeta {
    /// When the session was first stored.
    pub created_at: Timestamp,
    /// When the absolute lifetime started: creation, or the last explicit renewal (login).
    pub started_at: Timestamp,
    /// When the current id was issued (for automatic renewal).
    pub id_issued_at: Timestamp,
    /// The last recorded activity; the idle deadline slides from here.
    pub last_seen: Timestamp,
    /// This session's lifetime (the policy's default or a per-session override).
    pub lifetime: Lifetime,
    /// The user the session is bound to, for listing and revoking a user's sessions.
    pub user: Option<String>,
}

impl SessionMeta {
    /// Metadata of a session started at `now`.
    pub fn new(now: Timestamp, lifetime: Lifetime) -> Self {
        SessionMeta {
            created_at: now,
            started_at: now,
            id_issued_at: now,
            last_seen: now,
            lifetime,
            user: None,
        }
    }

    /// When the session stops being valid: the earlier of the idle and absolute deadlines.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at_if_seen(self.last_seen)
    }

    /// [`expires_at`](Self::expires_at) once the session is seen at `last_seen`, as a
    /// store knows it after applying [`Changes`](crate::machine::Changes) that carry this
    /// meta and that time.
    pub fn expires_at_if_seen(&self, last_seen: Timestamp) -> Timestamp {
        let idle = self
            .lifetime
            .idle_timeout()
            .map_or(Timestamp::MAX, |d| last_seen.saturating_add(d));
        let absolute = self.absolute_deadline().unwrap_or(Timestamp::MAX);
        idle.min(absolute)
    }

    /// The absolute deadline, if the lifetime has one.
    pub fn absolute_deadline(&self) -> Option<Timestamp> {
        self.lifetime
            .absolute_timeout()
            .map(|d| self.started_at.saturating_add(d))
    }

    /// Whether the session is gone at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at()
    }

    /// Records activity at `now` if the last recorded activity is at least
    /// `touch_interval` old; returns whether it did. Stores that slide the idle deadline
    /// while loading call this (or do the same in their own language) so that a touch
    /// costs no extra round trip.
    pub fn touch_if_due(&mut self, now: Timestamp, touch_interval: Duration) -> bool {
        if self.lifetime.idle_timeout().is_some()
            && now.saturating_duration_since(self.last_seen) >= touch_interval
        {
            self.last_seen = now;
            true
        } else {
            false
        }
    }

    /// Appends the encoding of this metadata (with its format version byte) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_VERSION);
        self.encode_body(out);
    }

    /// Decodes what [`SessionMeta::encode_into`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut reader = Reader::new(bytes);
        let version = reader.version()?;
        let meta = Self::decode_body(&mut reader, version)?;
        reader.finish()?;
        Ok(meta)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        let created = self.created_at.unix_secs();
        put_varint(out, created);
        for t in [self.started_at, self.id_issued_at, self.last_seen] {
            put_varint(out, zigzag(t.unix_secs(), created));
        }
        put_varint(out, self.lifetime.idle_timeout().map_or(0, |d| d.as_secs()));
        put_varint(
            out,
            self.lifetime.absolute_timeout().map_or(0, |d| d.as_secs()),
        );
        let flags =
            u8::from(self.lifetime.is_persistent_cookie()) | (u8::from(self.user.is_some()) << 1);
        out.push(flags);
        if let Some(user) = &self.user {
            put_bytes(out, user.as_bytes());
        }
    }

    fn decode_body(r: &mut Reader<'_>, version: u8) -> Result<Self, RecordError> {
        let created = r.varint()?;
        let mut time = || -> Result<Timestamp, RecordError> {
            let v = r.varint()?;
            let secs = if version == FORMAT_V1 {
                v
            } else {
                unzigzag(v, created).ok_or(RecordError::Invalid("time out of range"))?
            };
            Ok(Timestamp::from_unix_secs(secs))
        };
        let (started_at, id_issued_at, last_seen) = (time()?, time()?, time()?);
        let created_at = Timestamp::from_unix_secs(created);
        let secs = |v: u64| (v != 0).then(|| Duration::from_secs(v));
        let idle = secs(r.varint()?);
        let absolute = secs(r.varint()?);
        let flags = r.byte()?;
        if flags & !0b11 != 0 {
            return Err(RecordError::Invalid("unknown flag bits"));
        }
        let lifetime = Lifetime::new(idle, absolute)
            .map_err(|_| RecordError::Invalid("lifetime without timeout"))?
            .persistent_cookie(flags & 1 != 0);
        let user = if flags & 2 != 0 {
            Some(r.string()?)
        } else {
            None
        };
        Ok(SessionMeta {
            created_at,
            started_at,
            id_issued_at,
            last_seen,
            lifetime,
            user,
        })
    }
}

/// One stored value and its version (bumped by the store on every write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredValue {
    /// Starts at 1; compare-and-set writes name the version they read.
    pub version: u64,
    /// The serialized value.
    pub bytes: Vec<u8>,
}

/// A whole session as a store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Timestamps, lifetime and user.
    pub meta: SessionMeta,
    /// Named values.
    pub values: StoredValues,
}

impl SessionRecord {
    /// The record's encoding: format version, meta, then the values.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            64 + self
                .values
                .values()
                .map(|v| v.bytes.len() + 16)
                .sum::<usize>(),
        );
        out.push(FORMAT_VERSION);
        self.meta.encode_body(&mut out);
        put_varint(&mut out, self.values.len() as u64);
        for (name, value) in &self.values {
            put_bytes(&mut out, name.as_bytes());
            put_varint(&mut out, value.version);
            put_bytes(&mut out, &value.bytes);
        }
        out
    }

    /// Decodes what [`SessionRecord::encode`] wrote. Hostile input gets an error, never a
    /// panic, and never an allocation larger than the input.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.version()?;
        let meta = SessionMeta::decode_body(&mut r, version)?;
        let count = r.varint()?;
        // Every value takes at least three bytes, so a hostile count cannot make this
        // reserve more than the input's size.
        let mut values =
            StoredValues::with_capacity(usize::try_from(count).unwrap_or(0).min(r.rest.len() / 3));
        for _ in 0..count {
            let name = r.string()?;
            let version = r.varint()?;
            let bytes = r.bytes()?.to_vec();
            if values
                .insert(name, StoredValue { version, bytes })
                .is_some()
            {
                return Err(RecordError::Invalid("duplicate value name"));
            }
        }
        r.finish()?;
        Ok(SessionRecord { meta, values })
    }
}

/// Why stored bytes are not a readable record. A store treats such a record as absent
/// (and reports it), never as a reason to fail the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Written by an unknown format version (the byte found).
    UnknownVersion(u8),
    /// The bytes end in the middle of a field.
    Truncated,
    /// Bytes left over after the record.
    TrailingBytes,
    /// A field holds an impossible value (which one).
    Invalid(&'static str),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::UnknownVersion(v) => {
                write!(f, "unknown session record format version {v}")
            }
            RecordError::Truncated => f.write_str("session record is truncated"),
            RecordError::TrailingBytes => f.write_str("session record has trailing bytes"),
            RecordError::Invalid(what) => write!(f, "session record is invalid: {what}"),
        }
    }
}

impl core::error::Error for RecordError {}

/// `t - base` as a zigzag varint value: small differences either way stay small.
fn zigzag(t: u64, base: u64) -> u64 {
    let diff = t.wrapping_sub(base) as i64;
    ((diff << 1) ^ (diff >> 63)) as u64
}

/// The inverse of [`zigzag`]; `None` when the time would leave the `u64` range.
fn unzigzag(v: u64, base: u64) -> Option<u64> {
    let diff = ((v >> 1) as i64) ^ -((v & 1) as i64);
    base.checked_add_signed(diff)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn version(&mut self) -> Result<u8, RecordError> {
        match self.byte() {
            Ok(v @ (FORMAT_V1 | FORMAT_VERSION)) => Ok(v),
            Ok(other) => Err(RecordError::UnknownVersion(other)),
            Err(e) => Err(e),
        }
    }

    fn byte(&mut self) -> Result<u8, RecordError> {
        let (&b, rest) = self.rest.split_first().ok_or(RecordError::Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, RecordError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(RecordError::Invalid("varint overflows 64 bits"));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(RecordError::Invalid("varint longer than 10 bytes"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], RecordError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| RecordError::Truncated)?;
        if len > self.rest.len() {
            return Err(RecordError::Truncated);
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, RecordError> {
        let bytes = self.bytes()?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| RecordError::Invalid("text is not UTF-8"))
    }

    fn finish(self) -> Result<(), RecordError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(RecordError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn sample() -> SessionRecord {
        let lifetime = Lifetime::new(
            Some(Duration::from_secs(1800)),
            Some(Duration::from_secs(86400)),
        )
        .expect("valid")
        .persistent_cookie(true);
        let mut meta = SessionMeta::new(Timestamp::from_unix_secs(1_700_000_000), lifetime);
        meta.user = Some("ada".into());
        let mut values = StoredValues::new();
        values.insert(
            "cart".into(),
            StoredValue {
                version: 3,
                bytes: vec![1, 2, 3],
            },
        );
        values.insert(
            "é".into(),
            StoredValue {
                version: 1,
                bytes: vec![],
            },
        );
        SessionRecord { meta, values }
    }

    /// `sample()`'s encoding with `entries` as its values, written in the given order.
    fn with_raw_values(entries: &[(&str, u64, &[u8])]) -> Vec<u8> {
        let mut record = sample();
        record.values.clear();
        let mut bytes = record.encode();
        assert_eq!(bytes.pop(), Some(0), "the value count ends the encoding");
        put_varint(&mut bytes, entries.len() as u64);
        for (name, version, value) in entries {
            put_bytes(&mut bytes, name.as_bytes());
            put_varint(&mut bytes, *version);
            put_bytes(&mut bytes, value);
        }
        bytes
    }

    #[test]
    fn values_out_of_order_are_sorted_and_a_repeated_name_is_refused() {
        let decoded = SessionRecord::decode(&with_raw_values(&[
            ("z", 1, b"1"),
            ("a", 2, b"2"),
            ("m", 3, b"3"),
        ]))
        .expect("names in any order decode");
        assert_eq!(decoded.values.keys().collect::<Vec<_>>(), ["a", "m", "z"]);
        assert_eq!(decoded.values["a"].version, 2);
        assert_eq!(
            SessionRecord::decode(&decoded.encode()),
            Ok(decoded.clone())
        );

        for repeated in [
            &[("a", 1, &b"1"[..]), ("a", 2, b"2")][..],
            &[("b", 1, b"1"), ("a", 1, b"1"), ("b", 2, b"2")],
        ] {
            assert_eq!(
                SessionRecord::decode(&with_raw_values(repeated)),
                Err(RecordError::Invalid("duplicate value name"))
            );
        }
    }

    #[test]
    fn the_deadline_follows_the_last_seen_time_up_to_the_absolute_one() {
        let meta = sample().meta;
        let start = meta.started_at;
        let at = |secs: u64| start.saturating_add(Duration::from_secs(secs));
        assert_eq!(meta.expires_at(), at(1800), "idle first");
        assert_eq!(meta.expires_at_if_seen(at(600)), at(2400));
        let mut seen = meta.clone();
        seen.last_seen = at(600);
        assert_eq!(seen.expires_at(), meta.expires_at_if_seen(at(600)));
        assert_eq!(
            meta.expires_at_if_seen(at(86_000)),
            at(86_400),
            "absolute last"
        );
    }

    #[test]
    fn round_trip() {
        let record = sample();
        assert_eq!(SessionRecord::decode(&record.encode()), Ok(record.clone()));
        let mut meta_bytes = Vec::new();
        record.meta.encode_into(&mut meta_bytes);
        assert_eq!(SessionMeta::decode(&meta_bytes), Ok(record.meta));
    }

    #[test]
    fn times_are_small_differences_either_way_and_version_1_still_reads() {
        let mut record = sample();
        let created = record.meta.created_at;
        record.meta.last_seen = created.saturating_add(Duration::from_secs(1799));
        // A clock that stepped back between two writes: a negative difference.
        record.meta.id_issued_at = Timestamp::from_unix_secs(created.unix_secs() - 5);
        let bytes = record.encode();
        assert_eq!(SessionRecord::decode(&bytes), Ok(record.clone()));
        // created (5 bytes) + three differences (1, 1, 2 bytes).
        let mut meta_only = Vec::new();
        record.meta.encode_body(&mut meta_only);
        assert_eq!(&meta_only[5..9], &[0, 9, 0x8e, 0x1c]);

        // The same record as version 1 wrote it: absolute times.
        let mut v1 = vec![FORMAT_V1];
        for t in [
            created,
            created,
            record.meta.id_issued_at,
            record.meta.last_seen,
        ] {
            put_varint(&mut v1, t.unix_secs());
        }
        v1.extend_from_slice(&meta_only[9..]);
        let values_at = 1 + meta_only.len();
        v1.extend_from_slice(&bytes[values_at..]);
        assert_eq!(SessionRecord::decode(&v1), Ok(record));

        // A difference that leaves the range of time is refused, not wrapped.
        let mut far = vec![FORMAT_VERSION];
        put_varint(&mut far, u64::MAX - 1);
        put_varint(&mut far, 4); // +2 s: past u64::MAX
        assert_eq!(
            SessionMeta::decode(&far),
            Err(RecordError::Invalid("time out of range"))
        );
    }

    #[test]
    fn a_typical_record_stays_small() {
        // A cart session as the cart apps hold it: a default lifetime, a two-item cart.
        let lifetime = Lifetime::new(
            Some(Duration::from_secs(1800)),
            Some(Duration::from_secs(86400)),
        )
        .expect("valid");
        let mut values = StoredValues::new();
        values.insert(
            "cart".into(),
            StoredValue {
                version: 2,
                bytes: br#"["apple","pear"]"#.to_vec(),
            },
        );
        let meta = SessionMeta::new(Timestamp::from_unix_secs(1_800_000_000), lifetime);
        let len = SessionRecord { meta, values }.encode().len();
        assert!(len <= 40, "{len} bytes");
    }

    #[test]
    fn hostile_bytes_are_errors() {
        let good = sample().encode();
        assert_eq!(SessionRecord::decode(&[]), Err(RecordError::Truncated));
        assert_eq!(
            SessionRecord::decode(&[9]),
            Err(RecordError::UnknownVersion(9))
        );
        for cut in 1..good.len() {
            assert!(SessionRecord::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            SessionRecord::decode(&long),
            Err(RecordError::TrailingBytes)
        );
        // A length claiming far more than the input allocates nothing and fails.
        let mut huge = vec![FORMAT_VERSION, 0, 0, 0, 0, 5, 0, 0];
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(SessionRecord::decode(&huge).is_err());
    }

    #[test]
    fn expiry_is_the_earlier_deadline() {
        let lifetime = Lifetime::new(
            Some(Duration::from_secs(100)),
            Some(Duration::from_secs(1000)),
        )
        .expect("valid");
        let mut meta = SessionMeta::new(Timestamp::from_unix_secs(0), lifetime);
        assert_eq!(meta.expires_at(), Timestamp::from_unix_secs(100));
        meta.last_seen = Timestamp::from_unix_secs(950);
        assert_eq!(meta.expires_at(), Timestamp::from_unix_secs(1000));
        assert!(!meta.touch_if_due(Timestamp::from_unix_secs(959), Duration::from_secs(10)));
        assert!(meta.touch_if_due(Timestamp::from_unix_secs(960), Duration::from_secs(10)));
        assert_eq!(meta.last_seen, Timestamp::from_unix_secs(960));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = SessionRecord::decode(&bytes);
            let _ = SessionMeta::decode(&bytes);
        }
    }
}
