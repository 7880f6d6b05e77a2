//! [`each_record`] for SQS batches.

use std::fmt;
use std::future::Future;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};

use super::outcome::Processed;
use super::span::{self, Message};
use crate::carrier::sqs::{SQS_SYSTEM, is_fifo, record_queue};

/// Runs `work` for each record of `event`, one after the other, each in its own `process` span
/// whose parent is **the record's own context** (its `AWSTraceHeader`, or a `traceparent`
/// message attribute), current while the work runs; returns the results, which make the
/// handler's partial batch response ([`Processed::into_batch_response`]).
///
/// A record whose work returns `Err` is a fault on its span (the error as its cause) and an
/// entry of the batch response. On a FIFO queue the records after the first failure are not
/// processed and are reported as failures too ([`Processed::skipped`]), as AWS asks for FIFO
/// partial batch responses. See [the module docs](super) for what each span records, and a
/// complete function.
///
/// ```
/// use aws_lambda_events::sqs::SqsEvent;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let event: SqsEvent = serde_json::from_str(
///     r#"{"Records": [{"messageId": "m-1", "body": "hello"}]}"#,
/// )
/// .unwrap();
/// let processed = lambda_trace::messaging::each_record(&event, |record| async move {
///     // `lambda_trace::current()` is this record's span here.
///     Ok::<_, std::io::Error>(record.body.as_deref().map_or(0, str::len))
/// })
/// .await;
/// assert_eq!(*processed.results()[0].1.as_ref().unwrap(), 5);
/// # }
/// ```
pub async fn each_record<'e, T, E, F, Fut>(event: &'e SqsEvent, mut work: F) -> Processed<'e, T, E>
where
    F: FnMut(&'e SqsMessage) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: fmt::Display + 'static,
{
    let current = crate::current();
    let mut results = Vec::with_capacity(event.records.len());
    let mut skipped = Vec::new();
    let mut stop = false;
    for record in &event.records {
        if stop {
            skipped.push(record);
            continue;
        }
        let queue = record_queue(record);
        let message = Message {
            system: SQS_SYSTEM,
            destination: queue.as_deref(),
            id: record.message_id.as_deref(),
        };
        let span = span::open(&current, record, message);
        let result = crate::span::scope(span.clone(), work(record)).await;
        if let Err(e) = &result {
            span::record_failure(&span, e);
            stop = is_fifo(record);
        }
        span.end();
        results.push((record, result));
    }
    Processed { results, skipped }
}
