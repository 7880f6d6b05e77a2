//! Test vectors per header format, as data: each row is headers in, the expected outcome, and a
//! one-line citation of the rule it pins (`tests/propagation_vectors/<format>.rs`). Every row
//! that yields a context is also injected and extracted again (the round trip).

#[path = "propagation_vectors/b3.rs"]
mod b3;
#[path = "propagation_vectors/jaeger.rs"]
mod jaeger;
#[path = "propagation_vectors/ot.rs"]
mod ot;
#[path = "propagation_vectors/tracestate.rs"]
mod tracestate;
#[path = "propagation_vectors/w3c.rs"]
mod w3c;
#[path = "propagation_vectors/xray.rs"]
mod xray;

use lambda_trace::propagation::testing::{Pairs, pairs};
use lambda_trace::propagation::{CompositePropagator, Propagator, PropagatorKind};
use lambda_trace::{ParseError, Sampling, TraceContext};

/// What a format must make of a row's headers.
#[derive(Debug, Clone)]
pub enum Expect {
    /// A context: trace id (32 hex), parent span (16 hex), decision, B3/Jaeger debug, W3C flags
    /// as kept (all 8 bits).
    Context {
        trace: &'static str,
        span: Option<&'static str>,
        sampling: Sampling,
        debug: bool,
        flags: u8,
    },
    /// A decision without ids (B3).
    SamplingOnly(Sampling, bool),
    /// No header of the format.
    Absent,
    /// Present but invalid, for this reason.
    Rejected(ParseError),
}

impl Expect {
    /// A context of `trace` under `span` whose flags are the sampled bit alone (the formats
    /// that have no W3C flags: B3, Jaeger).
    pub const fn sampled_bit_only(
        trace: &'static str,
        span: Option<&'static str>,
        sampling: Sampling,
        debug: bool,
    ) -> Expect {
        let flags = if matches!(sampling, Sampling::Sampled) {
            1
        } else {
            0
        };
        Expect::Context {
            trace,
            span,
            sampling,
            debug,
            flags,
        }
    }
}

/// One vector: headers, expectation, and the rule it pins.
pub struct Row {
    pub headers: &'static [(&'static str, &'static str)],
    pub expect: Expect,
    pub source: &'static str,
}

/// Checks every row against `p` (extract, then inject → extract for contexts).
fn check(p: &dyn Propagator, rows: &[Row]) {
    for row in rows {
        let why = row.source;
        let got = p.try_extract(&pairs(row.headers));
        match (&row.expect, &got) {
            (Expect::Absent, Ok(None)) => {}
            (Expect::Rejected(e), Err(g)) => assert_eq!(g, e, "{why}"),
            (Expect::SamplingOnly(sampling, debug), Ok(Some(cx))) => {
                assert!(cx.sampling_only && cx.span_id.is_none(), "{why}: {cx:?}");
                assert_eq!((cx.sampling, cx.debug), (*sampling, *debug), "{why}");
                round_trip(p, cx, why);
            }
            (
                Expect::Context {
                    trace,
                    span,
                    sampling,
                    debug,
                    flags,
                },
                Ok(Some(cx)),
            ) => {
                assert!(!cx.sampling_only, "{why}");
                assert_eq!(cx.trace_id.to_string(), *trace, "{why}");
                assert_eq!(cx.span_id.map(|s| s.to_string()).as_deref(), *span, "{why}");
                assert_eq!((cx.sampling, cx.debug), (*sampling, *debug), "{why}");
                assert_eq!(cx.flags.to_u8(), *flags, "{why}");
                round_trip(p, cx, why);
            }
            (expect, got) => panic!("{why}: expected {expect:?}, got {got:?}"),
        }
        // The fast path agrees with the report (a sampling-only trace id is new each time).
        let key = |cx: TraceContext| (cx.span_id, cx.sampling, cx.debug, cx.sampling_only);
        assert_eq!(
            p.extract(&pairs(row.headers)).map(key),
            got.clone().ok().flatten().map(key),
            "{why}"
        );
    }
}

/// Inject `cx` with `p` and extract it again: the same trace, parent and decision, and the
/// flags as sent (unknown W3C bits cleared).
fn round_trip(p: &dyn Propagator, cx: &TraceContext, why: &str) {
    let mut out = Pairs::default();
    p.inject(cx, &mut out);
    let back = p
        .extract(&out)
        .unwrap_or_else(|| panic!("{why}: {out:?} does not extract"));
    assert_eq!(back.span_id, cx.span_id, "{why}: {out:?}");
    assert_eq!(
        (back.sampling, back.debug),
        (cx.sampling, cx.debug),
        "{why}"
    );
    assert_eq!(back.sampling_only, cx.sampling_only, "{why}");
    if !cx.sampling_only {
        assert_eq!(back.trace_id, cx.trace_id, "{why}");
        assert_eq!(back.xray_extra, cx.xray_extra, "{why}");
        assert_eq!(back.trace_state, cx.trace_state, "{why}");
    }
    if p.name() == "tracecontext" {
        assert_eq!(back.flags.to_u8(), cx.flags.to_wire(), "{why}");
    }
}

#[test]
fn w3c_traceparent_vectors() {
    check(
        &lambda_trace::propagation::W3cPropagator::default(),
        w3c::ROWS,
    );
}

#[test]
fn w3c_tracestate_vectors() {
    tracestate::check();
}

#[test]
fn b3_vectors() {
    check(&lambda_trace::propagation::B3Propagator::single(), b3::ROWS);
    check(&lambda_trace::propagation::B3Propagator::multi(), b3::ROWS);
}

#[test]
fn jaeger_vectors() {
    check(
        &lambda_trace::propagation::JaegerPropagator::default(),
        jaeger::ROWS,
    );
}

#[test]
fn ottrace_vectors() {
    check(
        &lambda_trace::propagation::OtPropagator::default(),
        ot::ROWS,
    );
}

#[test]
fn xray_vectors() {
    check(
        &lambda_trace::propagation::XrayPropagator::default(),
        xray::ROWS,
    );
    xray::check_long_headers();
}

#[test]
fn every_format_round_trips_through_the_composite() {
    // A random-flagged traceparent read, then sent in every format and read back by each.
    let cx = CompositePropagator::default()
        .extract(&pairs(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
        )]))
        .unwrap();
    for kind in PropagatorKind::ALL {
        let p = kind.propagator();
        let mut out = Pairs::default();
        p.inject(&cx, &mut out);
        if kind == PropagatorKind::Baggage {
            continue;
        }
        let back = p.extract(&out).unwrap_or_else(|| panic!("{kind}: {out:?}"));
        assert_eq!(
            (back.trace_id, back.span_id),
            (cx.trace_id, cx.span_id),
            "{kind}"
        );
        assert_eq!(back.sampling, Sampling::Sampled, "{kind}");
    }
}

#[test]
fn the_write_set_is_separate_from_the_read_set() {
    let p = CompositePropagator::from_read_write(
        &PropagatorKind::ALL,
        &[PropagatorKind::TraceContext, PropagatorKind::Xray],
    );
    let cx = p
        .extract(&pairs(&[(
            "uber-trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        )]))
        .expect("read: every format");
    let mut out = Pairs::default();
    p.inject(&cx, &mut out);
    let mut names: Vec<&str> = out.0.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["traceparent", "x-amzn-trace-id"],
        "write: traceparent and X-Ray only"
    );

    let none = CompositePropagator::default().with_inject_kinds(&[]);
    let mut out = Pairs::default();
    none.inject(&cx, &mut out);
    assert!(out.0.is_empty());
}

#[test]
fn the_report_says_why() {
    let p = CompositePropagator::default();
    let report = p.extract_report(&pairs(&[
        (
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ),
        ("x-b3-sampled", "0"),
    ]));
    let rejected: Vec<_> = report.rejected().collect();
    assert_eq!(rejected, [("tracecontext", &ParseError::InvalidTraceId)]);
    let cx = report.context.clone().expect("the B3 deny is a decision");
    assert!(cx.sampling_only);
    assert_eq!(cx.sampling, Sampling::NotSampled);
    assert_eq!(
        p.try_extract(&pairs(&[("b3", "zz")])),
        Err(ParseError::Malformed)
    );
    assert!(
        report
            .to_string()
            .contains("tracecontext: rejected: invalid trace id")
    );
}

#[test]
fn a_deny_decides_a_deferred_context_of_another_format() {
    // API Gateway's root-only X-Ray header (no decision) and a B3 deny: the trace continues,
    // unsampled.
    let cx = CompositePropagator::default()
        .extract(&pairs(&[
            (
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793",
            ),
            ("b3", "0"),
        ]))
        .unwrap();
    assert_eq!(cx.trace_id.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
    assert!(!cx.sampling_only);
    assert_eq!(cx.sampling, Sampling::NotSampled);
    // A context with a decision of its own keeps it.
    let cx = CompositePropagator::default()
        .extract(&pairs(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("b3", "0"),
        ]))
        .unwrap();
    assert_eq!(cx.sampling, Sampling::Sampled);
}

#[test]
fn the_write_set_is_configured_apart_from_the_read_set() {
    use lambda_trace::Config;
    let config = |vars: &'static [(&'static str, &'static str)]| {
        Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    };
    // Default: the read set is the write set.
    assert_eq!(config(&[]).propagators_inject, None);
    let c = config(&[
        ("OTEL_PROPAGATORS", "tracecontext,b3,xray"),
        (
            "LAMBDA_TRACE_PROPAGATORS_INJECT",
            "xray, tracecontext,bogus",
        ),
    ]);
    assert_eq!(c.propagators.len(), 3);
    assert_eq!(
        c.propagators_inject,
        Some(vec![PropagatorKind::Xray, PropagatorKind::TraceContext]),
        "unknown names are left out with a log line"
    );
    assert_eq!(
        config(&[("LAMBDA_TRACE_PROPAGATORS_INJECT", "none")]).propagators_inject,
        Some(vec![])
    );
}
