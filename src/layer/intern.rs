//! [`Interner`]: attribute values that repeat on every invocation of a process (function name,
//! version, region, ARN, account, route, method) stored once, so recording them costs no
//! allocation per invocation.
//!
//! One set per process, bounded: at most [`MAX_INTERNED`] strings of at most
//! [`MAX_INTERNED_LEN`] bytes are ever kept (for `'static` borrows; they stay reachable from the
//! set for the life of the process, however many layers are built); any other value is copied as
//! before. A caller cannot grow it past that bound, whatever the events hold.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

/// Most distinct strings kept per process.
pub(crate) const MAX_INTERNED: usize = 64;
/// Longest string kept, in bytes.
pub(crate) const MAX_INTERNED_LEN: usize = 256;

/// The process's set of kept strings.
static INTERNED: Interner = Interner {
    strings: Mutex::new(Vec::new()),
};

/// `s` borrowed from the process's set (added when there is room), else copied.
pub(crate) fn intern(s: &str) -> Cow<'static, str> {
    INTERNED.get(s)
}

/// A bounded set of process-lifetime strings.
#[derive(Debug)]
pub(crate) struct Interner {
    strings: Mutex<Vec<&'static str>>,
}

impl Interner {
    /// `s` borrowed from the set (added when there is room), else copied.
    fn get(&self, s: &str) -> Cow<'static, str> {
        if s.len() > MAX_INTERNED_LEN {
            return Cow::Owned(s.to_owned());
        }
        let mut strings = self.strings.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&kept) = strings.iter().find(|&&kept| kept == s) {
            return Cow::Borrowed(kept);
        }
        if strings.len() >= MAX_INTERNED {
            return Cow::Owned(s.to_owned());
        }
        let kept: &'static str = Box::leak(s.into());
        strings.push(kept);
        Cow::Borrowed(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_borrowed_and_the_set_is_bounded() {
        // A set of its own, so that other tests' strings do not count.
        let interner = Interner {
            strings: Mutex::new(Vec::new()),
        };
        assert!(matches!(interner.get("orders"), Cow::Borrowed("orders")));
        let again = interner.get(&String::from("orders"));
        assert!(matches!(again, Cow::Borrowed("orders")));
        for i in 0..MAX_INTERNED * 2 {
            assert_eq!(interner.get(&format!("v{i}")), format!("v{i}"));
        }
        assert_eq!(interner.strings.lock().unwrap().len(), MAX_INTERNED);
        let long = "x".repeat(MAX_INTERNED_LEN + 1);
        assert!(matches!(interner.get(&long), Cow::Owned(_)));
    }
}
