//! AWS X-Ray `X-Amzn-Trace-Id` (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).

use super::{Expect, Row};
use lambda_trace::propagation::testing::pairs;
use lambda_trace::propagation::{
    MAX_HEADER_LEN, MAX_XRAY_EXTRA_PAIR_LEN, Propagator, XrayPropagator,
};
use lambda_trace::{ParseError, Sampling};

const T: &str = "5759e988bd862e3fe1be46a994272793";
const S: Option<&str> = Some("53995c3f42cd8ad8");

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    Row { headers: &[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")], expect: Expect::Context { trace: T, span: S, sampling: Sampling::Sampled, debug: false, flags: 1 }, source: "tracing header: Root, Parent, Sampled=1" },
    Row { headers: &[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?")], expect: Expect::Context { trace: T, span: None, sampling: Sampling::Deferred, debug: false, flags: 0 }, source: "Sampled=? asks the downstream to decide; API Gateway/ALB send no Parent" },
    Row { headers: &[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1")], expect: Expect::Context { trace: T, span: S, sampling: Sampling::NotSampled, debug: false, flags: 0 }, source: "extra keys (Lineage) are kept and re-sent" },
    Row { headers: &[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=2")], expect: Expect::Rejected(ParseError::InvalidSampling), source: "Sampled is 1, 0 or ?" },
    Row { headers: &[("x-amzn-trace-id", "Parent=53995c3f42cd8ad8;Sampled=1")], expect: Expect::Rejected(ParseError::Malformed), source: "Root is required" },
    Row { headers: &[("x-amzn-trace-id", "Root=2-5759e988-bd862e3fe1be46a994272793")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "trace id: version 1, 8 hex epoch, 24 hex" },
];

/// The length decisions (each assertion names its rule).
pub fn check_long_headers() {
    let p = XrayPropagator::default();
    let base = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    // A little over 8 KiB with an unknown long field: AWS APIs take X-Amzn-Trace-Id up to 8,192
    // characters (Lambda API TraceHeader) and document no per-field limit, so the field past the
    // read limit is dropped, not the header.
    let long = format!(
        "{base};Lineage=a87bd80c:1;Unknown={}",
        "x".repeat(MAX_HEADER_LEN)
    );
    assert!(long.len() > MAX_HEADER_LEN);
    let cx = p
        .extract(&pairs(&[("x-amzn-trace-id", &long)]))
        .expect("kept");
    assert_eq!(cx.sampling, Sampling::Sampled);
    assert_eq!(
        cx.xray_extra,
        [("Lineage".to_string(), "a87bd80c:1".to_string())]
    );
    // Under the read limit, one extra field over MAX_XRAY_EXTRA_PAIR_LEN is dropped alone.
    let long = format!(
        "{base};Unknown={};Lineage=a87bd80c:1",
        "x".repeat(MAX_XRAY_EXTRA_PAIR_LEN)
    );
    let cx = p
        .extract(&pairs(&[("x-amzn-trace-id", &long)]))
        .expect("kept");
    assert_eq!(
        cx.xray_extra,
        [("Lineage".to_string(), "a87bd80c:1".to_string())]
    );
    // Root itself past the limit (no `;` in the first 8 KiB): nothing usable.
    let root_late = format!("{}{base}", " ".repeat(MAX_HEADER_LEN));
    assert_eq!(
        p.try_extract(&pairs(&[("x-amzn-trace-id", &root_late)])),
        Err(ParseError::TooLong)
    );
}
