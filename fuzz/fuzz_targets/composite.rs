//! Every format at once: the default `CompositePropagator` and one in the reverse order, on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    let mut reversed = PropagatorKind::ALL;
    reversed.reverse();
    exercise(&CompositePropagator::from_kinds(&reversed), &headers);
    exercise(&CompositePropagator::default(), &headers);
});
