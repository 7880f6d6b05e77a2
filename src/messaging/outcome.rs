//! [`Processed`]: the results of a batch's records, and the partial batch response they make.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
#[cfg(feature = "event-sources")]
use aws_lambda_events::{
    dynamodb::EventRecord as DynamoDbRecord,
    kinesis::KinesisEventRecord,
    streams::{
        DynamoDbBatchItemFailure, DynamoDbEventResponse, KinesisBatchItemFailure,
        KinesisEventResponse,
    },
};

/// The results of [`each_record`](super::each_record): one per record (of type `R`, an SQS
/// message unless said otherwise), in the batch's order.
///
/// Turn it into the handler's partial batch response with `into_batch_response`:
/// [`SqsBatchResponse`] for SQS, and with feature `event-sources` `KinesisEventResponse` for
/// Kinesis and `DynamoDbEventResponse` for DynamoDB Streams (or `From`): every record whose work failed,
/// or that was not processed, is a `batchItemFailures` entry (its message id; for streams its
/// sequence number), so Lambda retries it (and, for a stream, what follows it) and not the
/// others. (The function's event source mapping needs
/// `FunctionResponseTypes: [ReportBatchItemFailures]`.) For other batches,
/// [`failures`](Self::failures) lists the records to report.
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
pub struct Processed<'e, T, E, R = SqsMessage> {
    pub(super) results: Vec<(&'e R, Result<T, E>)>,
    pub(super) skipped: Vec<&'e R>,
}

impl<'e, T, E, R> Processed<'e, T, E, R> {
    /// Each processed record with its work's result, in the batch's order.
    pub fn results(&self) -> &[(&'e R, Result<T, E>)] {
        &self.results
    }

    /// The records that were not processed: where order matters (an SQS FIFO queue, `.fifo`;
    /// a Kinesis or DynamoDB stream), every record after the first failure (AWS: such a batch
    /// stops at its first failure, so the order holds when the rest is delivered again). Empty
    /// for standard queues and SNS.
    pub fn skipped(&self) -> &[&'e R] {
        &self.skipped
    }

    /// The records that failed, then the skipped ones: what a partial batch response reports.
    pub fn failures(&self) -> impl Iterator<Item = &'e R> + '_ {
        self.results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(m, _)| *m)
            .chain(self.skipped.iter().copied())
    }

    /// How many records failed or were skipped (the entries of the batch response).
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|(_, r)| r.is_err()).count() + self.skipped.len()
    }

    /// The results, in the batch's order (the skipped records are not in it).
    pub fn into_results(self) -> Vec<(&'e R, Result<T, E>)> {
        self.results
    }
}

impl<T, E> Processed<'_, T, E, SqsMessage> {
    /// The partial batch response: a `batchItemFailures` entry (its message id) for every
    /// record that failed or was skipped, in the batch's order. A failed record without a
    /// message id gets an empty identifier, which makes Lambda treat the whole batch as failed
    /// (retrying it) rather than deleting a message whose work failed.
    pub fn into_batch_response(self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .failures()
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

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl<T, E> Processed<'_, T, E, KinesisEventRecord> {
    /// The partial batch response of a Kinesis batch: a `batchItemFailures` entry (its
    /// sequence number) for every record that failed or was skipped. Lambda retries from the
    /// lowest one. A failed record without a sequence number gets an empty identifier, which
    /// makes Lambda retry the whole batch.
    ///
    /// ```
    /// use aws_lambda_events::kinesis::KinesisEvent;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let event: KinesisEvent = serde_json::from_str(r#"{"Records": [
    ///     {"kinesis": {"data": "MQ==", "sequenceNumber": "100", "approximateArrivalTimestamp": 1710410400}},
    ///     {"kinesis": {"data": "eA==", "sequenceNumber": "101", "approximateArrivalTimestamp": 1710410400}},
    ///     {"kinesis": {"data": "Mw==", "sequenceNumber": "102", "approximateArrivalTimestamp": 1710410400}}
    /// ]}"#).unwrap();
    /// let processed = lambda_trace::messaging::each_record(&event, |record| async move {
    ///     std::str::from_utf8(&record.kinesis.data.0).unwrap_or("").parse::<u32>()
    /// })
    /// .await;
    /// assert_eq!(processed.skipped().len(), 1, "a stream stops at its first failure");
    /// let response = processed.into_batch_response();
    /// let ids: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    /// assert_eq!(ids, [Some("101".to_string()), Some("102".to_string())]);
    /// # }
    /// ```
    pub fn into_batch_response(self) -> KinesisEventResponse {
        let mut response = KinesisEventResponse::default();
        response.batch_item_failures = self
            .failures()
            .map(|r| {
                let mut failure = KinesisBatchItemFailure::default();
                failure.item_identifier = Some(r.kinesis.sequence_number.clone());
                failure
            })
            .collect();
        response
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl<T, E> From<Processed<'_, T, E, KinesisEventRecord>> for KinesisEventResponse {
    fn from(processed: Processed<'_, T, E, KinesisEventRecord>) -> Self {
        processed.into_batch_response()
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl<T, E> Processed<'_, T, E, DynamoDbRecord> {
    /// The partial batch response of a DynamoDB Streams batch: a `batchItemFailures` entry
    /// (its `SequenceNumber`) for every record that failed or was skipped. Lambda retries from
    /// the lowest one; a failed record without a sequence number gets an empty identifier,
    /// which makes Lambda retry the whole batch.
    pub fn into_batch_response(self) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = self
            .failures()
            .map(|r| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier =
                    Some(r.change.sequence_number.clone().unwrap_or_default());
                failure
            })
            .collect();
        response
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl<T, E> From<Processed<'_, T, E, DynamoDbRecord>> for DynamoDbEventResponse {
    fn from(processed: Processed<'_, T, E, DynamoDbRecord>) -> Self {
        processed.into_batch_response()
    }
}
