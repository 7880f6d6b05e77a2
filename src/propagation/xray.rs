//! AWS X-Ray: `X-Amzn-Trace-Id: Root=1-…;Parent=<16 hex>;Sampled=0|1|?` plus extra keys.

use std::fmt;
use std::str::FromStr;

use super::{Extractor, Injector, MAX_HEADER_LEN, Propagator, ok_or_log};
use crate::context::{Sampling, SpanId, TraceContext, TraceId};
use crate::error::ParseError;

const HEADER: &str = "x-amzn-trace-id";

/// Longest extra `key=value` pair kept (`Lineage`, `Self`, unknown keys), in bytes; a longer one
/// is dropped, the rest of the header kept.
pub const MAX_XRAY_EXTRA_PAIR_LEN: usize = 256;

/// Most extra pairs kept from one header; later ones are dropped. With
/// [`MAX_XRAY_EXTRA_PAIR_LEN`] this keeps a re-injected header well under the 8,192 characters
/// AWS APIs accept for `X-Amzn-Trace-Id` (Lambda API `TraceHeader.XAmznTraceId`: "Maximum length
/// of 8192").
pub const MAX_XRAY_EXTRA_PAIRS: usize = 16;

/// One parsed `X-Amzn-Trace-Id` value. [`FromStr`] and [`Display`](fmt::Display) are the pure
/// parse and format; [`XrayPropagator`] is a thin wrapper around them.
///
/// Parsing splits pairs on `;` and each pair on its first `=`, trims whitespace, compares keys
/// case-insensitively and tolerates empty pairs (a trailing `;`). Pairs without `=` are skipped,
/// as the AWS SDKs do. `Root` is required; `Parent` is optional (ALB and API Gateway send none)
/// but must be 16 lowercase hex digits when present; `Sampled` is `1`, `0` or `?`, and missing
/// means [`Sampling::Deferred`]. A repeated `Root`, `Parent` or `Sampled` is invalid. Every other
/// key (`Lineage`, `Self`, unknown ones) is kept in order in [`extra`](Self::extra), at most
/// [`MAX_XRAY_EXTRA_PAIRS`] of them, each at most [`MAX_XRAY_EXTRA_PAIR_LEN`] bytes: a longer
/// pair is dropped, not the header.
///
/// At most [`MAX_HEADER_LEN`] bytes are read: a longer value is cut after its last `;` within
/// them, so the pairs past the limit are dropped and the ones before it stand (AWS documents no
/// limit per field, and its APIs take headers of up to 8,192 characters; a header a little over
/// that with an unknown long field keeps its `Root`, `Parent` and `Sampled`). A value over the
/// limit without a `;` in it is [`ParseError::TooLong`].
///
/// ```
/// use lambda_trace::propagation::XrayHeader;
/// use lambda_trace::Sampling;
///
/// let h: XrayHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1"
///     .parse()
///     .unwrap();
/// assert_eq!(h.trace_id.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(h.parent, None);
/// assert_eq!(h.sampling, Sampling::Sampled);
/// assert_eq!(
///     h.to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct XrayHeader {
    /// `Root`: the trace id.
    pub trace_id: TraceId,
    /// `Parent`: the caller's segment (span) id, when sent.
    pub parent: Option<SpanId>,
    /// `Sampled`: `1`, `0`, or `?` / absent ([`Sampling::Deferred`]).
    pub sampling: Sampling,
    /// Every other `key=value` pair, in order, with the key as received.
    pub extra: Vec<(String, String)>,
}

impl XrayHeader {
    /// A header with no extra keys.
    pub fn new(trace_id: TraceId, parent: Option<SpanId>, sampling: Sampling) -> Self {
        Self {
            trace_id,
            parent,
            sampling,
            extra: Vec::new(),
        }
    }
}

impl FromStr for XrayHeader {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let s = cut(s)?;
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        let mut extra = Vec::new();
        // Byte scans rather than `split`/`split_once`: this runs on every invocation (Lambda's
        // own header and the event's), for a handful of short pairs.
        let mut rest = s;
        while !rest.is_empty() {
            let (pair, tail) = split_once_byte(rest, b';').unwrap_or((rest, ""));
            rest = tail;
            let Some((key, value)) = split_once_byte(pair, b'=') else {
                continue;
            };
            let (key, value) = (key.trim_ascii(), value.trim_ascii());
            if key.eq_ignore_ascii_case("root") {
                let id = TraceId::from_xray(value)?;
                set_once(&mut root, id)?;
            } else if key.eq_ignore_ascii_case("parent") {
                let id = value.parse::<SpanId>()?;
                set_once(&mut parent, id)?;
            } else if key.eq_ignore_ascii_case("sampled") {
                let decision = match value {
                    "1" => Sampling::Sampled,
                    "0" => Sampling::NotSampled,
                    "?" => Sampling::Deferred,
                    _ => return Err(ParseError::InvalidSampling),
                };
                set_once(&mut sampled, decision)?;
            } else if !key.is_empty()
                && key.len() + 1 + value.len() <= MAX_XRAY_EXTRA_PAIR_LEN
                && extra.len() < MAX_XRAY_EXTRA_PAIRS
            {
                extra.push((key.to_string(), value.to_string()));
            }
        }
        Ok(Self {
            trace_id: root.ok_or(ParseError::Malformed)?,
            parent,
            sampling: sampled.unwrap_or(Sampling::Deferred),
            extra,
        })
    }
}

/// `s`, or its first [`MAX_HEADER_LEN`] bytes up to (not including) the last `;` in them.
fn cut(s: &str) -> Result<&str, ParseError> {
    if s.len() <= MAX_HEADER_LEN {
        return Ok(s);
    }
    let end = s.as_bytes()[..MAX_HEADER_LEN]
        .iter()
        .rposition(|&b| b == b';')
        .ok_or(ParseError::TooLong)?;
    // `;` is ASCII: `end` is a char boundary.
    Ok(&s[..end])
}

/// `s` split at its first `sep` (ASCII, so both sides are on char boundaries), or `None`
/// without one.
fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    s.bytes()
        .position(|b| b == sep)
        .map(|i| (&s[..i], &s[i + 1..]))
}

/// Stores `value` in `slot`; a second value for the same key makes the header ambiguous.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), ParseError> {
    if slot.replace(value).is_some() {
        return Err(ParseError::Malformed);
    }
    Ok(())
}

/// `Root=…[;Parent=…];Sampled=1|0|?` followed by the extra keys in order.
impl fmt::Display for XrayHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.trace_id.to_xray())?;
        if let Some(parent) = self.parent {
            write!(f, ";Parent={parent}")?;
        }
        let sampled = match self.sampling {
            Sampling::Sampled => "1",
            Sampling::NotSampled => "0",
            _ => "?",
        };
        write!(f, ";Sampled={sampled}")?;
        for (key, value) in &self.extra {
            write!(f, ";{key}={value}")?;
        }
        Ok(())
    }
}

/// What [`XrayPropagator`] makes of a header whose decision is deferred: no `Sampled` key, or
/// `Sampled=?`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissingSampledBehavior {
    /// Keep [`Sampling::Deferred`]: our own sampler decides, as X-Ray intends (the default).
    #[default]
    Deferred,
    /// Treat it as [`Sampling::Sampled`]: record every such request, e.g. behind a proxy known to
    /// strip the flag from requests it wants traced.
    Sampled,
    /// Treat it as [`Sampling::NotSampled`]: only record requests whose caller said `Sampled=1`.
    NotSampled,
}

/// AWS X-Ray `X-Amzn-Trace-Id` (see [`XrayHeader`] for the parsing rules).
///
/// Extract keeps `Lineage`, `Self` and unknown keys in [`TraceContext::xray_extra`]. Inject writes
/// `Root=…;Parent=<span>;Sampled=1|0|?` (no `Parent` when `cx.span_id` is `None`), then the extra
/// keys except `Self`: that key names the load balancer's own segment and is set by ALB, so passing
/// it on would mislabel the next hop. A repeated header with different values is invalid.
#[derive(Debug, Default, Clone)]
pub struct XrayPropagator {
    missing_sampled: MissingSampledBehavior,
}

impl XrayPropagator {
    /// The default propagator: a missing or `?` decision stays [`Sampling::Deferred`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The same propagator, mapping a missing or `?` `Sampled` to `behavior`.
    pub fn with_missing_sampled_behavior(mut self, behavior: MissingSampledBehavior) -> Self {
        self.missing_sampled = behavior;
        self
    }

    /// How a missing or `?` `Sampled` is read.
    pub fn missing_sampled_behavior(&self) -> MissingSampledBehavior {
        self.missing_sampled
    }

    fn parse(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        // Like `single_value`, with long values cut rather than rejected.
        let mut found: Option<&str> = None;
        for value in headers.get_all(HEADER) {
            let value = cut(value)?.trim();
            match found {
                None => found = Some(value),
                Some(prev) if prev == value => {}
                Some(_) => return Err(ParseError::Conflicting),
            }
        }
        found.map(|value| self.parse_value(value)).transpose()
    }

    /// The context of one `X-Amzn-Trace-Id` value (Lambda's own header, which comes alone),
    /// with the same rules as [`extract`](Propagator::extract): at most
    /// [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN) bytes read, trimmed; `None` (logged) when
    /// invalid.
    pub(crate) fn extract_value(&self, value: &str) -> Option<TraceContext> {
        let parsed = cut(value).and_then(|v| self.parse_value(v.trim()).map(Some));
        ok_or_log("xray", parsed)
    }

    fn parse_value(&self, value: &str) -> Result<TraceContext, ParseError> {
        let header: XrayHeader = value.parse()?;
        let sampling = match (header.sampling, self.missing_sampled) {
            (Sampling::Deferred, MissingSampledBehavior::Sampled) => Sampling::Sampled,
            (Sampling::Deferred, MissingSampledBehavior::NotSampled) => Sampling::NotSampled,
            (decision, _) => decision,
        };
        let mut cx = TraceContext::new(header.trace_id, header.parent, sampling);
        cx.xray_extra = header.extra;
        Ok(cx)
    }
}

impl Propagator for XrayPropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        ok_or_log("xray", self.parse(headers))
    }

    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        self.parse(headers)
    }

    fn name(&self) -> &'static str {
        "xray"
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        let mut header = XrayHeader::new(cx.trace_id, cx.span_id, cx.sampling);
        header.extra = cx
            .xray_extra
            .iter()
            .filter(|(key, _)| !key.eq_ignore_ascii_case("self"))
            .cloned()
            .collect();
        headers.set(HEADER, header.to_string());
    }

    fn fields(&self) -> &'static [&'static str] {
        &[HEADER]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::testing::pairs;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const SPAN: &str = "53995c3f42cd8ad8";
    const ROOT_HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

    fn extract(value: &str) -> Option<TraceContext> {
        XrayPropagator::default().extract(&pairs(&[(HEADER, value)]))
    }

    /// (header, parent, sampling, extra keys, reason)
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn extract_data() -> Vec<(&'static str, Option<&'static str>, Sampling, Vec<(&'static str, &'static str)>, &'static str)> { vec![
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", Some(SPAN), Sampling::Sampled, vec![], "full header, sampled"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", Some(SPAN), Sampling::NotSampled, vec![], "not sampled"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", Some(SPAN), Sampling::Deferred, vec![], "Sampled=? is deferred"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", Some(SPAN), Sampling::Deferred, vec![], "missing Sampled is deferred"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793", None, Sampling::Deferred, vec![], "Root only (API Gateway)"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", None, Sampling::Sampled, vec![], "Root without Parent"),
        ("Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793", None, Sampling::Deferred, vec![("Self", "1-67891234-12456789abcdef012345678")], "ALB: Self before Root"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5", Some(SPAN), Sampling::Sampled, vec![("Lineage", "a87bd80c:1|68fd508a:5")], "Lineage kept"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Foo=bar;Sampled=1;baz=", None, Sampling::Sampled, vec![("Foo", "bar"), ("baz", "")], "unknown keys kept in order"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Foo=a=b", None, Sampling::Deferred, vec![("Foo", "a=b")], "value split on the first ="),
        (" root = 1-5759e988-bd862e3fe1be46a994272793 ; PARENT=53995c3f42cd8ad8 ;sampled=1 ", Some(SPAN), Sampling::Sampled, vec![], "keys case-insensitive, whitespace trimmed"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;", Some(SPAN), Sampling::Sampled, vec![], "trailing ;"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;;Sampled=1", None, Sampling::Sampled, vec![], "empty pair"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;junk;Sampled=0", None, Sampling::NotSampled, vec![], "pair without = skipped"),
    ]}

    #[rustfmt::skip]
    fn extract_data_invalid() -> Vec<(&'static str, &'static str)> { vec![
        ("", "empty"),
        ("Parent=53995c3f42cd8ad8;Sampled=1", "missing Root"),
        ("Root=;Parent=53995c3f42cd8ad8", "empty Root"),
        ("Root=5759e988bd862e3fe1be46a994272793", "Root in W3C form"),
        ("Root=1-5759E988-bd862e3fe1be46a994272793", "uppercase Root"),
        ("Root=1-00000000-000000000000000000000000", "all-zero Root"),
        ("Root=2-5759e988-bd862e3fe1be46a994272793", "Root version 2"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=garbage", "garbage Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=", "empty Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad", "15-digit Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995C3F42CD8AD8", "uppercase Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000", "zero Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2", "unknown Sampled"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=", "empty Sampled"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Sampled=0", "repeated Sampled"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272794", "repeated Root"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Parent=53995c3f42cd8ad9", "repeated Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a99427279é", "non-ASCII in Root"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793 Parent=53995c3f42cd8ad8", "missing ;"),
    ]}

    #[test]
    fn extracts_valid_headers() {
        for (value, parent, sampling, extra, reason) in extract_data() {
            let cx = extract(value).unwrap_or_else(|| panic!("{reason}: rejected"));
            assert_eq!(cx.trace_id.to_xray(), ROOT, "{reason}");
            assert_eq!(
                cx.span_id.map(|s| s.to_string()).as_deref(),
                parent,
                "{reason}"
            );
            assert_eq!(cx.sampling, sampling, "{reason}");
            let extra: Vec<(String, String)> = extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(cx.xray_extra, extra, "{reason}");
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        for (value, reason) in extract_data_invalid() {
            assert_eq!(extract(value), None, "{reason}");
            assert!(value.parse::<XrayHeader>().is_err(), "{reason}");
        }
    }

    /// Lambda's own header is read without a carrier: same answers as through one.
    #[test]
    fn extract_value_answers_as_extract() {
        let long = format!(
            "{} ",
            "Root=1-5759e988-bd862e3fe1be46a994272793;".repeat(200)
        );
        let values = extract_data()
            .into_iter()
            .map(|(value, ..)| value.to_owned())
            .chain(
                extract_data_invalid()
                    .into_iter()
                    .map(|(v, _)| v.to_owned()),
            )
            .chain([format!("  {ROOT_HEADER}\t"), long]);
        let p = XrayPropagator::default();
        for value in values {
            assert_eq!(p.extract_value(&value), extract(&value), "{value:?}");
        }
    }

    #[test]
    fn missing_sampled_behavior_applies_to_missing_and_deferred() {
        for (behavior, expected) in [
            (MissingSampledBehavior::Deferred, Sampling::Deferred),
            (MissingSampledBehavior::Sampled, Sampling::Sampled),
            (MissingSampledBehavior::NotSampled, Sampling::NotSampled),
        ] {
            let p = XrayPropagator::new().with_missing_sampled_behavior(behavior);
            assert_eq!(p.missing_sampled_behavior(), behavior);
            for value in [format!("Root={ROOT}"), format!("Root={ROOT};Sampled=?")] {
                let cx = p.extract(&pairs(&[(HEADER, &value)])).unwrap();
                assert_eq!(cx.sampling, expected, "{behavior:?} {value}");
            }
            let cx = p
                .extract(&pairs(&[(HEADER, &format!("Root={ROOT};Sampled=0"))]))
                .unwrap();
            assert_eq!(cx.sampling, Sampling::NotSampled, "explicit decision kept");
        }
    }

    #[test]
    fn repeated_headers_must_agree() {
        let a = format!("Root={ROOT};Sampled=1");
        let b = format!("Root={ROOT};Sampled=0");
        let p = XrayPropagator::default();
        assert!(
            p.extract(&pairs(&[(HEADER, &a), ("X-Amzn-Trace-Id", &a)]))
                .is_some()
        );
        assert_eq!(p.extract(&pairs(&[(HEADER, &a), (HEADER, &b)])), None);
    }

    #[test]
    fn an_over_long_field_is_dropped_not_the_header() {
        // A little over 8 KiB: the long unknown field is cut off, Root/Parent/Sampled stand.
        let value = format!(
            "Root={ROOT};Parent={SPAN};Sampled=1;Foo={}",
            "x".repeat(MAX_HEADER_LEN)
        );
        let cx = extract(&value).expect("the header stands");
        assert_eq!(cx.sampling, Sampling::Sampled);
        assert!(cx.xray_extra.is_empty());
        // Under the read limit, a pair over MAX_XRAY_EXTRA_PAIR_LEN is dropped alone.
        let value = format!("Root={ROOT};Long={};Lineage=a87bd80c:1", "x".repeat(300));
        let h: XrayHeader = value.parse().unwrap();
        assert_eq!(
            h.extra,
            vec![("Lineage".to_string(), "a87bd80c:1".to_string())]
        );
        // No `;` within the read limit: nothing to keep.
        let value = format!("Root={ROOT}{}", "x".repeat(MAX_HEADER_LEN));
        assert_eq!(value.parse::<XrayHeader>(), Err(ParseError::TooLong));
        assert_eq!(extract(&value), None);
    }

    #[test]
    fn inject_extract_round_trip_drops_self() {
        let value = format!(
            "Root={ROOT};Parent={SPAN};Sampled=1;Self=1-67891234-12456789abcdef012345678;Lineage=a87bd80c:1;Foo=bar"
        );
        let cx = extract(&value).unwrap();
        let mut out = pairs(&[]);
        XrayPropagator::default().inject(&cx, &mut out);
        assert_eq!(
            out.value(HEADER),
            Some(
                format!("Root={ROOT};Parent={SPAN};Sampled=1;Lineage=a87bd80c:1;Foo=bar").as_str()
            )
        );
        let back = XrayPropagator::default().extract(&out).unwrap();
        assert_eq!(back.trace_id, cx.trace_id);
        assert_eq!(back.span_id, cx.span_id);
        assert_eq!(back.sampling, cx.sampling);
        assert_eq!(back.xray_extra.len(), 2);
    }

    #[test]
    fn inject_without_span_omits_parent() {
        let trace_id = TraceId::from_xray(ROOT).unwrap();
        for (sampling, flag) in [
            (Sampling::Sampled, "1"),
            (Sampling::NotSampled, "0"),
            (Sampling::Deferred, "?"),
        ] {
            let mut out = pairs(&[]);
            XrayPropagator::default()
                .inject(&TraceContext::new(trace_id, None, sampling), &mut out);
            assert_eq!(
                out.value(HEADER),
                Some(format!("Root={ROOT};Sampled={flag}").as_str())
            );
        }
    }

    #[test]
    fn display_parse_round_trip() {
        let value = format!("Root={ROOT};Parent={SPAN};Sampled=0;Lineage=a87bd80c:1");
        let h: XrayHeader = value.parse().unwrap();
        assert_eq!(h.to_string(), value);
        assert_eq!(h.to_string().parse::<XrayHeader>().unwrap(), h);
    }
}
