//! A "random" generator that hands out the fuzzer's bytes, so a target can make a
//! `SessionId` with chosen bytes through the public `SessionId::generate`.

use rand_core::{CryptoRng, RngCore};

/// Repeats its 32 bytes forever.
pub struct FixedRng(pub [u8; 32], pub usize);

impl FixedRng {
    pub fn new(bytes: [u8; 32]) -> Self {
        FixedRng(bytes, 0)
    }
}

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for slot in dst {
            *slot = self.0[self.1 % 32];
            self.1 += 1;
        }
    }
}

// Not secure at all; only the type system asks for it, and only fuzz targets use it.
impl CryptoRng for FixedRng {}
