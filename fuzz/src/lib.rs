//! What the fuzz targets share: header maps decoded from fuzz input, the carriers built from
//! them, and the checks every extracted context must pass (the caps of
//! `lambda_trace::propagation`, and inject → extract round trips).

pub mod alloc;
pub mod span_script;

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use lambda_trace::propagation::{
    Extractor, HeaderExtractor, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ITEMS, MAX_HEADER_LEN,
    MAX_PREFIXED_BAGGAGE_HEADERS, MAX_TRACESTATE_LEN, MAX_TRACESTATE_MEMBERS,
    MAX_XRAY_EXTRA_PAIR_LEN, MAX_XRAY_EXTRA_PAIRS, Propagator,
};
use lambda_trace::{Sampling, TraceContext, TraceId};
use serde_json::{Map, Value, json};

#[global_allocator]
static ALLOCATOR: alloc::Capped = alloc::Capped;

/// Ordered `(name, value)` pairs (lambda-trace's test carrier, feature `testing`).
pub use lambda_trace::propagation::testing::Pairs;

/// A header list decoded from fuzz input, in order, as raw bytes.
///
/// The input is a header block, one header per line (`name: value`, split at the first `:`,
/// one space after it dropped); bytes need not be UTF-8. Two line prefixes make big inputs from
/// small ones:
///
/// - `*N ` repeats the header N times (thousands of headers); with a name ending in `#`, each
///   repeat gets its own name (`x-1`, `x-2`, …) instead of repeating one header.
/// - `~N ` makes the value the given one repeated N times (long values).
///
/// At most [`MAX_EXPANDED`] headers, [`MAX_VALUE`] bytes per value and [`MAX_TOTAL`] bytes in
/// all come out of one input (the harness's own memory stays small).
#[derive(Debug, Default)]
pub struct Headers(pub Vec<(Vec<u8>, Vec<u8>)>);

/// Most headers one input expands to: enough to cross the largest count cap
/// ([`MAX_PREFIXED_BAGGAGE_HEADERS`], 128 `uberctx-*` headers) with a tracestate list's worth
/// of other headers beside, so every cap on a number of headers, members or items is crossed.
/// More crossed no cap and cost time: reading prefixed baggage looks each name up, a scan in
/// the ordered-pairs and raw-JSON carriers, so an input costs headers × prefixed names; with
/// 2,000 headers and 1 MiB the inputs the fuzzer kept for their size held `xray` and `jaeger`
/// to 100–200 executions a second (issue 18 item 9). The timing of tens of thousands of
/// headers is `tests/input_scaling.rs`'s job.
pub const MAX_EXPANDED: usize = MAX_PREFIXED_BAGGAGE_HEADERS + MAX_TRACESTATE_MEMBERS;

/// Longest value one input expands to: twice `MAX_HEADER_LEN`, the largest length cap.
pub const MAX_VALUE: usize = 2 * MAX_HEADER_LEN;

/// Most bytes of all values of one input: eight values over `MAX_HEADER_LEN`.
pub const MAX_TOTAL: usize = 8 * MAX_HEADER_LEN;

/// `N ` at the start of `line` (after its one-byte prefix): the number and the rest.
fn count(line: &[u8]) -> Option<(usize, &[u8])> {
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = std::str::from_utf8(&line[..digits.min(6)])
        .ok()?
        .parse()
        .ok()?;
    Some((n, line[digits..].strip_prefix(b" ")?))
}

impl Headers {
    /// Decodes a header block (see the type's docs).
    pub fn parse(data: &[u8]) -> Self {
        let mut out = Vec::new();
        let mut total = 0;
        for mut line in data.split(|&b| b == b'\n') {
            let (mut times, mut long) = (1, 1);
            loop {
                match line.split_first() {
                    Some((b'*', rest)) => match count(rest) {
                        Some((n, rest)) => (times, line) = (n, rest),
                        None => break,
                    },
                    Some((b'~', rest)) => match count(rest) {
                        Some((n, rest)) => (long, line) = (n, rest),
                        None => break,
                    },
                    _ => break,
                }
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = &line[..colon];
            let value = &line[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            let mut value = value.repeat(long.min(MAX_VALUE / value.len().max(1)));
            value.truncate(MAX_VALUE);
            let (name, numbered) = match name.strip_suffix(b"#") {
                Some(stem) => (stem, true),
                None => (name, false),
            };
            let fit = (MAX_TOTAL - total) / value.len().max(1);
            for i in 0..times.min(MAX_EXPANDED - out.len()).min(fit) {
                total += value.len();
                let mut name = name.to_vec();
                if numbered {
                    name.extend_from_slice(format!("-{i}").as_bytes());
                }
                out.push((name, value.clone()));
            }
            if out.len() == MAX_EXPANDED {
                break;
            }
        }
        Headers(out)
    }

    /// The values as strings, for the formats' pure parsers.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// As an `http::HeaderMap`: invalid names and values are left out, as `http` refuses them.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                let _ = map.try_append(n, v);
            }
        }
        map
    }

    /// As ordered pairs of strings (lossy UTF-8), repeats kept.
    pub fn pairs(&self) -> Pairs {
        Pairs(
            self.0
                .iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .collect(),
        )
    }

    /// As a `HashMap` (the last value of a name wins).
    pub fn hash_map(&self) -> HashMap<String, String> {
        hash_map(&self.pairs())
    }

    /// As a raw JSON event: `headers` (last value wins) and `multiValueHeaders` (every value),
    /// with an SQS-shaped record carrying the X-Ray header, and API Gateway request fields.
    pub fn json_event(&self) -> Value {
        json_event(&self.pairs())
    }
}

/// `pairs` as a `HashMap` (the last value of a name wins).
fn hash_map(pairs: &Pairs) -> HashMap<String, String> {
    pairs.0.iter().cloned().collect()
}

/// `pairs` as a raw JSON event (see [`Headers::json_event`]).
fn json_event(pairs: &Pairs) -> Value {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in &pairs.0 {
        single.insert(name.clone(), json!(value));
        match multi.get_mut(name).and_then(Value::as_array_mut) {
            Some(values) => values.push(json!(value)),
            None => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    let xray = pairs.get("x-amzn-trace-id").unwrap_or_default();
    // Built by moving the maps in: `json!` with a map variable serializes a deep copy, which
    // was 40 % of a composite execution.
    let mut event = Map::new();
    event.insert("httpMethod".into(), Value::from("GET"));
    event.insert(
        "path".into(),
        pairs.get("user-agent").map_or(Value::Null, Value::from),
    );
    event.insert("headers".into(), Value::Object(single));
    event.insert("multiValueHeaders".into(), Value::Object(multi));
    event.insert(
        "Records".into(),
        json!([{"attributes": {"AWSTraceHeader": xray}, "eventSource": "aws:sqs"}]),
    );
    Value::Object(event)
}

/// The four carriers of one header list (`HeaderMap`, ordered pairs, `HashMap`, raw JSON
/// event), built once per input and read by every propagator a target runs: building them was
/// four fifths of an execution when each propagator built its own (`perf`, issue 18 item 9).
/// The propagators only read them.
#[derive(Debug)]
pub struct Carriers {
    map: HeaderMap,
    pairs: Pairs,
    hash_map: HashMap<String, String>,
    json_event: Value,
    /// Few and plain enough headers for the `HeaderMap` to hold them exactly as the pairs do.
    plain: bool,
}

impl Carriers {
    /// Builds every carrier from `headers`.
    pub fn new(headers: &Headers) -> Self {
        let pairs = headers.pairs();
        let plain = headers.0.len() < 64
            && headers.0.iter().all(|(n, v)| {
                HeaderName::from_bytes(n).is_ok_and(|h| h.as_str().as_bytes() == n.as_slice())
                    && HeaderValue::from_bytes(v).is_ok_and(|h| h.to_str().is_ok())
            });
        Carriers {
            map: headers.header_map(),
            hash_map: hash_map(&pairs),
            json_event: json_event(&pairs),
            pairs,
            plain,
        }
    }
}

/// The caps of `lambda_trace::propagation` hold for `cx`, whatever the headers were.
pub fn check_caps(cx: &TraceContext) {
    if let Some(state) = &cx.trace_state {
        assert!(
            state.len() <= MAX_TRACESTATE_LEN,
            "tracestate of {} bytes",
            state.len()
        );
        let members = state
            .split(',')
            .filter(|m| !m.trim_matches([' ', '\t']).is_empty())
            .count();
        assert!(
            (1..=MAX_TRACESTATE_MEMBERS).contains(&members),
            "tracestate with {members} members"
        );
    }
    assert!(
        cx.baggage.len() <= MAX_BAGGAGE_ITEMS,
        "{} baggage items",
        cx.baggage.len()
    );
    let bytes: usize = cx.baggage.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(bytes <= MAX_BAGGAGE_BYTES, "{bytes} bytes of baggage");
    for (i, (k, _)) in cx.baggage.iter().enumerate() {
        assert!(!k.is_empty(), "empty baggage key");
        assert!(
            cx.baggage[..i].iter().all(|(seen, _)| seen != k),
            "baggage key {k:?} twice"
        );
    }
    let extra: usize = cx
        .xray_extra
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum();
    assert!(
        extra <= MAX_HEADER_LEN + 1,
        "{extra} bytes of X-Ray extra keys"
    );
    assert!(cx.xray_extra.len() <= MAX_XRAY_EXTRA_PAIRS);
    assert!(
        cx.xray_extra
            .iter()
            .all(|(k, v)| k.len() + 1 + v.len() <= MAX_XRAY_EXTRA_PAIR_LEN)
    );
    if cx.sampling_only {
        assert_eq!(cx.span_id, None, "a decision without ids has no parent");
    }
    if let Some(span_id) = cx.span_id {
        assert_ne!(span_id.to_string(), "0000000000000000");
    }
    assert_ne!(cx.trace_id.to_string(), "0".repeat(32));
}

/// Extracts with `p` (context and baggage, as the layer does) and checks the caps.
pub fn extract(p: &dyn Propagator, headers: &dyn Extractor) -> Option<TraceContext> {
    let mut cx = p.extract(headers);
    if let Some(cx) = &mut cx {
        p.extract_baggage(headers, cx);
        check_caps(cx);
    }
    // Baggage alone (no context): into a fresh context, as the composite does after a win.
    let mut alone = TraceContext::new_root(Sampling::Sampled);
    p.extract_baggage(headers, &mut alone);
    check_caps(&alone);
    cx
}

/// `cx` injected with `p` and extracted again gives the same trace, parent and decision (a
/// deferred decision may come back as "not sampled" from formats that cannot say "undecided"),
/// unless the format wrote nothing or a header came out over `MAX_HEADER_LEN`.
pub fn check_round_trip(p: &dyn Propagator, cx: &TraceContext) {
    let mut out = Pairs::default();
    p.inject(cx, &mut out);
    // Written headers pass `http`'s checks, except where `cx` holds what no header can carry
    // (the raw JSON carriers pass on non-ASCII text).
    let printable = |s: &str| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    for (name, value) in &out.0 {
        assert!(
            HeaderName::from_bytes(name.as_bytes()).is_ok(),
            "injected name {name:?}"
        );
        if printable_context(cx) {
            assert!(printable(value), "injected {name}: {value:?}");
        }
    }
    let mut back = p.extract(&out);
    match &mut back {
        Some(back) => {
            p.extract_baggage(&out, back);
            check_caps(back);
            // A decision without ids comes back with a trace id of its own.
            if !(cx.sampling_only && back.sampling_only) {
                assert_eq!(back.trace_id, cx.trace_id, "trace id after a round trip");
            }
            assert_eq!(back.span_id, cx.span_id, "parent after a round trip");
            assert!(
                back.sampling == cx.sampling
                    || (cx.sampling == Sampling::Deferred && back.sampling == Sampling::NotSampled),
                "sampling {:?} came back as {:?}",
                cx.sampling,
                back.sampling
            );
            // The same items, maybe fewer (caps, keys a format cannot write), maybe in another
            // order (a composite reads its formats in order, and each writes what it can). An
            // item may come back with its key lowercased: when the `baggage` header's byte cap
            // cut it, only the header-named formats (`uberctx-`, `ot-baggage-`) carried it, and
            // header names have no case (found by the `composite` campaign: `usEr` → `user`).
            for (key, value) in &back.baggage {
                let same = |(k, v): &(String, String)| {
                    v == value
                        && (k == key
                            || (*key == key.to_ascii_lowercase() && k.eq_ignore_ascii_case(key)))
                };
                assert!(
                    cx.baggage.iter().any(same),
                    "baggage {:?} out of nowhere",
                    (key, value)
                );
            }
        }
        None => assert!(
            out.0.iter().all(|(n, _)| n == "baggage"
                || n.starts_with("uberctx-")
                || n.starts_with("ot-baggage-"))
                || out.0.iter().any(|(_, v)| v.len() > MAX_HEADER_LEN),
            "context lost in a round trip: {cx:?} → {out:?}"
        ),
    }
}

/// `true` when every text `cx` carries is printable ASCII (what a `HeaderMap` value can hold).
fn printable_context(cx: &TraceContext) -> bool {
    let ok = |s: &str| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    cx.xray_extra.iter().all(|(k, v)| ok(k) && ok(v)) && cx.trace_state.as_deref().is_none_or(ok)
}

/// Runs `p` on every carrier (`HeaderMap`, ordered pairs, `HashMap`, raw JSON event), checking
/// caps and round trips. When the headers are few and plain enough for the `HeaderMap` to hold
/// them exactly as the pairs do, both must give the same context.
pub fn exercise(p: &dyn Propagator, carriers: &Carriers) {
    let from_map = extract(p, &HeaderExtractor(&carriers.map));
    let from_pairs = extract(p, &carriers.pairs);
    let _ = extract(p, &carriers.hash_map);
    let _ = extract(p, &carriers.json_event);
    // A round trip is a function of `p` and the context: the same context is tried once.
    for cx in from_map.iter() {
        check_round_trip(p, cx);
    }
    if from_pairs != from_map
        && let Some(cx) = &from_pairs
    {
        check_round_trip(p, cx);
    }
    if carriers.plain {
        assert_eq!(
            comparable(from_map),
            comparable(from_pairs),
            "HeaderMap and pairs of the same headers differ"
        );
    }
}

/// `cx` for comparing two extractions: a decision without ids (B3 `b3: d`) gets a generated
/// trace id each time, which says nothing about the headers, so it is left out.
fn comparable(cx: Option<TraceContext>) -> Option<TraceContext> {
    cx.map(|mut cx| {
        if cx.sampling_only {
            cx.trace_id = TraceId::from_u128(1).expect("non-zero");
        }
        cx
    })
}
