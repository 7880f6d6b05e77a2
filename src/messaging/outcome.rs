//! [`Processed`]: the results of a batch's records, and the partial batch response they make.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};

/// The results of [`each_record`](super::each_record): one per record, in the batch's order.
///
/// Turn it into the handler's [`SqsBatchResponse`] with
/// [`into_batch_response`](Self::into_batch_response) (or `SqsBatchResponse::from`): every record
/// whose work failed, or that was not processed, is a `batchItemFailures` entry, so Lambda
/// returns it to the queue and deletes the others. (The function's event source mapping needs
/// `FunctionResponseTypes: [ReportBatchItemFailures]`.)
///
/// ```
/// use aws_lambda_events::sqs::SqsEvent;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let event: SqsEvent = serde_json::from_str(r#"{"Records": [
///     {"messageId": "m-1", "body": "1", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:jobs"},
///     {"messageId": "m-2", "body": "x", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:jobs"}
/// ]}"#).unwrap();
/// let processed = lambda_trace::messaging::each_record(&event, |record| async move {
///     record.body.as_deref().unwrap_or_default().parse::<u32>()
/// })
/// .await;
/// assert_eq!(processed.failed(), 1);
/// assert!(processed.results()[0].1.is_ok());
/// let response = processed.into_batch_response();
/// assert_eq!(response.batch_item_failures.len(), 1);
/// assert_eq!(response.batch_item_failures[0].item_identifier, "m-2");
/// # }
/// ```
#[derive(Debug)]
pub struct Processed<'e, T, E> {
    pub(super) results: Vec<(&'e SqsMessage, Result<T, E>)>,
    pub(super) skipped: Vec<&'e SqsMessage>,
}

impl<'e, T, E> Processed<'e, T, E> {
    /// Each processed record with its work's result, in the batch's order.
    pub fn results(&self) -> &[(&'e SqsMessage, Result<T, E>)] {
        &self.results
    }

    /// The records that were not processed: on a FIFO queue (`.fifo`), every record after the
    /// first failure (AWS: a FIFO batch stops at its first failure, so the order holds when
    /// the rest is delivered again). Empty for standard queues.
    pub fn skipped(&self) -> &[&'e SqsMessage] {
        &self.skipped
    }

    /// How many records failed or were skipped (the entries of the batch response).
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|(_, r)| r.is_err()).count() + self.skipped.len()
    }

    /// The results, in the batch's order (the skipped records are not in it).
    pub fn into_results(self) -> Vec<(&'e SqsMessage, Result<T, E>)> {
        self.results
    }

    /// The partial batch response: a `batchItemFailures` entry (its message id) for every
    /// record that failed or was skipped, in the batch's order. A failed record without a
    /// message id gets an empty identifier, which makes Lambda treat the whole batch as failed
    /// (retrying it) rather than deleting a message whose work failed.
    pub fn into_batch_response(self) -> SqsBatchResponse {
        let failed = self
            .results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(m, _)| *m)
            .chain(self.skipped.iter().copied());
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed
            .map(|m| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = m.message_id.clone().unwrap_or_default();
                failure
            })
            .collect();
        response
    }
}

impl<T, E> From<Processed<'_, T, E>> for SqsBatchResponse {
    fn from(processed: Processed<'_, T, E>) -> Self {
        processed.into_batch_response()
    }
}
