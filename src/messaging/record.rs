//! [`Batch`] and [`Record`]: what [`each_record`](super::each_record) needs from an event, and
//! the built-in batches (SQS, SNS, Kinesis, DynamoDB Streams).

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
#[cfg(feature = "event-sources")]
use aws_lambda_events::{
    dynamodb::{Event as DynamoDbEvent, EventRecord as DynamoDbRecord},
    kinesis::{KinesisEvent, KinesisEventRecord},
    sns::{SnsEvent, SnsRecord},
};

use crate::carrier::sqs::{SQS_SYSTEM, is_fifo, queue_name};
#[cfg(feature = "event-sources")]
use crate::carrier::{
    dynamodb::{DYNAMODB_SYSTEM, record_table},
    kinesis::{KINESIS_SYSTEM, record_stream},
    sns::{SNS_SYSTEM, topic_name},
};
use crate::propagation::Extractor;

/// An event that delivers a batch of [`Record`]s: what
/// [`each_record`](super::each_record) runs through.
///
/// Implemented for [`SqsEvent`], and with feature `event-sources` for `SnsEvent`,
/// `KinesisEvent` and DynamoDB Streams' `Event`; open to your own batches:
///
/// ```
/// use lambda_trace::messaging::{Batch, Record};
/// use lambda_trace::propagation::Extractor;
/// use std::collections::HashMap;
///
/// /// Jobs that a scheduler hands over in batches, each with its producer's headers.
/// struct Jobs {
///     jobs: Vec<Job>,
/// }
///
/// struct Job {
///     id: String,
///     headers: HashMap<String, String>,
/// }
///
/// impl Batch for Jobs {
///     type Record = Job;
///     fn records(&self) -> &[Job] {
///         &self.jobs
///     }
/// }
///
/// impl Record for Job {
///     fn headers(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
///         visit(&self.headers);
///     }
///     fn messaging_system(&self) -> &'static str {
///         "jobs"
///     }
///     fn destination(&self) -> Option<&str> {
///         Some("nightly")
///     }
///     fn message_id(&self) -> Option<&str> {
///         Some(&self.id)
///     }
/// }
/// # let jobs = Jobs { jobs: vec![] };
/// # assert!(jobs.records().is_empty());
/// ```
pub trait Batch {
    /// The type of the batch's records.
    type Record: Record;

    /// The records, in the order they are to be processed.
    fn records(&self) -> &[Self::Record];
}

/// One message of a [`Batch`]: its headers and what its `process` span records.
pub trait Record {
    /// Calls `visit` once with this message's headers (an [`Extractor`]: its context is read
    /// with the layer's propagators). Calling it with an empty carrier, or not at all, means no
    /// context of its own.
    fn headers(&self, visit: &mut dyn FnMut(&dyn Extractor));

    /// `messaging.system`: `aws_sqs`, `aws.sns`, `aws.kinesis`, …
    fn messaging_system(&self) -> &'static str;

    /// The queue, topic, stream or table it came from (`messaging.destination.name`, and the
    /// span's name `process <destination>`); at most 256 characters are recorded.
    fn destination(&self) -> Option<&str>;

    /// `messaging.message.id` (at most 128 characters are recorded).
    fn message_id(&self) -> Option<&str>;

    /// `true` when a failure must stop the batch: the records after it are not processed and
    /// are reported as failures too ([`Processed::skipped`](super::Processed::skipped)), so
    /// their order holds when they are delivered again (SQS FIFO queues, Kinesis and DynamoDB
    /// streams). The default: `false`.
    fn stops_batch_on_failure(&self) -> bool {
        false
    }
}

impl Batch for SqsEvent {
    type Record = SqsMessage;

    fn records(&self) -> &[SqsMessage] {
        &self.records
    }
}

/// `AWSTraceHeader` or message attributes; the queue from `eventSourceARN`; FIFO queues stop
/// at the first failure.
impl Record for SqsMessage {
    fn headers(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        visit(self);
    }

    fn messaging_system(&self) -> &'static str {
        SQS_SYSTEM
    }

    fn destination(&self) -> Option<&str> {
        self.event_source_arn.as_deref().and_then(queue_name)
    }

    fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    fn stops_batch_on_failure(&self) -> bool {
        is_fifo(self)
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl Batch for SnsEvent {
    type Record = SnsRecord;

    fn records(&self) -> &[SnsRecord] {
        &self.records
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
/// `String` message attributes; the topic from `TopicArn`.
impl Record for SnsRecord {
    fn headers(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        visit(self);
    }

    fn messaging_system(&self) -> &'static str {
        SNS_SYSTEM
    }

    fn destination(&self) -> Option<&str> {
        topic_name(self)
    }

    fn message_id(&self) -> Option<&str> {
        Some(self.sns.message_id.as_str()).filter(|id| !id.is_empty())
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl Batch for KinesisEvent {
    type Record = KinesisEventRecord;

    fn records(&self) -> &[KinesisEventRecord] {
        &self.records
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
/// The data's `_trace` ([payload convention](crate::carrier::payload)); the stream from
/// `eventSourceARN`; the `eventID` (shard and sequence number) as the message id; a failure
/// stops the batch (a shard is ordered).
impl Record for KinesisEventRecord {
    fn headers(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        visit(&crate::carrier::kinesis::record_headers(self));
    }

    fn messaging_system(&self) -> &'static str {
        KINESIS_SYSTEM
    }

    fn destination(&self) -> Option<&str> {
        record_stream(self)
    }

    fn message_id(&self) -> Option<&str> {
        self.event_id
            .as_deref()
            .or(Some(self.kinesis.sequence_number.as_str()))
            .filter(|id| !id.is_empty())
    }

    fn stops_batch_on_failure(&self) -> bool {
        true
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
impl Batch for DynamoDbEvent {
    type Record = DynamoDbRecord;

    fn records(&self) -> &[DynamoDbRecord] {
        &self.records
    }
}

#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
/// The `NewImage`'s `_trace` map ([payload convention](crate::carrier::payload)); the table;
/// the `eventID` as the message id; a failure stops the batch (a shard is ordered).
impl Record for DynamoDbRecord {
    fn headers(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        visit(&crate::carrier::dynamodb::record_headers(self));
    }

    fn messaging_system(&self) -> &'static str {
        DYNAMODB_SYSTEM
    }

    fn destination(&self) -> Option<&str> {
        record_table(self)
    }

    fn message_id(&self) -> Option<&str> {
        Some(self.event_id.as_str()).filter(|id| !id.is_empty())
    }

    fn stops_batch_on_failure(&self) -> bool {
        true
    }
}
