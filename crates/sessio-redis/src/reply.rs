//! Script replies back into sessio's types. A reply of the wrong shape is a protocol
//! error; a well-shaped reply holding an unreadable record is [`Unreadable`], which the
//! store reports and treats as absent.

use std::fmt;

use redis::Value;
use sessio::{CasOutcome, UserSession, WriteOutcome};
use sessio_core::record::{RecordError, SessionMeta, SessionRecord, StoredValue, StoredValues};
use sessio_core::Timestamp;

use crate::keys::parse_member;

/// A reply that does not have the shape the script returns.
#[derive(Debug)]
pub(crate) struct BadReply(pub(crate) String);

fn bad(what: &str, value: &Value) -> BadReply {
    BadReply(format!("{what}: unexpected reply {}", shape(value)))
}

/// The reply's type only: values may be session data, which stays out of errors.
fn shape(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "integer",
        Value::BulkString(_) => "bulk string",
        Value::Array(_) => "array",
        Value::SimpleString(_) => "simple string",
        Value::Okay => "OK",
        _ => "of another type",
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn array(value: Value, what: &str) -> Result<Vec<Value>, BadReply> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(bad(what, &other)),
    }
}

/// An unsigned decimal as the scripts write them: digits only, all of `bytes` a
/// [`leading_decimal`]. By hand rather than through `str::parse`, which cost a read about
/// 1.4k instructions for the four numbers of field `t` (callgrind).
fn decimal(bytes: &[u8]) -> Option<u64> {
    match leading_decimal(bytes)? {
        (value, []) => Some(value),
        _ => None,
    }
}

/// Why a stored hash is not a readable session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// The `m` field does not decode.
    Meta(RecordError),
    /// A field is missing or malformed (which).
    Field(&'static str),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Meta(err) => write!(f, "field m: {err}"),
            Unreadable::Field(what) => f.write_str(what),
        }
    }
}

/// What `load.lua` found.
#[derive(Debug)]
pub(crate) enum Found {
    /// Nothing live under the key.
    Absent,
    /// The hash as it was before a touch, and whether the script touched it.
    Hash { touched: bool, fields: Fields },
}

/// A hash's fields and values as `HGETALL` lists them (field, value, field, value, …), from
/// a plain `HGETALL` or inside a script's reply; checked whole on arrival so that reading
/// them cannot fail later.
#[derive(Debug)]
pub(crate) struct Fields(Vec<Vec<u8>>);

impl Fields {
    fn new(value: Value, what: &str) -> Result<Self, BadReply> {
        Fields::from_items(array(value, what)?, what)
    }

    fn from_items(items: Vec<Value>, what: &str) -> Result<Self, BadReply> {
        if items.len() % 2 != 0 {
            return Err(BadReply(format!(
                "{what}: hash has a field without a value"
            )));
        }
        let items = items
            .into_iter()
            .map(|item| {
                bytes(item).ok_or_else(|| BadReply(format!("{what}: an item is not a string")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Fields(items))
    }

    /// The (field, value) pairs.
    fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0
            .chunks_exact(2)
            .map(|pair| (pair[0].as_slice(), pair[1].as_slice()))
    }
}

pub(crate) fn load(value: Value) -> Result<Found, BadReply> {
    if value == Value::Nil {
        return Ok(Found::Absent);
    }
    let mut items = array(value, "load")?.into_iter();
    match (items.next(), items.next(), items.next()) {
        (Some(touched), Some(fields), None) => {
            let touched = int(&touched).ok_or_else(|| bad("load flag", &touched))? != 0;
            let fields = Fields::new(fields, "load")?;
            Ok(Found::Hash { touched, fields })
        }
        _ => Err(BadReply(String::from("load: reply is not [flag, hash]"))),
    }
}

/// A plain `HGETALL` reply: absent when empty, never touched.
pub(crate) fn hash(value: Value) -> Result<Found, BadReply> {
    let fields = Fields::new(value, "hgetall")?;
    if fields.0.is_empty() {
        return Ok(Found::Absent);
    }
    Ok(Found::Hash {
        touched: false,
        fields,
    })
}

/// `load_and_push.lua`'s reply: absent, or whether it appended, whether it touched, and
/// the hash after both.
pub(crate) fn load_and_push(value: Value) -> Result<Option<(bool, Found)>, BadReply> {
    if value == Value::Nil {
        return Ok(None);
    }
    let mut items = array(value, "load_and_push")?.into_iter();
    match (items.next(), items.next(), items.next(), items.next()) {
        (Some(status), Some(touched), Some(fields), None) => {
            let fields = Fields::new(fields, "load_and_push")?;
            let appended = match int(&status) {
                Some(1) => true,
                Some(2) => false,
                _ => return Err(bad("load_and_push status", &status)),
            };
            let touched = int(&touched).ok_or_else(|| bad("load_and_push flag", &touched))? != 0;
            Ok(Some((appended, Found::Hash { touched, fields })))
        }
        _ => Err(BadReply(String::from(
            "load_and_push: reply is not [status, flag, hash]",
        ))),
    }
}

/// `push.lua`'s reply: absent, or whether it appended, and the hash after it (never
/// touched): the hash's items followed by the status.
pub(crate) fn push(value: Value) -> Result<Option<(bool, Found)>, BadReply> {
    if value == Value::Nil {
        return Ok(None);
    }
    let mut items = array(value, "push")?;
    let appended = match items.pop() {
        Some(Value::Int(1)) => true,
        Some(Value::Int(2)) => false,
        Some(other) => return Err(bad("push status", &other)),
        None => return Err(BadReply(String::from("push: empty reply"))),
    };
    let fields = Fields::from_items(items, "push")?;
    Ok(Some((
        appended,
        Found::Hash {
            touched: false,
            fields,
        },
    )))
}

/// Rebuilds a record from a hash: meta from `m` with `last_seen` from `t` (or
/// `touched_at`, when the load touched it), values from `v:`/`n:` pairs.
pub(crate) fn record(
    fields: &Fields,
    touched_at: Option<Timestamp>,
) -> Result<SessionRecord, Unreadable> {
    let mut meta = None;
    let mut last_seen = None;
    let mut values = StoredValues::new();
    // Versions pair with values by name, in whatever order Redis lists the fields.
    let mut versions: Vec<(&[u8], u64)> = Vec::new();
    for (name, value) in fields.pairs() {
        match name {
            b"m" => meta = Some(SessionMeta::decode(value).map_err(Unreadable::Meta)?),
            b"t" => {
                let times = times(value).ok_or(Unreadable::Field("field t is malformed"))?;
                last_seen = Some(times.last_seen);
            }
            other => {
                if let Some(name) = other.strip_prefix(b"v:") {
                    let value = StoredValue {
                        version: 0,
                        bytes: value.to_vec(),
                    };
                    values.insert(utf8(name)?, value);
                } else if let Some(name) = other.strip_prefix(b"n:") {
                    let version = decimal(value)
                        .ok_or(Unreadable::Field("a value version is not a number"))?;
                    versions.push((name, version));
                }
            }
        }
    }
    let mut meta = meta.ok_or(Unreadable::Field("field m is missing"))?;
    let last_seen = last_seen.ok_or(Unreadable::Field("field t is missing"))?;
    meta.last_seen = touched_at.unwrap_or(Timestamp::from_unix_secs(last_seen));
    if versions.len() != values.len() {
        return Err(Unreadable::Field("a value and its version do not pair up"));
    }
    for (name, version) in versions {
        let value = std::str::from_utf8(name)
            .ok()
            .and_then(|name| values.get_mut(name))
            .ok_or(Unreadable::Field("a value has no version"))?;
        value.version = version;
    }
    Ok(SessionRecord { meta, values })
}

/// The `t` field, `"<ls> <idle> <abs> <c>[ <u>]"` in decimal seconds (see `common.lua`):
/// what the store reads of it.
struct Times<'a> {
    last_seen: u64,
    /// The user index suffix of a bound session.
    user: Option<&'a [u8]>,
}

/// `t`: four decimals, then the user index suffix when bound, one space between each.
/// Read in one pass over the numbers, and the suffix (70 bytes) checked for a space with
/// `contains`, which looks at several bytes at a time: every read reads `t`, and splitting
/// it byte by byte cost 1.2k instructions a read against 0.8k now (callgrind).
fn times(value: &[u8]) -> Option<Times<'_>> {
    let (last_seen, mut rest) = leading_decimal(value)?;
    for _ in 0..3 {
        rest = leading_decimal(rest.strip_prefix(b" ")?)?.1;
    }
    let user = match rest {
        [] => None,
        [b' ', user @ ..] if !user.is_empty() && !user.contains(&b' ') => Some(user),
        _ => return None,
    };
    Some(Times { last_seen, user })
}

/// The decimal `bytes` starts with (at least one digit, within 64 bits), and what follows
/// it; read digit by digit in one loop (a `take_while` then a fold cost about 20
/// instructions a digit).
fn leading_decimal(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    let mut digits = 0;
    while let Some(digit) = bytes.get(digits).map(|b| b.wrapping_sub(b'0')) {
        if digit > 9 {
            break;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
        digits += 1;
    }
    (digits > 0).then(|| (value, &bytes[digits..]))
}

/// A hash as raw bytes to send back (a rotation across hash slots copies it), and the
/// user index suffix in its `t` field if it has one.
pub(crate) fn raw_hash(fields: Fields) -> (Vec<Vec<u8>>, Option<String>) {
    let user = fields
        .pairs()
        .find(|(name, _)| *name == b"t")
        .and_then(|(_, value)| times(value)?.user)
        .map(|user| String::from_utf8_lossy(user).into_owned());
    (fields.0, user)
}

fn utf8(name: &[u8]) -> Result<String, Unreadable> {
    String::from_utf8(name.to_vec()).map_err(|_| Unreadable::Field("a value name is not UTF-8"))
}

pub(crate) fn write(value: Value) -> Result<WriteOutcome, BadReply> {
    match int(&value) {
        Some(0) => Ok(WriteOutcome::Written),
        Some(1) => Ok(WriteOutcome::KeyTaken),
        Some(2) => Ok(WriteOutcome::Gone),
        _ => Err(bad("write", &value)),
    }
}

pub(crate) fn compare_and_set(
    value: Value,
    written: Option<&[u8]>,
) -> Result<CasOutcome, BadReply> {
    let mut items = array(value, "compare_and_set")?.into_iter();
    let status = items.next().as_ref().and_then(int);
    match (status, items.next(), items.next(), items.next()) {
        (Some(0), Some(version), None, None) => {
            let version = int(&version)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| bad("compare_and_set version", &version))?;
            let bytes = written.map(<[u8]>::to_vec).unwrap_or_default();
            Ok(CasOutcome::Written(Some(StoredValue { version, bytes })))
        }
        (Some(0), None, None, None) => Ok(CasOutcome::Written(None)),
        (Some(1), Some(current), Some(version), None) => match bytes(current) {
            None => Ok(CasOutcome::Conflict(None)),
            Some(bytes) => {
                let version = int(&version)
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| bad("compare_and_set current version", &version))?;
                Ok(CasOutcome::Conflict(Some(StoredValue { version, bytes })))
            }
        },
        // Tolerated in case a Lua conversion drops trailing nils.
        (Some(1), None, None, None) => Ok(CasOutcome::Conflict(None)),
        (Some(2), None, None, None) => Ok(CasOutcome::Gone),
        _ => Err(BadReply(String::from(
            "compare_and_set: reply has an unknown shape",
        ))),
    }
}

/// `user_sessions.lua`'s flat `{member, c, ls, idle, abs}` groups; entries that do not
/// parse or are no longer live at `now` are left out.
pub(crate) fn user_sessions(value: Value, now: Timestamp) -> Result<Vec<UserSession>, BadReply> {
    let items = array(value, "user_sessions")?;
    if items.len() % 5 != 0 {
        return Err(BadReply(String::from(
            "user_sessions: reply is not in groups of five",
        )));
    }
    let mut out = Vec::with_capacity(items.len() / 5);
    let mut items = items.into_iter();
    while let (Some(member), Some(c), Some(ls), Some(idle), Some(abs)) = (
        items.next(),
        items.next(),
        items.next(),
        items.next(),
        items.next(),
    ) {
        let number = |v: Value| bytes(v).as_deref().and_then(decimal);
        let parsed = (
            bytes(member).as_deref().and_then(parse_member),
            number(c),
            number(ls),
            number(idle),
            number(abs),
        );
        let (Some(key), Some(c), Some(ls), Some(idle), Some(abs)) = parsed else {
            tracing::debug!("skipping an unreadable entry of a user's session index");
            continue;
        };
        let expires_at = Timestamp::from_unix_secs(deadline(ls, idle, abs));
        if now < expires_at {
            out.push(UserSession {
                key,
                created_at: Timestamp::from_unix_secs(c),
                last_seen: Timestamp::from_unix_secs(ls),
                expires_at,
            });
        }
    }
    Ok(out)
}

/// The same rule as `deadline` in `common.lua` and `SessionMeta::expires_at`.
fn deadline(last_seen: u64, idle: u64, absolute: u64) -> u64 {
    let idle = (idle > 0).then(|| last_seen.saturating_add(idle));
    let absolute = (absolute > 0).then_some(absolute);
    match (idle, absolute) {
        (Some(i), Some(a)) => i.min(a),
        (Some(d), None) | (None, Some(d)) => d,
        (None, None) => 0,
    }
}

pub(crate) fn count(value: Value, what: &str) -> Result<usize, BadReply> {
    int(&value)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| bad(what, &value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessio_core::expiry::Lifetime;
    use std::time::Duration;

    fn s(text: &[u8]) -> Value {
        Value::BulkString(text.to_vec())
    }

    fn meta_bytes() -> Vec<u8> {
        let lifetime =
            Lifetime::new(Some(Duration::from_secs(60)), None).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        SessionMeta::new(Timestamp::from_unix_secs(100), lifetime).encode_into(&mut out);
        out
    }

    /// A hash of `items`, as `HGETALL` lists it.
    fn fields(items: &[&[u8]]) -> Fields {
        let items = items.iter().map(|item| s(item)).collect();
        Fields::new(Value::Array(items), "test").unwrap_or_else(|e| panic!("{}", e.0))
    }

    #[test]
    fn decimals_are_digits_only_and_fit_in_64_bits() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"1700000000"), Some(1_700_000_000));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        for refused in [
            &b""[..],
            b"18446744073709551616",
            b"+5",
            b"-1",
            b" 5",
            b"5 ",
            b"1e3",
        ] {
            assert_eq!(decimal(refused), None, "{refused:?}");
        }
    }
    #[test]
    fn record_takes_last_seen_from_t_and_pairs_values() {
        let meta = meta_bytes();
        let fields = fields(&[
            b"n:cart",
            b"4",
            b"m",
            &meta,
            b"t",
            b"130 60 0 100",
            b"v:cart",
            b"\x00\x01",
        ]);
        let record = record(&fields, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.meta.last_seen, Timestamp::from_unix_secs(130));
        assert_eq!(
            record.values["cart"],
            StoredValue {
                version: 4,
                bytes: vec![0, 1]
            }
        );
        let touched = super::record(&fields, Some(Timestamp::from_unix_secs(150)));
        assert_eq!(
            touched.map(|r| r.meta.last_seen),
            Ok(Timestamp::from_unix_secs(150))
        );
    }

    #[test]
    fn unreadable_hashes_are_named_not_panicked_on() {
        let meta = meta_bytes();
        assert_eq!(
            record(
                &fields(&[b"m", &meta, b"t", b"1 0 9 1", b"v:a", b"x"]),
                None
            ),
            Err(Unreadable::Field("a value and its version do not pair up"))
        );
        assert_eq!(
            record(
                &fields(&[b"m", &meta, b"t", b"1 0 9 1", b"v:a", b"x", b"n:b", b"1"]),
                None
            ),
            Err(Unreadable::Field("a value has no version"))
        );
        let garbage = fields(&[b"m", b"garbage", b"t", b"1 0 9 1"]);
        assert!(matches!(record(&garbage, None), Err(Unreadable::Meta(_))));
        assert_eq!(
            record(&fields(&[b"t", b"1 0 9 1"]), None),
            Err(Unreadable::Field("field m is missing"))
        );
        assert_eq!(
            record(&fields(&[b"m", &meta]), None),
            Err(Unreadable::Field("field t is missing"))
        );
        for t in [
            &b"1"[..],
            b"1 0 9",
            b"x 0 9 1",
            b"1 0 9 1 u extra",
            b"1 0 9 1 ",
            b"1 0 9 1  u",
            b"1  0 9 1",
            b"1 0 9 1x",
            b"1 0 9 +1",
            b" 1 0 9 1",
            b"1 0 9 18446744073709551616",
        ] {
            assert_eq!(
                record(&fields(&[b"m", &meta, b"t", t]), None),
                Err(Unreadable::Field("field t is malformed")),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
    }

    #[test]
    fn a_plain_hgetall_reads_like_a_scripts_reply() {
        let meta = meta_bytes();
        let items = [
            &b"m"[..],
            &meta,
            b"t",
            b"130 60 0 100 {abcd}ef",
            b"v:cart",
            b"[1]",
            b"n:cart",
            b"2",
        ];
        let as_array = || Value::Array(items.iter().map(|i| s(i)).collect());
        let Ok(Found::Hash { touched, fields }) = hash(as_array()) else {
            panic!("a hash");
        };
        assert!(!touched);
        let Ok(Found::Hash {
            touched: script_touched,
            fields: script_fields,
        }) = load(Value::Array(vec![Value::Int(1), as_array()]))
        else {
            panic!("a hash");
        };
        assert!(script_touched);
        assert_eq!(record(&fields, None), record(&script_fields, None));
        assert!(record(&fields, None).is_ok());
        assert!(matches!(hash(Value::Array(Vec::new())), Ok(Found::Absent)));
    }

    #[test]
    fn a_badly_shaped_hash_is_a_protocol_error() {
        assert!(
            hash(Value::Array(vec![s(b"m")])).is_err(),
            "a field without a value"
        );
        assert!(hash(Value::Array(vec![s(b"m"), Value::Int(1)])).is_err());
        assert!(hash(Value::BulkString(b"m".to_vec())).is_err());
        assert!(hash(Value::Int(1)).is_err());
        let flag_and_string = Value::Array(vec![Value::Int(1), s(b"m")]);
        assert!(load(flag_and_string).is_err());
        let odd = Value::Array(vec![
            Value::Int(1),
            Value::Int(0),
            Value::Array(vec![s(b"m")]),
        ]);
        assert!(load_and_push(odd).is_err());
    }

    #[test]
    fn a_push_reply_is_the_hash_then_its_status() {
        let meta = meta_bytes();
        let hash_items = || {
            [
                &b"m"[..],
                &meta,
                b"t",
                b"130 60 0 100",
                b"v:cart",
                b"[1,2]",
                b"n:cart",
                b"2",
            ]
            .iter()
            .map(|i| s(i))
            .collect::<Vec<_>>()
        };
        let with_status = |status: Value| {
            let mut items = hash_items();
            items.push(status);
            Value::Array(items)
        };
        for (status, appended) in [(1, true), (2, false)] {
            let Ok(Some((got, Found::Hash { touched, fields }))) =
                push(with_status(Value::Int(status)))
            else {
                panic!("status {status}: a hash");
            };
            assert_eq!(got, appended);
            assert!(!touched, "the script without the touch never touches");
            let record = record(&fields, None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(record.values["cart"].bytes, b"[1,2]");
        }
        assert!(matches!(push(Value::Nil), Ok(None)));
        assert!(push(with_status(Value::Int(3))).is_err(), "unknown status");
        assert!(push(with_status(s(b"1"))).is_err(), "status not an integer");
        assert!(push(Value::Array(hash_items())).is_err(), "no status");
        assert!(push(Value::Array(Vec::new())).is_err(), "empty");
        let mut odd = hash_items();
        odd.pop();
        odd.push(Value::Int(1));
        assert!(push(Value::Array(odd)).is_err(), "a field without a value");
    }

    #[test]
    fn user_sessions_read_members_back_into_keys() {
        let key = sessio_core::StoreKey::from_bytes([9; 32]);
        let member = crate::keys::member(&key);
        let group = |m: &[u8]| [s(m), s(b"100"), s(b"130"), s(b"60"), s(b"0")];
        let mut items = group(member.as_bytes()).to_vec();
        // The 64-hex form is not a member: skipped, not misread.
        items.extend(group(key.to_hex().as_str().as_bytes()));
        let listed = user_sessions(Value::Array(items), Timestamp::from_unix_secs(150));
        let listed = listed.unwrap_or_else(|e| panic!("{}", e.0));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, key);
        assert_eq!(listed[0].expires_at, Timestamp::from_unix_secs(190));
    }

    #[test]
    fn a_raw_hash_finds_its_user() {
        let (raw, user) = raw_hash(fields(&[b"m", b"\x00", b"t", b"1 0 9 1 {abcd}ef"]));
        assert_eq!(raw.len(), 4);
        assert_eq!(user.as_deref(), Some("{abcd}ef"));
        assert_eq!(raw_hash(fields(&[b"m", b"\x00", b"t", b"1 0 9 1"])).1, None);
        assert_eq!(raw_hash(fields(&[b"m", b"\x00"])).1, None);
    }

    #[test]
    fn deadline_matches_the_core() {
        assert_eq!(deadline(100, 60, 0), 160);
        assert_eq!(deadline(100, 60, 150), 150);
        assert_eq!(deadline(100, 0, 150), 150);
    }

    #[test]
    fn cas_replies() {
        let conflict = Value::Array(vec![Value::Int(1), s(b"v"), s(b"3")]);
        assert_eq!(
            compare_and_set(conflict, None).ok(),
            Some(CasOutcome::Conflict(Some(StoredValue {
                version: 3,
                bytes: b"v".to_vec()
            })))
        );
        let written = Value::Array(vec![Value::Int(0), Value::Int(2)]);
        assert_eq!(
            compare_and_set(written, Some(b"w")).ok(),
            Some(CasOutcome::Written(Some(StoredValue {
                version: 2,
                bytes: b"w".to_vec()
            })))
        );
        assert_eq!(
            compare_and_set(Value::Array(vec![Value::Int(2)]), None).ok(),
            Some(CasOutcome::Gone)
        );
        assert!(compare_and_set(Value::Int(0), None).is_err());
    }
}
