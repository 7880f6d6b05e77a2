//! X-Ray: `XrayHeader` parse → format → parse, and `XrayPropagator` (each missing-sampled behavior) on every carrier.
#![no_main]

use lambda_trace::propagation::*;
use lambda_trace_fuzz::{Carriers, Headers, exercise};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    for value in headers.values() {
        if let Ok(h) = value.parse::<XrayHeader>() {
            let text = h.to_string();
            if text.len() <= MAX_HEADER_LEN {
                assert_eq!(
                    text.parse::<XrayHeader>().as_ref(),
                    Ok(&h),
                    "{value:?} → {text:?}"
                );
            }
        }
    }
    let carriers = Carriers::new(&headers);
    for behavior in [
        MissingSampledBehavior::Sampled,
        MissingSampledBehavior::NotSampled,
    ] {
        exercise(
            &XrayPropagator::default().with_missing_sampled_behavior(behavior),
            &carriers,
        );
    }
    exercise(&XrayPropagator::default(), &carriers);
});
