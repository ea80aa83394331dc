//! Key names. Only digests appear in them: a session key holds the 64-hex [`StoreKey`],
//! a user index a digest of the user name, so neither ids nor user names can be read off
//! a key listing.

use sessio_core::StoreKey;

/// Domain separation for user digests, so the digest means nothing elsewhere.
const USER_INDEX_CONTEXT: &[u8] = b"sessio v1 user index\0";

/// The key names of one store (one prefix).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `"{prefix}s:{hex}"`: the hash holding one session.
    pub(crate) fn session(&self, key: &StoreKey) -> String {
        format!("{}s:{}", self.prefix, key.to_hex())
    }

    /// `"{prefix}u:{digest}"`: the zset of one user's sessions.
    pub(crate) fn user_index(&self, digest: &str) -> String {
        format!("{}u:{}", self.prefix, digest)
    }
}

/// The 64-hex digest naming a user's index (and stored as the session's `u` field).
pub(crate) fn user_digest(user: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(USER_INDEX_CONTEXT);
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(64);
    for b in digest.as_bytes() {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 15));
    }
    out
}

fn hex_digit(v: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(v & 15)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_digests_only() {
        let keys = Keys::new("app:");
        let key = StoreKey::from_bytes([0xab; 32]);
        assert_eq!(keys.session(&key), format!("app:s:{}", "ab".repeat(32)));
        let digest = user_digest("ada@example.com");
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains("ada"));
        assert_ne!(digest, user_digest("ada@example.org"));
        assert_eq!(keys.user_index(&digest), format!("app:u:{digest}"));
    }
}
