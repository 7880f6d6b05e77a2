//! Zipkin B3: `B3` parse → format → parse, and both `B3Propagator` encodings on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Carriers, Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    for value in headers.values() {
        if let Ok(b3) = value.parse::<B3>() {
            let text = b3.to_string();
            assert_eq!(text.parse::<B3>(), Ok(b3), "{value:?} → {text:?}");
        }
    }
    let carriers = Carriers::new(&headers);
    exercise(&B3Propagator::multi(), &carriers);
    exercise(&B3Propagator::single(), &carriers);
});
