//! DynamoDB (AWS JSON 1.0): the table a call works on, X-Ray's `aws.table_name`.

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use serde_json::{Map, Value};

use super::{json_body, set};
use crate::span::Span;

pub(super) fn apply(request: &HttpRequest, span: &Span) {
    if let Some(body) = json_body(request)
        && let Some(table) = table_name(&body)
    {
        set(span, "aws.table_name", table);
    }
}

/// The table a DynamoDB request names: `TableName`, else the one table of a batch or
/// transaction.
fn table_name(body: &Map<String, Value>) -> Option<&str> {
    if let Some(name) = body.get("TableName").and_then(Value::as_str) {
        return Some(name);
    }
    if let Some(items) = body.get("RequestItems").and_then(Value::as_object) {
        let mut names = items.keys();
        return match (names.next(), names.next()) {
            (Some(one), None) => Some(one.as_str()),
            _ => None,
        };
    }
    let items = body.get("TransactItems")?.as_array()?;
    let mut tables = items.iter().filter_map(|item| {
        item.as_object()?
            .values()
            .find_map(|op| op.get("TableName")?.as_str())
    });
    let first = tables.next()?;
    tables.all(|t| t == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::super::tests::object as body;
    use serde_json::json;

    use super::*;

    #[test]
    fn dynamodb_table_names() {
        assert_eq!(
            table_name(&body(json!({"TableName": "orders"}))),
            Some("orders")
        );
        assert_eq!(
            table_name(&body(json!({"RequestItems": {"orders": []}}))),
            Some("orders")
        );
        assert_eq!(
            table_name(&body(json!({"RequestItems": {"orders": [], "users": []}}))),
            None
        );
        assert_eq!(
            table_name(&body(json!({"TransactItems": [
                {"Put": {"TableName": "orders"}}, {"Update": {"TableName": "orders"}}
            ]}))),
            Some("orders")
        );
        assert_eq!(
            table_name(&body(json!({"TransactItems": [
                {"Put": {"TableName": "orders"}}, {"Update": {"TableName": "users"}}
            ]}))),
            None
        );
        assert_eq!(table_name(&body(json!({"TableName": 5}))), None);
    }
}
