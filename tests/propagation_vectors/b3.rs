//! Zipkin B3, single `b3` and multi `X-B3-*` (https://github.com/openzipkin/b3-propagation).
//! Both encodings read both header forms, so every row holds for `single()` and `multi()`.

use super::{Expect, Row};
use lambda_trace::{ParseError, Sampling};

const T: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const S: Option<&str> = Some("e457b5a2e4d86bd1");

const fn ctx(sampling: Sampling, debug: bool) -> Expect {
    Expect::sampled_bit_only(T, S, sampling, debug)
}

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    Row { headers: &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")], expect: ctx(Sampling::Sampled, false), source: "README Single Header: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}" },
    Row { headers: &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1")], expect: ctx(Sampling::Deferred, false), source: "README Sampling State: Defer is the absence of the field" },
    Row { headers: &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")], expect: ctx(Sampling::Sampled, true), source: "README: Debug is an emphasized accept decision" },
    // Sampling state without identifiers
    Row { headers: &[("b3", "0")], expect: Expect::SamplingOnly(Sampling::NotSampled, false), source: "README Single Header: 'A deny decision may omit identifiers: b3: 0'" },
    Row { headers: &[("b3", "1")], expect: Expect::SamplingOnly(Sampling::Sampled, false), source: "README: 'Sampling State can also be sent on its own (with no identifiers)' (accept)" },
    Row { headers: &[("b3", "d")], expect: Expect::SamplingOnly(Sampling::Sampled, true), source: "README: sampling state on its own (debug)" },
    Row { headers: &[("x-b3-sampled", "0")], expect: Expect::SamplingOnly(Sampling::NotSampled, false), source: "README FAQ: 'valid to propagate only a reject sampling decision (X-B3-Sampled: 0)'" },
    Row { headers: &[("x-b3-sampled", "1")], expect: Expect::SamplingOnly(Sampling::Sampled, false), source: "README Multiple Headers: X-B3-Sampled without ids is a decision" },
    Row { headers: &[("x-b3-flags", "1")], expect: Expect::SamplingOnly(Sampling::Sampled, true), source: "README Debug Flag: X-B3-Flags: 1 implies accept" },
    Row { headers: &[("b3", "0"), ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"), ("x-b3-spanid", "e457b5a2e4d86bd1")], expect: ctx(Sampling::NotSampled, false), source: "README Http Encodings: the single header takes precedence (its decision, the multi ids)" },
    // Multi headers
    Row { headers: &[("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"), ("x-b3-spanid", "e457b5a2e4d86bd1"), ("x-b3-sampled", "1")], expect: ctx(Sampling::Sampled, false), source: "README Multiple Headers: accept is X-B3-Sampled: 1" },
    Row { headers: &[("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"), ("x-b3-spanid", "e457b5a2e4d86bd1"), ("x-b3-sampled", "true")], expect: ctx(Sampling::Sampled, false), source: "README: 'a lenient implementation may accept' true/false" },
    Row { headers: &[("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"), ("x-b3-spanid", "e457b5a2e4d86bd1"), ("x-b3-flags", "1"), ("x-b3-sampled", "0")], expect: ctx(Sampling::Sampled, true), source: "README Debug Flag: debug implies accept" },
    Row { headers: &[("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "e457b5a2e4d86bd1")], expect: Expect::Context { trace: "0000000000000000463ac35c9f6413ad", span: S, sampling: Sampling::Deferred, debug: false, flags: 0 }, source: "README TraceId: 64-bit (16 hex) trace ids" },
    // Invalid
    Row { headers: &[("b3", "2")], expect: Expect::Rejected(ParseError::Malformed), source: "README: sampling state is 1, 0 or d" },
    Row { headers: &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2")], expect: Expect::Rejected(ParseError::InvalidSampling), source: "README: sampling state is 1, 0 or d" },
    Row { headers: &[("b3", "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "README TraceId: lower-hex" },
    Row { headers: &[("x-b3-sampled", "yes")], expect: Expect::Rejected(ParseError::InvalidSampling), source: "README Sampling State: 1 or 0 (true/false leniently)" },
    Row { headers: &[("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")], expect: Expect::Rejected(ParseError::Malformed), source: "README SpanId: X-B3-SpanId is required" },
    Row { headers: &[("x-b3-spanid", "e457b5a2e4d86bd1")], expect: Expect::Absent, source: "README TraceId: X-B3-TraceId is required (nothing to continue, no decision)" },
];
