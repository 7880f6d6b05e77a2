//! Property tests over every format: extraction never panics on any input, and what a format
//! injects it extracts again.
//!
//! Round-trip exceptions, per format (the table in [`expected_sampling`]):
//! - X-Ray represents everything: trace id, a missing span id (no `Parent`), and all three
//!   decisions (`Sampled=?` for deferred).
//! - W3C, B3, Jaeger and OpenTracing need a span id: without one they inject no trace header.
//! - W3C and Jaeger cannot say "deferred": it travels as not sampled.
//! - B3 (no sampling field) and OpenTracing (no `ot-tracer-sampled`) keep deferred.
//! - OpenTracing baggage values are sent raw, so surrounding whitespace is trimmed on the way
//!   back and non-printable values are not sent; Jaeger lowercases baggage keys.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::sample::Index;

use super::testing::Pairs;
use super::{
    B3, B3Propagator, BaggagePropagator, CompositePropagator, JaegerPropagator, OtPropagator,
    Propagator, PropagatorKind, TraceParent, W3cPropagator, XrayHeader, XrayPropagator,
};
use crate::context::{Sampling, SpanId, TraceContext, TraceId};

/// Every header name a propagator reads, in several spellings, plus prefixed baggage names.
fn known_names() -> Vec<String> {
    let mut names: Vec<String> = CompositePropagator::default()
        .fields()
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    names.extend(
        [
            "X-Amzn-Trace-Id",
            "TraceParent",
            "B3",
            "X-B3-TraceId",
            "uberctx-k",
            "UberCtx-Key",
            "uberctx-",
            "ot-baggage-k",
            "OT-Baggage-key",
            "ot-baggage-",
        ]
        .map(String::from),
    );
    names
}

/// Values from every corner: arbitrary Unicode, control characters, the formats' own
/// punctuation and hex, and very long strings.
fn arb_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => "[0-9a-fA-F:;=,%@ \t?dx-]{0,80}",
        2 => "[\\x00-\\x1f\\x7f;=:,%-]{0,40}",
        2 => prop::collection::vec(any::<char>(), 0..200).prop_map(String::from_iter),
        1 => prop::collection::vec(any::<char>(), 8_000..20_000).prop_map(String::from_iter),
        1 => ("[0-9a-f-]{1,4}", 2_000usize..5_000).prop_map(|(s, n)| s.repeat(n)),
    ]
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(known_names()),
        1 => any::<String>(),
        1 => "(uberctx-|ot-baggage-|x-b3-)?[a-zA-Z0-9-]{0,12}",
    ]
}

fn arb_sampling() -> impl Strategy<Value = Sampling> {
    prop_oneof![
        Just(Sampling::Sampled),
        Just(Sampling::NotSampled),
        Just(Sampling::Deferred),
    ]
}

fn arb_trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![
        any::<u128>().prop_filter_map("zero", TraceId::from_u128),
        any::<u64>().prop_filter_map("zero", |v| TraceId::from_u128(v.into())),
    ]
}

fn arb_span_id() -> impl Strategy<Value = SpanId> {
    any::<u64>().prop_filter_map("zero", SpanId::from_u64)
}

fn arb_cx() -> impl Strategy<Value = TraceContext> {
    (
        arb_trace_id(),
        prop::option::of(arb_span_id()),
        arb_sampling(),
    )
        .prop_map(|(t, s, d)| TraceContext::new(t, s, d))
}

/// Headers every format injected for a random context, then damaged: each edit replaces a
/// range of one header's value with a random fragment.
fn arb_damaged_headers() -> impl Strategy<Value = Pairs> {
    let edit = (any::<Index>(), any::<Index>(), 0usize..4, arb_value());
    (arb_cx(), prop::collection::vec(edit, 0..4)).prop_map(|(mut cx, edits)| {
        cx.baggage.push(("k".into(), "v w".into()));
        cx.xray_extra.push(("Lineage".into(), "a87bd80c:1".into()));
        cx.trace_state = Some("congo=t61rcWkgMzE".into());
        let mut h = Pairs::default();
        CompositePropagator::default().inject(&cx.with_span_id(SpanId::generate()), &mut h);
        for (header, at, len, fragment) in edits {
            if h.0.is_empty() {
                break;
            }
            let i = header.index(h.0.len());
            let value = &mut h.0[i].1;
            let mut chars: Vec<char> = value.chars().collect();
            let start = at.index(chars.len() + 1);
            let end = (start + len).min(chars.len());
            chars.splice(start..end, fragment.chars().take(64));
            *value = chars.into_iter().collect();
        }
        h
    })
}

fn arb_random_headers() -> impl Strategy<Value = Pairs> {
    prop::collection::vec((arb_name(), arb_value()), 0..10).prop_map(Pairs)
}

fn arb_headers() -> impl Strategy<Value = Pairs> {
    prop_oneof![
        2 => arb_random_headers(),
        2 => arb_damaged_headers(),
        1 => (arb_damaged_headers(), arb_random_headers()).prop_map(|(mut a, b)| {
            a.0.extend(b.0);
            a
        }),
    ]
}

proptest! {
    #[test]
    fn extract_never_panics(h in arb_headers()) {
        let _ = CompositePropagator::default().extract(&h);
        for kind in PropagatorKind::ALL {
            let p = kind.propagator();
            let mut cx = p.extract(&h).unwrap_or_else(|| TraceContext::new_root(Sampling::Deferred));
            p.extract_baggage(&h, &mut cx);
            // Whatever was extracted can be injected again.
            p.inject(&cx, &mut Pairs::default());
        }
        let map: HashMap<String, String> = h.0.iter().cloned().collect();
        let _ = CompositePropagator::default().extract(&map);
        for (_, value) in &h.0 {
            let _ = value.parse::<XrayHeader>();
            let _ = value.parse::<TraceParent>();
            let _ = value.parse::<B3>();
        }
    }

    #[test]
    fn inject_extract_round_trips(cx in arb_cx()) {
        let formats: [(&str, Box<dyn Propagator>); 6] = [
            ("xray", Box::new(XrayPropagator::default())),
            ("tracecontext", Box::new(W3cPropagator::default())),
            ("b3", Box::new(B3Propagator::single())),
            ("b3multi", Box::new(B3Propagator::multi())),
            ("jaeger", Box::new(JaegerPropagator::default())),
            ("ottrace", Box::new(OtPropagator::default())),
        ];
        for (name, p) in formats {
            let mut h = Pairs::default();
            p.inject(&cx, &mut h);
            let back = p.extract(&h);
            match expected_sampling(name, cx.span_id.is_some(), cx.sampling) {
                None => prop_assert_eq!(back, None, "{}", name),
                Some(sampling) => {
                    let back = back.ok_or_else(|| TestCaseError::fail(format!("{name}: no context")))?;
                    prop_assert_eq!(back.trace_id, cx.trace_id, "{}", name);
                    prop_assert_eq!(back.span_id, cx.span_id, "{}", name);
                    prop_assert_eq!(back.sampling, sampling, "{}", name);
                }
            }
        }
    }

    #[test]
    fn format_parse_round_trips(cx in arb_cx(), span in arb_span_id()) {
        let x = XrayHeader::new(cx.trace_id, cx.span_id, cx.sampling);
        prop_assert_eq!(x.to_string().parse::<XrayHeader>(), Ok(x));
        let tp = TraceParent::new(cx.trace_id, span, cx.sampling.is_sampled());
        prop_assert_eq!(tp.to_string().parse::<TraceParent>(), Ok(tp));
        let b3 = B3::new(cx.trace_id, span, cx.sampling);
        prop_assert_eq!(b3.to_string().parse::<B3>(), Ok(b3));
    }

    #[test]
    fn baggage_round_trips(
        items in prop::collection::btree_map("[a-z0-9_.*-]{1,12}", any::<String>(), 0..8),
        ascii in prop::collection::btree_map("[a-z0-9_.*-]{1,12}", "([!-~]([ -~]{0,20}[!-~])?)?", 0..8),
    ) {
        let cx_with = |items: &BTreeMap<String, String>| {
            let mut cx = TraceContext::new_root(Sampling::Sampled);
            cx.baggage = items.clone().into_iter().collect();
            cx
        };
        let cases: [(&str, Box<dyn Propagator>, TraceContext); 4] = [
            ("baggage", Box::new(BaggagePropagator::default()), cx_with(&items)),
            ("jaeger", Box::new(JaegerPropagator::default()), cx_with(&items)),
            ("ottrace", Box::new(OtPropagator::default()), cx_with(&ascii)),
            // Empty OpenTracing values survive too (the header is present, empty).
            ("baggage ascii", Box::new(BaggagePropagator::default()), cx_with(&ascii)),
        ];
        for (name, p, cx) in cases {
            let mut h = Pairs::default();
            p.inject(&cx, &mut h);
            let mut back = TraceContext::new_root(Sampling::Sampled);
            p.extract_baggage(&h, &mut back);
            prop_assert_eq!(back.baggage, cx.baggage, "{}", name);
        }
    }
}

/// The sampling a format gives back for `sampling`, or `None` when it injects no trace header.
fn expected_sampling(format: &str, has_span: bool, sampling: Sampling) -> Option<Sampling> {
    match format {
        "xray" => Some(sampling),
        _ if !has_span => None,
        "tracecontext" | "jaeger" if sampling == Sampling::Deferred => Some(Sampling::NotSampled),
        _ => Some(sampling),
    }
}
