//! W3C Baggage: `BaggagePropagator` on every carrier (baggage caps, inject → extract).
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);

    exercise(&BaggagePropagator::default(), &headers);
});
