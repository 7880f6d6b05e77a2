//! Active or PassThrough: how the emulated API Gateway stage and Lambda trace an invocation.
//!
//! What AWS does, and so what the stand-in does:
//!
//! - **Active** (`Tracing: Active` on the function, `TracingEnabled: true` on the stage): API
//!   Gateway samples the request (the stand-in samples every one), records its segment and
//!   passes `X-Amzn-Trace-Id: Root=…;Parent=<its segment>;Sampled=1`; Lambda records the
//!   `AWS::Lambda` and `AWS::Lambda::Function` segments and gives the function
//!   `Root=…;Parent=<function segment>;Sampled=1`. A caller's `traceparent` can only become a
//!   link of that trace.
//! - **PassThrough** (the function's default; a stage without X-Ray tracing is "passive"):
//!   - The Lambda API reference (`TracingConfig`): "If PassThrough, Lambda will only trace the
//!     request from an upstream service if it contains a tracing header with `sampled=1`"
//!     (<https://docs.aws.amazon.com/lambda/latest/api/API_TracingConfig.html>).
//!   - API Gateway, "X-Ray tracing modes for API Gateway": Passive "is the default setting if you
//!     have not enabled X-Ray tracing on an API stage … the API Gateway API is only traced if
//!     X-Ray has been enabled on an upstream service", and "if you call an API Gateway API from
//!     a service that's already being traced, API Gateway passes the trace through"
//!     (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-enabling-xray.html>).
//!   - What the function gets when nothing upstream sampled the request: Lambda still passes a
//!     trace header, but with the root only — `Root=1-…` (sometimes `;Lineage=…`), no `Parent`
//!     and no `Sampled` — and records no segment. That is how the X-Ray SDKs detect PassThrough:
//!     aws-xray-sdk-java PR #409 "Support Lambda PassThrough trace header propagation" ("changing
//!     the trace header structure from `Root=...;Parent=...;Sampled=1` in the active tracing case
//!     to `Root=...` in the PassThrough case", headers logged from `_X_AMZN_TRACE_ID`), and
//!     aws-xray-sdk-node `populateTraceData` ("Lambda PassThrough only has root"); see also the
//!     AWS Compute Blog "Streamlining trace sampling behavior for AWS Lambda functions with AWS
//!     X-Ray" (PassThrough propagates the trace context without creating segments).
//!
//!   So under PassThrough the stand-in: passes an incoming `X-Amzn-Trace-Id` through; when it has
//!   `Sampled=1`, the gateway and Lambda trace as under Active (the upstream is traced); otherwise
//!   the gateway records nothing and hands on `X-Amzn-Trace-Id: Root=…` (the caller's root, or a
//!   new one), and Lambda gives the function `Lambda-Runtime-Trace-Id: Root=…` only and records
//!   nothing. lambda-trace then takes the parent from the event's headers (ARCHITECTURE.md §3,
//!   case 2; a context with a parent span beats a root-only one), so a caller's `traceparent`
//!   is the parent and its trace id is the trace's.

use std::fmt;
use std::str::FromStr;

/// The tracing mode of the emulated stage and its functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TracingMode {
    /// API Gateway and Lambda sample every request and record their segments.
    #[default]
    Active,
    /// Traced only when the incoming `X-Amzn-Trace-Id` has `Sampled=1`; otherwise the function
    /// gets a root-only trace header and the caller's context in the event decides.
    PassThrough,
}

impl FromStr for TracingMode {
    type Err = String;

    /// `active`, or `passthrough` / `pass-through` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "active" => Ok(TracingMode::Active),
            "passthrough" | "pass-through" | "pass_through" => Ok(TracingMode::PassThrough),
            other => Err(format!(
                "--tracing: expected active or passthrough, got {other}"
            )),
        }
    }
}

impl fmt::Display for TracingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TracingMode::Active => "Active",
            TracingMode::PassThrough => "PassThrough",
        })
    }
}

/// Whether an `X-Amzn-Trace-Id` value says `Sampled=1`.
pub fn xray_sampled(value: &str) -> bool {
    value.split(';').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("Sampled") && v.trim() == "1")
    })
}

/// The trace ids (X-Ray form, `1-xxxxxxxx-yyyy…`) a caller's W3C `traceparent` or B3 (`b3`,
/// `x-b3-traceid`) headers name, in that order, deduplicated. Under PassThrough the function may
/// continue one of these instead of the gateway's trace, so the CLI looks for them too.
pub fn caller_trace_ids<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, value) in headers {
        let hex = if name.eq_ignore_ascii_case("traceparent") {
            value.trim().split('-').nth(1)
        } else if name.eq_ignore_ascii_case("b3") {
            value.trim().split('-').next()
        } else if name.eq_ignore_ascii_case("x-b3-traceid") {
            Some(value.trim())
        } else {
            None
        };
        if let Some(id) = hex.and_then(xray_trace_id)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// A 32 (or B3's 16) hex digit trace id in X-Ray form; `None` if it is not one, or all zeros.
fn xray_trace_id(hex: &str) -> Option<String> {
    if !(hex.len() == 32 || hex.len() == 16) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = format!("{:0>32}", hex.to_ascii_lowercase());
    (hex.chars().any(|c| c != '0')).then(|| format!("1-{}-{}", &hex[..8], &hex[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mode() {
        assert_eq!("active".parse(), Ok(TracingMode::Active));
        assert_eq!("PassThrough".parse(), Ok(TracingMode::PassThrough));
        assert_eq!("pass-through".parse(), Ok(TracingMode::PassThrough));
        assert!("off".parse::<TracingMode>().is_err());
        assert_eq!(TracingMode::default(), TracingMode::Active);
    }

    #[test]
    fn sampled_flag() {
        assert!(xray_sampled(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
        ));
        assert!(xray_sampled("Root=1-a-b; sampled = 1"));
        assert!(!xray_sampled(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
        ));
        assert!(!xray_sampled("Root=1-5759e988-bd862e3fe1be46a994272793"));
    }

    #[test]
    fn caller_ids_from_w3c_and_b3() {
        let ids = caller_trace_ids([
            (
                "TraceParent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("b3", "80f198ee56343ba8-e457b5a2e4d86bd1-1"),
            ("x-b3-traceid", "0af7651916cd43dd8448eb211c80319c"),
            (
                "traceparent",
                "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            ),
            ("user-agent", "curl"),
        ]);
        assert_eq!(
            ids,
            [
                "1-0af76519-16cd43dd8448eb211c80319c",
                "1-00000000-0000000080f198ee56343ba8"
            ]
        );
        assert!(caller_trace_ids([("traceparent", "garbage")]).is_empty());
    }
}
