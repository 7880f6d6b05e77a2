//! [`each_record`]: a `process` span per record of a [`Batch`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use super::outcome::Processed;
use super::record::{Batch, Record};
use super::span::{self, Message};
use crate::propagation::Extractor;
use crate::span::Span;

/// Longest destination name recorded, in characters (queue, topic, stream and table names are
/// at most 256; an event is untrusted input).
const MAX_DESTINATION_CHARS: usize = 256;

/// The destination of the record seen last, capped, and the span name it makes. The records of
/// a batch mostly come from one queue, topic, stream or table, so both are made once per
/// destination, not once per record; the first destination of the batch (the one the layer
/// records on the invocation span) and its span name are kept in the layer's bounded interner,
/// so that the records' spans share them instead of holding a copy each.
#[derive(Default)]
struct Destination<'e> {
    /// The record's destination as it gave it; `None` before the first record.
    raw: Option<Option<&'e str>>,
    /// Capped, `None` when absent or empty.
    capped: Option<Cow<'static, str>>,
    /// `process <destination>`, or `process`.
    name: Cow<'static, str>,
}

impl<'e> Destination<'e> {
    /// Makes the capped name and the span name of `raw`, unless it is the last record's;
    /// interned with `current`'s layer for the batch's first destination.
    fn update(&mut self, raw: Option<&'e str>, current: &Span) {
        if self.raw == Some(raw) {
            return;
        }
        let first = self.raw.is_none();
        self.raw = Some(raw);
        let share = |text: String| -> Cow<'static, str> {
            if first {
                current.intern(&text)
            } else {
                Cow::Owned(text)
            }
        };
        let capped = raw.filter(|d| !d.is_empty()).map(|d| {
            let mut d = d.to_owned();
            crate::span::cap_chars(&mut d, MAX_DESTINATION_CHARS);
            d
        });
        self.name = match &capped {
            Some(d) => share(format!("process {d}")),
            None => Cow::Borrowed("process"),
        };
        self.capped = capped.map(share);
    }
}

/// A carrier without headers, for a record that gives none.
struct NoHeaders;

impl Extractor for NoHeaders {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// Runs `work` for each record of `event`, one after the other, each in its own `process` span
/// whose parent is **the record's own context**, current while the work runs; returns the
/// results, which make the handler's partial batch response
/// ([`Processed::into_batch_response`]).
///
/// The record's context: an SQS message's `AWSTraceHeader` or `traceparent` message attribute,
/// and with feature `event-sources` an SNS record's `String` message attributes, a Kinesis
/// record's or a DynamoDB stream record's `_trace` (the `carrier::payload` convention); your
/// own batches through [`Batch`] and [`Record`].
///
/// A record whose work returns `Err` is a fault on its span (the error as its cause) and an
/// entry of the batch response. Where order matters — an SQS FIFO queue, a Kinesis or DynamoDB
/// stream — the records after the first failure are not processed and are reported as
/// failures too ([`Processed::skipped`]), as AWS asks for those partial batch responses. See
/// [the module docs](super) for what each span records, and a complete function.
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
pub async fn each_record<'e, B, T, E, F, Fut>(
    event: &'e B,
    mut work: F,
) -> Processed<'e, T, E, B::Record>
where
    B: Batch,
    F: FnMut(&'e B::Record) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: fmt::Display + 'static,
{
    let current = crate::current();
    // What every record's span links to (the batch's trace), made once for the batch.
    let batch = current.context();
    let records = event.records();
    let mut results = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    let mut stop = false;
    let mut destination = Destination::default();
    for (index, record) in records.iter().enumerate() {
        if stop {
            skipped.push(record);
            continue;
        }
        destination.update(record.destination(), &current);
        let message = Message {
            system: record.messaging_system(),
            destination: destination.capped.as_ref(),
            id: record.message_id(),
        };
        let mut opened = None;
        record.headers(&mut |headers| {
            if opened.is_none() {
                let name = destination.name.clone();
                opened = Some(span::open(
                    &current,
                    batch.as_ref(),
                    index,
                    headers,
                    name,
                    message,
                ));
            }
        });
        let span = opened.unwrap_or_else(|| {
            let name = destination.name.clone();
            span::open(&current, batch.as_ref(), index, &NoHeaders, name, message)
        });
        let result = crate::span::scope(span.clone(), work(record)).await;
        if let Err(e) = &result {
            span::record_failure(&span, e);
            stop = record.stops_batch_on_failure();
        }
        span.end();
        results.push((record, result));
    }
    Processed { results, skipped }
}
