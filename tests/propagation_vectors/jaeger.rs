//! Jaeger `uber-trace-id` (https://www.jaegertracing.io/docs/1.x/client-libraries/#propagation-format).

use super::{Expect, Row};
use lambda_trace::{ParseError, Sampling};

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const S: Option<&str> = Some("00f067aa0ba902b7");

const fn ctx(sampling: Sampling, debug: bool) -> Expect {
    Expect::sampled_bit_only(T, S, sampling, debug)
}

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1")], expect: ctx(Sampling::Sampled, false), source: "flags bit 1 (0x01) is 'sampled'" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0")], expect: ctx(Sampling::NotSampled, false), source: "sampled bit 0: not sampled, downstream advised to respect that" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3")], expect: ctx(Sampling::Sampled, true), source: "bit 2 (0x02) is 'debug', set with sampled" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:2")], expect: ctx(Sampling::NotSampled, false), source: "'Debug flag should only be set when the sampled flag is set': the sampled bit decides (OTel Go/Java)" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:09")], expect: ctx(Sampling::Sampled, false), source: "bit 4 (0x08) 'firehose' is not a sampling bit" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1")], expect: ctx(Sampling::Sampled, false), source: "value may be URL-encoded" },
    Row { headers: &[("uber-trace-id", "abc:def:0:1")], expect: Expect::Context { trace: "00000000000000000000000000000abc", span: Some("0000000000000def"), sampling: Sampling::Sampled, debug: false, flags: 1 }, source: "ids can be variable length, 0-padded on the left" },
    Row { headers: &[("uber-trace-id", "0:00f067aa0ba902b7:0:1")], expect: Expect::Rejected(ParseError::InvalidTraceId), source: "trace-id value of 0 is invalid" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0")], expect: Expect::Rejected(ParseError::Malformed), source: "{trace-id}:{span-id}:{parent-span-id}:{flags}" },
    Row { headers: &[("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:100")], expect: Expect::Rejected(ParseError::InvalidSampling), source: "flags: one byte bitmap, as two hex digits" },
];
