//! The benchmarked handlers. First, an API Gateway (REST, v1) `POST` with a small order in its
//! body, answered with a small JSON body.
//!
//! The work is split in three steps ([`parse`], [`price`], [`render`]) so that [`traced`] can put
//! each in a child span with one annotation (the issue's target scenario: one invocation span +
//! 3 child spans) while [`bare`] does exactly the same work without tracing.
//!
//! Second, an SQS consumer (issue 16): an `SqsEvent` of orders in, an `SqsBatchResponse` out.
//! Each record's body is parsed and priced ([`fulfil`]); [`sqs_traced`] runs every record with
//! [`lambda_trace::messaging::each_record`] (a `process` span per record, in the record's own
//! trace), [`sqs_bare`] runs the same work in a plain loop.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};

/// The body the driver puts into the event (the sample events have none).
pub const SAMPLE_BODY: &str = r#"{"orderId":"o-1","customerId":"c-1","items":[{"sku":"s-1","qty":2,"price":9.5},{"sku":"s-2","qty":1,"price":20.0}]}"#;

/// An order as the client sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The client's order id.
    pub order_id: String,
    /// Who orders.
    pub customer_id: String,
    /// What is ordered.
    pub items: Vec<Item>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Item {
    /// Product id.
    pub sku: String,
    /// Quantity.
    pub qty: u32,
    /// Unit price.
    pub price: f64,
}

/// The answer's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Priced<'a> {
    /// The client's order id.
    pub order_id: &'a str,
    /// Number of lines.
    pub items: usize,
    /// Sum of `qty * price`.
    pub total: f64,
}

/// Step 1: the body as an [`Order`].
pub fn parse(request: &ApiGatewayProxyRequest) -> Result<Order, serde_json::Error> {
    serde_json::from_str(request.body.as_deref().unwrap_or("{}"))
}

/// Step 2: the order's total.
pub fn price(order: &Order) -> Priced<'_> {
    Priced {
        order_id: &order.order_id,
        items: order.items.len(),
        total: order.items.iter().map(|i| f64::from(i.qty) * i.price).sum(),
    }
}

/// Step 3: the API Gateway response (`200` + JSON).
pub fn render(priced: &Priced<'_>) -> ApiGatewayProxyResponse {
    let body = serde_json::to_string(priced).unwrap_or_else(|_| "{}".to_owned());
    response(200, body)
}

fn response(status: i64, body: String) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body));
    response
}

/// The answer to a body that does not parse: `400` + `{"error": …}` (public for the tracing
/// stacks of `bench/alternatives`, which run the same steps).
pub fn bad_request(e: &serde_json::Error) -> ApiGatewayProxyResponse {
    response(
        400,
        format!(r#"{{"error":"{}"}}"#, e.to_string().replace('"', "'")),
    )
}

/// The handler without tracing.
pub async fn bare(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let order = match parse(&event.payload) {
        Ok(order) => order,
        Err(e) => return Ok(bad_request(&e)),
    };
    let priced = price(&order);
    Ok(render(&priced))
}

/// The same handler with three child spans of the invocation span, one annotation each.
pub async fn traced(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let span = lambda_trace::current();
    let parsed = span.in_child_sync("parse", |child| {
        let parsed = parse(&event.payload);
        if let Ok(order) = &parsed {
            child.annotate("items", order.items.len());
        }
        parsed
    });
    let order = match parsed {
        Ok(order) => order,
        Err(e) => return Ok(bad_request(&e)),
    };
    let priced = span.in_child_sync("price", |child| {
        let priced = price(&order);
        child.annotate("total", priced.total);
        priced
    });
    Ok(span.in_child_sync("render", |child| {
        child.annotate("orderId", priced.order_id);
        render(&priced)
    }))
}

/// The work of one SQS record: its body as an [`Order`], priced (a consumer's own calls would
/// follow). The total goes through `black_box`, so that the bare loop cannot skip the work.
pub fn fulfil(record: &SqsMessage) -> Result<f64, serde_json::Error> {
    let order: Order = serde_json::from_str(record.body.as_deref().unwrap_or("{}"))?;
    Ok(std::hint::black_box(price(&order).total))
}

/// The SQS consumer without tracing: every record in turn; a record whose body does not parse
/// is a `batchItemFailures` entry.
pub async fn sqs_bare(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in &event.payload.records {
        if fulfil(record).is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// The same consumer with a `process` span per record, each in its record's trace
/// ([`lambda_trace::messaging::each_record`]), and the same partial batch response.
pub async fn sqs_traced(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let processed =
        lambda_trace::messaging::each_record(
            &event.payload,
            |record| async move { fulfil(record) },
        )
        .await;
    Ok(processed.into_batch_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: Option<&str>) -> LambdaEvent<ApiGatewayProxyRequest> {
        let mut request = ApiGatewayProxyRequest::default();
        request.body = body.map(str::to_owned);
        LambdaEvent::new(request, lambda_runtime::Context::default())
    }

    fn body(response: &ApiGatewayProxyResponse) -> &str {
        match &response.body {
            Some(Body::Text(text)) => text,
            _ => "",
        }
    }

    #[tokio::test]
    async fn bare_and_traced_answer_the_same() {
        let a = bare(event(Some(SAMPLE_BODY))).await.unwrap();
        let b = traced(event(Some(SAMPLE_BODY))).await.unwrap();
        assert_eq!(a.status_code, 200);
        assert_eq!(body(&a), r#"{"orderId":"o-1","items":2,"total":39.0}"#);
        assert_eq!(body(&a), body(&b));
        assert_eq!(b.status_code, 200);
    }

    #[tokio::test]
    async fn sqs_bare_and_traced_answer_the_same() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sqs-batch-10.json");
        let mut event: SqsEvent = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(event.records.len(), 10);
        assert!(event.records.iter().all(|r| fulfil(r).is_ok()));
        event.records[3].body = Some("not an order".into());
        let id = event.records[3].message_id.clone().unwrap();
        let run = |e: &SqsEvent| LambdaEvent::new(e.clone(), lambda_runtime::Context::default());
        let a = serde_json::to_string(&sqs_bare(run(&event)).await.unwrap()).unwrap();
        let b = serde_json::to_string(&sqs_traced(run(&event)).await.unwrap()).unwrap();
        assert_eq!(
            a,
            format!(r#"{{"batchItemFailures":[{{"itemIdentifier":"{id}"}}]}}"#)
        );
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn a_bad_body_is_a_400() {
        let a = bare(event(Some("nope"))).await.unwrap();
        let b = traced(event(Some("nope"))).await.unwrap();
        assert_eq!(a.status_code, 400);
        assert_eq!(body(&a), body(&b));
    }
}
