//! OpenTracing: `OtPropagator` (`ot-tracer-*`, `ot-baggage-*`) on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);

    exercise(&OtPropagator::default(), &headers);
});
