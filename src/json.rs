//! The crate's JSON writer, below every layer that writes JSON (X-Ray segment documents, the
//! OTLP/JSON encoder, the span limits that measure metadata): appends straight to a byte buffer,
//! escapes only what JSON requires, writes times and integers without the `fmt` machinery.
//!
//! Segment documents are written by hand (see [`Document::write_json`](crate::xray::Document::write_json))
//! because a profile of the hot path showed serde_json's generic writer at ~30k instructions for
//! a 4-span document — most of it in per-fragment write calls and byte-by-byte escaping of keys
//! that never need it. Metadata *values* (`serde_json::Value`, user data) still go through
//! serde_json.
//!
//! The writer never fails; [`Out::check`] tells when the buffer passed its limit, and the
//! document writers check it between spans and metadata values; strings and values that would
//! not fit are left out, so the buffer never grows more than a few hundred bytes past its limit.

use std::io;

/// A document being written: the buffer and the size it may not pass.
pub(crate) struct Out<'b> {
    buf: &'b mut Vec<u8>,
    max: usize,
    /// A string or value was left out because it would not fit.
    over: bool,
}

/// The document passed [`Out`]'s limit; writing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

impl<'b> Out<'b> {
    /// Appends to `buf`, which may grow to `max` bytes (checked with [`Out::check`]).
    pub(crate) fn new(buf: &'b mut Vec<u8>, max: usize) -> Self {
        Self {
            buf,
            max,
            over: false,
        }
    }

    /// `Err(TooLarge)` once the buffer is longer than the limit, or something was left out
    /// because it would not have fit.
    #[inline]
    pub(crate) fn check(&self) -> Result<(), TooLarge> {
        if self.over || self.buf.len() > self.max {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    /// Appends JSON text as is (keys with their quotes and colon, punctuation).
    #[inline]
    pub(crate) fn raw(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// A JSON string: quoted, with `"`, `\` and control characters escaped. A string that
    /// cannot fit is left out (and [`Out::check`] fails), so the buffer stays near its limit.
    #[inline(never)]
    pub(crate) fn string(&mut self, s: &str) {
        if self.buf.len() + s.len() > self.max {
            self.over = true;
            return;
        }
        self.byte(b'"');
        if !needs_escape(s.as_bytes()) {
            self.buf.extend_from_slice(s.as_bytes());
        } else {
            self.escaped(s.as_bytes());
        }
        self.byte(b'"');
    }

    fn escaped(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => b"",
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            if short.is_empty() {
                let hex = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ];
                self.buf.extend_from_slice(&hex);
            } else {
                self.buf.extend_from_slice(short);
            }
        }
        self.buf.extend_from_slice(&bytes[start..]);
    }

    /// ASCII digits (ids), quoted; the caller guarantees they need no escaping.
    #[inline]
    pub(crate) fn ascii_string(&mut self, digits: &[u8]) {
        self.byte(b'"');
        self.buf.extend_from_slice(digits);
        self.byte(b'"');
    }

    /// `true` / `false`.
    pub(crate) fn bool(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }

    /// An unsigned integer.
    #[inline(never)]
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// A signed integer.
    pub(crate) fn i64(&mut self, v: i64) {
        if v < 0 {
            self.byte(b'-');
        }
        self.u64(v.unsigned_abs());
    }

    /// A float as serde_json writes it (`null` when not finite).
    pub(crate) fn f64(&mut self, v: f64) {
        self.value(&v);
    }

    /// Epoch seconds with six decimals (microseconds), e.g. `1700000000.123456`; a time that is
    /// negative or not finite is written as `0`.
    pub(crate) fn seconds(&mut self, secs: f64) {
        let micros = (secs * 1e6).round();
        if !(micros.is_finite() && micros >= 0.0 && micros < u64::MAX as f64) {
            self.byte(b'0');
            return;
        }
        let micros = micros as u64;
        // One integer print, the point put before the last six digits (times before 1970-01-12
        // have fewer than seven digits: pad them).
        let mut itoa = itoa::Buffer::new();
        let digits = itoa.format(micros).as_bytes();
        if let Ok(digits) = <&[u8; 16]>::try_from(digits) {
            // 2001 to 2286: one copy of a fixed size.
            let mut text = [b'.'; 17];
            text[..10].copy_from_slice(&digits[..10]);
            text[11..].copy_from_slice(&digits[10..]);
            self.buf.extend_from_slice(&text);
            return;
        }
        let mut padded = *b"0000000";
        let digits = match digits.len() {
            n if n >= 7 => digits,
            n => {
                padded[7 - n..].copy_from_slice(digits);
                &padded[..]
            }
        };
        let (int, frac) = digits.split_at(digits.len() - 6);
        self.buf.extend_from_slice(int);
        self.byte(b'.');
        self.buf.extend_from_slice(frac);
    }

    /// Any serde value (user metadata), through serde_json, written up to the limit; a value
    /// that does not fit sets the flag [`Out::check`] reports.
    pub(crate) fn value<T: serde::Serialize + ?Sized>(&mut self, v: &T) {
        let mark = self.buf.len();
        let limit = Limit {
            buf: &mut *self.buf,
            max: self.max,
            counted: None,
        };
        match serde_json::to_writer(limit, v) {
            Ok(()) => {}
            Err(e) if e.is_io() => self.over = true,
            // A value that fails to serialize (a custom type with non-string map keys).
            Err(_) => {
                self.buf.truncate(mark);
                self.raw("null");
            }
        }
    }
}

/// `value` as compact JSON text (what its `Display` writes), through the same serde_json writer
/// as [`Out::value`]: one copy of serde_json's `Value` serializer in the binary, not one per
/// writer type (issue 6, binary size).
pub(crate) fn value_text(value: &serde_json::Value) -> String {
    let mut buf = Vec::new();
    let limit = Limit {
        buf: &mut buf,
        max: usize::MAX,
        counted: None,
    };
    // A `Value` always serializes (its map keys are strings), and always as UTF-8.
    let _ = serde_json::to_writer(limit, value);
    String::from_utf8(buf).unwrap_or_default()
}

/// A `Vec` writer that refuses to grow past `max` bytes: it fills up to `max` (so a cut-off
/// preview of a metadata value can be taken from it), then fails. With `counted`, it only
/// counts: [`json_len_within`]. (One writer type for every use: serde_json's serializer of a
/// `Value` is in the binary once per writer type; issue 6, binary size.)
pub(crate) struct Limit<'b> {
    pub(crate) buf: &'b mut Vec<u8>,
    pub(crate) max: usize,
    /// `Some(n)`: the bytes are counted in `n`, not kept (`buf` is left as it is).
    pub(crate) counted: Option<usize>,
}

impl Limit<'_> {
    fn too_large() -> io::Error {
        io::Error::new(io::ErrorKind::OutOfMemory, "document too large")
    }
}

impl io::Write for Limit<'_> {
    #[inline]
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.counted.is_none() && self.buf.len() + data.len() <= self.max {
            self.buf.extend_from_slice(data);
            return Ok(());
        }
        let n = self.write(data)?;
        if n == data.len() {
            return Ok(());
        }
        self.write_all(&data[n..])
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(n) = &mut self.counted {
            *n += data.len();
            return if *n > self.max {
                Err(Self::too_large())
            } else {
                Ok(data.len())
            };
        }
        let room = self.max.saturating_sub(self.buf.len());
        if room == 0 && !data.is_empty() {
            return Err(Self::too_large());
        }
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The length of `value` serialized as JSON, or `None` when that is over `max` bytes (counted
/// without writing anything, and without serializing more than `max + 1` bytes).
pub(crate) fn json_len_within(value: &serde_json::Value, max: usize) -> Option<usize> {
    use serde::Serialize;
    let mut nowhere = Vec::new();
    let count = Limit {
        buf: &mut nowhere,
        max,
        counted: Some(0),
    };
    // What `serde_json::to_writer` does, keeping the writer to read the count from.
    let mut serializer = serde_json::Serializer::new(count);
    value.serialize(&mut serializer).ok()?;
    serializer.into_inner().counted
}

/// A JSON object being written: commas between members.
pub(crate) struct Object {
    empty: bool,
}

impl Object {
    /// Writes `{`.
    pub(crate) fn begin(out: &mut Out<'_>) -> Self {
        out.byte(b'{');
        Self { empty: true }
    }

    /// An object whose `{` and first member are already written: every key gets its comma.
    pub(crate) fn continued() -> Self {
        Self { empty: false }
    }

    /// Writes the separator and `"key":` for a key that needs no escaping (the document's own
    /// field names).
    #[inline]
    pub(crate) fn key(&mut self, out: &mut Out<'_>, key: &str) {
        if !std::mem::take(&mut self.empty) {
            out.byte(b',');
        }
        out.byte(b'"');
        out.raw(key);
        out.raw("\":");
    }

    /// Writes the separator and a key from data (escaped).
    pub(crate) fn data_key(&mut self, out: &mut Out<'_>, key: &str) {
        if !std::mem::take(&mut self.empty) {
            out.byte(b',');
        }
        out.string(key);
        out.byte(b':');
    }

    /// Writes `}`.
    pub(crate) fn end(self, out: &mut Out<'_>) {
        out.byte(b'}');
    }
}

/// A JSON array being written: commas between elements.
pub(crate) struct Array {
    empty: bool,
}

impl Array {
    /// Writes `[`.
    pub(crate) fn begin(out: &mut Out<'_>) -> Self {
        out.byte(b'[');
        Self { empty: true }
    }

    /// Writes the separator before an element.
    pub(crate) fn next(&mut self, out: &mut Out<'_>) {
        if !std::mem::take(&mut self.empty) {
            out.byte(b',');
        }
    }

    /// Writes `]`.
    pub(crate) fn end(self, out: &mut Out<'_>) {
        out.byte(b']');
    }
}

/// `true` when `bytes` hold a byte JSON strings must escape (`"`, `\\`, a control character).
///
/// Most strings need no escaping at all, and most are short (names, ids, header values), so no
/// byte is looked at alone unless the string has fewer than 4: 16-byte blocks (which the compiler
/// turns into vector compares) with the last block overlapping the one before, and shorter
/// strings as one or two overlapping 8-byte words checked with integer arithmetic.
fn needs_escape(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n >= 16 {
        let special = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
        let block_has = |block: &[u8]| block.iter().fold(false, |hit, &b| hit | special(b));
        return bytes.chunks_exact(16).any(block_has) || block_has(&bytes[n - 16..]);
    }
    if n >= 8 {
        let first = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
        let last = u64::from_le_bytes(bytes[n - 8..].try_into().unwrap_or_default());
        return word_needs_escape(first) || word_needs_escape(last);
    }
    let word = if n >= 4 {
        let first = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default());
        let last = u32::from_le_bytes(bytes[n - 4..].try_into().unwrap_or_default());
        u64::from(first) | u64::from(last) << 32
    } else {
        // Up to 3 bytes, padded with a byte that needs no escaping.
        let mut padded = [b'a'; 8];
        padded[..n].copy_from_slice(bytes);
        u64::from_le_bytes(padded)
    };
    word_needs_escape(word)
}

/// `true` when one of the 8 bytes of `w` is below `0x20`, `"` or `\\` (exact: the classic
/// "has a byte less than n" / "has a zero byte" tests, which never report a byte that is not).
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let control = below(w, 0x20);
    let quote = below(w ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(w ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(f: impl FnOnce(&mut Out<'_>)) -> String {
        let mut buf = Vec::new();
        f(&mut Out::new(&mut buf, usize::MAX));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn numbers_and_times() {
        assert_eq!(written(|o| o.u64(0)), "0");
        assert_eq!(written(|o| o.u64(u64::MAX)), u64::MAX.to_string());
        assert_eq!(written(|o| o.i64(i64::MIN)), i64::MIN.to_string());
        assert_eq!(written(|o| o.i64(-7)), "-7");
        assert_eq!(written(|o| o.seconds(1.5)), "1.500000");
        assert_eq!(
            written(|o| o.seconds(1_763_795_622.000_042)),
            "1763795622.000042"
        );
        assert_eq!(written(|o| o.seconds(f64::NAN)), "0");
        assert_eq!(written(|o| o.seconds(-1.0)), "0");
        assert_eq!(written(|o| o.f64(f64::INFINITY)), "null");
        assert_eq!(written(|o| o.f64(2.5)), "2.5");
    }

    #[test]
    fn objects_and_arrays() {
        let text = written(|o| {
            let mut obj = Object::begin(o);
            obj.key(o, "a");
            o.bool(true);
            obj.data_key(o, "b\"c");
            let mut arr = Array::begin(o);
            for i in 0..3 {
                arr.next(o);
                o.u64(i);
            }
            arr.end(o);
            obj.end(o);
        });
        assert_eq!(text, r#"{"a":true,"b\"c":[0,1,2]}"#);
    }

    #[test]
    fn limit_is_reported() {
        let mut buf = Vec::new();
        let mut out = Out::new(&mut buf, 4);
        out.raw("abcd");
        assert_eq!(out.check(), Ok(()));
        out.raw("e");
        assert_eq!(out.check(), Err(TooLarge));
        let mut buf = Vec::new();
        let mut out = Out::new(&mut buf, 8);
        out.string("far too long for the limit");
        out.value(&serde_json::json!({"also": "too long for it"}));
        assert_eq!(out.check(), Err(TooLarge));
        assert!(buf.len() <= 8, "{buf:?}");
    }

    proptest! {
        #[test]
        fn needs_escape_is_exact(s in "[a-c\"\\\\\u{0}-\u{1f}\u{7f}-\u{a0}é]{0,40}") {
            let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
            prop_assert_eq!(needs_escape(s.as_bytes()), s.bytes().any(special));
        }

        #[test]
        fn needs_escape_of_clean_text_with_one_special_byte(
            len in 0usize..40, at in 0usize..40, special in proptest::sample::select(vec![0u8, 0x1f, b'"', b'\\'])
        ) {
            let mut bytes = vec![b'x'; len];
            if at < len {
                bytes[at] = special;
            }
            prop_assert_eq!(needs_escape(&bytes), at < len);
        }

        #[test]
        fn strings_match_serde_json(s in any::<String>()) {
            let ours = written(|o| o.string(&s));
            prop_assert_eq!(&ours, &serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn seconds_round_trip_to_the_microsecond(micros in 0u64..4_000_000_000_000_000) {
            let secs = micros as f64 / 1e6;
            let text = written(|o| o.seconds(secs));
            let back: f64 = text.parse().unwrap();
            prop_assert!((back - secs).abs() < 1e-6, "{} vs {}", text, secs);
        }
    }
}
