//! Session ids and the store keys derived from them.
//!
//! A [`SessionId`] is 256 bits from the caller's CSPRNG, written as 43 characters of
//! URL-safe base64 without padding. It lives only in the client's cookie. The server keeps
//! a session under its [`StoreKey`], a BLAKE3 digest of the id: a dump of the store holds
//! nothing a client could send back as a cookie, and the digest is preimage resistant, so
//! the key does not lead back to the id.
//!
//! # Shard tags
//! The last two bytes of an id are its [`ShardTag`], copied as they are into the end of
//! its store key, so that a partitioned store (Redis Cluster) can place a session from its
//! key alone. An anonymous session's tag is random like the rest of the id. A session bound
//! to a user gets an id whose tag is [`ShardTag::for_user`], so every session of one user
//! lands on the same shard as that user's index, and "revoke all of this user's sessions"
//! stays a single-shard operation. Such an id keeps 240 random bits, far above the 128 that
//! make guessing hopeless; the tag itself is no secret (it says where, never which).
//!
//! # What is constant-time, and why that is enough
//! - [`StoreKey`] and [`SessionId`] equality have no early exit on a secret byte: the
//!   differences of the four 64-bit words are OR-ed together without a branch, and the
//!   result passes an optimisation barrier before [`subtle`] tests it for zero, so the
//!   compiler cannot turn the comparison back into a short-circuiting one.
//! - Decoding a cookie value is not constant-time, but it only looks at what the client
//!   itself sent, which is no secret to that client.
//! - A table lookup hashes the *store key*; which bucket is probed depends on the digest,
//!   never on the id in a way an attacker can steer towards another client's id, and the
//!   final comparison is constant-time. Timing can at most reveal bits of a digest of the
//!   attacker's own guess.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

/// Number of bytes in a session id: 256 bits, all random for an anonymous session, 240
/// random plus a [`ShardTag`] for a session bound to a user.
pub const SESSION_ID_BYTES: usize = 32;
/// Number of bytes of a [`ShardTag`].
pub const SHARD_TAG_BYTES: usize = 2;
/// Where the shard tag sits, in an id and in a store key: the last two bytes.
const TAG_AT: usize = SESSION_ID_BYTES - SHARD_TAG_BYTES;
/// Length of an encoded session id: 32 bytes as unpadded base64url.
pub const ENCODED_ID_LEN: usize = 43;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Domain separation for the store key digest, so the digest means nothing elsewhere.
const STORE_KEY_CONTEXT: &[u8] = b"sessio v1 store key\0";
/// Domain separation for a user's shard tag.
const SHARD_TAG_CONTEXT: &[u8] = b"sessio v1 shard tag\0";

/// An unguessable session id: 256 bits from a CSPRNG.
///
/// `Debug` and `Display` never show the id: they print a short fingerprint of the
/// [`StoreKey`] instead, which matches what store-side logs show and cannot be sent back
/// as a cookie.
///
/// ```
/// use sessio_core::SessionId;
///
/// let id = SessionId::generate(&mut rand::rng());
/// let encoded = id.encode();
/// assert_eq!(encoded.as_str().len(), 43);
/// assert_eq!(SessionId::parse(encoded.as_bytes()), Ok(id.clone()));
/// assert!(!format!("{id:?}").contains(encoded.as_str()));
/// ```
#[derive(Clone)]
pub struct SessionId([u8; SESSION_ID_BYTES]);

/// Why a byte string is not a session id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdError {
    /// Not exactly 43 bytes long.
    Length,
    /// A byte outside the URL-safe base64 alphabet.
    Alphabet,
    /// The last character carries bits beyond the 256 of an id (a non-canonical encoding).
    NonCanonical,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdError::Length => "session id must be 43 characters",
            IdError::Alphabet => "session id must be URL-safe base64",
            IdError::NonCanonical => "session id is not canonically encoded",
        })
    }
}

impl core::error::Error for IdError {}

impl SessionId {
    /// Draws a fresh id from the caller's cryptographically secure generator: 256 random
    /// bits, its shard tag among them.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        rng.fill_bytes(&mut bytes);
        SessionId(bytes)
    }

    /// Draws a fresh id that carries `tag` (see [`ShardTag`]): 240 random bits plus the
    /// tag, for a session that must live on a given shard.
    pub fn generate_in<R: CryptoRng + ?Sized>(rng: &mut R, tag: ShardTag) -> Self {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        rng.fill_bytes(&mut bytes[..TAG_AT]);
        bytes[TAG_AT..].copy_from_slice(&tag.0);
        SessionId(bytes)
    }

    /// The id's shard tag: its last two bytes.
    pub fn shard_tag(&self) -> ShardTag {
        ShardTag([self.0[TAG_AT], self.0[TAG_AT + 1]])
    }

    /// Parses exactly the shape [`SessionId::encode`] writes: 43 URL-safe base64
    /// characters, no padding, canonical last character. Anything else is refused.
    pub fn parse(encoded: &[u8]) -> Result<Self, IdError> {
        let encoded: &[u8; ENCODED_ID_LEN] = encoded.try_into().map_err(|_| IdError::Length)?;
        let mut bytes = [0u8; SESSION_ID_BYTES];
        // 40 characters are 10 groups of 4 → 30 bytes; the last 3 characters carry 2 bytes
        // and 2 spare bits, which must be zero (a canonical encoding).
        let mut invalid = 0u8;
        let mut sextet = |c: u8| {
            let v = DECODE[usize::from(c)];
            invalid |= v;
            u32::from(v & 63)
        };
        for (group, out) in encoded[..40]
            .chunks_exact(4)
            .zip(bytes[..30].chunks_exact_mut(3))
        {
            let n = sextet(group[0]) << 18
                | sextet(group[1]) << 12
                | sextet(group[2]) << 6
                | sextet(group[3]);
            out.copy_from_slice(&n.to_be_bytes()[1..]);
        }
        let tail = sextet(encoded[40]) << 12 | sextet(encoded[41]) << 6 | sextet(encoded[42]);
        if invalid & INVALID != 0 {
            return Err(IdError::Alphabet);
        }
        if tail & 0b11 != 0 {
            return Err(IdError::NonCanonical);
        }
        bytes[30] = (tail >> 10) as u8;
        bytes[31] = (tail >> 2) as u8;
        Ok(SessionId(bytes))
    }

    /// The id as it goes into a cookie.
    pub fn encode(&self) -> EncodedSessionId {
        let mut out = [0u8; ENCODED_ID_LEN];
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        let mut i = 0;
        for &b in &self.0 {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 6 {
                bits -= 6;
                out[i] = ALPHABET[((acc >> bits) & 63) as usize];
                i += 1;
            }
            acc &= (1 << bits) - 1;
        }
        out[i] = ALPHABET[((acc << (6 - bits)) & 63) as usize];
        EncodedSessionId(out)
    }

    /// The key the session is stored under: 30 bytes of a digest of the id, then the
    /// id's [`ShardTag`]; never the id itself.
    pub fn store_key(&self) -> StoreKey {
        // One buffer and `blake3::hash`: inputs under a chunk take BLAKE3's one-shot path,
        // which costs a third of an incremental `Hasher` here.
        let mut input = [0u8; STORE_KEY_CONTEXT.len() + SESSION_ID_BYTES];
        input[..STORE_KEY_CONTEXT.len()].copy_from_slice(STORE_KEY_CONTEXT);
        input[STORE_KEY_CONTEXT.len()..].copy_from_slice(&self.0);
        let mut key = *blake3::hash(&input).as_bytes();
        key[TAG_AT..].copy_from_slice(&self.0[TAG_AT..]);
        StoreKey(key)
    }

    /// The raw 32 bytes, for callers that sign or otherwise process the id.
    pub fn as_bytes(&self) -> &[u8; SESSION_ID_BYTES] {
        &self.0
    }
}

/// Marks a byte outside the alphabet in [`DECODE`].
const INVALID: u8 = 0x80;

/// Byte → sextet, or [`INVALID`]: a table, so parsing has no per-character branches.
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Constant-time equality of two 32-byte values, a word at a time.
///
/// `subtle`'s slice comparison puts every byte through its own optimisation barrier:
/// 32 barriers made up most of a table lookup's time (`table/get/1k`: 73 ns with it).
/// One barrier on the OR of the word differences keeps the property (the compiler must
/// compute the exact difference, so it cannot stop at the first differing word) at a
/// fraction of the cost.
fn ct_eq_32(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let word = |bytes: &[u8; 32], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[8 * i..8 * i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut difference = 0u64;
    for i in 0..4 {
        difference |= word(a, i) ^ word(b, i);
    }
    core::hint::black_box(difference).ct_eq(&0).into()
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        ct_eq_32(&self.0, &other.0)
    }
}
impl Eq for SessionId {}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.store_key().fingerprint())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.store_key().fingerprint())
    }
}

/// A session id with its [`StoreKey`], so the digest is computed once per request however
/// many places need it (the store lookup, the state machine). Built only from a
/// [`SessionId`], so the two always belong together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedSessionId {
    id: SessionId,
    key: StoreKey,
}

impl KeyedSessionId {
    /// The id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Its store key.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }
}

impl From<SessionId> for KeyedSessionId {
    fn from(id: SessionId) -> Self {
        let key = id.store_key();
        KeyedSessionId { id, key }
    }
}

/// An encoded session id: the exact bytes of the cookie value.
///
/// Deliberately without `Debug` or `Display`, so it cannot end up in a log by accident.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncodedSessionId([u8; ENCODED_ID_LEN]);

impl EncodedSessionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // The alphabet is ASCII, so this cannot fail; fall back to "" rather than panic.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The id as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The key a session is stored under: the first 30 bytes of
/// `BLAKE3("sessio v1 store key\0" || id)`, then the id's two-byte [`ShardTag`].
///
/// Equality is constant-time. Its text form ([`StoreKey::to_hex`], 64 lowercase hex
/// digits, the tag in the last four) is what stores put in key names; it is not the shape
/// of a session id, so it cannot be replayed as a cookie, and it does not lead back to the
/// id: 240 bits of the id stay unknown to whoever reads a key.
#[derive(Clone, Copy)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// Wraps 32 digest bytes, e.g. read back from a store's index.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(bytes)
    }

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> StoreKeyHex {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        StoreKeyHex(out)
    }

    /// Parses what [`StoreKey::to_hex`] wrote; `None` for anything else.
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0])?;
            let lo = hex_digit(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(StoreKey(out))
    }

    /// The shard tag of the id behind this key: its last two bytes.
    pub fn shard_tag(&self) -> ShardTag {
        ShardTag([self.0[TAG_AT], self.0[TAG_AT + 1]])
    }

    /// A 64-bit hash for hash tables. The first eight bytes are digest bytes (the shard
    /// tag, which many sessions of one user share, sits at the end), so they are as good
    /// as any keyed hash of the key, and cost nothing to compute.
    pub fn table_hash(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(first)
    }

    /// The first 8 hex digits, for logs: enough to correlate, useless as a credential.
    pub fn fingerprint(&self) -> Fingerprint {
        let hex = self.to_hex();
        let mut out = [0u8; 8];
        out.copy_from_slice(&hex.0[..8]);
        Fingerprint(out)
    }
}

/// Which shard of a partitioned store a session belongs to: two bytes at the end of its id
/// and of its store key. Not a secret: it says where a session lives, never which it is.
///
/// ```
/// use sessio_core::{SessionId, ShardTag};
///
/// let tag = ShardTag::for_user("ada");
/// let id = SessionId::generate_in(&mut rand::rng(), tag);
/// assert_eq!(id.shard_tag(), tag);
/// assert_eq!(id.store_key().shard_tag(), tag);
/// assert_eq!(tag.to_hex().as_str().len(), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardTag([u8; SHARD_TAG_BYTES]);

impl ShardTag {
    /// The tag of every session bound to `user`: the first two bytes of
    /// `BLAKE3("sessio v1 shard tag\0" || user)`.
    pub fn for_user(user: &str) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(SHARD_TAG_CONTEXT);
        hasher.update(user.as_bytes());
        let digest = hasher.finalize();
        ShardTag([digest.as_bytes()[0], digest.as_bytes()[1]])
    }

    /// Wraps two tag bytes.
    pub const fn from_bytes(bytes: [u8; SHARD_TAG_BYTES]) -> Self {
        ShardTag(bytes)
    }

    /// The tag bytes.
    pub const fn as_bytes(&self) -> &[u8; SHARD_TAG_BYTES] {
        &self.0
    }

    /// Four lowercase hex digits, as in the last four of [`StoreKey::to_hex`].
    pub fn to_hex(self) -> ShardTagHex {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let [a, b] = self.0;
        ShardTagHex([
            HEX[usize::from(a >> 4)],
            HEX[usize::from(a & 15)],
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ])
    }
}

/// A shard tag as four hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShardTagHex([u8; 4]);

impl ShardTagHex {
    /// The digits as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for ShardTagHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ShardTagHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl PartialEq for StoreKey {
    fn eq(&self, other: &Self) -> bool {
        ct_eq_32(&self.0, &other.0)
    }
}
impl Eq for StoreKey {}

impl core::hash::Hash for StoreKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.table_hash());
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({}…)", self.fingerprint())
    }
}

/// A store key as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StoreKeyHex([u8; 64]);

impl StoreKeyHex {
    /// The digits as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for StoreKeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for StoreKeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first eight hex digits of a store key, for logs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 8]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(core::str::from_utf8(&self.0).unwrap_or(""))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;

    fn id_from(bytes: [u8; 32]) -> SessionId {
        SessionId(bytes)
    }

    #[test]
    fn equality_sees_every_bit_of_every_byte() {
        let base: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        assert_eq!(StoreKey(base), StoreKey(base));
        assert_eq!(id_from(base), id_from(base));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = base;
                other[byte] ^= 1 << bit;
                assert_ne!(StoreKey(base), StoreKey(other), "byte {byte} bit {bit}");
                assert_ne!(id_from(base), id_from(other), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn generated_ids_differ_and_round_trip() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let a = SessionId::generate(&mut rng);
        let b = SessionId::generate(&mut rng);
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.encode().as_bytes()), Ok(a));
    }

    #[test]
    fn parse_refuses_other_shapes() {
        let good = id_from([0xAB; 32]).encode();
        let s = good.as_str();
        assert_eq!(SessionId::parse(&s.as_bytes()[..42]), Err(IdError::Length));
        assert_eq!(
            SessionId::parse(format!("{s}A").as_bytes()),
            Err(IdError::Length)
        );
        let mut padded = *good.as_bytes().first_chunk::<43>().unwrap_or(&[b'A'; 43]);
        padded[10] = b'=';
        assert_eq!(SessionId::parse(&padded), Err(IdError::Alphabet));
        padded[10] = b'+';
        assert_eq!(SessionId::parse(&padded), Err(IdError::Alphabet));
        // Last char 'B' sets one of the two spare bits.
        let mut nc = [b'A'; 43];
        nc[42] = b'B';
        assert_eq!(SessionId::parse(&nc), Err(IdError::NonCanonical));
        nc[42] = b'E';
        assert!(SessionId::parse(&nc).is_ok());
        assert_eq!(SessionId::parse(b""), Err(IdError::Length));
    }

    #[test]
    fn debug_and_display_hide_the_id() {
        let id = id_from([0x5A; 32]);
        let encoded = id.encode();
        for shown in [format!("{id:?}"), format!("{id}")] {
            assert!(!shown.contains(&encoded.as_str()[..8]), "{shown}");
        }
    }

    #[test]
    fn store_key_is_not_an_id_and_round_trips_as_hex() {
        let id = id_from([1; 32]);
        let key = id.store_key();
        let hex = key.to_hex();
        assert_eq!(hex.as_str().len(), 64);
        assert!(SessionId::parse(hex.as_str().as_bytes()).is_err());
        assert_eq!(StoreKey::from_hex(hex.as_str().as_bytes()), Some(key));
        assert_eq!(StoreKey::from_hex(b"zz"), None);
        assert_ne!(id_from([2; 32]).store_key(), key);
        assert_ne!(&key.as_bytes()[..], &id.as_bytes()[..]);
    }

    #[test]
    fn shard_tags_sit_at_the_end_of_ids_and_keys() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let tag = ShardTag::for_user("ada@example.com");
        assert_eq!(tag, ShardTag::for_user("ada@example.com"));
        assert_ne!(tag, ShardTag::for_user("bob@example.com"));
        let a = SessionId::generate_in(&mut rng, tag);
        let b = SessionId::generate_in(&mut rng, tag);
        assert_ne!(a, b, "the other 240 bits are random");
        assert_ne!(a.store_key(), b.store_key());
        for id in [&a, &b] {
            assert_eq!(id.shard_tag(), tag);
            assert_eq!(id.store_key().shard_tag(), tag);
            assert!(id
                .store_key()
                .to_hex()
                .as_str()
                .ends_with(tag.to_hex().as_str()));
            assert_eq!(
                SessionId::parse(id.encode().as_bytes()).map(|p| p.shard_tag()),
                Ok(tag)
            );
        }
        // The digest part (and so the table hash) differs between ids sharing a tag.
        assert_ne!(a.store_key().table_hash(), b.store_key().table_hash());
        assert_eq!(ShardTag::from_bytes([0xab, 0x01]).to_hex().as_str(), "ab01");
        let random = SessionId::generate(&mut rng);
        assert_eq!(random.store_key().shard_tag(), random.shard_tag());
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(bytes in any::<[u8; 32]>()) {
            let id = id_from(bytes);
            prop_assert_eq!(SessionId::parse(id.encode().as_bytes()), Ok(id));
        }

        #[test]
        fn parse_never_panics(input in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(id) = SessionId::parse(&input) {
                let encoded = id.encode();
                prop_assert_eq!(encoded.as_bytes(), &input[..]);
            }
        }
    }
}
