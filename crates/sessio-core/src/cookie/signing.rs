//! Signed cookie values: `<43-char id>.<43-char tag>`, tag = keyed BLAKE3 of the id bytes.
//!
//! A session id is unguessable on its own; the tag does not make it more secret. It lets
//! the server refuse a forged or random value without asking the store, which turns a
//! flood of made-up cookies into a hash per request instead of a store round trip per
//! request.

use alloc::vec::Vec;
use core::fmt;

use subtle::{Choice, ConstantTimeEq};

use super::CookieConfigError;
use crate::id::{SessionId, ENCODED_ID_LEN, SESSION_ID_BYTES};

/// Length of a signed cookie value: id, `.`, tag.
pub(super) const SIGNED_VALUE_LEN: usize = 2 * ENCODED_ID_LEN + 1;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The secret keys that sign session cookies: the newest signs, every one verifies.
///
/// Rotation: put a new key in front and keep the old ones behind it for as long as cookies
/// signed with them may still come back (the longest cookie lifetime), then drop them.
/// `Debug` shows how many keys there are, never the keys.
///
/// ```
/// use sessio_core::cookie::{CookieConfig, KeyRing};
///
/// # let (new_key, old_key) = ([1; 32], [2; 32]);
/// let keys = KeyRing::new(new_key).with_older_key(old_key);
/// assert_eq!(keys.len(), 2);
/// assert_eq!(format!("{keys:?}"), "KeyRing { keys: 2, .. }");
/// let settings = CookieConfig::new().signing_keys(keys).build()?;
/// assert!(settings.is_signed());
/// # Ok::<(), sessio_core::cookie::CookieConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    /// Newest first; never empty.
    keys: Vec<[u8; 32]>,
}

impl KeyRing {
    /// A ring of one key, which both signs and verifies.
    pub fn new(newest: [u8; 32]) -> Self {
        KeyRing {
            keys: alloc::vec![newest],
        }
    }

    /// Adds a key that still verifies but no longer signs; call in order, newest first.
    pub fn with_older_key(mut self, older: [u8; 32]) -> Self {
        self.keys.push(older);
        self
    }

    /// A ring from keys given newest first; [`CookieConfigError::NoSigningKeys`] if there
    /// are none.
    pub fn from_keys<I>(keys: I) -> Result<Self, CookieConfigError>
    where
        I: IntoIterator<Item = [u8; 32]>,
    {
        let keys: Vec<[u8; 32]> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(CookieConfigError::NoSigningKeys);
        }
        Ok(KeyRing { keys })
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a ring has at least one key. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The encoded tag of `id` under the newest key.
    pub(super) fn sign(&self, id: &SessionId) -> [u8; ENCODED_ID_LEN] {
        // `keys` is never empty; an empty ring would sign with an all-zero key rather
        // than panic, and verification would still refuse everything but that.
        let newest = self.keys.first().copied().unwrap_or([0; 32]);
        encode_tag(blake3::keyed_hash(&newest, id.as_bytes()).as_bytes())
    }

    /// Whether `tag` is the tag of `id` under any key of the ring.
    ///
    /// Every key is tried and the comparisons are constant-time, so the time taken says
    /// neither which key matched nor how much of a tag was right.
    pub(super) fn verify(&self, id: &SessionId, tag: &[u8; SESSION_ID_BYTES]) -> bool {
        let mut matched = Choice::from(0);
        for key in &self.keys {
            matched |= blake3::keyed_hash(key, id.as_bytes()).as_bytes().ct_eq(tag);
        }
        matched.into()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// 32 bytes as unpadded base64url, the same shape as an encoded id, so that
/// [`SessionId::parse`] decodes it back.
fn encode_tag(bytes: &[u8; 32]) -> [u8; ENCODED_ID_LEN] {
    let mut out = [0u8; ENCODED_ID_LEN];
    // Ten groups of 3 bytes make 40 characters; the last 2 bytes make 3 more.
    for (group, chunk) in bytes.chunks(3).enumerate() {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = u32::from(b0) << 16 | u32::from(b1) << 8 | u32::from(b2);
        for (i, slot) in out.iter_mut().skip(4 * group).take(4).enumerate() {
            *slot = ALPHABET[(n >> (18 - 6 * i) & 63) as usize];
        }
    }
    out
}

/// Splits a signed value into id and tag; `None` unless it has exactly the signed shape,
/// a valid id and a valid tag under one of the ring's keys.
pub(super) fn verify_value(keys: &KeyRing, value: &[u8]) -> Option<SessionId> {
    if value.len() != SIGNED_VALUE_LEN || value.get(ENCODED_ID_LEN) != Some(&b'.') {
        return None;
    }
    let (id, rest) = value.split_at(ENCODED_ID_LEN);
    let id = SessionId::parse(id).ok()?;
    let tag = SessionId::parse(rest.get(1..)?).ok()?;
    keys.verify(&id, tag.as_bytes()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;

    fn signed_value(keys: &KeyRing, id: &SessionId) -> Vec<u8> {
        let mut value = Vec::from(id.encode().as_bytes());
        value.push(b'.');
        value.extend_from_slice(&keys.sign(id));
        value
    }

    fn some_id(seed: u64) -> SessionId {
        SessionId::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn tag_encoding_matches_id_encoding() {
        for seed in 0..32 {
            let id = some_id(seed);
            assert_eq!(&encode_tag(id.as_bytes())[..], id.encode().as_bytes());
        }
    }

    #[test]
    fn right_and_rotated_keys_verify() {
        let id = some_id(1);
        let old = KeyRing::new([1; 32]);
        let rotated = KeyRing::new([2; 32]).with_older_key([1; 32]);
        assert_eq!(
            verify_value(&rotated, &signed_value(&rotated, &id)),
            Some(id.clone())
        );
        assert_eq!(
            verify_value(&rotated, &signed_value(&old, &id)),
            Some(id.clone())
        );
        assert_eq!(verify_value(&old, &signed_value(&old, &id)), Some(id));
    }

    #[test]
    fn unknown_key_tampering_and_other_shapes_are_refused() {
        let id = some_id(2);
        let ring = KeyRing::new([1; 32]);
        let stranger = KeyRing::new([9; 32]);
        assert_eq!(verify_value(&ring, &signed_value(&stranger, &id)), None);
        // A retired key no longer verifies.
        assert_eq!(
            verify_value(&KeyRing::new([3; 32]), &signed_value(&ring, &id)),
            None
        );

        let good = signed_value(&ring, &id);
        for at in [0, 42, 43, 44, 60, 86] {
            let mut bad = good.clone();
            bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
            assert_eq!(verify_value(&ring, &bad), None, "tampered at {at}");
        }
        // The tag of another id, the id alone, and truncations.
        let mut swapped = Vec::from(id.encode().as_bytes());
        swapped.push(b'.');
        swapped.extend_from_slice(&ring.sign(&some_id(3)));
        assert_eq!(verify_value(&ring, &swapped), None);
        assert_eq!(verify_value(&ring, id.encode().as_bytes()), None);
        assert_eq!(verify_value(&ring, &good[..86]), None);
        assert_eq!(verify_value(&ring, b""), None);
    }

    #[test]
    fn ring_construction() {
        assert_eq!(
            KeyRing::from_keys([]).map(|r| r.len()),
            Err(CookieConfigError::NoSigningKeys)
        );
        let ring = KeyRing::from_keys([[5; 32], [6; 32]]);
        assert_eq!(ring.as_ref().map(KeyRing::len), Ok(2));
        assert_eq!(ring.as_ref().map(KeyRing::is_empty), Ok(false));
        // The first key given is the newest, the one that signs.
        let id = some_id(4);
        if let Ok(ring) = ring {
            assert_eq!(ring.sign(&id), KeyRing::new([5; 32]).sign(&id));
        }
    }

    #[test]
    fn debug_hides_keys() {
        let shown = alloc::format!("{:?}", KeyRing::new([0xAB; 32]).with_older_key([7; 32]));
        assert_eq!(shown, "KeyRing { keys: 2, .. }");
    }

    proptest! {
        #[test]
        fn tag_round_trips_through_id_parsing(bytes in any::<[u8; 32]>()) {
            let encoded = encode_tag(&bytes);
            let parsed = SessionId::parse(&encoded).map(|tag| *tag.as_bytes());
            prop_assert_eq!(parsed, Ok(bytes));
        }
    }
}
