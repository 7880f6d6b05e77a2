//! W3C `traceparent` (Trace Context Level 2, https://www.w3.org/TR/trace-context-2/).

use super::{Expect, Row};
use lambda_trace::{ParseError, Sampling};

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const S: Option<&str> = Some("00f067aa0ba902b7");

const fn ctx(sampling: Sampling, flags: u8) -> Expect {
    Expect::Context {
        trace: T,
        span: S,
        sampling,
        debug: false,
        flags,
    }
}

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    // §3.2.2.5 example "caller sampled this request"
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")], expect: ctx(Sampling::Sampled, 0x01), source: "§3.2.2.5.1 sampled flag set" },
    // §3.2.2.5 example "caller didn't sample this request"
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")], expect: ctx(Sampling::NotSampled, 0x00), source: "§3.2.2.5.1 sampled flag unset" },
    // Level 2 random flag: kept, and re-sent unchanged for the same trace id
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")], expect: ctx(Sampling::NotSampled, 0x02), source: "§3.2.2.5.2 random flag MUST be propagated for the same trace-id" },
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")], expect: ctx(Sampling::Sampled, 0x03), source: "§3.2.2.5.2 random + sampled" },
    // Unknown bits are kept in the context, zeroed on output (checked by the round trip)
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")], expect: ctx(Sampling::Sampled, 0xff), source: "§3.2.2.5.3 other flags: vendors MUST set those to zero (on output)" },
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08")], expect: ctx(Sampling::NotSampled, 0x08), source: "§3.2.2.5 flags are a bit field: mask, don't compare (09 vs 01)" },
    // Higher versions are parsed by their first fields
    Row { headers: &[("traceparent", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")], expect: ctx(Sampling::Sampled, 0x01), source: "§3.2.4 a higher version is parsed, extra fields ignored" },
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")], expect: Expect::Rejected(ParseError::Malformed), source: "§3.2.2 version 00 is exactly 55 characters" },
    Row { headers: &[("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")], expect: Expect::Rejected(ParseError::UnsupportedVersion), source: "§3.2.2.1 version ff is forbidden" },
    Row { headers: &[("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "§3.2.2.3 all-zero trace-id is invalid" },
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")], expect: Expect::Rejected(ParseError::InvalidSpanId), source: "§3.2.2.4 all-zero parent-id is invalid" },
    Row { headers: &[("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "§3.2.2 HEXDIGLC: lowercase hex only" },
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A")], expect: Expect::Rejected(ParseError::InvalidSampling), source: "§3.2.2 trace-flags = 2HEXDIGLC" },
    Row { headers: &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")], expect: Expect::Rejected(ParseError::Conflicting), source: "ARCHITECTURE §4: two different traceparent values are invalid" },
    Row { headers: &[("tracestate", "rojo=00f067aa0ba902b7")], expect: Expect::Absent, source: "§3.3: without traceparent, tracestate is not parsed" },
];
