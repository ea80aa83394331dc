//! A `#![no_std]` program that uses sessio-core, started by the C runtime's `main`.
//!
//! It exists to fail the build if sessio-core (or anything it depends on) links `std`:
//! `std` brings its own `#[panic_handler]`, which clashes with the one below.
//! Each check returns a distinct exit code, so `cargo xtask no-std` can say which failed.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use sessio_core::{IdError, SessionId, Timestamp};

// No `std` means no `libc` crate either; the C runtime that calls `main` lives in libc.
#[link(name = "c")]
unsafe extern "C" {
    fn abort() -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `abort` takes no arguments and never returns.
    unsafe { abort() }
}

/// The host's precompiled `alloc` was built for unwinding, so its landing pads name this
/// symbol (std would supply it). With `panic = "abort"` nothing ever unwinds, so it is
/// never called.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() -> ! {
    // SAFETY: as in `panic`.
    unsafe { abort() }
}

/// Hands out memory from a static buffer and never frees it: enough for a short run,
/// and proof that sessio-core's `alloc` use needs nothing but a global allocator.
struct Bump {
    heap: UnsafeCell<[u8; HEAP_BYTES]>,
    next: AtomicUsize,
}

const HEAP_BYTES: usize = 64 * 1024;

// SAFETY: `next` is advanced atomically, so no two allocations share bytes.
unsafe impl Sync for Bump {}

// SAFETY: every block returned is in bounds, aligned as asked, and handed out once.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.heap.get() as usize;
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let start = (base + next).next_multiple_of(layout.align()) - base;
            let end = match start.checked_add(layout.size()) {
                Some(end) if end <= HEAP_BYTES => end,
                _ => return core::ptr::null_mut(),
            };
            match self
                .next
                .compare_exchange(next, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                // SAFETY: `start + size <= HEAP_BYTES`, so the pointer stays in the buffer.
                Ok(_) => return unsafe { self.heap.get().cast::<u8>().add(start) },
                Err(seen) => next = seen,
            }
        }
    }

    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static HEAP: Bump = Bump {
    heap: UnsafeCell::new([0; HEAP_BYTES]),
    next: AtomicUsize::new(0),
};

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let encoded = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let Ok(id) = SessionId::parse(encoded) else {
        return 1;
    };
    if id.as_bytes()[31] != 31 || id.encode().as_bytes() != encoded {
        return 2;
    }
    if SessionId::parse(b"too short").is_ok() {
        return 3;
    }
    if SessionId::parse(&[b'!'; 43]) != Err(IdError::Alphabet) {
        return 4;
    }
    // The store key is a BLAKE3 digest: exercises the hash crate without std.
    if id.store_key() != id.clone().store_key() || id.store_key().to_hex().as_str().len() != 64 {
        return 5;
    }
    let login = Timestamp::from_unix_secs(1_700_000_000);
    let later = login.saturating_add(Duration::from_secs(90));
    if later.saturating_duration_since(login) != Duration::from_secs(90) {
        return 6;
    }
    // Goes through the global allocator above.
    let ids: Vec<SessionId> = (0..8).map(|_| id.clone()).collect();
    if ids.len() != 8 {
        return 7;
    }
    0
}
