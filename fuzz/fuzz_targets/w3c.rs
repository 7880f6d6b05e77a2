//! W3C Trace Context: `TraceParent` parse → format → parse, and `W3cPropagator` on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Carriers, Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    for value in headers.values() {
        if let Ok(tp) = value.parse::<TraceParent>() {
            let back: TraceParent = tp
                .to_string()
                .parse()
                .expect("formatted traceparent parses");
            // Flags other than sampled and random are zeroed on output (W3C Level 2 §3.2.2.5.3).
            assert_eq!(
                (back.trace_id, back.span_id, back.flags),
                (tp.trace_id, tp.span_id, tp.flags & 0x03)
            );
            assert_eq!(back.version, 0);
        }
    }
    let carriers = Carriers::new(&headers);
    exercise(&W3cPropagator::default(), &carriers);
});
