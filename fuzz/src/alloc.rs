//! The targets' global allocator: the system's, refusing any single allocation over
//! [`MAX_ALLOCATION`].
//!
//! libFuzzer's `-malloc_limit_mb` needs a sanitizer's malloc hooks; `make fuzz` runs the
//! targets without a sanitizer (lambda-trace has no `unsafe`, and the campaign is four times
//! faster without AddressSanitizer, issue 18 item 9), so the limit is kept here for every build.
//! An oversize allocation aborts, which libFuzzer reports as a crash and saves the input.

use std::alloc::{GlobalAlloc, Layout, System};

/// Largest single allocation (the Makefile's `-malloc_limit_mb=64`): nothing one input of a
/// few kilobytes holds comes near it, so a larger one means a size taken from the input uncapped.
pub const MAX_ALLOCATION: usize = 64 << 20;

/// [`System`], with every requested size checked against [`MAX_ALLOCATION`].
#[derive(Debug)]
pub struct Capped;

/// Aborts when `size` is over the limit. The message is formatted on the stack (`eprintln!`
/// writes to the unbuffered stderr), so it allocates nothing.
fn check(size: usize) {
    if size > MAX_ALLOCATION {
        eprintln!("==lambda-trace-fuzz== allocation of {size} bytes, over {MAX_ALLOCATION}");
        std::process::abort();
    }
}

// SAFETY: every call is forwarded unchanged to `System` once the size is checked; the check
// either returns or aborts the process, so `System`'s guarantees are ours.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: the caller's guarantees for `layout` are `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout` (every allocation goes through it).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
