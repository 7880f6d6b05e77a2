//! OpenTracing `ot-tracer-*` (no formal spec: the reference tracers, basictracer and
//! OpenTelemetry's `OtTracePropagator`, decide).

use super::{Expect, Row};
use lambda_trace::{ParseError, Sampling};

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    Row { headers: &[("ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"), ("ot-tracer-spanid", "00f067aa0ba902b7"), ("ot-tracer-sampled", "true")], expect: Expect::Context { trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: Some("00f067aa0ba902b7"), sampling: Sampling::Sampled, debug: false, flags: 1 }, source: "128-bit trace id, sampled boolean" },
    Row { headers: &[("ot-tracer-traceid", "463ac35c9f6413ad"), ("ot-tracer-spanid", "00f067aa0ba902b7"), ("ot-tracer-sampled", "1")], expect: Expect::Context { trace: "0000000000000000463ac35c9f6413ad", span: Some("00f067aa0ba902b7"), sampling: Sampling::Sampled, debug: false, flags: 1 }, source: "uint64 as 16 hex; sampled as a bit (OTel Go wrote '1', others accept it)" },
    Row { headers: &[("ot-tracer-traceid", "63ac35c9f6413ad"), ("ot-tracer-spanid", "f067aa0ba902b7"), ("ot-tracer-sampled", "false")], expect: Expect::Context { trace: "0000000000000000063ac35c9f6413ad", span: Some("00f067aa0ba902b7"), sampling: Sampling::NotSampled, debug: false, flags: 0 }, source: "short ids zero-padded: basictracer writes '{:x}', OTel Java padLeft / Go pad" },
    Row { headers: &[("ot-tracer-traceid", "abc"), ("ot-tracer-spanid", "1")], expect: Expect::Context { trace: "00000000000000000000000000000abc", span: Some("0000000000000001"), sampling: Sampling::Deferred, debug: false, flags: 0 }, source: "very short ids padded; no sampled header: the receiver decides" },
    Row { headers: &[("ot-tracer-traceid", "0"), ("ot-tracer-spanid", "00f067aa0ba902b7")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "a zero trace id stays invalid after padding" },
    Row { headers: &[("ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e47361"), ("ot-tracer-spanid", "00f067aa0ba902b7")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "more than 32 hex digits" },
    Row { headers: &[("ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e4736")], expect: Expect::Rejected(ParseError::Malformed), source: "ot-tracer-spanid is required" },
    Row { headers: &[("ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"), ("ot-tracer-spanid", "00f067aa0ba902b7"), ("ot-tracer-sampled", "yes")], expect: Expect::Rejected(ParseError::InvalidSampling), source: "sampled is true/false (or 1/0)" },
];
