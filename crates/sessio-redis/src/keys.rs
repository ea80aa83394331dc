//! Key names. Only digests appear in them: a session key holds its [`StoreKey`] in hex, a
//! user index a digest of the user name, so neither ids nor user names can be read off a
//! key listing.
//!
//! Every name carries a shard tag in braces, which Redis Cluster hashes instead of the
//! whole name (a *hash tag*): a session's own [`ShardTag`] (the last four hex digits of
//! its key), and for a user index [`ShardTag::for_user`]. Sessio gives every session bound
//! to a user that user's tag, so a user's index and all of its sessions share one hash
//! slot, and each script touches a single slot.

use std::fmt;

use sessio_core::{ShardTag, StoreKey};

/// Domain separation for user digests, so the digest means nothing elsewhere.
const USER_INDEX_CONTEXT: &[u8] = b"sessio v1 user index\0";

/// Length of a member: `{TTTT}` plus the other 60 hex digits of the key.
const MEMBER_LEN: usize = 66;

/// The key names of one store (one prefix).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

/// A key prefix that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadPrefix(String);

impl fmt::Display for BadPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key prefix {:?} contains '{{' or '}}': Redis Cluster would hash the prefix \
             instead of the session's shard tag, so a user's sessions would no longer share \
             a hash slot with the user's index",
            self.0
        )
    }
}

impl Keys {
    /// Refuses a prefix holding a brace: Redis hashes the first `{...}` of a name, which
    /// must be the shard tag this module puts there, never a piece of the prefix.
    pub(crate) fn new(prefix: &str) -> Result<Self, BadPrefix> {
        if prefix.contains(['{', '}']) {
            return Err(BadPrefix(prefix.to_owned()));
        }
        Ok(Keys {
            prefix: prefix.to_owned(),
        })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `"{prefix}s:{TTTT}<60 hex>"`: the hash holding one session. Built on every store
    /// call, so written straight into one allocation rather than through `format!`.
    pub(crate) fn session(&self, key: &StoreKey) -> String {
        let mut name = String::with_capacity(self.prefix.len() + 2 + MEMBER_LEN);
        name.push_str(&self.prefix);
        name.push_str("s:");
        push_member(&mut name, key);
        name
    }

    /// `"{prefix}u:{TTTT}<64 hex>"`: the zset of one user's sessions; `suffix` is
    /// [`user_suffix`].
    pub(crate) fn user_index(&self, suffix: &str) -> String {
        format!("{}u:{}", self.prefix, suffix)
    }
}

/// What a user index holds for a session, and what follows `"{prefix}s:"` in its name:
/// `{TTTT}` (the key's shard tag, as a hash tag) then the other 60 hex digits of the key.
pub(crate) fn member(key: &StoreKey) -> String {
    let mut member = String::with_capacity(MEMBER_LEN);
    push_member(&mut member, key);
    member
}

fn push_member(out: &mut String, key: &StoreKey) {
    let hex = key.to_hex();
    let (digest, tag) = hex.as_str().split_at(60);
    out.push('{');
    out.push_str(tag);
    out.push('}');
    out.push_str(digest);
}

/// The key a [`member`] names; `None` for anything else.
pub(crate) fn parse_member(member: &[u8]) -> Option<StoreKey> {
    if member.len() != MEMBER_LEN || member[0] != b'{' || member[5] != b'}' {
        return None;
    }
    let mut hex = [0u8; 64];
    hex[..60].copy_from_slice(&member[6..]);
    hex[60..].copy_from_slice(&member[1..5]);
    StoreKey::from_hex(&hex)
}

/// What follows `"{prefix}u:"` in a user index's name, also stored as the session's `u`
/// field: `{TTTT}` (the user's shard tag) then a 64-hex digest of the user name.
pub(crate) fn user_suffix(user: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(USER_INDEX_CONTEXT);
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(70);
    out.push('{');
    out.push_str(ShardTag::for_user(user).to_hex().as_str());
    out.push('}');
    for b in digest.as_bytes() {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 15));
    }
    out
}

/// The shard tag digits of a [`user_suffix`] (or of a [`member`]).
pub(crate) fn suffix_tag(suffix: &str) -> Option<&str> {
    suffix.strip_prefix('{')?.get(..5)?.strip_suffix('}')
}

fn hex_digit(v: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(v & 15)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(prefix: &str) -> Keys {
        Keys::new(prefix).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn names_hold_digests_and_a_hash_tag() {
        let keys = keys("app:");
        let mut bytes = [0xab; 32];
        bytes[30..].copy_from_slice(&[0x12, 0x34]);
        let key = StoreKey::from_bytes(bytes);
        assert_eq!(
            keys.session(&key),
            format!("app:s:{{1234}}{}", "ab".repeat(30))
        );
        let suffix = user_suffix("ada@example.com");
        let tag = ShardTag::for_user("ada@example.com").to_hex();
        assert_eq!(suffix.len(), 70);
        assert!(suffix.starts_with(&format!("{{{tag}}}")), "{suffix}");
        assert!(!suffix.contains("ada"));
        assert_ne!(suffix, user_suffix("ada@example.org"));
        assert_eq!(keys.user_index(&suffix), format!("app:u:{suffix}"));
        assert_eq!(suffix_tag(&suffix), Some(tag.as_str()));
        assert_eq!(suffix_tag(&member(&key)), Some("1234"));
        assert_eq!(suffix_tag("1234"), None);
        let bare = Keys::new("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.session(&key), format!("s:{}", member(&key)));
    }

    #[test]
    fn members_round_trip_and_nothing_else_parses() {
        let key = StoreKey::from_bytes(core::array::from_fn(|i| i as u8 * 7));
        let m = member(&key);
        assert_eq!(m.len(), MEMBER_LEN);
        assert_eq!(parse_member(m.as_bytes()), Some(key));
        let plain = key.to_hex();
        assert_eq!(parse_member(plain.as_str().as_bytes()), None);
        assert_eq!(parse_member(&m.as_bytes()[1..]), None);
        let mut broken = m.into_bytes();
        broken[5] = b'x';
        assert_eq!(parse_member(&broken), None);
    }

    #[test]
    fn braces_in_a_prefix_are_refused() {
        for bad in ["app{x}:", "{app}:", "a}", "{"] {
            match Keys::new(bad) {
                Err(err) => assert!(err.to_string().contains("hash slot"), "{err}"),
                Ok(_) => panic!("{bad:?} was accepted"),
            }
        }
        assert_eq!(keys("sessio:").prefix(), "sessio:");
    }
}
