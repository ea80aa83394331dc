//! [`InlineBytes`]: an immutable byte string that keeps short contents inside itself.
//!
//! A memory store keeps each session as its encoded record, and most records are short
//! (`record` format 2: about 17 bytes for an anonymous session, 37 logged in, 60 with a
//! small cart). Held as a `Box<[u8]>`, every lookup pays one more dependent cache miss
//! after the table's slot: the separate heap block. Held inline, the bytes arrive with
//! the slot.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

/// Bytes up to this length are stored inline. With the length byte and the variant tag,
/// 46 makes [`InlineBytes`] 48 bytes, as large as a boxed slice plus its heap block's
/// allocator header would be, so that a table slot holding one (48 bytes of key, deadline
/// and links) is 96 bytes. That holds the common small sessions (anonymous with a short
/// cart, or logged in with a 19-byte user name and no values: 37 bytes) at less memory
/// than a slot plus a heap block; 78 (a 128-byte slot, room for a logged-in session with
/// a cart) was measured too and made the memory store's typical session 15 % larger.
const INLINE_CAPACITY: usize = 46;

// The inline length is a `u8`.
const _: () = assert!(INLINE_CAPACITY <= u8::MAX as usize);

/// An immutable byte string stored inline up to [`InlineBytes::INLINE_CAPACITY`] bytes
/// and in a boxed slice beyond, for table payloads that are usually short: reading a
/// short one costs no access outside the table's own slot.
///
/// `Option<InlineBytes>` is as large as `InlineBytes` (the variant tag has a spare value).
/// `Debug` prints the length only, since the bytes may be a session's secrets.
///
/// ```
/// use sessio_core::table::InlineBytes;
///
/// let short = InlineBytes::from(&b"cart"[..]);
/// assert_eq!(short.as_slice(), b"cart");
/// assert!(short.is_inline());
///
/// let long = InlineBytes::from(vec![7; 200]);
/// assert_eq!(long.len(), 200);
/// assert!(!long.is_inline());
/// assert_eq!(format!("{short:?}"), "InlineBytes { len: 4, inline: true }");
/// ```
#[derive(Clone)]
pub struct InlineBytes(Repr);

/// Canonical: contents of up to `INLINE_CAPACITY` bytes are always `Inline`, longer ones
/// always `Spilled`, so equal contents have equal representations.
#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` holds the contents; `len <= INLINE_CAPACITY`.
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAPACITY],
    },
    /// Longer than `INLINE_CAPACITY`.
    Spilled(Box<[u8]>),
}

impl InlineBytes {
    /// The longest contents stored without a heap allocation.
    pub const INLINE_CAPACITY: usize = INLINE_CAPACITY;

    /// No bytes.
    pub const fn new() -> Self {
        InlineBytes(Repr::Inline {
            len: 0,
            bytes: [0; INLINE_CAPACITY],
        })
    }

    /// A copy of `bytes`: inline if it fits, otherwise in a new boxed slice.
    pub fn from_slice(bytes: &[u8]) -> Self {
        match Self::try_inline(bytes) {
            Some(inline) => inline,
            None => InlineBytes(Repr::Spilled(Box::from(bytes))),
        }
    }

    /// The contents.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Spilled(boxed) => boxed,
        }
    }

    /// Length of the contents in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Inline { len, .. } => usize::from(*len),
            Repr::Spilled(boxed) => boxed.len(),
        }
    }

    /// Holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The contents are stored inline rather than in a heap allocation of their own.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    fn try_inline(contents: &[u8]) -> Option<Self> {
        let len = u8::try_from(contents.len())
            .ok()
            .filter(|&len| usize::from(len) <= INLINE_CAPACITY)?;
        let mut bytes = [0; INLINE_CAPACITY];
        bytes.get_mut(..contents.len())?.copy_from_slice(contents);
        Some(InlineBytes(Repr::Inline { len, bytes }))
    }
}

impl Default for InlineBytes {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for InlineBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for InlineBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for InlineBytes {
    fn from(bytes: &[u8]) -> Self {
        Self::from_slice(bytes)
    }
}

impl From<Vec<u8>> for InlineBytes {
    /// Copies short contents inline (the `Vec`'s buffer is freed); reuses the buffer for
    /// long ones.
    fn from(bytes: Vec<u8>) -> Self {
        Self::try_inline(&bytes)
            .unwrap_or_else(|| InlineBytes(Repr::Spilled(bytes.into_boxed_slice())))
    }
}

impl From<Box<[u8]>> for InlineBytes {
    /// Copies short contents inline (the box is freed); keeps the box for long ones.
    fn from(bytes: Box<[u8]>) -> Self {
        Self::try_inline(&bytes).unwrap_or(InlineBytes(Repr::Spilled(bytes)))
    }
}

impl PartialEq for InlineBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for InlineBytes {}

impl PartialEq<[u8]> for InlineBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl fmt::Debug for InlineBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineBytes")
            .field("len", &self.len())
            .field("inline", &self.is_inline())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloc::format;
    use alloc::vec;
    use core::mem::size_of;

    use proptest::prelude::*;

    use super::*;

    const N: usize = InlineBytes::INLINE_CAPACITY;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8 ^ 0x5a).collect()
    }

    #[test]
    fn option_costs_no_tag_word() {
        assert_eq!(size_of::<InlineBytes>(), 48);
        assert_eq!(size_of::<Option<InlineBytes>>(), size_of::<InlineBytes>());
    }

    #[test]
    fn empty() {
        for empty in [
            InlineBytes::new(),
            InlineBytes::default(),
            InlineBytes::from(Vec::new()),
            InlineBytes::from(&[][..]),
            InlineBytes::from(Box::<[u8]>::default()),
        ] {
            assert!(empty.is_empty());
            assert_eq!(empty.len(), 0);
            assert_eq!(empty.as_slice(), b"");
            assert!(empty.is_inline());
        }
    }

    #[test]
    fn boundary_sizes() {
        for len in [1, N - 1, N, N + 1, 2 * N, 300] {
            let contents = bytes(len);
            let from_slice = InlineBytes::from_slice(&contents);
            let from_vec = InlineBytes::from(contents.clone());
            let from_box = InlineBytes::from(contents.clone().into_boxed_slice());
            for b in [&from_slice, &from_vec, &from_box] {
                assert_eq!(b.as_slice(), &contents[..], "len {len}");
                assert_eq!(b.len(), len);
                assert_eq!(&**b, &contents[..]);
                assert_eq!(b.is_inline(), len <= N, "len {len}");
            }
            assert_eq!(from_slice, from_vec);
            assert_eq!(from_vec, from_box);
        }
    }

    #[test]
    fn inline_and_spilled_never_compare_equal_to_different_contents() {
        let a = InlineBytes::from(bytes(N));
        let b = InlineBytes::from(bytes(N + 1));
        assert_ne!(a, b);
        assert_ne!(InlineBytes::from(&b"ab"[..]), InlineBytes::from(&b"ac"[..]));
        assert_eq!(InlineBytes::from(&b"ab"[..]), b"ab"[..]);
    }

    #[test]
    fn debug_shows_no_contents() {
        let secret = InlineBytes::from(&b"hunter2"[..]);
        assert_eq!(
            format!("{secret:?}"),
            "InlineBytes { len: 7, inline: true }"
        );
        let long = InlineBytes::from(vec![b'x'; N + 1]);
        assert_eq!(
            format!("{long:?}"),
            format!("InlineBytes {{ len: {}, inline: false }}", N + 1)
        );
    }

    proptest! {
        #[test]
        fn round_trip(contents in proptest::collection::vec(any::<u8>(), 0..3 * N)) {
            let b = InlineBytes::from(contents.clone());
            prop_assert_eq!(b.as_slice(), &contents[..]);
            prop_assert_eq!(b.len(), contents.len());
            prop_assert_eq!(b.is_inline(), contents.len() <= N);
            prop_assert_eq!(&b, &InlineBytes::from_slice(&contents));
            let copy = b.clone();
            prop_assert_eq!(copy.as_slice(), &contents[..]);
        }
    }
}
