//! `orders-api` as a real process behind lambda-trace-local (API Gateway, Runtime API, X-Ray
//! daemon), against moto's DynamoDB and a local inventory service: `GET /orders/o-1` answers the
//! order, and its trace is the invocation span → `load_order` (the `#[instrument]` span) →
//! `DynamoDB` (GetItem) and `inventory` (the HTTP call), with no span of the AWS SDK's internals.
//!
//! moto comes from the repository's `.venv` (`make venv`); without it the test fails with the
//! command to run, as the root crate's moto tests do: it never skips.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use hyper::Method;
use lambda_trace_local::client;
use lambda_trace_local::collector::{Node, Source, Trace};
use lambda_trace_local::gateway::{GatewayConfig, parse_xray_header};
use lambda_trace_local::stack::{FunctionSpec, Stack, StackOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REGION: &str = "eu-west-1";
const TABLE: &str = "orders";
const WAIT: Duration = Duration::from_secs(15);
const QUIET: Duration = Duration::from_millis(300);

/// The repository root (this package is `examples/orders-api`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `moto_server` on a free loopback port; killed on drop.
struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Moto {
    fn start() -> Moto {
        let bin = repo().join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run `make venv` (it installs moto[server] from requirements-dev.txt)",
            bin.display()
        );
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto { child, addr };
        let start = Instant::now();
        while !answers_http(moto.addr) {
            if let Some(status) = moto.child.try_wait().expect("moto_server status") {
                panic!("moto_server exited early: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not answer on {} within 60 s",
                moto.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/")
}

/// Creates the `orders` table in moto and puts order `o-1` in it.
async fn seed(endpoint: &str) {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .http_client(https_client())
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    dynamodb
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the table in moto");
    dynamodb
        .put_item()
        .table_name(TABLE)
        .item("id", AttributeValue::S("o-1".into()))
        .item("customerId", AttributeValue::S("c-7".into()))
        .item("total", AttributeValue::N("19.5".into()))
        .send()
        .await
        .expect("put the order in moto");
}

/// The SDK's client on rustls with `ring`, as the function builds it (no aws-lc-rs).
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The inventory service: answers `{"inStock": true}` to any request and keeps each request's
/// head (request line and headers, lowercased).
async fn inventory() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).to_lowercase());
                let body = r#"{"inStock":true}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (addr, requests)
}

/// The AWS X-Ray segment-document schema the root crate's tests validate against.
fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = include_str!("../../../tests/data/segment-document.schema.json");
        let schema: Value = serde_json::from_str(text).expect("schema is JSON");
        jsonschema::draft4::new(&schema).expect("schema compiles")
    })
}

fn assert_valid_document(document: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid segment document: {errors:#?}\n{document:#}"
    );
}

/// The one child of `parent` named `name`.
fn child<'a>(trace: &'a Trace, parent: &'a Node, name: &str, waterfall: &str) -> &'a Node {
    let found: Vec<&Node> = trace
        .children(&parent.id)
        .filter(|n| n.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name} under {}:\n{waterfall}",
        parent.name
    );
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_and_http_calls_nest_under_the_instrumented_span() {
    let moto = Moto::start();
    seed(&moto.endpoint()).await;
    let (inventory_addr, inventory_requests) = inventory().await;

    let function = FunctionSpec {
        name: "orders-api".into(),
        binary: PathBuf::from(env!("CARGO_BIN_EXE_orders-api")),
        routes: vec![("GET".into(), "/orders/{id}".into())],
        env: [
            ("AWS_ENDPOINT_URL_DYNAMODB", moto.endpoint()),
            ("INVENTORY_URL", format!("http://{inventory_addr}")),
            ("ORDERS_TABLE", TABLE.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };
    let stack = Stack::start_with(
        GatewayConfig::default(),
        &[function],
        StackOptions::default(),
    )
    .await
    .expect("the stack starts");
    stack.wait_ready(Duration::from_secs(30)).await.unwrap();

    let response = client::send(stack.gateway.address(), Method::GET, "/orders/o-1", &[], "")
        .await
        .unwrap();
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        stack.outputs()
    );
    let order: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        order,
        serde_json::json!({"id": "o-1", "customerId": "c-7", "total": 19.5, "inStock": true})
    );

    let trace_id = response.headers["x-amzn-trace-id"]
        .to_str()
        .ok()
        .and_then(parse_xray_header)
        .expect("the gateway's trace header")
        .0;
    let trace = stack
        .wait_trace(&trace_id, QUIET, WAIT)
        .await
        .unwrap_or_else(|| panic!("no trace {trace_id}\n{}", stack.outputs()));
    let waterfall = lambda_trace_local::waterfall::render(&trace, &Default::default());
    println!("{waterfall}"); // `cargo test -p orders-api -- --nocapture` shows the trace

    // Everything the function sent is valid X-Ray.
    let documents = stack.collector.documents(&trace_id);
    assert!(
        documents.iter().any(|d| d.source == Source::Daemon),
        "{waterfall}"
    );
    for document in documents.iter().filter(|d| d.source == Source::Daemon) {
        assert_valid_document(&document.document);
    }

    // Under Active tracing the invocation span is the child of Lambda's function segment.
    let function_segment = trace
        .with_origin("AWS::Lambda::Function")
        .next()
        .unwrap_or_else(|| panic!("no function segment:\n{waterfall}"));
    let invocation = child(&trace, function_segment, "orders-api", &waterfall);
    assert_eq!(invocation.http_status, Some(200), "{waterfall}");

    let load_order = child(&trace, invocation, "load_order", &waterfall);
    assert_eq!(
        load_order.annotation("orderId").as_deref(),
        Some("o-1"),
        "{waterfall}"
    );
    assert!(!load_order.fault, "{waterfall}");

    let dynamodb = child(&trace, load_order, "DynamoDB", &waterfall);
    assert_eq!(dynamodb.namespace.as_deref(), Some("aws"), "{waterfall}");
    assert_eq!(dynamodb.aws["operation"], "GetItem", "{:#}", dynamodb.aws);
    assert_eq!(dynamodb.http_status, Some(200), "{waterfall}");

    let http = child(&trace, load_order, "inventory", &waterfall);
    assert_eq!(http.namespace.as_deref(), Some("remote"), "{waterfall}");
    assert_eq!(http.http_status, Some(200), "{waterfall}");
    assert_eq!(
        http.http["request"]["url"],
        format!("http://{inventory_addr}/stock/o-1"),
        "{:#}",
        http.http
    );
    // The inventory call carried the trace header naming its own subsegment.
    let requests = inventory_requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].contains(&format!("parent={}", http.id)),
        "{}\n{waterfall}",
        requests[0]
    );

    // Exactly these spans came from the function: no `try_op`, `serialization`,
    // `lazy_load_identity`, `send_operation`, `invoke`… of the AWS SDK, nothing of hyper,
    // reqwest or the Lambda runtime.
    let from_function: Vec<(&str, usize)> = trace
        .nodes
        .iter()
        .filter(|n| n.source == Source::Daemon)
        .map(|n| (n.name.as_str(), n.depth - invocation.depth))
        .collect();
    assert_eq!(
        from_function,
        [
            ("orders-api", 0),
            ("load_order", 1),
            ("DynamoDB", 2),
            ("inventory", 2)
        ],
        "{waterfall}"
    );
}
