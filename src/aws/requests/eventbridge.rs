//! EventBridge (AWS JSON 1.1): `PutEvents` is a send to a bus.
//!
//! Nothing is added to the events. EventBridge passes the request's `X-Amzn-Trace-Id` (the
//! interceptor's, naming this call's span) to every target of the matching rules, unless an
//! entry has its own `TraceHeader`; the event delivered to a target carries no header of its
//! own (AWS: "Amazon EventBridge integration with AWS X-Ray"). Other formats than X-Ray travel
//! only in the event's `detail`, which is the caller's data: see
//! [the `_trace` convention](crate::carrier::payload) to put them there.

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use serde_json::Value;

use super::{json_body, sending, set};
use crate::span::Span;

/// The bus of an entry that names none.
const DEFAULT_BUS: &str = "default";

pub(super) fn apply(operation: &str, request: &HttpRequest, span: &Span) {
    if operation != "PutEvents" {
        return;
    }
    let Some(body) = json_body(request) else {
        return;
    };
    let entries = body
        .get("Entries")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    set(span, "messaging.system", "aws.eventbridge");
    sending(span, entries.len());
    if let Some(bus) = one_bus(entries) {
        set(span, "messaging.destination.name", bus);
    }
}

/// The name of the bus every entry goes to (`EventBusName`, a name or an ARN; `default` when
/// absent), `None` when they go to several or there are none.
fn one_bus(entries: &[Value]) -> Option<&str> {
    let mut buses = entries.iter().map(|entry| {
        let bus = entry
            .get("EventBusName")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_BUS);
        // `arn:aws:events:us-east-1:123456789012:event-bus/orders`
        bus.rsplit_once(":event-bus/").map_or(bus, |(_, name)| name)
    });
    let first = buses.next()?;
    buses.all(|b| b == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_bus_when_every_entry_names_the_same() {
        let bus = |entries: Value| {
            let entries = entries.as_array().unwrap().clone();
            one_bus(&entries).map(str::to_owned)
        };
        assert_eq!(
            bus(json!([{}, {"EventBusName": "default"}])).as_deref(),
            Some("default")
        );
        assert_eq!(
            bus(json!([
                {"EventBusName": "orders"},
                {"EventBusName": "arn:aws:events:us-east-1:123456789012:event-bus/orders"}
            ]))
            .as_deref(),
            Some("orders")
        );
        assert_eq!(bus(json!([{"EventBusName": "orders"}, {}])), None);
        assert_eq!(bus(json!([])), None);
        assert_eq!(
            bus(json!([{"EventBusName": 5}])).as_deref(),
            Some("default")
        );
    }
}
