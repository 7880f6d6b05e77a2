//! An emulator of the [Lambda Runtime API] on `127.0.0.1:<free port>`.
//!
//! It serves the endpoints a runtime such as `lambda_runtime` uses:
//!
//! | Request                                              | Answer                               |
//! |------------------------------------------------------|--------------------------------------|
//! | `GET /2018-06-01/runtime/invocation/next`            | long-polls; 200 + event and headers  |
//! | `POST /2018-06-01/runtime/invocation/{id}/response`  | records the response; 202            |
//! | `POST /2018-06-01/runtime/invocation/{id}/error`     | records the error; 202               |
//! | `POST /2018-06-01/runtime/init/error`                | records the init error; 202          |
//! | anything else                                        | 404 (405 for a wrong method)         |
//!
//! The test (or the gateway) queues invocations with [`RuntimeApi::invoke`] and gets the outcome
//! back once the function posted it.
//!
//! [Lambda Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::ids;
use crate::server::{self, HttpResponse, ServerHandle};

/// The function ARN used when an [`Invocation`] doesn't set one.
pub const DEFAULT_FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:local";

/// The deadline used when an [`Invocation`] doesn't set one.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// How long [`RuntimeApi::invoke`] waits past the invocation's deadline before giving up.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

const PREFIX: &str = "/2018-06-01/runtime/";

/// One invocation to hand to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event, sent as the body of the `/next` answer.
    pub payload: Bytes,
    /// `Lambda-Runtime-Trace-Id`, sent only when set.
    pub trace_header: Option<String>,
    /// Time the function has, counted from when the invocation is queued.
    pub deadline: Duration,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
}

impl Invocation {
    /// An invocation of `payload` with a random request id, a 30 s deadline and the ARN
    /// [`DEFAULT_FUNCTION_ARN`].
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Invocation {
            request_id: ids::request_id(),
            payload: payload.into(),
            trace_header: None,
            deadline: DEFAULT_DEADLINE,
            function_arn: DEFAULT_FUNCTION_ARN.to_owned(),
        }
    }

    /// Sets the `Lambda-Runtime-Trace-Id` header value (`Root=…;Parent=…;Sampled=1`).
    pub fn with_trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace_header = Some(header.into());
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// Sets the deadline, counted from when the invocation is queued.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the invoked function ARN.
    pub fn with_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.function_arn = arn.into();
        self
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function posted `/response` with this body.
    Response(Bytes),
    /// The function posted `/error`.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header, if any.
        error_type: Option<String>,
        /// The error body (usually `{"errorType": …, "errorMessage": …}`).
        body: Bytes,
    },
    /// Nothing was posted within the deadline plus [`TIMEOUT_GRACE`].
    TimedOut,
}

impl Outcome {
    /// The response body, if the outcome is [`Outcome::Response`].
    pub fn response(&self) -> Option<&Bytes> {
        match self {
            Outcome::Response(body) => Some(body),
            _ => None,
        }
    }
}

/// The result of [`RuntimeApi::invoke`].
#[derive(Debug, Clone)]
pub struct InvocationResult {
    /// The invocation's request id.
    pub request_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// When `/next` handed the invocation to the function (the time of the timeout if it never
    /// did).
    pub next_answered_at: Instant,
    /// When `/response` or `/error` arrived (the time of the timeout for [`Outcome::TimedOut`]).
    pub completed_at: Instant,
}

/// A recorded `POST /runtime/init/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    /// The `Lambda-Runtime-Function-Error-Type` header, if any.
    pub error_type: Option<String>,
    /// The error body.
    pub body: Bytes,
}

type Hook = Arc<dyn Fn(&str) + Send + Sync>;

struct Queued {
    invocation: Invocation,
    deadline_ms: u128,
}

struct Completion {
    outcome: Outcome,
    at: Instant,
}

#[derive(Default)]
struct Inflight {
    tx: Option<oneshot::Sender<Completion>>,
    next_answered_at: Option<Instant>,
}

struct Shared {
    queue_tx: mpsc::UnboundedSender<Queued>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    inflight: Mutex<HashMap<String, Inflight>>,
    hooks: Mutex<Vec<Hook>>,
    polls_waiting: watch::Sender<usize>,
    init_errors: Mutex<Vec<InitError>>,
}

impl Shared {
    fn inflight(&self) -> std::sync::MutexGuard<'_, HashMap<String, Inflight>> {
        self.inflight.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running Runtime API emulator.
///
/// This is a cheap, `Clone`-able handle: all clones talk to the same server, which keeps running
/// until the last clone is dropped.
#[derive(Clone)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
    server: Arc<ServerHandle>,
}

impl fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Binds `127.0.0.1:0` and serves the Runtime API in background tokio tasks.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            inflight: Mutex::new(HashMap::new()),
            hooks: Mutex::new(Vec::new()),
            polls_waiting: watch::channel(0).0,
            init_errors: Mutex::new(Vec::new()),
        });
        let handler_shared = shared.clone();
        let server = server::spawn(listener, move |req| {
            let shared = handler_shared.clone();
            async move { handle(&shared, req).await }
        })?;
        Ok(RuntimeApi {
            shared,
            server: Arc::new(server),
        })
    }

    /// The address to put in `AWS_LAMBDA_RUNTIME_API` (as `127.0.0.1:port`).
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// Registers a hook called with the request id when a `/response` or `/error` arrives,
    /// after its body was read and *before* the 202 is sent (and before [`RuntimeApi::invoke`]
    /// returns). Hooks accumulate; each is called in registration order.
    pub fn on_response(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.shared
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(hook));
    }

    /// Queues `invocation` and waits until the function posts its response or error, or until
    /// the invocation's deadline plus [`TIMEOUT_GRACE`] passed ([`Outcome::TimedOut`]).
    ///
    /// An invocation that timed out (or whose `invoke` future was dropped) is withdrawn: it is
    /// not handed to a later `/next` poll.
    pub async fn invoke(&self, invocation: Invocation) -> InvocationResult {
        let request_id = invocation.request_id.clone();
        let wait = invocation.deadline + TIMEOUT_GRACE;
        let deadline_ms = (SystemTime::now() + invocation.deadline)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let (tx, rx) = oneshot::channel();
        self.shared.inflight().insert(
            request_id.clone(),
            Inflight {
                tx: Some(tx),
                next_answered_at: None,
            },
        );
        let guard = InflightGuard {
            shared: &self.shared,
            request_id: &request_id,
        };
        let _ = self.shared.queue_tx.send(Queued {
            invocation,
            deadline_ms,
        });
        let result = tokio::time::timeout(wait, rx).await;
        let entry = self.shared.inflight().remove(&request_id);
        drop(guard);
        let now = Instant::now();
        let next_answered_at = entry.and_then(|e| e.next_answered_at);
        match result {
            Ok(Ok(completion)) => InvocationResult {
                request_id: request_id.clone(),
                outcome: completion.outcome,
                next_answered_at: next_answered_at.unwrap_or(completion.at),
                completed_at: completion.at,
            },
            _ => InvocationResult {
                request_id: request_id.clone(),
                outcome: Outcome::TimedOut,
                next_answered_at: next_answered_at.unwrap_or(now),
                completed_at: now,
            },
        }
    }

    /// Waits until a `/next` poll is waiting (the function finished its init), at most
    /// `timeout`. Returns whether one is.
    pub async fn wait_for_next_poll(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.polls_waiting.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0)).await,
            Ok(Ok(_))
        )
    }

    /// How many `/next` polls are waiting right now.
    pub fn polls_waiting(&self) -> usize {
        *self.shared.polls_waiting.borrow()
    }

    /// The `/runtime/init/error` posts received so far.
    pub fn init_errors(&self) -> Vec<InitError> {
        self.shared
            .init_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Removes an in-flight entry when `invoke` ends or is cancelled.
struct InflightGuard<'a> {
    shared: &'a Shared,
    request_id: &'a str,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.shared.inflight().remove(self.request_id);
    }
}

/// Counts a waiting `/next` poll for as long as it lives.
struct PollGuard<'a>(&'a Shared);

impl<'a> PollGuard<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.polls_waiting.send_modify(|n| *n += 1);
        PollGuard(shared)
    }
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0
            .polls_waiting
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

fn error_json(status: u16, error_type: &str, message: &str) -> HttpResponse {
    server::json(
        status,
        &serde_json::json!({ "errorType": error_type, "errorMessage": message }),
    )
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return error_json(404, "NotFound", "unknown path");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    match segments.as_slice() {
        ["invocation", "next"] => {
            if method != Method::GET {
                return error_json(405, "MethodNotAllowed", "use GET");
            }
            next(shared).await
        }
        ["invocation", id, kind @ ("response" | "error")] if !id.is_empty() => {
            if method != Method::POST {
                return error_json(405, "MethodNotAllowed", "use POST");
            }
            let id = (*id).to_owned();
            let is_error = *kind == "error";
            let (error_type, body) = read_post(req).await;
            let hooks: Vec<Hook> = shared
                .hooks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for hook in &hooks {
                hook(&id);
            }
            let outcome = if is_error {
                Outcome::Error { error_type, body }
            } else {
                Outcome::Response(body)
            };
            let tx = shared.inflight().get_mut(&id).and_then(|e| e.tx.take());
            if let Some(tx) = tx {
                let _ = tx.send(Completion {
                    outcome,
                    at: Instant::now(),
                });
            }
            accepted()
        }
        ["init", "error"] => {
            if method != Method::POST {
                return error_json(405, "MethodNotAllowed", "use POST");
            }
            let (error_type, body) = read_post(req).await;
            shared
                .init_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(InitError { error_type, body });
            accepted()
        }
        _ => error_json(404, "NotFound", "unknown path"),
    }
}

fn accepted() -> HttpResponse {
    server::json(202, &serde_json::json!({ "status": "OK" }))
}

async fn read_post(req: Request<Incoming>) -> (Option<String>, Bytes) {
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    (error_type, body)
}

async fn next(shared: &Shared) -> HttpResponse {
    let poll = PollGuard::new(shared);
    loop {
        let queued = {
            let mut rx = shared.queue_rx.lock().await;
            rx.recv().await
        };
        let Some(queued) = queued else {
            return error_json(500, "ServiceException", "the emulator is shutting down");
        };
        let inv = queued.invocation;
        let alive = match shared.inflight().get_mut(&inv.request_id) {
            Some(entry) => {
                entry.next_answered_at = Some(Instant::now());
                true
            }
            None => false,
        };
        if !alive {
            // Withdrawn (timed out or cancelled) before any function picked it up.
            continue;
        }
        drop(poll);
        let mut builder = hyper::Response::builder()
            .status(200)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header("Lambda-Runtime-Aws-Request-Id", &inv.request_id)
            .header("Lambda-Runtime-Deadline-Ms", queued.deadline_ms.to_string())
            .header("Lambda-Runtime-Invoked-Function-Arn", &inv.function_arn);
        if let Some(trace) = &inv.trace_header {
            builder = builder.header("Lambda-Runtime-Trace-Id", trace);
        }
        return builder
            .body(http_body_util::Full::new(inv.payload))
            .unwrap_or_else(|_| error_json(500, "ServiceException", "bad header value"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    #[tokio::test]
    async fn next_response_round_trip_and_hook_runs_before_202() {
        let api = RuntimeApi::start().await.unwrap();
        let addr = api.address();
        let hook_calls = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
        let calls = hook_calls.clone();
        api.on_response(move |id| calls.lock().unwrap().push((id.to_owned(), Instant::now())));

        let invoker = {
            let api = api.clone();
            tokio::spawn(async move {
                api.invoke(
                    Invocation::new(r#"{"hello":"world"}"#)
                        .with_request_id("req-1")
                        .with_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
                )
                .await
            })
        };
        let next = client::send(addr, Method::GET, NEXT, &[], "")
            .await
            .unwrap();
        assert_eq!(next.status, 200);
        assert_eq!(next.text(), r#"{"hello":"world"}"#);
        let h = |name: &str| next.headers.get(name).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("lambda-runtime-aws-request-id"), "req-1");
        assert_eq!(
            h("lambda-runtime-invoked-function-arn"),
            DEFAULT_FUNCTION_ARN
        );
        assert_eq!(h("content-type"), "application/json");
        assert!(h("lambda-runtime-trace-id").starts_with("Root=1-5759e988"));
        let deadline: u128 = h("lambda-runtime-deadline-ms").parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(deadline > now + 25_000 && deadline <= now + 30_000);

        let post = client::send(
            addr,
            Method::POST,
            "/2018-06-01/runtime/invocation/req-1/response",
            &[],
            "\"done\"",
        )
        .await
        .unwrap();
        let got_202 = Instant::now();
        assert_eq!(post.status, 202);
        let calls = hook_calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "req-1");
        assert!(calls[0].1 <= got_202);

        let result = invoker.await.unwrap();
        assert_eq!(result.request_id, "req-1");
        assert_eq!(
            result.outcome,
            Outcome::Response(Bytes::from_static(b"\"done\""))
        );
        assert!(result.next_answered_at <= result.completed_at);
    }

    #[tokio::test]
    async fn error_post_is_recorded() {
        let api = RuntimeApi::start().await.unwrap();
        let addr = api.address();
        let invoker = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(Invocation::new("{}")).await })
        };
        let next = client::send(addr, Method::GET, NEXT, &[], "")
            .await
            .unwrap();
        let id = next.headers["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(next.headers.get("lambda-runtime-trace-id").is_none());
        let post = client::send(
            addr,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{id}/error"),
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.Boom")],
            r#"{"errorType":"Boom","errorMessage":"bad"}"#,
        )
        .await
        .unwrap();
        assert_eq!(post.status, 202);
        let result = invoker.await.unwrap();
        assert_eq!(
            result.outcome,
            Outcome::Error {
                error_type: Some("Runtime.Boom".into()),
                body: Bytes::from_static(br#"{"errorType":"Boom","errorMessage":"bad"}"#),
            }
        );
    }

    #[tokio::test]
    async fn next_long_polls_and_wait_for_next_poll_sees_it() {
        let api = RuntimeApi::start().await.unwrap();
        let addr = api.address();
        assert!(!api.wait_for_next_poll(Duration::from_millis(50)).await);
        let poller =
            tokio::spawn(async move { client::send(addr, Method::GET, NEXT, &[], "").await });
        assert!(api.wait_for_next_poll(Duration::from_secs(5)).await);
        assert_eq!(api.polls_waiting(), 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!poller.is_finished());
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(Invocation::new("1").with_request_id("r")).await })
        };
        let next = poller.await.unwrap().unwrap();
        assert_eq!(next.text(), "1");
        assert_eq!(api.polls_waiting(), 0);
        client::send(
            addr,
            Method::POST,
            "/2018-06-01/runtime/invocation/r/response",
            &[],
            "2",
        )
        .await
        .unwrap();
        assert_eq!(
            invoke.await.unwrap().outcome,
            Outcome::Response(Bytes::from_static(b"2"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_withdraws_the_invocation() {
        let api = RuntimeApi::start().await.unwrap();
        let result = api
            .invoke(Invocation::new("x").with_deadline(Duration::from_millis(10)))
            .await;
        assert_eq!(result.outcome, Outcome::TimedOut);
    }

    #[tokio::test]
    async fn init_error_and_unknown_paths() {
        let api = RuntimeApi::start().await.unwrap();
        let addr = api.address();
        let counter = Arc::new(AtomicUsize::new(0));
        let c = counter.clone();
        api.on_response(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let r = client::send(
            addr,
            Method::POST,
            "/2018-06-01/runtime/init/error",
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")],
            "oops",
        )
        .await
        .unwrap();
        assert_eq!(r.status, 202);
        assert_eq!(
            api.init_errors(),
            vec![InitError {
                error_type: Some("Runtime.InitError".into()),
                body: Bytes::from_static(b"oops")
            }]
        );
        let r = client::send(addr, Method::GET, "/nope", &[], "")
            .await
            .unwrap();
        assert_eq!(r.status, 404);
        let r = client::send(
            addr,
            Method::GET,
            "/2018-06-01/runtime/invocation/x/y",
            &[],
            "",
        )
        .await
        .unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(counter.load(Ordering::SeqCst), 0);
    }
}
