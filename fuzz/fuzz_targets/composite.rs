//! Every format at once: the default `CompositePropagator` and one in the reverse order, on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Carriers, Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    let carriers = Carriers::new(&headers);
    let mut reversed = PropagatorKind::ALL;
    reversed.reverse();
    exercise(&CompositePropagator::from_kinds(&reversed), &carriers);
    exercise(&CompositePropagator::default(), &carriers);
});
