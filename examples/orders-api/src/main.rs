//! `orders-api`: `GET /orders/{id}`, the shape of a typical traced API function.
//!
//! A `lambda_http` handler reads the order from DynamoDB and asks an inventory service whether
//! it is in stock, inside one `#[tracing::instrument]`ed function, `load_order`. Traced by
//! lambda-trace with nothing but its setup in `main`:
//!
//! - `lambda_trace::http_layer::run` instead of `lambda_http::run`: the invocation span, the
//!   caller's trace context, the HTTP data and status, the flush before the response;
//! - the `tracing` bridge: `load_order` becomes a child span of the invocation (with the
//!   annotation `orderId`), and a fault when it returns an error (`err`);
//! - `XrayInterceptor` on the DynamoDB client and `TracingMiddleware` on the reqwest client: each
//!   call is a subsegment (`DynamoDB` with the operation `GetItem`; `inventory`) of the span it is
//!   made in — here `load_order` — and carries the trace header.
//!
//! The trace of one request:
//!
//! ```text
//! orders-api                  the invocation span (ColdStart, Service, HTTP method, path, status)
//!   load_order                #[instrument], annotation orderId
//!     DynamoDB                GetItem on ORDERS_TABLE
//!     inventory               GET $INVENTORY_URL/stock/{id}
//! ```
//!
//! The AWS SDK's own spans (`try_op`, `serialization`, …) are not in it: the bridge records your
//! crates' spans at `INFO` and above, not the libraries'.
//!
//! Answers `200 {"id", "customerId", "total", "inStock"}`, `404` for an unknown order, `400`
//! without an id.
//!
//! Environment:
//! - `ORDERS_TABLE`: the DynamoDB table (partition key `id`, a string), default `orders`;
//! - `INVENTORY_URL`: the inventory service's base URL (`GET {INVENTORY_URL}/stock/{id}` answers
//!   `{"inStock": bool}`);
//! - the usual AWS variables (Lambda sets them); `AWS_ENDPOINT_URL_DYNAMODB` points the client
//!   at another endpoint (DynamoDB Local, moto).
//!
//! Run it locally behind the stand-in (`cargo build -p orders-api -p lambda-trace-local`):
//! `lambda-trace-local serve --route 'GET /orders/{id}=target/debug/orders-api'`, or see
//! `tests/local_trace.rs`.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};
use lambda_trace::aws::XrayInterceptor;
use lambda_trace::bridge::TracingBridge;
use lambda_trace::outgoing::TracingMiddleware;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::{Deserialize, Serialize};
use tracing_subscriber::prelude::*;

/// What the function answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    id: String,
    customer_id: String,
    total: f64,
    in_stock: bool,
}

/// The inventory service's answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stock {
    in_stock: bool,
}

/// The clients, built once per process (outside the handler) and cloned into each invocation:
/// both are handles to shared connection pools.
#[derive(Debug, Clone)]
struct App {
    dynamodb: aws_sdk_dynamodb::Client,
    http: ClientWithMiddleware,
    table: String,
    inventory_url: String,
}

impl App {
    async fn from_env() -> Result<App, Error> {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .load()
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk_config)
                .interceptor(XrayInterceptor::new())
                .build(),
        );
        let http = ClientBuilder::new(
            reqwest::Client::builder()
                // Below the function's timeout: a hung service fails the request, not the invocation.
                .timeout(Duration::from_secs(5))
                .build()?,
        )
        .with(TracingMiddleware::new().with_name("inventory"))
        .build();
        Ok(App {
            dynamodb,
            http,
            table: std::env::var("ORDERS_TABLE").unwrap_or_else(|_| "orders".into()),
            inventory_url: std::env::var("INVENTORY_URL")
                .map_err(|_| "INVENTORY_URL is not set")?
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

/// The SDK's HTTPS client on rustls with `ring` (the SDK's default client would bring aws-lc-rs).
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

async fn handler(app: App, request: Request) -> Result<Response<Body>, Error> {
    let id = request
        .path_parameters_ref()
        .and_then(|params| params.first("id"))
        .map(str::to_owned);
    let Some(id) = id else {
        return Ok(Response::builder().status(400).body("no order id".into())?);
    };
    match load_order(&app, &id).await? {
        Some(order) => Ok(Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(serde_json::to_string(&order)?.into())?),
        None => Ok(Response::builder()
            .status(404)
            .body("no such order".into())?),
    }
}

/// Reads order `id` and its stock. A child span of the invocation; the DynamoDB and inventory
/// calls are its children.
#[tracing::instrument(skip(app), fields(annotation.orderId = %id), err)]
async fn load_order(app: &App, id: &str) -> Result<Option<Order>, Error> {
    let output = app
        .dynamodb
        .get_item()
        .table_name(&app.table)
        .key("id", AttributeValue::S(id.to_owned()))
        .send()
        .await?;
    let Some(item) = output.item else {
        tracing::info!("not found");
        return Ok(None);
    };
    let customer_id = match item.get("customerId") {
        Some(AttributeValue::S(customer)) => customer.clone(),
        _ => return Err("order without customerId".into()),
    };
    let total = match item.get("total") {
        Some(AttributeValue::N(total)) => total.parse()?,
        _ => return Err("order without total".into()),
    };
    let stock: Stock = app
        .http
        .get(format!("{}/stock/{id}", app.inventory_url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(Some(Order {
        id: id.to_owned(),
        customer_id,
        total,
        in_stock: stock.in_stock,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::registry()
        .with(TracingBridge::new())
        .init();
    let app = App::from_env().await?;
    lambda_trace::http_layer::run(service_fn(move |request| handler(app.clone(), request))).await
}
