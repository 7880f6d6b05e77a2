//! Jaeger: `JaegerPropagator` (`uber-trace-id`, `uberctx-*`) on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Carriers, Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    let carriers = Carriers::new(&headers);
    exercise(&JaegerPropagator::default(), &carriers);
});
