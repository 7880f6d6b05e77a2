//! The span API as a handler uses it (child spans, annotations, metadata, errors, attributes,
//! links, HTTP data, injection) inside one traced invocation, then the X-Ray translation and
//! encoding: limits hold, every document is JSON within 64 kB, every span is in one document.

#![no_main]

use lambda_trace_fuzz::span_script::{Script, run};

libfuzzer_sys::fuzz_target!(|script: Script| run(script));
