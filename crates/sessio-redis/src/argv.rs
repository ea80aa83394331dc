//! How store operations become script arguments: flat lists of keys and byte strings,
//! laid out as the scripts in `src/lua` read them. Pure, so it is tested without Redis.

use std::time::Duration;

use sessio::TouchRule;
use sessio_core::machine::Changes;
use sessio_core::record::SessionMeta;
use sessio_core::{StoreKey, StoreWrite, Timestamp};

use crate::keys::{member, user_suffix, Keys};

/// Timestamps and durations are clamped to the last second of year 9999: Lua counts in
/// doubles, and `EXPIREAT` refuses what overflows milliseconds. Later than that is
/// "never" for any session.
const MAX_SECS: u64 = 253_402_300_799;

/// The keys and arguments of one script invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) keys: Vec<String>,
    pub(crate) args: Vec<Vec<u8>>,
}

impl Call {
    fn arg(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.args.push(bytes.into());
        self
    }

    fn num(&mut self, n: u64) -> &mut Self {
        self.arg(n.min(MAX_SECS).to_string())
    }

    fn flag(&mut self, on: bool) -> &mut Self {
        self.arg(if on { "1" } else { "0" })
    }
}

fn secs(t: Timestamp) -> u64 {
    t.unix_secs().min(MAX_SECS)
}

/// A session's meta as script arguments: `m`, and `idle`, `abs`, `c`, `u` (the user index
/// suffix, `""` when unbound), of which the scripts make the hash's `t` field.
struct MetaFields {
    m: Vec<u8>,
    idle: u64,
    abs: u64,
    created: u64,
    user: String,
}

impl MetaFields {
    fn new(meta: &SessionMeta) -> Self {
        let mut m = Vec::with_capacity(64);
        meta.encode_into(&mut m);
        MetaFields {
            m,
            idle: meta.lifetime.idle_timeout().map_or(0, |d| d.as_secs()),
            abs: meta.absolute_deadline().map_or(0, secs),
            created: secs(meta.created_at),
            user: meta.user.as_deref().map(user_suffix).unwrap_or_default(),
        }
    }
}

/// `load.lua`.
pub(crate) fn load(keys: &Keys, key: &StoreKey, touch: TouchRule) -> Call {
    let mut call = Call {
        keys: vec![keys.session(key)],
        args: Vec::with_capacity(3),
    };
    call.arg(keys.prefix())
        .num(secs(touch.now))
        .num(ceil_secs(touch.interval));
    call
}

/// `load_and_push.lua`: `load`'s arguments, then the value's name and the element.
pub(crate) fn load_and_push(
    keys: &Keys,
    key: &StoreKey,
    touch: TouchRule,
    name: &str,
    element: &[u8],
) -> Call {
    let mut call = load(keys, key, touch);
    call.arg(name).arg(element);
    call
}

/// `push.lua`: the time, the value's and its version's field names, the element.
pub(crate) fn push(
    keys: &Keys,
    key: &StoreKey,
    now: Timestamp,
    name: &str,
    element: &[u8],
) -> Call {
    let mut call = Call {
        keys: vec![keys.session(key)],
        args: Vec::with_capacity(4),
    };
    call.num(secs(now))
        .arg(format!("v:{name}"))
        .arg(format!("n:{name}"))
        .arg(element);
    call
}

/// `load.lua` with a touch interval no session reaches: reads a live session and changes
/// nothing (the first step of a rotation across hash slots).
pub(crate) fn peek(keys: &Keys, key: &StoreKey, now: Timestamp) -> Call {
    let mut call = Call {
        keys: vec![keys.session(key)],
        args: Vec::with_capacity(3),
    };
    call.arg(keys.prefix()).num(secs(now)).num(MAX_SECS);
    call
}

/// Stored times are whole seconds, so "at least `interval` ago" is "at least the
/// interval rounded up".
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `write.lua`.
pub(crate) fn write(
    keys: &Keys,
    delete: Option<&StoreKey>,
    write: Option<&StoreWrite>,
    now: Timestamp,
) -> Call {
    let mut call = Call::default();
    call.arg(keys.prefix())
        .num(secs(now))
        .flag(delete.is_some());
    if let Some(key) = delete {
        call.keys.push(keys.session(key));
    }
    match write {
        None => {
            call.arg("");
        }
        Some(StoreWrite::Create { key, record }) => {
            call.keys.push(keys.session(key));
            let meta = MetaFields::new(&record.meta);
            call.arg("C")
                .arg(meta.m)
                .num(secs(record.meta.last_seen))
                .num(meta.idle)
                .num(meta.abs)
                .num(meta.created)
                .arg(meta.user);
            for (name, value) in &record.values {
                call.arg(name.as_str())
                    .arg(value.version.to_string())
                    .arg(value.bytes.as_slice());
            }
        }
        Some(StoreWrite::Update { key, changes }) => {
            call.keys.push(keys.session(key));
            call.arg("U");
            push_changes(&mut call, changes);
        }
        Some(StoreWrite::Rotate { from, to, changes }) => {
            call.keys.push(keys.session(from));
            call.keys.push(keys.session(to));
            call.arg("R");
            push_changes(&mut call, changes);
        }
        Some(StoreWrite::Touch { key, last_seen, .. }) => {
            // The deadline is recomputed from the stored lifetime, which is the truth if a
            // concurrent request changed it.
            call.keys.push(keys.session(key));
            call.arg("T").num(secs(*last_seen));
        }
    }
    call
}

/// `write.lua` op `M`: creates `to` from the hash `fields` read from the old session
/// (`HGETALL` order: name, value, ...), then applies `changes`.
pub(crate) fn move_in(
    keys: &Keys,
    to: &StoreKey,
    fields: &[Vec<u8>],
    changes: &Changes,
    now: Timestamp,
) -> Call {
    let mut call = Call {
        keys: vec![keys.session(to)],
        args: Vec::with_capacity(fields.len() + 16),
    };
    call.arg(keys.prefix())
        .num(secs(now))
        .flag(false)
        .arg("M")
        .arg(fields.len().to_string());
    for field in fields {
        call.arg(field.as_slice());
    }
    push_changes(&mut call, changes);
    call
}

/// `write.lua` op `X`: deletes the live session `from` and its index entry.
pub(crate) fn take_out(keys: &Keys, from: &StoreKey, now: Timestamp) -> Call {
    let mut call = Call {
        keys: vec![keys.session(from)],
        args: Vec::with_capacity(4),
    };
    call.arg(keys.prefix()).num(secs(now)).flag(false).arg("X");
    call
}

fn push_changes(call: &mut Call, changes: &Changes) {
    call.flag(changes.meta.is_some());
    match &changes.meta {
        Some(meta) => {
            let meta = MetaFields::new(meta);
            call.arg(meta.m)
                .num(meta.idle)
                .num(meta.abs)
                .num(meta.created)
                .arg(meta.user);
        }
        None => {
            call.arg("").arg("").arg("").arg("").arg("");
        }
    }
    call.num(secs(changes.last_seen)).flag(changes.cleared);
    for (name, change) in &changes.values {
        call.arg(name.as_str());
        match change {
            Some(bytes) => call.arg("s").arg(bytes.as_slice()),
            None => call.arg("d").arg(""),
        };
    }
}

/// `compare_and_set.lua`.
pub(crate) fn compare_and_set(
    keys: &Keys,
    key: &StoreKey,
    name: &str,
    expected: Option<u64>,
    value: Option<&[u8]>,
    now: Timestamp,
) -> Call {
    let mut call = Call {
        keys: vec![keys.session(key)],
        args: Vec::with_capacity(5),
    };
    call.num(secs(now))
        .arg(name)
        .arg(expected.map(|v| v.to_string()).unwrap_or_default())
        .flag(value.is_some())
        .arg(value.unwrap_or_default());
    call
}

/// `user_sessions.lua`.
pub(crate) fn user_sessions(keys: &Keys, user: &str, now: Timestamp) -> Call {
    let suffix = user_suffix(user);
    let mut call = Call {
        keys: vec![keys.user_index(&suffix)],
        args: Vec::with_capacity(3),
    };
    call.arg(keys.prefix()).num(secs(now)).arg(suffix);
    call
}

/// `revoke_user.lua`.
pub(crate) fn revoke_user(
    keys: &Keys,
    user: &str,
    except: Option<&StoreKey>,
    now: Timestamp,
) -> Call {
    let suffix = user_suffix(user);
    let mut call = Call {
        keys: vec![keys.user_index(&suffix)],
        args: Vec::with_capacity(4),
    };
    call.arg(keys.prefix())
        .num(secs(now))
        .arg(suffix)
        .arg(except.map(member).unwrap_or_default());
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessio_core::expiry::Lifetime;

    fn text(call: &Call) -> Vec<String> {
        call.args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    fn keys() -> Keys {
        Keys::new("p:").unwrap_or_else(|e| panic!("{e}"))
    }

    fn meta() -> SessionMeta {
        let lifetime = Lifetime::new(
            Some(Duration::from_secs(60)),
            Some(Duration::from_secs(3600)),
        );
        SessionMeta::new(
            Timestamp::from_unix_secs(1000),
            lifetime.unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn update_is_flat_triples_after_the_header() {
        let keys = keys();
        let key = StoreKey::from_bytes([1; 32]);
        let changes = Changes {
            meta: None,
            last_seen: Timestamp::from_unix_secs(1010),
            cleared: true,
            values: vec![("a".into(), Some(b"x".to_vec())), ("b".into(), None)],
        };
        let update = StoreWrite::Update { key, changes };
        let call = write(
            &keys,
            Some(&key),
            Some(&update),
            Timestamp::from_unix_secs(1010),
        );
        assert_eq!(call.keys, vec![keys.session(&key), keys.session(&key)]);
        assert_eq!(
            text(&call),
            [
                "p:", "1010", "1", "U", "0", "", "", "", "", "", "1010", "1", "a", "s", "x", "b",
                "d", ""
            ]
        );
    }

    #[test]
    fn a_push_names_the_fields_it_reads_and_writes() {
        let keys = keys();
        let key = StoreKey::from_bytes([1; 32]);
        let now = Timestamp::from_unix_secs(1010);
        let call = push(&keys, &key, now, "cart", b"\"pear\"");
        assert_eq!(call.keys, vec![keys.session(&key)]);
        assert_eq!(text(&call), ["1010", "v:cart", "n:cart", "\"pear\""]);
    }

    #[test]
    fn a_move_carries_the_read_hash_then_the_changes() {
        let keys = keys();
        let (from, to) = (StoreKey::from_bytes([1; 32]), StoreKey::from_bytes([2; 32]));
        let fields = vec![
            b"t".to_vec(),
            b"1000 600 0 1000".to_vec(),
            b"v:a".to_vec(),
            b"x".to_vec(),
        ];
        let changes = Changes {
            meta: None,
            last_seen: Timestamp::from_unix_secs(1010),
            cleared: false,
            values: vec![("b".into(), Some(b"y".to_vec()))],
        };
        let call = move_in(
            &keys,
            &to,
            &fields,
            &changes,
            Timestamp::from_unix_secs(1010),
        );
        assert_eq!(call.keys, vec![keys.session(&to)]);
        assert_eq!(
            text(&call),
            [
                "p:",
                "1010",
                "0",
                "M",
                "4",
                "t",
                "1000 600 0 1000",
                "v:a",
                "x",
                "0",
                "",
                "",
                "",
                "",
                "",
                "1010",
                "0",
                "b",
                "s",
                "y"
            ]
        );
        let call = take_out(&keys, &from, Timestamp::from_unix_secs(1010));
        assert_eq!(call.keys, vec![keys.session(&from)]);
        assert_eq!(text(&call), ["p:", "1010", "0", "X"]);
        let peek = peek(&keys, &from, Timestamp::from_unix_secs(1010));
        assert_eq!(text(&peek), ["p:", "1010", &MAX_SECS.to_string()]);
    }

    #[test]
    fn user_calls_name_the_index_and_members_with_the_tag() {
        let keys = keys();
        let suffix = user_suffix("ada");
        let keep = StoreKey::from_bytes([3; 32]);
        let call = revoke_user(&keys, "ada", Some(&keep), Timestamp::from_unix_secs(5));
        assert_eq!(call.keys, vec![format!("p:u:{suffix}")]);
        assert_eq!(text(&call), ["p:", "5", suffix.as_str(), &member(&keep)]);
        assert_eq!(keys.session(&keep), format!("p:s:{}", member(&keep)));
        let call = user_sessions(&keys, "ada", Timestamp::from_unix_secs(5));
        assert_eq!(text(&call), ["p:", "5", suffix.as_str()]);
    }

    #[test]
    fn meta_fields_carry_the_deadlines_and_a_user_digest() {
        let mut meta = meta();
        meta.user = Some("ada".into());
        let fields = MetaFields::new(&meta);
        assert_eq!((fields.idle, fields.abs, fields.created), (60, 4600, 1000));
        assert_eq!(fields.user, user_suffix("ada"));
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
    }

    #[test]
    fn far_futures_are_clamped() {
        let keys = keys();
        let touch = TouchRule {
            now: Timestamp::MAX,
            interval: Duration::from_secs(1),
        };
        assert_eq!(
            text(&load(&keys, &StoreKey::from_bytes([0; 32]), touch))[1],
            MAX_SECS.to_string()
        );
    }
}
