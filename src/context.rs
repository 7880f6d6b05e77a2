//! Trace identity: [`TraceId`], [`SpanId`], [`Sampling`] and the propagated [`TraceContext`].
//!
//! Ids are plain newtypes that validate in [`FromStr`] and format in [`fmt::Display`]. A
//! [`TraceId`] is 128 bits; it prints as 32 lowercase hex digits (W3C, B3, Jaeger) and converts to
//! and from X-Ray's `1-{8 hex epoch seconds}-{24 hex}` form with [`TraceId::to_xray`] /
//! [`TraceId::from_xray`]. New trace ids put the current epoch seconds in their first 32 bits, so
//! every id this crate generates is valid in both worlds.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ParseError;

/// A 128-bit trace id; never all zeros.
///
/// ```
/// use lambda_trace::TraceId;
///
/// let id: TraceId = "5759e988bd862e3fe1be46a994272793".parse().unwrap();
/// assert_eq!(id.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(TraceId::from_xray("1-5759e988-bd862e3fe1be46a994272793").unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(u128);

impl TraceId {
    /// Builds a trace id from its 128-bit value; `None` for the invalid all-zero id.
    pub const fn from_u128(value: u128) -> Option<Self> {
        if value == 0 { None } else { Some(Self(value)) }
    }

    /// The 128-bit value.
    pub const fn to_u128(self) -> u128 {
        self.0
    }

    /// A new random trace id whose first 32 bits are the current epoch seconds (X-Ray compatible).
    pub fn generate() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as u32;
        let random = fastrand::u128(..) & ((1u128 << 96) - 1);
        // The epoch part alone makes the id non-zero; `| 1` guards a clock set to 1970.
        Self((u128::from(secs) << 96) | random | u128::from(secs == 0))
    }

    /// Parses a W3C/B3/Jaeger hex trace id of 1 to 32 hex digits (lowercase or uppercase is the
    /// caller's rule to enforce), left-padding shorter ids with zeros (64-bit B3 and Jaeger ids).
    pub(crate) fn from_hex_lenient(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > 32 {
            return Err(ParseError::InvalidTraceId);
        }
        let value = parse_hex(s.as_bytes(), false).ok_or(ParseError::InvalidTraceId)?;
        Self::from_u128(value).ok_or(ParseError::InvalidTraceId)
    }

    /// Parses an X-Ray trace id `1-{8 hex}-{24 hex}` (lowercase hex).
    pub fn from_xray(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        if b.len() != 35 || &b[..2] != b"1-" || b[10] != b'-' {
            return Err(ParseError::InvalidTraceId);
        }
        let time = parse_hex(&b[2..10], true).ok_or(ParseError::InvalidTraceId)?;
        let rest = parse_hex(&b[11..], true).ok_or(ParseError::InvalidTraceId)?;
        Self::from_u128((time << 96) | rest).ok_or(ParseError::InvalidTraceId)
    }

    /// Formats the id as an X-Ray trace id: `1-{first 8 hex}-{last 24 hex}`.
    pub fn to_xray(self) -> String {
        let mut s = String::with_capacity(35);
        self.write_xray(&mut s);
        s
    }

    /// Appends the X-Ray form to `out` without allocating a temporary.
    pub fn write_xray(self, out: &mut String) {
        let bytes = self.xray_bytes();
        out.push_str(std::str::from_utf8(&bytes).unwrap_or_default());
    }
}

/// Parses 32 lowercase hex digits (the W3C form).
impl FromStr for TraceId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.len() != 32 {
            return Err(ParseError::InvalidTraceId);
        }
        let value = parse_hex(s.as_bytes(), true).ok_or(ParseError::InvalidTraceId)?;
        Self::from_u128(value).ok_or(ParseError::InvalidTraceId)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = hex_digits::<32>(self.0);
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&digits).unwrap_or_default())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// A 64-bit span id (X-Ray calls it a segment id); never zero.
///
/// ```
/// use lambda_trace::SpanId;
///
/// let id: SpanId = "53995c3f42cd8ad8".parse().unwrap();
/// assert_eq!(id.to_string(), "53995c3f42cd8ad8");
/// assert!("0000000000000000".parse::<SpanId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

impl SpanId {
    /// Builds a span id from its value; `None` for the invalid zero id.
    pub const fn from_u64(value: u64) -> Option<Self> {
        if value == 0 { None } else { Some(Self(value)) }
    }

    /// The 64-bit value.
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// A new random, non-zero span id.
    pub fn generate() -> Self {
        Self(fastrand::u64(1..))
    }

    /// Parses 1 to 16 hex digits, left-padded (Jaeger and 64-bit forms).
    pub(crate) fn from_hex_lenient(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > 16 {
            return Err(ParseError::InvalidSpanId);
        }
        let value = parse_hex(s.as_bytes(), false).ok_or(ParseError::InvalidSpanId)?;
        Self::from_u64(value as u64).ok_or(ParseError::InvalidSpanId)
    }
}

/// Parses exactly 16 lowercase hex digits.
impl FromStr for SpanId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.len() != 16 {
            return Err(ParseError::InvalidSpanId);
        }
        let value = parse_hex(s.as_bytes(), true).ok_or(ParseError::InvalidSpanId)?;
        Self::from_u64(value as u64).ok_or(ParseError::InvalidSpanId)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.hex();
        f.write_str(std::str::from_utf8(&digits).unwrap_or_default())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The caller's sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Sampling {
    /// Record this trace (`Sampled=1`, W3C flag `01`, `b3 …-1`).
    Sampled,
    /// Do not record; still propagate (`Sampled=0`, flag `00`, `b3: 0`).
    NotSampled,
    /// The caller left the decision to us (`Sampled=?`, no flag, B3 without a sampled field).
    #[default]
    Deferred,
}

impl Sampling {
    /// `true` for [`Sampling::Sampled`].
    pub const fn is_sampled(self) -> bool {
        matches!(self, Self::Sampled)
    }
}

/// The 8 W3C trace flags (`traceparent`'s last field), all bits as received.
///
/// Two bits are defined (W3C Trace Context Level 2 §3.2.2.5): `0x01` *sampled* and `0x02`
/// *random trace id* (at least the right-most 7 bytes of the trace id are random). The others are
/// kept as received but never sent: Level 2 §3.2.2.5.3 says vendors MUST set them to zero, which
/// [`TraceFlags::to_wire`] does.
///
/// ```
/// use lambda_trace::context::TraceFlags;
///
/// let flags = TraceFlags::from_u8(0x87);
/// assert!(flags.is_sampled() && flags.is_random());
/// assert_eq!(flags.to_u8(), 0x87); // kept
/// assert_eq!(flags.to_wire(), 0x03); // unknown bits cleared on output
/// assert_eq!(TraceFlags::default().with_sampled(true).to_u8(), 0x01);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// The *sampled* bit (`0x01`).
    pub const SAMPLED: u8 = 0x01;
    /// The Level 2 *random trace id* bit (`0x02`).
    pub const RANDOM: u8 = 0x02;
    /// The bits this crate knows and sends.
    pub const KNOWN: u8 = Self::SAMPLED | Self::RANDOM;

    /// Flags from their byte, all 8 bits kept.
    pub const fn from_u8(bits: u8) -> Self {
        Self(bits)
    }

    /// All 8 bits, as received or set.
    pub const fn to_u8(self) -> u8 {
        self.0
    }

    /// The bits to send: the known ones only (unknown bits are zeroed, W3C Level 2 §3.2.2.5.3).
    pub const fn to_wire(self) -> u8 {
        self.0 & Self::KNOWN
    }

    /// `true` when the *sampled* bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED != 0
    }

    /// `true` when the *random trace id* bit is set.
    pub const fn is_random(self) -> bool {
        self.0 & Self::RANDOM != 0
    }

    /// The same flags with the *sampled* bit set to `sampled`.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            Self(self.0 | Self::SAMPLED)
        } else {
            Self(self.0 & !Self::SAMPLED)
        }
    }

    /// The same flags with the *random trace id* bit set to `random`.
    #[must_use]
    pub const fn with_random(self, random: bool) -> Self {
        if random {
            Self(self.0 | Self::RANDOM)
        } else {
            Self(self.0 & !Self::RANDOM)
        }
    }
}

/// One `key=value` pair of baggage (W3C `baggage`, Jaeger `uberctx-*`, OpenTracing `ot-baggage-*`).
pub type BaggageItem = (String, String);

/// The context a caller propagates: which trace, which span is the parent, and the sampling
/// decision, plus what travels with it (W3C `tracestate`, baggage, X-Ray's extra keys).
///
/// `span_id` is the id of the caller's span (the parent of the span we open). It is `None` when
/// the caller passed a trace id only, as API Gateway and ALB do with `Root=…` and no `Parent`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceContext {
    /// The trace this request belongs to.
    pub trace_id: TraceId,
    /// The caller's span (our parent), if it sent one.
    pub span_id: Option<SpanId>,
    /// The caller's sampling decision.
    pub sampling: Sampling,
    /// B3 debug flag (`X-B3-Flags: 1`, `b3: …-d`): sample and force through.
    pub debug: bool,
    /// The W3C trace flags: as received in `traceparent` (all 8 bits), else the sampled bit of
    /// `sampling` plus, on a trace id this crate generated, the *random* bit. What is sent is
    /// [`TraceContext::trace_flags`], whose sampled bit follows `sampling`.
    pub flags: TraceFlags,
    /// `true` when the caller sent a sampling decision without trace ids (B3 `b3: 0`, `b3: 1`,
    /// `b3: d`, `X-B3-Sampled` or `X-B3-Flags: 1` alone): `trace_id` was generated here,
    /// `span_id` is `None`, and only `sampling` / `debug` are the caller's.
    pub sampling_only: bool,
    /// The W3C `tracestate` value, propagated as received when valid.
    pub trace_state: Option<String>,
    /// Baggage items, in the order received.
    pub baggage: Vec<BaggageItem>,
    /// X-Ray header keys other than `Root`, `Parent` and `Sampled` (`Lineage`, `Self`, unknown
    /// keys), kept in order so re-injection loses nothing.
    pub xray_extra: Vec<(String, String)>,
}

impl TraceContext {
    /// A context for `trace_id` with parent `span_id` and the given sampling decision; its
    /// [`flags`](Self::flags) hold the sampled bit only (the trace id's randomness is unknown).
    ///
    /// ```
    /// use lambda_trace::{Sampling, TraceContext, TraceId};
    ///
    /// let cx = TraceContext::new(TraceId::generate(), None, Sampling::Sampled);
    /// assert_eq!(cx.flags.to_u8(), 0x01);
    /// ```
    pub fn new(trace_id: TraceId, span_id: Option<SpanId>, sampling: Sampling) -> Self {
        Self {
            trace_id,
            span_id,
            sampling,
            debug: false,
            flags: TraceFlags::default().with_sampled(sampling.is_sampled()),
            sampling_only: false,
            trace_state: None,
            baggage: Vec::new(),
            xray_extra: Vec::new(),
        }
    }

    /// A brand-new trace with a generated id, no parent, and the given decision. The id's low
    /// 96 bits are random, so the W3C Level 2 *random* flag is set (§3.2.2.5.2: "when at least
    /// the right-most 7 bytes of the trace-id are randomly generated, the flag SHOULD be set").
    ///
    /// ```
    /// use lambda_trace::{Sampling, TraceContext};
    ///
    /// let cx = TraceContext::new_root(Sampling::NotSampled);
    /// assert!(cx.flags.is_random() && !cx.flags.is_sampled());
    /// ```
    pub fn new_root(sampling: Sampling) -> Self {
        let mut cx = Self::new(TraceId::generate(), None, sampling);
        cx.flags = cx.flags.with_random(true);
        cx
    }

    /// The trace flags to send: [`flags`](Self::flags) with the sampled bit of
    /// [`sampling`](Self::sampling) (the decision may have been made after extraction), unknown
    /// bits still present ([`TraceFlags::to_wire`] clears them).
    ///
    /// ```
    /// use lambda_trace::{Sampling, TraceContext, TraceId};
    /// use lambda_trace::context::TraceFlags;
    ///
    /// let mut cx = TraceContext::new(TraceId::generate(), None, Sampling::Deferred);
    /// cx.flags = TraceFlags::from_u8(0x02);
    /// cx.sampling = Sampling::Sampled;
    /// assert_eq!(cx.trace_flags().to_u8(), 0x03);
    /// ```
    pub fn trace_flags(&self) -> TraceFlags {
        self.flags.with_sampled(self.sampling.is_sampled())
    }

    /// The same trace, pointing at `span_id` as the parent: what to inject into an outgoing call
    /// made from inside span `span_id`.
    pub fn with_span_id(&self, span_id: SpanId) -> Self {
        Self {
            span_id: Some(span_id),
            ..self.clone()
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `value`'s low `N * 4` bits as `N` lowercase hex digits, most significant first.
fn hex_digits<const N: usize>(value: u128) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, digit) in out.iter_mut().enumerate() {
        *digit = HEX_DIGITS[((value >> (4 * (N - 1 - i))) & 0xf) as usize];
    }
    out
}

impl SpanId {
    /// The 16 lowercase hex digits, on the stack (the hot path of document encoding; the same
    /// text as `Display`, without the formatting machinery).
    pub(crate) fn hex(self) -> [u8; 16] {
        hex_digits::<16>(u128::from(self.0))
    }
}

impl TraceId {
    /// The 32 lowercase hex digits, on the stack (the same text as `Display`).
    pub(crate) fn hex(self) -> [u8; 32] {
        hex_digits::<32>(self.0)
    }

    /// The X-Ray form `1-{8 hex}-{24 hex}`, on the stack (see [`SpanId::hex`]).
    pub(crate) fn xray_bytes(self) -> [u8; 35] {
        let mut out = [0u8; 35];
        out[..2].copy_from_slice(b"1-");
        out[2..10].copy_from_slice(&hex_digits::<8>(self.0 >> 96));
        out[10] = b'-';
        out[11..].copy_from_slice(&hex_digits::<24>(self.0));
        out
    }
}

/// The value of at most 32 hex digits (`lower_only`: `a`–`f` only, else either case); `None` for
/// any other byte. One table lookup per digit, into two 64-bit halves: ids are parsed on every
/// invocation.
#[inline(never)]
fn parse_hex(digits: &[u8], lower_only: bool) -> Option<u128> {
    debug_assert!(digits.len() <= 32);
    let table = if lower_only {
        &LOWER_HEX_VALUES
    } else {
        &HEX_VALUES
    };
    let mut bad = 0u8;
    let mut half = |part: &[u8]| {
        let mut value = 0u64;
        for &b in part {
            let nibble = table[usize::from(b)];
            bad |= nibble;
            value = (value << 4) | u64::from(nibble & 0xf);
        }
        value
    };
    let (high, low) = digits.split_at(digits.len().saturating_sub(16));
    let value = u128::from(half(high)) << 64 | u128::from(half(low));
    (bad & INVALID == 0).then_some(value)
}

/// Marks a byte that is not a hex digit in [`HEX_VALUES`].
const INVALID: u8 = 0x80;

/// Byte → hex digit value (`0-9`, `a-f`, `A-F`), or [`INVALID`].
const HEX_VALUES: [u8; 256] = hex_table(true);

/// Byte → hex digit value (`0-9`, `a-f` only), or [`INVALID`].
const LOWER_HEX_VALUES: [u8; 256] = hex_table(false);

const fn hex_table(upper: bool) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        if upper {
            table[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The table decoder agrees with the standard library's parser on any input.
        #[test]
        fn parse_hex_agrees_with_from_str_radix(s in "[0-9a-fA-Fg-z \\-+\u{80}-\u{ff}]{1,32}") {
            let digits = s.as_bytes();
            prop_assume!(digits.len() <= 32);
            let std = s
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u128::from_str_radix(&s, 16).ok())
                .flatten();
            prop_assert_eq!(parse_hex(digits, false), std);
            let lower = std.filter(|_| !s.bytes().any(|b| b.is_ascii_uppercase()));
            prop_assert_eq!(parse_hex(digits, true), lower);
        }
    }

    #[test]
    fn strict_forms_reject_uppercase_lenient_ones_accept_it() {
        assert!(
            "5759E988BD862E3FE1BE46A994272793"
                .parse::<TraceId>()
                .is_err()
        );
        assert!(TraceId::from_xray("1-5759E988-bd862e3fe1be46a994272793").is_err());
        assert!("53995C3F42CD8AD8".parse::<SpanId>().is_err());
        assert_eq!(
            SpanId::from_hex_lenient("53995C3F42CD8AD8")
                .unwrap()
                .to_string(),
            "53995c3f42cd8ad8"
        );
        assert_eq!(
            TraceId::from_hex_lenient("ABC").unwrap().to_string(),
            "00000000000000000000000000000abc"
        );
        assert!(TraceId::from_hex_lenient("+abc").is_err());
    }

    #[test]
    fn trace_id_forms_round_trip() {
        let id: TraceId = "5759e988bd862e3fe1be46a994272793".parse().unwrap();
        assert_eq!(id.to_string(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(id.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(TraceId::from_xray(&id.to_xray()).unwrap(), id);
    }

    #[rustfmt::skip]
    #[test]
    fn invalid_trace_ids() {
        for (s, why) in [
            ("00000000000000000000000000000000", "all zero"),
            ("5759E988BD862E3FE1BE46A994272793", "uppercase"),
            ("5759e988bd862e3fe1be46a99427279", "31 digits"),
            ("5759e988bd862e3fe1be46a9942727933", "33 digits"),
            ("5759e988bd862e3fe1be46a99427279g", "not hex"),
        ] {
            assert!(s.parse::<TraceId>().is_err(), "{why}");
        }
        for (s, why) in [
            ("1-00000000-000000000000000000000000", "all zero"),
            ("2-5759e988-bd862e3fe1be46a994272793", "version 2"),
            ("1-5759e988bd862e3fe1be46a994272793", "no second dash"),
            ("1-5759E988-bd862e3fe1be46a994272793", "uppercase"),
            ("1-5759e988-bd862e3fe1be46a99427279", "short"),
            ("1-+759e988-bd862e3fe1be46a994272793", "sign"),
        ] {
            assert!(TraceId::from_xray(s).is_err(), "{why}");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_time_prefixed() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let id = TraceId::generate();
        let secs = (id.to_u128() >> 96) as u64;
        assert!(secs.abs_diff(now) <= 2);
        assert_eq!(TraceId::from_xray(&id.to_xray()).unwrap(), id);
        assert_ne!(SpanId::generate().to_u64(), 0);
    }

    #[test]
    fn stack_hex_forms_match_display() {
        for _ in 0..1000 {
            let (t, s) = (TraceId::generate(), SpanId::generate());
            assert_eq!(std::str::from_utf8(&t.xray_bytes()).unwrap(), t.to_xray());
            assert_eq!(std::str::from_utf8(&s.hex()).unwrap(), s.to_string());
        }
        let s = SpanId::from_u64(0x0000_0000_0000_00af).unwrap();
        assert_eq!(&s.hex(), b"00000000000000af");
    }

    #[test]
    fn lenient_hex_pads_short_ids() {
        let id = TraceId::from_hex_lenient("463ac35c9f6413ad").unwrap();
        assert_eq!(id.to_string(), "0000000000000000463ac35c9f6413ad");
        assert_eq!(
            SpanId::from_hex_lenient("1").unwrap().to_string(),
            "0000000000000001"
        );
        assert!(SpanId::from_hex_lenient("+1").is_err());
        assert!(TraceId::from_hex_lenient("").is_err());
    }

    proptest::proptest! {
        #[test]
        fn lenient_trace_ids_are_from_str_radix(s in "[0-9a-fA-F+ g-]{0,34}") {
            let want = if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                None
            } else {
                u128::from_str_radix(&s, 16).ok().filter(|&v| v != 0)
            };
            let got = TraceId::from_hex_lenient(&s).ok().map(TraceId::to_u128);
            proptest::prop_assert_eq!(got, want);
        }
    }
}
