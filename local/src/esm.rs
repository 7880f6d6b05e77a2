//! Lambda's event source mapping for an SQS queue (feature `sqs`): polls the queue, hands the
//! messages to a function in batches, as Lambda does, and deletes what the function processed.
//!
//! What it plays ("Using Lambda with Amazon SQS"; the mapping's `BatchSize`,
//! `MaximumBatchingWindowInSeconds` and `FunctionResponseTypes`):
//!
//! 1. Long-polls the queue ([`sqs::receive`]: every system attribute, `AWSTraceHeader` among
//!    them, and every message attribute).
//! 2. Once a message arrives, keeps receiving until the batch has `batch_size` messages or the
//!    batching window has passed (no window: the messages of the first receive).
//! 3. Invokes the function with the SQS event of the batch ([`sqs::lambda_event`]), traced as
//!    Lambda traces it: under Active tracing, an invocation of a **new trace** (the emulated
//!    `AWS::Lambda` segments of [`LambdaFunction::invoke_traced`]), which the function's layer
//!    links to the records' traces; under PassThrough, nothing upstream sampled it.
//! 4. On a response, deletes the batch's messages — all of them, or with
//!    `ReportBatchItemFailures` all but the response's `batchItemFailures`; a response that is
//!    not a valid batch response (an unknown or empty `itemIdentifier`, not JSON) fails the
//!    whole batch. On a function error or timeout nothing is deleted: the messages come back
//!    after the queue's visibility timeout.
//!
//! Each batch handed over is reported as a [`Delivery`] ([`EventSourceMapping::subscribe`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::Message;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::collector::Collector;
use crate::lambda::{LambdaFunction, TraceParent};
use crate::runtime_api::Outcome;
use crate::sqs::{self, Queue};
use crate::tracing_mode::TracingMode;

/// How the mapping batches (the `Properties` of a SAM `SQS` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsmSettings {
    /// Most messages per batch (`BatchSize`, 1–10 here: one `ReceiveMessage`'s most).
    pub batch_size: usize,
    /// How long to gather messages after the first one (`MaximumBatchingWindowInSeconds`).
    pub batching_window: Duration,
    /// Whether the function answers with `batchItemFailures` (`FunctionResponseTypes:
    /// [ReportBatchItemFailures]`).
    pub report_batch_item_failures: bool,
}

impl Default for EsmSettings {
    /// Lambda's defaults: batches of 10, no window, no partial batch responses.
    fn default() -> Self {
        EsmSettings {
            batch_size: 10,
            batching_window: Duration::ZERO,
            report_batch_item_failures: false,
        }
    }
}

/// One record of a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredRecord {
    /// The message id.
    pub message_id: String,
    /// The body.
    pub body: String,
    /// Its `AWSTraceHeader` system attribute, if SQS set one.
    pub aws_trace_header: Option<String>,
    /// Its `traceparent` message attribute, if the producer set one.
    pub traceparent: Option<String>,
}

/// A batch the mapping handed to the function, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The trace of the invocation (Lambda's new trace for it).
    pub trace_id: String,
    /// The records, in the event's order.
    pub records: Vec<DeliveredRecord>,
    /// The message ids the function reported as failed (`batchItemFailures`), or all of them
    /// when the invocation failed.
    pub failed: Vec<String>,
    /// How many messages were deleted from the queue.
    pub deleted: usize,
    /// Why the batch failed as a whole (function error, timeout, invalid batch response), or
    /// why deleting failed.
    pub error: Option<String>,
}

/// A running mapping; polling stops when it is dropped.
#[derive(Debug)]
pub struct EventSourceMapping {
    task: JoinHandle<()>,
    deliveries: broadcast::Sender<Delivery>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl EventSourceMapping {
    /// Starts polling `queue` with `client` for `function`; the emulated Lambda segments of each
    /// invocation go to `collector`.
    pub fn start(
        client: Client,
        queue: Queue,
        function: LambdaFunction,
        collector: Arc<Collector>,
        settings: EsmSettings,
    ) -> EventSourceMapping {
        let (deliveries, _) = broadcast::channel(64);
        let last_error = Arc::new(Mutex::new(None));
        let poller = Poller {
            client,
            queue,
            function,
            collector,
            settings,
            deliveries: deliveries.clone(),
            last_error: Arc::clone(&last_error),
        };
        EventSourceMapping {
            task: tokio::spawn(poller.run()),
            deliveries,
            last_error,
        }
    }

    /// The batches delivered from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Delivery> {
        self.deliveries.subscribe()
    }

    /// The last error of polling the queue, if any (the mapping retries every second).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for EventSourceMapping {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Poller {
    client: Client,
    queue: Queue,
    function: LambdaFunction,
    collector: Arc<Collector>,
    settings: EsmSettings,
    deliveries: broadcast::Sender<Delivery>,
    last_error: Arc<Mutex<Option<String>>>,
}

/// How long one long poll waits for a first message.
const POLL_WAIT_S: u32 = 1;

impl Poller {
    async fn run(self) {
        loop {
            match self.next_batch().await {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => {
                    let delivery = self.deliver(&batch).await;
                    let _ = self.deliveries.send(delivery);
                }
                Err(e) => {
                    *self
                        .last_error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// A long poll; once it brings a message, more receives until the batch is full or the
    /// batching window passed.
    async fn next_batch(&self) -> Result<Vec<Message>, String> {
        let size = self.settings.batch_size.clamp(1, 10);
        let mut batch = sqs::receive(&self.client, &self.queue, size, POLL_WAIT_S).await?;
        if batch.is_empty() {
            return Ok(batch);
        }
        let until = Instant::now() + self.settings.batching_window;
        while batch.len() < size {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Whole seconds of long polling while they fit in the window, then short polls.
            let wait_s = u32::try_from(left.as_secs()).unwrap_or(u32::MAX);
            let more = sqs::receive(&self.client, &self.queue, size - batch.len(), wait_s).await?;
            if more.is_empty() && wait_s == 0 {
                tokio::time::sleep(left.min(Duration::from_millis(50))).await;
            }
            batch.extend(more);
        }
        Ok(batch)
    }

    async fn deliver(&self, batch: &[Message]) -> Delivery {
        let event = sqs::lambda_event(batch, &self.queue);
        let parent = match self.function.tracing {
            TracingMode::Active => TraceParent::new_trace(),
            TracingMode::PassThrough => TraceParent::unsampled(),
        };
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let traced = self
            .function
            .invoke_traced(payload, &parent, &self.collector)
            .await;
        let records: Vec<DeliveredRecord> = batch
            .iter()
            .map(|m| {
                let (aws_trace_header, traceparent) = sqs::record_context(m);
                DeliveredRecord {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    aws_trace_header,
                    traceparent,
                }
            })
            .collect();
        let all: Vec<String> = records.iter().map(|r| r.message_id.clone()).collect();
        let (failed, mut error) = match &traced.result.outcome {
            Outcome::Response(body) if self.settings.report_batch_item_failures => {
                match batch_item_failures(body, &all) {
                    Ok(failed) => (failed, None),
                    Err(why) => (all.clone(), Some(why)),
                }
            }
            Outcome::Response(_) => (Vec::new(), None),
            Outcome::Error { error_type, .. } => (
                all.clone(),
                Some(format!(
                    "the function failed ({})",
                    error_type.as_deref().unwrap_or("no type")
                )),
            ),
            Outcome::TimedOut => (all.clone(), Some("the invocation timed out".into())),
        };
        let receipts: Vec<&str> = batch
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .filter_map(Message::receipt_handle)
            .collect();
        let deleted = match sqs::delete(&self.client, &self.queue, &receipts).await {
            Ok(n) => n,
            Err(e) => {
                error.get_or_insert(e);
                0
            }
        };
        Delivery {
            trace_id: traced.trace_id,
            records,
            failed,
            deleted,
            error,
        }
    }
}

/// The message ids of an SQS batch response's `batchItemFailures`, as Lambda reads them: an
/// empty or null answer, or an empty or null list, is a complete success; an entry without a
/// non-empty `itemIdentifier` of this batch, or an answer that is not JSON, fails the batch.
pub fn batch_item_failures(body: &[u8], batch: &[String]) -> Result<Vec<String>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the batch response is not JSON ({e}): the batch failed"))?;
    let list = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("batchItemFailures is not a list: the batch failed".into()),
    };
    list.iter()
        .map(|entry| {
            entry
                .get("itemIdentifier")
                .and_then(Value::as_str)
                .filter(|id| batch.iter().any(|m| m == id))
                .map(str::to_owned)
                .ok_or_else(|| format!("batchItemFailures entry {entry} names no message of the batch: the batch failed"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_responses_read_as_lambda_reads_them() {
        let batch = ["m-1".to_owned(), "m-2".to_owned()];
        let ok = |body: &str| batch_item_failures(body.as_bytes(), &batch);
        for success in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures": []}"#,
            r#"{"batchItemFailures": null}"#,
        ] {
            assert_eq!(ok(success), Ok(vec![]), "{success}");
        }
        assert_eq!(
            ok(r#"{"batchItemFailures": [{"itemIdentifier": "m-2"}]}"#),
            Ok(vec!["m-2".to_owned()])
        );
        for failure in [
            "not json",
            r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            r#"{"batchItemFailures": [{"itemId": "m-1"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "m-9"}]}"#,
            r#"{"batchItemFailures": "m-1"}"#,
        ] {
            assert!(ok(failure).is_err(), "{failure}");
        }
    }
}
