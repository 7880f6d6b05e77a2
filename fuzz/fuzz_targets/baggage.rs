//! W3C Baggage: `BaggagePropagator` on every carrier (baggage caps, inject → extract).
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Carriers, Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    let carriers = Carriers::new(&headers);
    exercise(&BaggagePropagator::default(), &carriers);
});
