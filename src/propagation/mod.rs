//! Reading and writing trace headers.
//!
//! One [`Propagator`] per format, each in its own file with its table of test vectors:
//!
//! | format | headers | type |
//! |---|---|---|
//! | AWS X-Ray | `X-Amzn-Trace-Id` | [`XrayPropagator`] |
//! | W3C Trace Context | `traceparent`, `tracestate` | [`W3cPropagator`] |
//! | W3C Baggage | `baggage` | [`BaggagePropagator`] |
//! | Zipkin B3 single | `b3` | [`B3Propagator::single`] |
//! | Zipkin B3 multi | `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`, `X-B3-Flags` | [`B3Propagator::multi`] |
//! | Jaeger | `uber-trace-id`, `uberctx-*` | [`JaegerPropagator`] |
//! | OpenTracing / Lightstep | `ot-tracer-traceid`, `ot-tracer-spanid`, `ot-tracer-sampled`, `ot-baggage-*` | [`OtPropagator`] |
//!
//! A [`CompositePropagator`] extracts with its propagators **in order, first valid context wins**
//! — where a context naming a parent span beats one with a trace id only (API Gateway and ALB add
//! a `Root=…` X-Ray header to every request, which must not hide the caller's `traceparent`)
//! (unlike OpenTelemetry's composite, where the last one wins), then lets every propagator add the
//! baggage it carries. It injects every format it holds.
//!
//! Carriers are the small [`Extractor`] / [`Injector`] traits; header names passed to them are
//! lowercase and lookups are case-insensitive.
//!
//! # Limits
//!
//! Whatever a request carries, extraction reads and keeps a bounded amount:
//!
//! | what | cap |
//! |---|---|
//! | one header value (the values of a list header added up) | [`MAX_HEADER_LEN`] bytes; longer is treated as invalid |
//! | `tracestate` members | [`MAX_TRACESTATE_MEMBERS`]; more drops the `tracestate` |
//! | `tracestate` length | [`MAX_TRACESTATE_LEN`] characters; longer is truncated by whole entries (W3C Level 2 §3.3.3.1) |
//! | baggage items, all formats together | [`MAX_BAGGAGE_ITEMS`] items, [`MAX_BAGGAGE_BYTES`] bytes |
//! | `uberctx-*` / `ot-baggage-*` headers read | [`MAX_PREFIXED_BAGGAGE_HEADERS`] per format |
//!
//! Every step is linear in the size of the headers (`tests/input_scaling.rs` checks it), and
//! the `fuzz/` targets run every format on arbitrary header maps.
//!
//! ```
//! use lambda_trace::propagation::{CompositePropagator, HeaderExtractor, HeaderInjector, Propagator};
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".parse().unwrap());
//!
//! let propagator = CompositePropagator::default();
//! let cx = propagator.extract(&HeaderExtractor(&headers)).expect("valid X-Ray header");
//! assert_eq!(cx.trace_id.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
//!
//! let mut out = http::HeaderMap::new();
//! propagator.inject(&cx, &mut HeaderInjector(&mut out));
//! assert!(out.contains_key("traceparent"));
//! ```

mod b3;
mod baggage;
pub(crate) use baggage::percent_decode;
mod carrier_impls;
mod composite;
mod jaeger;
mod ot;
#[cfg(test)]
mod proptests;
mod report;
mod tracestate;
mod w3c;
mod xray;

use std::fmt;

use crate::context::TraceContext;
use crate::error::ParseError;

pub use crate::context::TraceFlags;
pub use b3::{B3, B3Encoding, B3Propagator};
pub use baggage::BaggagePropagator;
pub use carrier_impls::{HeaderExtractor, HeaderInjector};
pub use composite::{CompositePropagator, PropagatorKind};
pub use jaeger::JaegerPropagator;
pub use ot::OtPropagator;
pub use report::{ExtractReport, FormatOutcome, FormatReport};
pub use w3c::{TraceParent, W3cPropagator};
pub use xray::{
    MAX_XRAY_EXTRA_PAIR_LEN, MAX_XRAY_EXTRA_PAIRS, MissingSampledBehavior, XrayHeader,
    XrayPropagator,
};

/// Longest header value read, in bytes (8 KiB). Longer values are treated as absent and logged.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// Most baggage items kept from one request (W3C recommends supporting at least 64 and caps a
/// `baggage` header at 180 members).
pub const MAX_BAGGAGE_ITEMS: usize = 64;

/// Most bytes of baggage kept from one request, keys and values (decoded) added up; W3C caps a
/// `baggage` header at 8,192 bytes. Items past it are dropped.
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// Most `tracestate` list-members (W3C Trace Context Level 2 §3.3.2): a `tracestate` with more
/// violates the list grammar and is dropped whole.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Longest `tracestate` kept and sent, in characters: the 512 that W3C Trace Context Level 2
/// §3.3.3.1 says vendors SHOULD propagate at least. A longer one is truncated by whole entries,
/// those over 128 characters first, then from the right (as §3.3.3.1 prescribes): the context
/// is cloned into every outgoing call, and what it carries stays small.
pub const MAX_TRACESTATE_LEN: usize = 512;

/// Most prefixed baggage headers (`uberctx-*`, `ot-baggage-*`) read per format, the first ones
/// in the carrier's order: [`MAX_BAGGAGE_ITEMS`] is the most that can be kept, and twice that
/// leaves room for malformed and repeated ones. Carriers that look a name up by a scan read
/// them in one pass ([`Extractor::for_each_with_prefix`]).
pub const MAX_PREFIXED_BAGGAGE_HEADERS: usize = 2 * MAX_BAGGAGE_ITEMS;

/// Read access to a request's headers.
///
/// `name` is always lowercase; implementations compare case-insensitively.
pub trait Extractor {
    /// The value of header `name`; for a repeated header, the first value.
    fn get(&self, name: &str) -> Option<&str>;

    /// Every value of header `name`, in order (repeated headers, multi-value maps).
    fn get_all(&self, name: &str) -> Vec<&str> {
        self.get(name).into_iter().collect()
    }

    /// Every header name (any case), for formats that use a name prefix (`uberctx-`, `ot-baggage-`).
    fn keys(&self) -> Vec<&str>;

    /// `true` when a header name starts with `prefix` (lowercase; names compare in any case)
    /// and is longer than it. Asked before [`keys`](Extractor::keys), on every extraction, so
    /// carriers that can answer without collecting the names should (the default collects).
    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        self.keys()
            .iter()
            .any(|k| starts_with_ignore_case(k, prefix))
    }

    /// Calls `visit` with each header name that starts with `prefix` (lowercase; names compare
    /// in any case) and is longer than it, as [`keys`](Extractor::keys) lists them, the first
    /// `max` of them, and with that name's values as [`get_all`](Extractor::get_all) returns
    /// them. The prefixed baggage formats (`uberctx-`, `ot-baggage-`) read their items with it.
    ///
    /// The default asks [`has_key_with_prefix`](Extractor::has_key_with_prefix), then
    /// [`keys`](Extractor::keys), then [`get_all`](Extractor::get_all) once per name: carriers
    /// whose lookup is a scan of every header should override it to read the names and values
    /// in one pass, giving the same calls in the same order.
    ///
    /// ```
    /// use lambda_trace::propagation::Extractor;
    /// use lambda_trace::propagation::testing::pairs;
    ///
    /// let headers = pairs(&[("UberCtx-a", "1"), ("x", "y"), ("uberctx-b", "2"), ("uberctx-A", "3")]);
    /// let mut seen = Vec::new();
    /// headers.for_each_with_prefix("uberctx-", 2, &mut |name, values| {
    ///     seen.push((name.to_string(), values.join("|")));
    /// });
    /// assert_eq!(seen, [("UberCtx-a".to_string(), "1|3".to_string()), ("uberctx-b".into(), "2".into())]);
    /// ```
    fn for_each_with_prefix(&self, prefix: &str, max: usize, visit: &mut dyn FnMut(&str, &[&str])) {
        for_each_with_prefix_by_name(self, prefix, max, visit);
    }
}

/// [`Extractor::for_each_with_prefix`] by looking each name up: its default, and what the
/// carriers' one-pass versions are tested against.
pub(crate) fn for_each_with_prefix_by_name<E: Extractor + ?Sized>(
    headers: &E,
    prefix: &str,
    max: usize,
    visit: &mut dyn FnMut(&str, &[&str]),
) {
    if !headers.has_key_with_prefix(prefix) {
        return;
    }
    let keys = headers.keys();
    for name in keys
        .into_iter()
        .filter(|k| starts_with_ignore_case(k, prefix))
        .take(max)
    {
        visit(name, &headers.get_all(name));
    }
}

/// A header name that hashes and compares ASCII-case-insensitively, for grouping header names
/// in one pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caseless<'a>(pub(crate) &'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Caseless<'_> {}

impl std::hash::Hash for Caseless<'_> {
    /// The name lowercased, hashed in chunks (a byte at a time was a fifth of the `jaeger` fuzz
    /// target's time).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(buf.len()) {
            let lower = &mut buf[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            state.write(lower);
        }
        state.write_usize(self.0.len());
    }
}

/// `true` when `name` is longer than `prefix` (lowercase) and starts with it in any case.
pub(crate) fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() > prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// [`Extractor::has_key_with_prefix`] for `HeaderMap`s, whose names are lowercase already.
pub(crate) fn header_map_has_prefix(maps: &[&http::HeaderMap], prefix: &str) -> bool {
    maps.iter()
        .flat_map(|m| m.keys())
        .any(|k| starts_with_ignore_case(k.as_str(), prefix))
}

/// Write access to an outgoing request's headers. `name` is lowercase.
pub trait Injector {
    /// Sets header `name` to `value`, replacing earlier values.
    fn set(&mut self, name: &str, value: String);
}

/// One trace-header format: how a [`TraceContext`] is read from and written to headers.
///
/// `extract` never panics and returns `None` for any invalid or absent header; `inject` writes
/// the format's headers for `cx` (whose `span_id` is the span the callee should use as parent).
pub trait Propagator: Send + Sync + fmt::Debug {
    /// Reads a context, or `None` when the headers carry no valid one in this format.
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext>;

    /// Like [`extract`](Propagator::extract), saying why: `Ok(None)` when this format's headers
    /// are absent, `Err` with the reason when they are present but invalid. Nothing is logged.
    /// The default (for propagators written elsewhere) cannot tell and answers
    /// `Ok(self.extract(headers))`.
    ///
    /// ```
    /// use lambda_trace::ParseError;
    /// use lambda_trace::propagation::testing::pairs;
    /// use lambda_trace::propagation::{Propagator, W3cPropagator};
    ///
    /// let p = W3cPropagator::default();
    /// assert_eq!(p.try_extract(&pairs(&[])), Ok(None));
    /// let bad = pairs(&[("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")]);
    /// assert_eq!(p.try_extract(&bad), Err(ParseError::InvalidTraceId));
    /// ```
    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        Ok(self.extract(headers))
    }

    /// The format's `OTEL_PROPAGATORS` name (`tracecontext`, `xray`, …), for reports and log
    /// lines; `"custom"` unless a propagator says otherwise.
    ///
    /// ```
    /// use lambda_trace::propagation::{Propagator, XrayPropagator};
    ///
    /// assert_eq!(XrayPropagator::default().name(), "xray");
    /// ```
    fn name(&self) -> &'static str {
        "custom"
    }

    /// Adds the baggage this format carries to `cx`. The default does nothing.
    fn extract_baggage(&self, headers: &dyn Extractor, cx: &mut TraceContext) {
        let _ = (headers, cx);
    }

    /// Writes `cx` in this format.
    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector);

    /// The header names this format reads and writes (lowercase).
    fn fields(&self) -> &'static [&'static str];
}

/// The one value of single-valued header `name`: `Ok(None)` when absent, `Err` when repeated with
/// different values or longer than [`MAX_HEADER_LEN`]. Values are trimmed.
pub(crate) fn single_value<'a>(
    headers: &'a dyn Extractor,
    name: &str,
) -> Result<Option<&'a str>, ParseError> {
    single_of(&headers.get_all(name))
}

/// [`single_value`] of a header's values (`get_all`'s answer).
fn single_of<'a>(values: &[&'a str]) -> Result<Option<&'a str>, ParseError> {
    let mut found: Option<&'a str> = None;
    for &value in values {
        if value.len() > MAX_HEADER_LEN {
            return Err(ParseError::TooLong);
        }
        let value = value.trim();
        match found {
            None => found = Some(value),
            Some(prev) if prev == value => {}
            Some(_) => return Err(ParseError::Conflicting),
        }
    }
    Ok(found)
}

/// All values of list-valued header `name` (`tracestate`, `baggage`), joined with `,` as RFC 9110
/// allows. Values over [`MAX_HEADER_LEN`] in total are dropped.
pub(crate) fn list_value(headers: &dyn Extractor, name: &str) -> Option<String> {
    let values = headers.get_all(name);
    let total: usize = values.iter().map(|v| v.len() + 1).sum();
    if values.is_empty() || total > MAX_HEADER_LEN {
        return None;
    }
    let mut joined = String::with_capacity(total);
    for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(v);
    }
    (!joined.is_empty()).then_some(joined)
}

/// The prefixed baggage headers (`prefix` lowercase): for each of the first
/// [`MAX_PREFIXED_BAGGAGE_HEADERS`] names that start with it, in the carrier's order, the name
/// after the prefix and its one value ([`single_value`]'s rules: a name repeated with different
/// values or a value over [`MAX_HEADER_LEN`] is skipped). One pass over the carriers that
/// override [`Extractor::for_each_with_prefix`].
pub(crate) fn for_each_prefixed(
    headers: &dyn Extractor,
    prefix: &'static str,
    mut visit: impl FnMut(&str, &str),
) {
    // A carrier written elsewhere may ignore `max` or hand over other names: neither is taken.
    let mut left = MAX_PREFIXED_BAGGAGE_HEADERS;
    headers.for_each_with_prefix(prefix, MAX_PREFIXED_BAGGAGE_HEADERS, &mut |name, values| {
        if left == 0 || !starts_with_ignore_case(name, prefix) {
            return;
        }
        left -= 1;
        if let Ok(Some(value)) = single_of(values) {
            visit(&name[prefix.len()..], value);
        }
    });
}

/// `extract`'s answer from a format's parse result: `Err` (a header was present but invalid)
/// becomes `None`, with a debug log line naming the format and the reason (never the value).
pub(crate) fn ok_or_log(
    format: &'static str,
    parsed: Result<Option<TraceContext>, ParseError>,
) -> Option<TraceContext> {
    parsed.unwrap_or_else(|error| {
        tracing::debug!(target: "lambda_trace", format, "ignoring invalid trace header: {error}");
        None
    })
}

/// A carrier for tests (feature `testing`): headers as ordered `(name, value)` pairs, repeats
/// allowed, what a test of a propagator (or a fuzz target) needs to hand it any header set.
///
/// ```
/// use lambda_trace::propagation::testing::pairs;
/// use lambda_trace::propagation::{Propagator, W3cPropagator};
///
/// let headers = pairs(&[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]);
/// let cx = W3cPropagator::default().extract(&headers).unwrap();
/// assert_eq!(cx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// ```
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing {
    use std::collections::HashMap;

    use super::{Caseless, Extractor, Injector, starts_with_ignore_case};

    /// Headers as ordered pairs; lookups are case-insensitive, repeats are kept, `set` replaces
    /// every earlier value of the name.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub struct Pairs(pub Vec<(String, String)>);

    /// Builds [`Pairs`] from string slices.
    pub fn pairs(p: &[(&str, &str)]) -> Pairs {
        Pairs(
            p.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    impl Pairs {
        /// The (first) value of `name`, in any case.
        pub fn value(&self, name: &str) -> Option<&str> {
            Extractor::get(self, name)
        }
    }

    impl Extractor for Pairs {
        fn get(&self, name: &str) -> Option<&str> {
            self.get_all(name).into_iter().next()
        }

        fn get_all(&self, name: &str) -> Vec<&str> {
            self.0
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        }

        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_str()).collect()
        }

        /// One pass: the prefixed pairs, then their values grouped by name in any case (a
        /// lookup per name is a scan of every pair).
        fn for_each_with_prefix(
            &self,
            prefix: &str,
            max: usize,
            visit: &mut dyn FnMut(&str, &[&str]),
        ) {
            let named: Vec<(&str, &str)> = self
                .0
                .iter()
                .filter(|(k, _)| starts_with_ignore_case(k, prefix))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut values: HashMap<Caseless<'_>, Vec<&str>> = HashMap::new();
            for &(k, v) in &named {
                values.entry(Caseless(k)).or_default().push(v);
            }
            for &(k, _) in named.iter().take(max) {
                visit(k, &values[&Caseless(k)]);
            }
        }
    }

    impl Injector for Pairs {
        fn set(&mut self, name: &str, value: String) {
            self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            self.0.push((name.to_string(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::{Map, Value, json};

    use super::testing::{Pairs, pairs};
    use super::*;

    type Visits = Vec<(String, Vec<String>)>;

    fn collect(visit: impl FnOnce(&mut dyn FnMut(&str, &[&str]))) -> Visits {
        let mut seen = Vec::new();
        visit(&mut |name, values| {
            seen.push((
                name.to_string(),
                values.iter().map(|v| v.to_string()).collect(),
            ));
        });
        seen
    }

    /// The one-pass answer of `headers` and the name-by-name one, for `prefix` and `max`.
    fn both(headers: &dyn Extractor, prefix: &str, max: usize) -> (Visits, Visits) {
        let one_pass = collect(|v| headers.for_each_with_prefix(prefix, max, v));
        let by_name = collect(|v| for_each_with_prefix_by_name(headers, prefix, max, v));
        (one_pass, by_name)
    }

    /// `p` as a raw JSON event: `headers` (last value wins), `multiValueHeaders` (every value),
    /// either or both; or as an SQS record's message attributes.
    fn json_events(p: &Pairs) -> Vec<Value> {
        let mut single = Map::new();
        let mut multi = Map::new();
        let mut attributes = Map::new();
        for (name, value) in &p.0 {
            single.insert(name.clone(), json!(value));
            let values = multi.entry(name.clone()).or_insert_with(|| json!([]));
            values.as_array_mut().expect("array").push(json!(value));
            attributes.insert(
                name.clone(),
                json!({"stringValue": value, "dataType": "String"}),
            );
        }
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageAttributes": attributes}]});
        // Odd values each reading skips: numbers, arrays without strings.
        let mut odd = multi.clone();
        odd.insert("uberctx-odd".into(), json!([1, {}]));
        odd.insert("UBERCTX-Mixed".into(), json!(["m", 2]));
        vec![
            json!({"headers": single, "multiValueHeaders": multi}),
            json!({"headers": single}),
            json!({"multiValueHeaders": multi}),
            json!({"headers": {"UberCtx-Mixed": "s", "uberctx-odd": "o"}, "multiValueHeaders": odd}),
            sqs,
        ]
    }

    #[test]
    fn prefixed_reads_in_one_pass_agree_with_lookups_by_name() {
        let many: Vec<(String, String)> = (0..200)
            .map(|i| (format!("uberctx-k{i}"), format!("v{i}")))
            .collect();
        let repeated: Vec<(String, String)> = std::iter::repeat_n(("uberctx-same", "x"), 150)
            .chain([("uberctx-after", "y"), ("UBERCTX-SAME", "x")])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // The 200th name repeats the first with another value, past the cap: a conflict.
        let mut conflict_past_cap = many.clone();
        conflict_past_cap.push(("UberCtx-K0".into(), "other".into()));
        let long = "v".repeat(MAX_HEADER_LEN + 1);
        #[rustfmt::skip]
        let table: Vec<Pairs> = vec![
            pairs(&[]),
            pairs(&[("traceparent", "x"), ("uberctx", "no dash"), ("uberctx-", "empty key")]),
            pairs(&[("uberctx-a", "1"), ("uberctx-a", "1"), ("uberctx-b", "2")]),
            pairs(&[("UberCtx-A", "1"), ("uberctx-a", "2"), ("UBERCTX-b", "3"), ("x", "y")]),
            pairs(&[("uberctx-K", "v"), ("Uberctx-k", " v "), ("uberctx-k", "v")]),
            pairs(&[("ot-baggage-a", "1"), ("OT-Baggage-A", "2"), ("uberctx-a", "3"), ("ot-baggage-b", "")]),
            pairs(&[("uberctx-long", &long), ("uberctx-short", "s"), ("uberctx-long", "s")]),
            pairs(&[("uberctx-ä", "x"), ("uberctx-k", "ü"), ("uberctx-k\u{0}", "nul")]),
            Pairs(many),
            Pairs(repeated),
            Pairs(conflict_past_cap),
        ];
        for p in &table {
            let map = {
                let mut map = http::HeaderMap::new();
                for (k, v) in &p.0 {
                    if let (Ok(k), Ok(v)) = (
                        http::HeaderName::from_bytes(k.as_bytes()),
                        http::HeaderValue::from_str(v),
                    ) {
                        map.append(k, v);
                    }
                }
                map
            };
            let hash: HashMap<String, String> = p.0.iter().cloned().collect();
            let mut carriers: Vec<(&str, Box<dyn Extractor + '_>)> = vec![
                ("pairs", Box::new(p.clone())),
                ("HeaderMap", Box::new(HeaderExtractor(&map))),
                ("HashMap", Box::new(hash)),
            ];
            for event in json_events(p) {
                carriers.push(("JSON event", Box::new(event)));
            }
            for (carrier, headers) in &carriers {
                for prefix in ["uberctx-", "ot-baggage-", "u", "x"] {
                    for max in [0, 1, 2, 64, MAX_PREFIXED_BAGGAGE_HEADERS, usize::MAX] {
                        let (one_pass, by_name) = both(headers.as_ref(), prefix, max);
                        assert_eq!(
                            one_pass,
                            by_name,
                            "{carrier}, {prefix}, max {max}: {:?}",
                            &p.0[..p.0.len().min(4)]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn prefixed_baggage_keeps_the_first_names_and_skips_conflicts() {
        let mut many: Vec<(String, String)> = (0..200)
            .map(|i| (format!("uberctx-k{i}"), format!("v{i}")))
            .collect();
        many.push(("UberCtx-K1".into(), "other".into()));
        many.push(("uberctx-k2".into(), "v2".into()));
        let headers = Pairs(many);
        let mut seen = Vec::new();
        for_each_prefixed(&headers, "uberctx-", |k, v| seen.push(format!("{k}={v}")));
        assert_eq!(seen.len(), MAX_PREFIXED_BAGGAGE_HEADERS - 1, "k1 conflicts");
        assert_eq!(seen[..2], ["k0=v0", "k2=v2"]);
        assert_eq!(seen.last().map(String::as_str), Some("k127=v127"));
    }

    /// A carrier written elsewhere that ignores `max` and hands over names without the prefix.
    struct Careless;

    impl Extractor for Careless {
        fn get(&self, _name: &str) -> Option<&str> {
            None
        }

        fn keys(&self) -> Vec<&str> {
            Vec::new()
        }

        fn for_each_with_prefix(
            &self,
            _prefix: &str,
            _max: usize,
            visit: &mut dyn FnMut(&str, &[&str]),
        ) {
            visit("u", &["short"]);
            visit("ot-baggage-x", &["other prefix"]);
            for _ in 0..1000 {
                visit("uberctx-k", &["v"]);
            }
        }
    }

    #[test]
    fn prefixed_baggage_takes_only_prefixed_names_up_to_the_cap_from_any_carrier() {
        let mut n = 0;
        for_each_prefixed(&Careless, "uberctx-", |k, v| {
            assert_eq!((k, v), ("k", "v"));
            n += 1;
        });
        assert_eq!(n, MAX_PREFIXED_BAGGAGE_HEADERS);
    }
}
